"""`recistry cdisc`: every file read back by pandas.read_sas, checked against rescore's JSON.

The oracle for the values is rescore's JSON of the same data (what a statistician would check),
the oracle for the files is pandas' own SAS transport reader (and pyreadstat's for the metadata).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recistry.cdisc import SPECS, sas_date, study_day
from recistry.cli import main

REPO = Path(__file__).resolve().parents[2]
COHORT = REPO / "sample_dicom" / "cohort"
TABLES = REPO / "sample_dicom" / "tables"
SOURCES = {
    "cohort": (COHORT / "measurements.csv", COHORT / "clinical.csv"),
    "tables": (TABLES / "measurements.csv", TABLES / "clinical.csv"),
}
REQUIRED = {
    # SDTMIG 3.4 Required/Expected variables of the Findings class, TAUG-Oncology TU/TR/RS
    "TU": ("STUDYID", "DOMAIN", "USUBJID", "TUSEQ", "TULNKID", "TUTESTCD", "TUTEST", "TUORRES"),
    "TR": ("STUDYID", "DOMAIN", "USUBJID", "TRSEQ", "TRTESTCD", "TRTEST"),
    "RS": ("STUDYID", "DOMAIN", "USUBJID", "RSSEQ", "RSTESTCD", "RSTEST", "RSCAT", "RSORRES"),
    # ADaMIG 1.3 BDS required variables (and ADTTE's CNSR/STARTDT)
    "ADRS": ("STUDYID", "USUBJID", "PARAMCD", "PARAM", "AVALC"),
    "ADTR": ("STUDYID", "USUBJID", "PARAMCD", "PARAM", "AVAL"),
    "ADTTE": ("STUDYID", "USUBJID", "PARAMCD", "PARAM", "AVAL", "STARTDT", "ADT", "CNSR"),
}
SAS_EPOCH = dt.date(1960, 1, 1)


IBM_ZERO_MISREAD = 5.397605346934028e-79
"""What pandas.read_sas returns for an IBM-float zero (8 zero bytes): pandas-dev/pandas#50670,
open. SAS and pyreadstat read those bytes as 0; test_zero_is_written_as_ibm_zero checks them."""


def read_xpt(folder: Path, name: str) -> pd.DataFrame:
    frame = pd.read_sas(folder / f"{name.lower()}.xpt", format="xport", encoding="utf-8")
    numbers = frame.select_dtypes("number").columns
    frame[numbers] = frame[numbers].mask(frame[numbers].abs() == IBM_ZERO_MISREAD, 0.0)
    return frame


def test_zero_is_written_as_ibm_zero(tmp_path):
    """CNSR = 0 must be a true zero in the file (8 zero bytes in IBM hexadecimal floating point),
    not the smallest IBM number that pandas shows."""
    import pyreadstat

    out = tmp_path / "out"
    assert main(["cdisc", str(SOURCES["cohort"][0]), "--out", str(out)]) == 0
    frame, _ = pyreadstat.read_xport(str(out / "adtte.xpt"))
    assert (frame["CNSR"] == 0).any() and set(frame["CNSR"]) <= {0.0, 1.0}
    raw = pd.read_sas(out / "adtte.xpt", format="xport", encoding="utf-8")
    assert set(raw["CNSR"]) <= {IBM_ZERO_MISREAD, 1.0}


@pytest.fixture(scope="module", params=sorted(SOURCES))
def delivery(request, tmp_path_factory):
    """(folder of the cdisc output, rescore JSON by patient) for one sample table."""
    measurements, clinical = SOURCES[request.param]
    out = tmp_path_factory.mktemp(request.param) / "cdisc"
    args = [str(measurements), "--clinical", str(clinical)]
    assert main(["cdisc", *args, "--study-id", "LUT-2024", "--out", str(out)]) == 0
    json_out = tmp_path_factory.mktemp(request.param + "-json")
    assert main(["rescore", *args, "--out", str(json_out), "--format", "csv"]) == 0
    document = json.loads((json_out / "results.json").read_text())
    return out, {p["patient_id"]: p for p in document["patients"]}


def test_names_and_labels_fit_sas_transport_v5():
    for spec in SPECS:
        assert len(spec.name) <= 8 and len(spec.label) <= 40, spec.name
        for v in spec.variables:
            assert re.fullmatch(r"[A-Z][A-Z0-9]{0,7}", v.name), (spec.name, v.name)
            assert 0 < len(v.label) <= 40, (spec.name, v.name, v.label)
            assert v.kind in ("Char", "Num")
        assert len(set(spec.names)) == len(spec.names)


def test_every_file_reads_back_with_the_declared_variables(delivery):
    import pyreadstat

    folder, _ = delivery
    for spec in SPECS:
        frame = read_xpt(folder, spec.name)
        assert list(frame.columns) == list(spec.names)
        assert len(frame) > 0
        for name in REQUIRED[spec.name]:
            assert frame[name].notna().all(), (spec.name, name)
            if spec.variables[spec.names.index(name)].kind == "Char":
                assert (frame[name] != "").all(), (spec.name, name)
        assert (frame["STUDYID"] == "LUT-2024").all()
        if "DOMAIN" in spec.names:
            assert (frame["DOMAIN"] == spec.name).all()
        # the CSV holds the same records
        table = pd.read_csv(folder / f"{spec.name.lower()}.csv", dtype=str, keep_default_na=False)
        assert list(table.columns) == list(spec.names) and len(table) == len(frame)
        # labels and member name as written, read by a second reader
        _, meta = pyreadstat.read_xport(str(folder / f"{spec.name.lower()}.xpt"), metadataonly=True)
        assert meta.table_name == spec.name
        assert meta.column_labels == [v.label for v in spec.variables]


def test_transport_file_and_csv_hold_the_same_records(delivery):
    """Each dataset's .xpt (read by pandas.read_sas) and .csv (read by pandas.read_csv) are one
    set of records, value by value: blanks are missing numbers ('.') and empty text."""
    folder, _ = delivery
    for spec in SPECS:
        xpt = read_xpt(folder, spec.name)
        table = pd.read_csv(folder / f"{spec.name.lower()}.csv", dtype=str, keep_default_na=False)
        assert len(xpt) == len(table) > 0
        for v in spec.variables:
            if v.kind == "Num":
                expected = pd.to_numeric(table[v.name].replace("", None)).to_numpy(float)
                # IBM hexadecimal floats keep 53 to 56 significant bits: the round trip may
                # move a fraction such as a percent change by one unit in the last place.
                np.testing.assert_allclose(
                    xpt[v.name].to_numpy(float), expected, rtol=1e-15, atol=0, err_msg=v.name
                )
            else:
                assert xpt[v.name].tolist() == table[v.name].tolist(), (spec.name, v.name)


def test_define_table_describes_every_variable(delivery):
    folder, _ = delivery
    with open(folder / "define.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    described = {(r["dataset"], r["variable"]): r for r in rows}
    for spec in SPECS:
        frame = pd.read_csv(folder / f"{spec.name.lower()}.csv", dtype=str, keep_default_na=False)
        for v in spec.variables:
            row = described[(spec.name, v.name)]
            assert row["label"] == v.label and row["type"] == v.kind and row["source"]
            if v.kind == "Char":
                assert int(row["length"]) >= frame[v.name].str.len().max()


def test_sdtm_sequence_numbers_are_unique_per_subject(delivery):
    folder, _ = delivery
    for name in ("TU", "TR", "RS"):
        frame = read_xpt(folder, name)
        assert not frame.duplicated(["USUBJID", f"{name}SEQ"]).any()


def test_adrs_best_response_is_rescores(delivery):
    folder, patients = delivery
    adrs = read_xpt(folder, "ADRS")
    for code, key in (
        ("BOR", "best_overall_response_unconfirmed"),
        ("CBOR", "best_overall_response_confirmed"),
    ):
        rows = adrs[adrs["PARAMCD"] == code].set_index("SUBJID")
        assert set(rows.index) == set(patients)
        for pid, p in patients.items():
            assert rows.loc[pid, "AVALC"] == p[key].replace("NON_CR_NON_PD", "NON-CR/NON-PD")
    ovr = adrs[adrs["PARAMCD"] == "OVR"]
    for pid, p in patients.items():
        mine = ovr[ovr["SUBJID"] == pid]
        expected = [tp["overall_response"] for tp in p["timepoints"]]
        assert [x.replace("NON-CR/NON-PD", "NON_CR_NON_PD") for x in mine["AVALC"]] == expected
        assert list(mine["ADTC"]) == [tp["date"] for tp in p["timepoints"]]


def test_adtte_events_and_durations_are_rescores(delivery):
    folder, patients = delivery
    adtte = read_xpt(folder, "ADTTE")
    for code, months, event in (
        ("PFS", "pfs_months", "pfs_event"),
        ("OS", "os_months", "os_event"),
    ):
        rows = adtte[adtte["PARAMCD"] == code].set_index("SUBJID")
        with_value = {pid for pid, p in patients.items() if p[months] is not None}
        assert set(rows.index) == with_value
        for pid in with_value:
            p = patients[pid]
            assert rows.loc[pid, "CNSR"] == (0 if p[event] else 1), (code, pid)
            assert round(rows.loc[pid, "AVAL"] / 30.4375, 2) == p[months], (code, pid)
            assert rows.loc[pid, "ADT"] - rows.loc[pid, "STARTDT"] == rows.loc[pid, "AVAL"]
            assert rows.loc[pid, "STARTDTC"] == p["origin_date"]
            assert rows.loc[pid, "EVNTDESC"]
            assert (rows.loc[pid, "CNSDTDSC"] == "") == bool(p[event])
    rsd = adtte[adtte["PARAMCD"] == "RSD"]
    responders = {pid for pid, p in patients.items() if p["best_overall_response"] in ("CR", "PR")}
    assert set(rsd["SUBJID"]) == responders
    for _, row in rsd.iterrows():
        assert row["STARTDTC"] == patients[row["SUBJID"]]["first_response_date"]


def test_pfs_event_descriptions_follow_admiralonco(delivery):
    folder, patients = delivery
    pfs = read_xpt(folder, "ADTTE").query("PARAMCD == 'PFS'").set_index("SUBJID")
    for pid, p in patients.items():
        text = pfs.loc[pid, "EVNTDESC"]
        if p["pfs_event"] and p["progression_date"] == pfs.loc[pid, "ADTC"]:
            assert text == "Disease Progression"
        elif p["pfs_event"]:
            assert text == "Death"
        else:
            assert text in ("Last Tumor Assessment", "Treatment Start")


def test_adtr_change_from_baseline_and_nadir(delivery):
    folder, patients = delivery
    adtr = read_xpt(folder, "ADTR")
    assert (adtr["PARAMCD"] == "SDIAM").all()
    for pid, rows in adtr.groupby("SUBJID"):
        p = patients[pid]
        base = rows[rows["ABLFL"] == "Y"]
        assert len(base) == 1 and base["AVAL"].iloc[0] == p["baseline_sum_mm"]
        post = rows[rows["ABLFL"] != "Y"]
        by_date = {tp["date"]: tp for tp in p["timepoints"]}
        for _, row in post.iterrows():
            tp = by_date[row["ADTC"]]
            assert row["AVAL"] == tp["target_sum_mm"]
            assert row["CHG"] == pytest.approx(row["AVAL"] - row["BASE"])
            assert round(row["PCHG"], 2) == tp["change_from_baseline_pct"]
            assert row["NADIR"] == tp["nadir_mm"]
            if tp["change_from_nadir_pct"] is not None:
                assert round(row["PCHGNAD"], 2) == tp["change_from_nadir_pct"]


def test_dates_are_iso_text_and_numeric_sas_dates(delivery):
    folder, _ = delivery
    for name, pairs in (
        ("ADRS", [("ADT", "ADTC"), ("TRTSDT", "TRTSDTC")]),
        ("ADTTE", [("ADT", "ADTC"), ("STARTDT", "STARTDTC")]),
    ):
        frame = read_xpt(folder, name)
        for number, text in pairs:
            have = frame[frame[text] != ""]
            expected = [(dt.date.fromisoformat(t) - SAS_EPOCH).days for t in have[text]]
            assert list(have[number]) == expected
    for name in ("TU", "TR", "RS"):
        frame = read_xpt(folder, name)
        for text in frame[f"{name}DTC"]:
            dt.date.fromisoformat(text)


def test_too_small_target_is_5_mm_and_sums_per_visit(tmp_path):
    table = tmp_path / "m.csv"
    table.write_text(
        "patient_id,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state\n"
        "P1,2024-01-01,T1,target,liver,no,30,,measured\n"
        "P1,2024-01-01,T2,target,lymph node,yes,,16,measured\n"
        "P1,2024-03-01,T1,target,liver,no,,,too_small\n"
        "P1,2024-03-01,T2,target,lymph node,yes,,8,measured\n"
        "P1,2024-03-01,N1,new,lung,no,,,present\n"
    )
    out = tmp_path / "out"
    assert main(["cdisc", str(table), "--out", str(out)]) == 0
    tr = read_xpt(out, "TR")
    tstm = tr[(tr["TRLNKID"] == "T1") & (tr["VISITNUM"] == 1)].iloc[0]
    assert tstm["TRORRES"] == "TOO SMALL TO MEASURE" and tstm["TRSTRESN"] == 5.0
    node = tr[(tr["TRLNKID"] == "T2")]
    assert set(node["TRTESTCD"]) == {"SAXIS"}
    sums = tr[tr["TRTESTCD"] == "SUMDIAM"].set_index("VISITNUM")["TRSTRESN"]
    assert sums.to_dict() == {0.0: 46.0, 1.0: 13.0}
    tu = read_xpt(out, "TU").set_index("TULNKID")
    assert tu.loc["N1", "TUORRES"] == "NEW" and tu.loc["N1", "VISIT"] == "FOLLOW-UP 1"
    rs = read_xpt(out, "RS").set_index("RSTESTCD")
    assert rs.loc["NEWLPROG", "RSORRES"] == "Y" and rs.loc["OVRLRESP", "RSORRES"] == "PD"


def test_a_split_targets_fragments_are_identified_and_measured_apart(tmp_path):
    """A target that splits [EJC09 §4.3.2]: each fragment gets its own TU record (TUTESTCD
    TUSPLIT, SDTMIG TU; CDISC CT C96784) and link id, its own TR diameter, and the sum counts
    both."""
    table = tmp_path / "m.csv"
    table.write_text(
        "patient_id,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state,fragment\n"
        "P1,2024-01-01,T1,target,liver,no,40,,measured,\n"
        "P1,2024-03-01,T1,target,liver,no,15,,measured,a\n"
        "P1,2024-03-01,T1,target,liver,no,12,,measured,b\n"
    )
    out = tmp_path / "out"
    assert main(["cdisc", str(table), "--out", str(out)]) == 0
    tu = read_xpt(out, "TU")
    assert tu[["TULNKID", "TUTESTCD", "TUORRES", "VISITNUM"]].values.tolist() == [
        ["T1", "TUMIDENT", "TARGET", 0.0],
        ["T1.a", "TUSPLIT", "TARGET", 1.0],
        ["T1.b", "TUSPLIT", "TARGET", 1.0],
    ]
    tr = read_xpt(out, "TR")
    follow_up = tr[tr["VISITNUM"] == 1].set_index("TRTESTCD", append=True)
    assert follow_up[["TRLNKID", "TRSTRESN"]].values.tolist() == [
        ["T1.a", 15.0],
        ["T1.b", 12.0],
        ["", 27.0],
    ]


def test_study_day_has_no_day_zero():
    origin = dt.date(2024, 1, 10)
    assert study_day(origin, origin) == 1
    assert study_day(dt.date(2024, 1, 9), origin) == -1
    assert study_day(dt.date(2024, 1, 11), origin) == 2
    assert sas_date(dt.date(1960, 1, 1)) == 0 and sas_date(dt.date(2024, 1, 1)) == 23376


def test_output_is_all_or_nothing(tmp_path, capsys):
    measurements, clinical = SOURCES["cohort"]
    foreign = tmp_path / "taken"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["cdisc", str(measurements), "--out", str(foreign)]) == 2
    assert "not a recistry CDISC delivery" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    bad = tmp_path / "bad.csv"
    bad.write_text(measurements.read_text().replace("2018-02-23", "2018-02-31", 1))
    out = tmp_path / "out"
    assert main(["cdisc", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # a second delivery replaces the first as a whole
    assert main(["cdisc", str(measurements), "--clinical", str(clinical), "--out", str(out)]) == 0
    (out / "tu.csv").write_text("stale")
    assert main(["cdisc", str(measurements), "--out", str(out), "--study-id", "S2"]) == 0
    assert read_xpt(out, "TU")["STUDYID"].eq("S2").all()
    assert (out / "tu.csv").read_text().startswith("STUDYID,")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_transport_files_written_by_several_processes_are_the_same(tmp_path):
    """--workers 2: the .xpt files come from forked writer processes; every file holds what one
    process writes (the CSV files byte for byte, the transport files record for record)."""
    measurements, clinical = SOURCES["cohort"]
    folders = {}
    for workers in (1, 2):
        folders[workers] = tmp_path / f"w{workers}"
        args = [str(measurements), "--clinical", str(clinical), "--out", str(folders[workers])]
        assert main(["cdisc", *args, "--workers", str(workers)]) == 0
    names = sorted(p.name for p in folders[1].iterdir())
    assert sorted(p.name for p in folders[2].iterdir()) == names
    for name in names:
        if name.endswith(".csv"):
            assert (folders[2] / name).read_bytes() == (folders[1] / name).read_bytes(), name
    for spec in SPECS:
        pd.testing.assert_frame_equal(
            read_xpt(folders[2], spec.name), read_xpt(folders[1], spec.name)
        )


SAS_STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
"""The creation and modification times in a transport file's headers (ddMMMyy:hh:mm:ss)."""


