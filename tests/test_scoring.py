"""recistry.scoring and recistry.results: the library behind rescore, through the public API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import recistry
from recistry import results, scoring
from recistry.errors import InputError
from recistry.recist import AssessmentOptions, PatientRecord, assess_patient, validate_patient

SAMPLE = Path(__file__).resolve().parents[1] / "sample_dicom" / "tables"


def test_public_api_is_declared_and_typed():
    assert set(scoring.__all__) == {
        "TableChunks",
        "score_chunks",
        "table_chunks",
        "load_policy",
        "load_records",
        "options_with",
        "score",
        "score_irecist",
    }
    assert {"build_document", "dumps", "write_outputs", "patient_rows"} <= set(results.__all__)
    import recistry.recist as recist

    assert all(hasattr(recist, name) for name in recist.__all__)
    assert (Path(recistry.__file__).parent / "py.typed").exists()


def test_score_in_workers_equals_score_in_process():
    records = scoring.load_records(SAMPLE / "measurements.csv", SAMPLE / "clinical.csv")
    options = AssessmentOptions(confirm=True)
    here = scoring.score(records, options)
    assert scoring.score(records, options, workers=2) == here
    assert here == [assess_patient(r, options) for r in records]


def test_irecist_in_workers_equals_irecist_in_process():
    from recistry.recist.irecist import IRecistOptions, assess_patient_irecist

    records = scoring.load_records(SAMPLE / "measurements.csv", SAMPLE / "clinical.csv")
    options = IRecistOptions(recist=scoring.load_policy("recist1.1-confirmed"))
    here = scoring.score_irecist(records, options)
    assert scoring.score_irecist(records, options, workers=2) == here
    assert here == [assess_patient_irecist(r, options) for r in records]
    document = results.build_document(here, options.recist)
    assert document["criteria"] == results.IRECIST_CRITERIA
    assert document["options"]["policy"] == "recist1.1-confirmed"


def test_write_outputs_is_the_document_and_the_rows(tmp_path):
    records = scoring.load_records(str(SAMPLE / "measurements.csv"))
    assessments = scoring.score(records)
    document = results.build_document(assessments, AssessmentOptions())
    results.write_outputs(tmp_path / "out", assessments, document)
    assert (tmp_path / "out" / "results.json").read_text() == results.dumps(document)
    assert json.loads(results.dumps(document))["criteria"] == results.CRITERIA
    header = (tmp_path / "out" / "patients.csv").read_text().splitlines()[0]
    assert header == ",".join(results.PATIENT_COLUMNS)


def test_validate_patient_raises_what_rescore_raises():
    records = scoring.load_records(SAMPLE / "measurements.csv")
    validate_patient(records[0])  # a valid reading: nothing
    broken = PatientRecord(records[0].patient_id, records[0].measurements[1:])
    with pytest.raises(InputError) as caught:
        assess_patient(broken)
    with pytest.raises(InputError) as again:
        validate_patient(broken)
    assert str(again.value) == str(caught.value)


def test_reader_without_a_store_is_refused():
    with pytest.raises(InputError, match="--reader needs a study store"):
        scoring.load_records(SAMPLE / "measurements.csv", reader="dr.x")


@pytest.mark.parametrize("grouped", [True, False])
def test_table_chunks_build_the_records_load_records_builds(tmp_path, grouped):
    """Patients built a chunk at a time (a run of rows when the table is grouped by patient,
    scattered rows when it is not) are the records of the whole table, rows numbered as in
    the file."""
    from tests.recist._random_tables import _write_tables

    measurements, _ = _write_tables(tmp_path, seed=3, patients=30, breaches=False)
    header, *rows = measurements.read_text().splitlines()
    # grouped: each chunk of patients is one run of rows; else (the generator's order) scattered
    rows = sorted(rows, key=lambda row: row.split(",")[0]) if grouped else rows
    measurements.write_text("\n".join([header, *rows]) + "\n")
    whole = {r.patient_id: r for r in scoring.load_records(measurements)}
    chunked = [r for chunk in scoring.table_chunks(measurements).records(7) for r in chunk]
    assert [r.patient_id for r in chunked] == list(whole)
    for record in chunked:
        assert sorted(record.measurements, key=lambda m: m.source.row or 0) == sorted(
            whole[record.patient_id].measurements, key=lambda m: m.source.row or 0
        )
    first = chunked[0].measurements[0]
    assert rows[(first.source.row or 0) - 1].startswith(f"{first.patient_id},")
