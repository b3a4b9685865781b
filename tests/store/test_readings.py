"""Revisions, readers, acceptance and loading scored data from a store (real CSV and SQLite)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from recistry.errors import InputError, StoreError
from recistry.recist.engine import assess_patients
from recistry.recist.model import AssessmentOptions
from recistry.results import assessment_to_dict
from recistry.store import (
    Store,
    accept_reader,
    in_force_measurements,
    load_records,
    save_clinical,
    save_measurements,
)
from recistry.tables import build_records, read_clinical, read_measurements
from tests.store._data import cohort_rows, write_csv


def _counts(store: Store) -> dict[str, int]:
    tables = ("imports", "patients", "lesions", "measurements", "axis_endpoints", "clinical")
    return {t: store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


def test_store_scores_identically_to_the_table_it_was_imported_from(tmp_path: Path) -> None:
    table = write_csv(tmp_path / "m.csv", cohort_rows(25))
    clinical_csv = tmp_path / "c.csv"
    # Patient 3 starts a new anticancer therapy: later scans count for neither BOR nor PFS.
    clinical_csv.write_text(
        "patient_id,treatment_start,last_followup,death_date,who_grade,new_therapy_date\n"
        + "".join(
            f"P{p:05d},2023-12-20,2025-06-01,,G{p % 3 + 1},{'2024-03-01' if p == 3 else ''}\n"
            for p in range(1, 26)
        )
    )
    measurements = read_measurements(table)
    clinical = read_clinical(clinical_csv)
    with Store(tmp_path / "s.db") as store:
        save_measurements(store, measurements, source=str(table))
        save_clinical(store, clinical, source=str(clinical_csv))
    options = AssessmentOptions(confirm=True)
    from_table = assess_patients(build_records(measurements, clinical), options)
    from_store = assess_patients(load_records(tmp_path / "s.db"), options)
    assert [assessment_to_dict(a) for a in from_store] == [
        assessment_to_dict(a) for a in from_table
    ]
    # The cohort really exercises the engine: more than one best response.
    assert len({a.best_overall_response for a in from_table}) > 1
    assert any("new anticancer therapy" in w for w in from_store[2].warnings)


def test_decimal_text_is_kept_exactly(tmp_path: Path) -> None:
    rows = cohort_rows(1)
    rows[0]["long_axis_mm"] = "23.40"
    table = write_csv(tmp_path / "m.csv", rows)
    with Store(tmp_path / "s.db") as store:
        save_measurements(store, read_measurements(table), source=str(table))
        first = next(m for m in in_force_measurements(store) if m.source.row == 1)
    assert str(first.long_axis_mm) == "23.40"
    assert first.source.path == str(table) and first.source.row == 1


def test_an_edit_appends_a_revision_and_reimport_is_idempotent(tmp_path: Path) -> None:
    rows = cohort_rows(2)
    table = write_csv(tmp_path / "m.csv", rows)
    with Store(tmp_path / "s.db") as store:
        first = save_measurements(store, read_measurements(table), source=str(table))
        again = save_measurements(store, read_measurements(table), source=str(table))
        assert (first.new_revisions, again.new_revisions, again.unchanged) == (24, 0, 24)
        rows[0]["long_axis_mm"] = "41.5"
        edited = write_csv(tmp_path / "m2.csv", rows)
        edit = save_measurements(store, read_measurements(edited), source=str(edited))
        assert (edit.new_revisions, edit.unchanged) == (1, 23)
        history = store.conn.execute(
            "SELECT revision, long_axis_mm, supersedes, source_path FROM measurements "
            "JOIN lesions USING (lesion_pk) WHERE lesion_id = 'T1' AND scan_date = ? "
            "AND patient_pk = 1 ORDER BY revision",
            (rows[0]["date"],),
        ).fetchall()
        assert [(h[0], h[1], h[3]) for h in history] == [
            (1, cohort_rows(2)[0]["long_axis_mm"], str(table)),
            (2, "41.5", str(edited)),
        ]
        assert history[1][2] is not None  # revision 2 names the revision it supersedes
        in_force = in_force_measurements(store)
    t1 = next(m for m in in_force if m.lesion_id == "T1" and m.date.isoformat() == rows[0]["date"])
    assert t1.long_axis_mm == Decimal("41.5")
    assert len(in_force) == 24


def test_a_bad_row_leaves_the_store_exactly_as_it_was(tmp_path: Path) -> None:
    table = write_csv(tmp_path / "m.csv", cohort_rows(3))
    rows = cohort_rows(3, seed=7)
    rows[5]["krenning"] = "5"
    bad = write_csv(tmp_path / "bad.csv", rows)
    with Store(tmp_path / "s.db") as store:
        save_measurements(store, read_measurements(table), source=str(table))
        before = _counts(store)
        with pytest.raises(InputError) as caught:
            save_measurements(store, read_measurements(bad), source=str(bad))
        assert _counts(store) == before
    assert str(caught.value) == f"{bad}, row 6, column 'krenning': '5' is not a Krenning grade 0-4"


def test_a_failure_in_the_middle_of_writing_rolls_back_everything(tmp_path: Path) -> None:
    measurements = read_measurements(write_csv(tmp_path / "m.csv", cohort_rows(3)))

    class Boom(Exception):
        pass

    def exploding():
        yield from measurements[:10]
        raise Boom

    with Store(tmp_path / "s.db") as store:
        before = _counts(store)
        with pytest.raises(Boom), store.transaction():
            save_measurements(store, measurements[:20], source="first half")
            save_measurements(store, exploding(), source="second half")
        assert _counts(store) == before


def test_duplicate_reading_in_one_input_is_an_error_naming_both_rows(tmp_path: Path) -> None:
    rows = cohort_rows(1)
    rows.append(dict(rows[0]))
    table = write_csv(tmp_path / "m.csv", rows)
    with Store(tmp_path / "s.db") as store, pytest.raises(InputError, match="given twice"):
        save_measurements(store, read_measurements(table), source=str(table))


def test_several_readers_need_a_choice_or_an_acceptance(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", cohort_rows(4, reader="reader_a"))
    rows_b = cohort_rows(4, reader="reader_b", seed=99)
    b = write_csv(tmp_path / "b.csv", rows_b)
    db = tmp_path / "s.db"
    with Store(db) as store:
        save_measurements(store, read_measurements(a), source=str(a))
        save_measurements(store, read_measurements(b), source=str(b))
    with pytest.raises(StoreError, match="several reads and none accepted for patient"):
        load_records(db)
    by_b = load_records(db, reader="reader_b")
    assert {m.extra["reader"] for r in by_b for m in r.measurements} == {"reader_b"}
    with Store(db) as store:
        assert accept_reader(store, "reader_a") == 4
        accept_reader(store, "reader_b", ["P00002"])
    accepted = {r.patient_id: r.measurements[0].extra["reader"] for r in load_records(db)}
    assert accepted == {
        "P00001": "reader_a",
        "P00002": "reader_b",
        "P00003": "reader_a",
        "P00004": "reader_a",
    }
    with pytest.raises(StoreError, match="no reader named 'nobody'"):
        load_records(db, reader="nobody")


def test_import_can_accept_the_read_it_writes(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", cohort_rows(2, reader="reader_a"))
    b = write_csv(tmp_path / "b.csv", cohort_rows(2, reader="reader_b", seed=3))
    db = tmp_path / "s.db"
    with Store(db) as store:
        save_measurements(store, read_measurements(a), source=str(a))
        save_measurements(store, read_measurements(b), source=str(b), accept=True)
    assert {m.extra["reader"] for r in load_records(db) for m in r.measurements} == {"reader_b"}


def test_tracking_uid_is_kept_across_time_points_and_deterministic(tmp_path: Path) -> None:
    table = write_csv(tmp_path / "m.csv", cohort_rows(2))
    uids = []
    for name in ("one.db", "two.db"):
        with Store(tmp_path / name) as store:
            save_measurements(store, read_measurements(table), source=str(table))
            uids.append(
                {
                    (m.patient_id, m.lesion_id, m.extra["tracking_uid"])
                    for m in in_force_measurements(store)
                }
            )
    assert uids[0] == uids[1]
    assert len(uids[0]) == 6  # 2 patients x 3 lesions: one UID per lesion over all scans


def test_endpoints_in_patient_mm_round_trip(tmp_path: Path) -> None:
    measurements = read_measurements(write_csv(tmp_path / "m.csv", cohort_rows(1)))
    first = measurements[0]
    extra = dict(first.extra) | {
        "long_axis_start_mm": "10.5 -20.25 -101.0",
        "long_axis_end_mm": "40.0 -5.125 -101.0",
        "frame_of_reference_uid": "1.2.3.4",
        "sop_instance_uid": "1.2.3.4.5",
    }
    edited = dataclasses.replace(first, extra=extra)
    with Store(tmp_path / "s.db") as store:
        save_measurements(store, [edited, *measurements[1:]], source="x")
        back = next(m for m in in_force_measurements(store) if m.source.row == 1)
    assert back.extra["long_axis_start_mm"] == "10.5 -20.25 -101.0"
    assert back.extra["long_axis_end_mm"] == "40.0 -5.125 -101.0"
    assert back.extra["sop_instance_uid"] == "1.2.3.4.5"


def test_endpoints_without_frame_of_reference_are_refused(tmp_path: Path) -> None:
    measurements = read_measurements(write_csv(tmp_path / "m.csv", cohort_rows(1)))
    extra = dict(measurements[0].extra) | {
        "long_axis_start_mm": "1 2 3",
        "long_axis_end_mm": "4 5 6",
    }
    bad = dataclasses.replace(measurements[0], extra=extra)
    with (
        Store(tmp_path / "s.db") as store,
        pytest.raises(InputError, match="column 'frame_of_reference_uid'"),
    ):
        save_measurements(store, [bad], source="x")