def _unstamped(path: Path) -> bytes:
    return SAS_STAMP.sub(b"-" * 16, path.read_bytes())


def test_transport_files_are_what_pyreadstat_writes_from_plain_text_columns(tmp_path):
    """recistry hands pyreadstat character variables as categoricals (its cheapest input): the
    files must be byte for byte what pyreadstat writes from the documented object columns of
    str, but for the time stamps."""
    import pyreadstat

    from recistry.cdisc import StudyContext, build_datasets, write_datasets
    from recistry.scoring import load_records, score

    records = load_records(*SOURCES["tables"])
    datasets = build_datasets(records, score(records), StudyContext())
    write_datasets(datasets, tmp_path / "out")
    for spec in SPECS:
        plain = tmp_path / f"{spec.name}.xpt"
        pyreadstat.write_xport(
            pd.DataFrame({n: datasets[spec.name][n] for n in spec.names}),
            str(plain),
            file_label=spec.label,
            column_labels=[v.label for v in spec.variables],
            table_name=spec.name,
            file_format_version=5,
            variable_format={n: "DATE9." for n in ("TRTSDT", "ADT", "STARTDT") if n in spec.names},
        )
        ours = _unstamped(tmp_path / "out" / f"{spec.name.lower()}.xpt")
        assert ours == _unstamped(plain), spec.name


