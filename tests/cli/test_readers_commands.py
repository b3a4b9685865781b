"""`recistry readers` and `recistry adjudicate`, and what rescore, report and cdisc say after."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from recistry.cli import main
from tests.cohort._two_readers import two_reader_store


@pytest.fixture
def store(tmp_path):
    return two_reader_store(tmp_path)


def test_readers_lists_the_discordant_patients_by_rule(store, capsys):
    assert main(["readers", str(store), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["adjudication"]["pending"] == ["P03", "P11", "P20"]
    assert document["adjudication"]["needing"] == 3
    assert document["adjudication"]["of_patients_with_two_reads"] == 25
    pair = document["agreement"][0]
    assert pair["readers"] == ["ana", "ben"]
    assert 0 < pair["best_response_kappa"]["kappa"] < 1
    assert pair["progression"]["reference_only"] == 1  # P11
    assert main(["readers", str(store)]) == 0
    text = capsys.readouterr().out
    assert "needed: best_response" in text and "Cohen's kappa" in text


def test_readers_writes_html_to_a_file(store, tmp_path, capsys):
    out = tmp_path / "readers.html"
    assert main(["readers", str(store), "--format", "html", "--out", str(out)]) == 0
    page = out.read_text()
    assert "P03" in page and "ICC(2,1)" in page and "Early discrepancy rate" in page


def test_adjudication_then_every_output_says_so(store, tmp_path, capsys):
    assert main(["import", "--accept-reader", "ana", "--store", str(store)]) == 0
    for patient, reader in (("P03", "ben"), ("P11", "ana"), ("P20", "ana")):
        args = ["adjudicate", str(store), "--patient", patient, "--accept", reader]
        assert main([*args, "--reason", "consensus review", "--adjudicator", "cy"]) == 0
    capsys.readouterr()
    assert main(["readers", str(store), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["adjudication"]["pending"] == []
    assert document["adjudication"]["adjudicated"] == 3

    out = tmp_path / "rescore"
    assert main(["rescore", str(store), "--out", str(out), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "adjudicated: 3 of 25 patients" in captured.err
    patients = {p["patient_id"]: p for p in json.loads(captured.out)["patients"]}
    assert patients["P03"]["best_overall_response"] == "SD"  # ben's read, as adjudicated

    report = tmp_path / "report"
    assert main(["report", str(store), "--out", str(report)]) == 0
    assert "adjudicated: 3 of 25 patients" in capsys.readouterr().out
    page = (report / "report.html").read_text()
    assert "adjudicated: 3 of 25 patients" in page and 'id="readers"' in page
    agreement = pd.read_csv(report / "reader_agreement.csv")
    assert "Cohen's kappa, best overall response" in set(agreement["quantity"])

    cdisc = tmp_path / "cdisc"
    assert main(["cdisc", str(store), "--out", str(cdisc)]) == 0
    assert "adjudicated: 3 of 25 patients" in capsys.readouterr().err
    adrs = pd.read_sas(cdisc / "adrs.xpt", format="xport", encoding="utf-8")
    flagged = set(adrs.loc[adrs["ADJFL"] == "Y", "SUBJID"])
    assert flagged == {"P03", "P11", "P20"}


def test_bad_input_is_one_line_and_status_2(store, tmp_path, capsys):
    args = ["adjudicate", str(store), "--patient", "P03", "--accept", "zed"]
    assert main([*args, "--reason", "x", "--adjudicator", "cy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did not read patient P03" in err
    assert main(["readers", str(tmp_path / "missing.db")]) == 2
    assert "not a study store" in capsys.readouterr().err
    assert main(["readers", str(store), "--pd-window", "-1"]) == 2
