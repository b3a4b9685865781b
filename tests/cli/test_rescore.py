"""`recistry rescore` end to end, in-process through ``main(argv)`` and once as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recistry.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_dicom" / "tables"


def rescore_json(capsys, *args: str) -> dict:
    assert main(["rescore", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_document_contract(capsys):
    doc = rescore_json(
        capsys, str(SAMPLE / "measurements.csv"), "--clinical", str(SAMPLE / "clinical.csv")
    )
    assert doc["criteria"] == "RECIST 1.1"
    assert doc["options"]["confirm"] is False and doc["options"]["sd_min_days"] == 42
    patient = doc["patients"][0]
    for key in (
        "patient_id",
        "baseline_date",
        "baseline_sum_mm",
        "warnings",
        "timepoints",
        "best_overall_response",
        "progression_date",
        "pfs_months",
        "pfs_event",
        "os_months",
        "os_event",
    ):
        assert key in patient
    tp = patient["timepoints"][0]
    for key in (
        "date",
        "target_sum_mm",
        "change_from_baseline_pct",
        "change_from_nadir_pct",
        "target_response",
        "target_response_strict",
        "non_target_response",
        "new_lesions",
        "overall_response",
        "reasons",
    ):
        assert key in tp
    by_id = {p["patient_id"]: p for p in doc["patients"]}
    # DEMO-02: equivocal bone lesion on 2024-06-24 confirmed on 2024-08-26 -> PD backdated.
    assert by_id["DEMO-02"]["progression_date"] == "2024-06-24"
    assert by_id["DEMO-02"]["timepoints"][1]["overall_response"] == "PD"
    # DEMO-04 has non-target disease only.
    assert by_id["DEMO-04"]["best_overall_response"] == "NON_CR_NON_PD"
    assert by_id["DEMO-04"]["timepoints"][0]["target_response"] is None
    cohort = doc["cohort"]
    assert cohort["patients"] == 4 and cohort["measurable"] == 3
    assert cohort["orr"]["responders"] == 1 and cohort["orr"]["n"] == 3


def test_without_clinical_os_is_null(capsys):
    doc = rescore_json(capsys, str(SAMPLE / "measurements.csv"))
    assert all(p["os_months"] is None and p["os_event"] is None for p in doc["patients"])


def test_out_dir_files_and_byte_identical_reruns_item77(tmp_path, capsys):
    args = [str(SAMPLE / "measurements.csv"), "--clinical", str(SAMPLE / "clinical.csv")]
    assert main(["rescore", *args, "--out", str(tmp_path / "a")]) == 0
    assert main(["rescore", *args, "--out", str(tmp_path / "b")]) == 0
    for name in ("patients.csv", "timepoints.csv", "results.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert "DEMO-01" in (tmp_path / "a" / "patients.csv").read_text()
    assert "table" not in capsys.readouterr().err.lower()


def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    text = (SAMPLE / "measurements.csv").read_text().replace("measured", "mesured", 1)
    bad.write_text(text)
    out = tmp_path / "out"
    assert main(["rescore", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err == (
        f"recistry rescore: error: {bad}, row 1, column 'state': unknown state 'mesured' "
        "(use one of measured, too_small, absent, merged, not_evaluable, present, progression, "
        "equivocal)"
    )
    assert not out.exists()


def test_confirm_option_changes_best_response(capsys):
    args = [str(SAMPLE / "measurements.csv"), "--clinical", str(SAMPLE / "clinical.csv")]
    plain = rescore_json(capsys, *args)
    confirmed = rescore_json(capsys, *args, "--confirm")
    assert confirmed["options"]["confirm"] is True
    by_plain = {p["patient_id"]: p["best_overall_response"] for p in plain["patients"]}
    by_conf = {p["patient_id"]: p["best_overall_response"] for p in confirmed["patients"]}
    # DEMO-01: PR on 2024-03-11 confirmed by PR on 2024-05-13 (63 days later).
    assert by_plain["DEMO-01"] == by_conf["DEMO-01"] == "PR"


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_other_formats_print(capsys, fmt):
    assert main(["rescore", str(SAMPLE / "measurements.csv"), "--format", fmt]) == 0
    assert "DEMO-03" in capsys.readouterr().out


def test_console_script_runs_without_traceback(tmp_path):
    missing = tmp_path / "missing.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "recistry.cli", "rescore", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{missing}: file not found" in proc.stderr


def _calls(doc: dict) -> list[tuple]:
    return [
        (
            p["patient_id"],
            p["best_overall_response"],
            p["pfs_months"],
            tuple(
                (tp["date"], tp["target_sum_mm"], tp["overall_response"]) for tp in p["timepoints"]
            ),
        )
        for p in doc["patients"]
    ]


def test_store_and_sr_folder_score_like_the_table(tmp_path, capsys):
    demo = REPO / "sample_dicom" / "demo_patient"
    table = rescore_json(capsys, str(demo / "measurements.csv"))
    sr = rescore_json(capsys, str(demo / "sr"))
    store = tmp_path / "s.db"
    assert (
        main(
            [
                "import",
                str(SAMPLE / "measurements.csv"),
                "--store",
                str(store),
                "--clinical",
                str(SAMPLE / "clinical.csv"),
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    from_store = rescore_json(capsys, str(store))
    from_table = rescore_json(
        capsys, str(SAMPLE / "measurements.csv"), "--clinical", str(SAMPLE / "clinical.csv")
    )
    assert _calls(sr) == _calls(table)
    assert _calls(from_store) == _calls(from_table)


def test_reader_option_needs_a_store(capsys):
    assert main(["rescore", str(SAMPLE / "measurements.csv"), "--reader", "dr.x"]) == 2
    assert "--reader needs a study store" in capsys.readouterr().err


def test_workers_and_dask_give_identical_results(tmp_path, capsys):
    """Issue 4: re-scoring in N processes or on a Dask cluster gives the same output."""
    from distributed import LocalCluster

    table = REPO / "sample_dicom" / "cohort" / "measurements.csv"
    clinical = REPO / "sample_dicom" / "cohort" / "clinical.csv"
    outputs = []
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        for how in ([], ["--workers", "2"], ["--dask", cluster.scheduler_address]):
            out = tmp_path / str(len(outputs))
            args = [str(table), "--clinical", str(clinical), "--out", str(out), "--no-progress"]
            assert main(["rescore", *args, *how]) == 0
            outputs.append((out / "results.json").read_bytes())
    capsys.readouterr()
    assert outputs[0] == outputs[1] == outputs[2]


def test_bad_patient_stops_a_parallel_run_too(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    lines = (SAMPLE / "measurements.csv").read_text().splitlines()
    lines.append("DEMO-01,2024-07-01,T9,target,liver,false,20,,measured,dr.smith,2.5,3")
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["rescore", str(bad), "--workers", "2", "--out", str(out)]) == 2
    assert "T9 is first seen on 2024-07-01" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("confirm", [[], ["--confirm"]])
def test_large_table_outputs_equal_the_reference_engine_outputs(
    tmp_path, capsys, monkeypatch, confirm
):
    """A cohort too large to print indented: the JSON document, the CSV on stdout and the --out
    files are the library's results contract (recistry.results), byte for byte (cohort and
    subgroups included), and the table format prints the cohort without a row per patient."""
    from recistry import results
    from recistry.cli import rescore
    from recistry.recist.model import AssessmentOptions
    from recistry.results import PATIENT_COLUMNS, TIMEPOINT_COLUMNS, patient_rows, timepoint_rows
    from recistry.scoring import load_records, score
    from tests.recist._random_tables import _write_tables

    measurements, clinical = _write_tables(tmp_path, seed=77, patients=120, breaches=False)
    args = [str(measurements), "--clinical", str(clinical), "--by", "who_grade", *confirm]
    monkeypatch.setattr(results, "PRETTY_JSON_MAX_PATIENTS", 10)
    assert main(["rescore", *args, "--format", "json"]) == 0
    fast_json = capsys.readouterr().out
    assert main(["rescore", *args, "--format", "csv", "--out", str(tmp_path / "fast")]) == 0
    fast_csv = capsys.readouterr().out
    assert main(["rescore", *args]) == 0  # --format table: the cohort, no table of 120 rows
    fast_table = capsys.readouterr().out
    # --format table with --out: the files streamed, the same cohort lines printed
    assert main(["rescore", *args, "--out", str(tmp_path / "table")]) == 0
    streamed_table = capsys.readouterr().out
    for name in ("patients.csv", "timepoints.csv", "results.json"):
        assert (tmp_path / "table" / name).read_text() == (tmp_path / "fast" / name).read_text()

    options = AssessmentOptions(confirm=bool(confirm))
    assessments = score(load_records(measurements, clinical), options)
    document = results.build_document(assessments, options, ["who_grade"])
    assert tuple(patient_rows(assessments)[0]) == PATIENT_COLUMNS
    assert tuple(timepoint_rows(assessments)[0]) == TIMEPOINT_COLUMNS
    assert fast_json == results.dumps(document)
    assert json.loads(fast_json)["cohort"]["subgroups"]["who_grade"]
    assert fast_csv == results.csv_text(
        PATIENT_COLUMNS, [list(row.values()) for row in patient_rows(assessments)]
    )
    rescore._print_table(document)
    reference_table = capsys.readouterr().out
    cohort_lines = [
        line
        for line in reference_table.splitlines()
        if line.startswith(("Patients", "ORR", "Median"))
    ]
    assert len(cohort_lines) >= 3 and all(line in fast_table for line in cohort_lines)
    assert all(line in streamed_table for line in cohort_lines)
    assert "per patient" not in fast_table
    assert f"{len(assessments)} patients: the table of patients is printed up to 10" in fast_table
    results.write_outputs(tmp_path / "reference", assessments, document)
    for name in ("patients.csv", "timepoints.csv", "results.json"):
        fast = (tmp_path / "fast" / name).read_text()
        assert fast == (tmp_path / "reference" / name).read_text(), name
    assert (tmp_path / "fast" / "results.json").read_text() == fast_json
    # Written like any file the user makes (mkstemp alone would leave them private).
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "fast" / "patients.csv").stat().st_mode & 0o777 == 0o666 & ~umask


def test_large_document_to_a_file_or_pipe_equals_the_text_written(tmp_path, capsys, monkeypatch):
    """A large cohort's document goes to stdout from its spool by the kernel (os.sendfile) when
    stdout is a file or a pipe: the same bytes as written through a text stream."""
    from recistry import results
    from tests.recist._random_tables import _write_tables

    measurements, clinical = _write_tables(tmp_path, seed=5, patients=40, breaches=False)
    args = ["rescore", str(measurements), "--clinical", str(clinical), "--format", "json"]
    monkeypatch.setattr(results, "PRETTY_JSON_MAX_PATIENTS", 10)
    assert main(args) == 0
    as_text = capsys.readouterr().out
    with capsys.disabled(), (tmp_path / "stdout.json").open("w", encoding="utf-8") as handle:
        handle.write("first line\n")  # written before the document, kept before it
        monkeypatch.setattr(sys, "stdout", handle)
        assert main(args) == 0
    assert (tmp_path / "stdout.json").read_text(encoding="utf-8") == "first line\n" + as_text
    read_end, write_end = os.pipe()
    with capsys.disabled(), open(write_end, "w", encoding="utf-8") as handle:
        monkeypatch.setattr(sys, "stdout", handle)
        reader = subprocess.Popen(["cat"], stdin=read_end, stdout=subprocess.PIPE)
        os.close(read_end)
        assert main(args) == 0
    piped, _ = reader.communicate(timeout=60)
    assert piped.decode() == as_text and len(as_text) > 1 << 16


def test_malformed_by_on_a_large_table_writes_nothing(tmp_path, capsys, monkeypatch):
    from recistry import results
    from tests.recist._random_tables import _write_tables

    measurements, clinical = _write_tables(tmp_path, seed=5, patients=30, breaches=False)
    monkeypatch.setattr(results, "PRETTY_JSON_MAX_PATIENTS", 10)
    out = tmp_path / "out"
    args = [str(measurements), "--clinical", str(clinical), "--by", "x=y==", "--out", str(out)]
    assert main(["rescore", *args]) == 2
    assert "option --by" in capsys.readouterr().err
    assert not out.exists()


def test_policy_profile_is_printed_in_the_json_options(capsys):
    assert (
        main(
            [
                "rescore",
                str(SAMPLE / "measurements.csv"),
                "--policy",
                "recist1.1-confirmed",
                "--sd-min-days",
                "56",
                "--format",
                "json",
            ]
        )
        == 0
    )
    options = json.loads(capsys.readouterr().out)["options"]
    assert options["policy"] == "recist1.1-confirmed" and options["policy_version"] == 3
    assert options["confirm"] is True and options["sd_min_days"] == 56
    assert options["node_cr"] == "normal-nodes"
    assert options["node_reappearance"] == "unequivocal-progression"


def test_policy_file_with_an_unknown_key_exits_2_with_one_line(tmp_path, capsys):
    policy = tmp_path / "trial.toml"
    policy.write_text('name = "trial"\nconfirm_dayz = 35\n')
    out = tmp_path / "out"
    args = [str(SAMPLE / "measurements.csv"), "--policy", str(policy), "--out", str(out)]
    assert main(["rescore", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(policy) in err and "unknown policy key 'confirm_dayz'" in err
    assert not out.exists()


PSEUDOPROGRESSION = """\
patient_id,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state
P1,2024-01-01,T1,target,liver,false,40,,measured
P1,2024-03-01,T1,target,liver,false,50,,measured
P1,2024-04-01,T1,target,liver,false,56,,measured
P2,2024-01-01,T1,target,liver,false,40,,measured
P2,2024-03-01,T1,target,liver,false,50,,measured
P2,2024-04-01,T1,target,liver,false,25,,measured
"""


def test_irecist_criteria_through_the_same_results_writer(tmp_path, capsys):
    """Seymour 2017 Table 2: +25% is iUPD; a further +6 mm 4 weeks later is iCPD (P1); a
    response after the iUPD resets the bar (P2: iPR). The reasons carry the numbers."""
    table = tmp_path / "m.csv"
    table.write_text(PSEUDOPROGRESSION)
    document = rescore_json(capsys, str(table), "--criteria", "irecist")
    assert document["criteria"] == "iRECIST"
    p1, p2 = document["patients"]
    assert [tp["response"] for tp in p1["timepoints"]] == ["iUPD", "iCPD"]
    assert [tp["recist_overall_response"] for tp in p1["timepoints"]] == ["PD", "PD"]
    assert p1["best_overall_response"] == "iCPD" and p1["progression_date"] == "2024-03-01"
    assert any("+6.0 mm over 50.0 mm at the iUPD" in r for r in p1["timepoints"][1]["reasons"])
    assert any("+25.0%" in r for r in p1["timepoints"][0]["reasons"])
    assert [tp["response"] for tp in p2["timepoints"]] == ["iUPD", "iPR"]
    assert p2["best_overall_response"] == "iPR" and p2["unconfirmed_iupd_date"] is None
    assert document["cohort"]["best_overall_response_counts"]["PR"] == 1

    out = tmp_path / "out"
    assert main(["rescore", str(table), "--criteria", "irecist", "--out", str(out)]) == 0
    capsys.readouterr()
    patients = (out / "patients.csv").read_text().splitlines()
    assert patients[0].startswith("patient_id,baseline_date,origin_date,baseline_sum_mm")
    assert "recist_best_overall_response" in patients[0] and ",iCPD,PD," in patients[1]
    timepoints = (out / "timepoints.csv").read_text().splitlines()
    assert "new_lesion_target_sum_mm" in timepoints[0]
    assert ",iCPD," in timepoints[2]
    assert json.loads((out / "results.json").read_text()) == document
    assert main(["rescore", str(table), "--criteria", "irecist", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == patients


def test_large_table_with_a_bad_patient_writes_nothing(tmp_path, capsys, monkeypatch):
    """A table scored and written a chunk at a time still writes nothing when a late patient is
    invalid: stdout stays empty and no output file (nor the folder) is left behind."""
    from recistry import results, scoring
    from tests.recist._random_tables import _write_tables

    measurements, _ = _write_tables(tmp_path, seed=5, patients=30, breaches=False)
    with measurements.open("a") as table:
        table.write("P029,2030-01-01,T9,target,liver,false,20,,measured,,,,,\n")
    monkeypatch.setattr(results, "PRETTY_JSON_MAX_PATIENTS", 10)
    monkeypatch.setattr(scoring, "CHUNK_PATIENTS", 7)
    out = tmp_path / "out"
    assert main(["rescore", str(measurements), "--format", "json", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "T9 is first seen on 2030-01-01" in captured.err
    assert not out.exists()


def test_streamed_csv_is_guarded_like_csv_text(tmp_path, capsys, monkeypatch):
    """A large table's streamed patients.csv neutralises formula cells as csv_text does."""
    from recistry import results

    lines = ["patient_id,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state"]
    for k in range(12):
        lines.append(f"=P{k},2024-01-01,T1,target,liver,false,40,,measured")
        lines.append(f"=P{k},2024-03-01,T1,target,liver,false,30,,measured")
    table = tmp_path / "m.csv"
    table.write_text("\n".join(lines) + "\n")
    assert main(["rescore", str(table), "--format", "csv"]) == 0
    whole = capsys.readouterr().out
    monkeypatch.setattr(results, "PRETTY_JSON_MAX_PATIENTS", 5)
    assert main(["rescore", str(table), "--format", "csv", "--out", str(tmp_path / "o")]) == 0
    streamed = capsys.readouterr().out
    assert streamed == whole and "\n'=P0," in streamed
    assert (tmp_path / "o" / "patients.csv").read_text() == whole
    assert "\n'=P0," in (tmp_path / "o" / "timepoints.csv").read_text()