def test_bad_study_id_is_refused(tmp_path, capsys):
    measurements, _ = SOURCES["cohort"]
    assert (
        main(["cdisc", str(measurements), "--study-id", "a b", "--out", str(tmp_path / "o")]) == 2
    )
    assert "--study-id" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_irecist_records_are_the_irecist_engines(tmp_path):
    """--irecist: RS records with RSCAT "iRECIST" and ADRS IOVR/IBOR/ICPD/IUPD (admiralonco's
    iRECIST vignette values and AVAL order) equal recistry.recist.irecist's calls."""
    from recistry.recist.irecist import assess_patient_irecist
    from recistry.scoring import load_records

    measurements, clinical = SOURCES["cohort"]
    out = tmp_path / "cdisc"
    args = [str(measurements), "--clinical", str(clinical), "--irecist", "--out", str(out)]
    assert main(["cdisc", *args]) == 0
    expected = {
        r.patient_id: assess_patient_irecist(r) for r in load_records(measurements, clinical)
    }
    rs = read_xpt(out, "RS")
    assert set(rs["RSCAT"]) == {"RECIST 1.1", "iRECIST"}
    irs = rs[rs["RSCAT"] == "iRECIST"]
    assert set(irs["RSTESTCD"]) == {"OVRLRESP"}
    for usubjid, seqs in rs.groupby("USUBJID")["RSSEQ"]:
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), usubjid
    adrs = read_xpt(out, "ADRS")
    assert set(adrs.loc[adrs["PARCAT3"] == "iRECIST", "PARAMCD"]) == {
        "IOVR",
        "IBOR",
        "ICPD",
        "IUPD",
    }
    order = {"iCPD": 1, "iUPD": 2, "NON-iCR/NON-iUPD": 3, "iSD": 4, "iPR": 5, "iCR": 6, "NE": 8}
    for pid, ia in expected.items():
        calls = irs[irs["USUBJID"] == f"RECISTRY-{pid}"].sort_values("RSDY")
        codes = [
            tp.response.value.replace("NON_iCR_NON_iUPD", "NON-iCR/NON-iUPD")
            for tp in ia.timepoints
        ]
        assert list(calls["RSORRES"]) == codes, pid
        mine = adrs[adrs["SUBJID"] == pid].set_index("PARAMCD")
        assert mine.loc["IBOR", "AVALC"] == ia.best_overall_response.value
        assert mine.loc["IBOR", "AVAL"] == order[ia.best_overall_response.value]
        assert mine.loc["ICPD", "AVALC"] == ("Y" if ia.progression_date else "N")
        if ia.progression_date is not None:
            assert mine.loc["ICPD", "ADTC"] == ia.progression_date.isoformat()
        assert mine.loc["IUPD", "AVALC"] == ("Y" if ia.unconfirmed_iupd_date else "N")
    # every iRECIST value is a value of admiralonco's iRECIST RS data
    assert set(irs["RSORRES"]) <= set(order)
    assert {"iPR", "iSD", "iUPD"} <= set(irs["RSORRES"])
