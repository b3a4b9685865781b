"""Adjudication in the store: a new acceptance with who, when and why; append-only; blinding."""

from __future__ import annotations

import sqlite3

import pytest

from recistry.errors import InputError, StoreError
from recistry.store import Store, chosen_readers, in_force_measurements
from recistry.store.adjudication import (
    adjudicate,
    adjudication_history,
    adjudications_in_force,
    load_reader_reads,
)
from tests.cohort._two_readers import DISCORDANT, two_reader_store


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return two_reader_store(tmp_path_factory.mktemp("readers"))


@pytest.fixture
def fresh_store(tmp_path):
    return two_reader_store(tmp_path)


def test_each_reader_sees_only_their_own_read(store_path):
    """Blinding: what a reader is shown (napari loads in_force_measurements(store, reader))
    holds none of the other reader's measurements."""
    with Store(store_path, create=False) as store:
        ana = in_force_measurements(store, "ana")
        ben = in_force_measurements(store, "ben")
    assert {m.extra["reader"] for m in ana} == {"ana"}
    assert {m.extra["reader"] for m in ben} == {"ben"}
    assert any(m.lesion_id == "T3" for m in ben) and not any(m.lesion_id == "T3" for m in ana)


def test_reads_are_scored_per_reader_as_rescore_would(store_path):
    from recistry.cli import main

    reads, adjudicated = load_reader_reads(store_path)
    assert adjudicated == {}
    assert len(reads) == 50
    by_key = {(r.patient_id, r.reader): r for r in reads}
    assert by_key[("P03", "ana")].best_overall_response.value == "PR"
    assert by_key[("P03", "ben")].best_overall_response.value == "SD"
    assert by_key[("P11", "ana")].progression_date is not None
    assert by_key[("P11", "ben")].progression_date is None
    assert by_key[("P20", "ben")].baseline_targets == frozenset({"T1", "T3"})
    # the same calls as rescore --reader
    import json

    for reader in ("ana", "ben"):
        out = store_path.parent / f"rescore-{reader}"
        assert main(["rescore", str(store_path), "--reader", reader, "--out", str(out)]) == 0
        document = json.loads((out / "results.json").read_text())
        for p in document["patients"]:
            r = by_key[(p["patient_id"], reader)]
            assert r.best_overall_response.value == p["best_overall_response"]
            assert (r.progression_date and r.progression_date.isoformat()) == p["progression_date"]
            assert r.baseline_sum_mm == p["baseline_sum_mm"]


def test_each_reader_read_in_its_own_process_gives_the_same_reads(store_path):
    """--workers 2: one process per reader's read; the reads and their order are unchanged."""
    alone, _ = load_reader_reads(store_path)
    parallel, _ = load_reader_reads(store_path, workers=2)
    assert parallel == alone
    assert [r.reader for r in parallel] == ["ana"] * 25 + ["ben"] * 25


def test_reads_scored_on_a_dask_cluster_are_the_same(store_path):
    from distributed import LocalCluster

    alone, _ = load_reader_reads(store_path, workers=1)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        on_dask, _ = load_reader_reads(store_path, dask_address=cluster.scheduler_address)
    assert on_dask == alone


def test_adjudication_is_a_new_acceptance_with_who_when_why(fresh_store):
    with Store(fresh_store, create=False) as store:
        with pytest.raises(StoreError, match="several reads and none accepted"):
            chosen_readers(store)
        done = adjudicate(
            store, "P03", "ben", reason="PR not confirmed on review", adjudicator="cy"
        )
        assert (done.accepted_reader, done.adjudicator) == ("ben", "cy")
        assert done.recorded_at.endswith("+00:00")
        assert chosen_readers(store, patient_ids=["P03"]) == {"P03": "ben"}
        assert set(adjudications_in_force(store)) == {"P03"}
        # a later adjudication is another revision; the first stays in the history
        adjudicate(store, "P03", "ana", reason="second look: PR confirmed", adjudicator="dee")
        assert chosen_readers(store, patient_ids=["P03"]) == {"P03": "ana"}
        history = adjudication_history(store)
        assert [(a.accepted_reader, a.adjudicator) for a in history] == [
            ("ben", "cy"),
            ("ana", "dee"),
        ]
        assert adjudications_in_force(store)["P03"].reason == "second look: PR confirmed"
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.conn.execute("UPDATE adjudications SET reason = 'x'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.conn.execute("DELETE FROM adjudications")


def test_a_plain_acceptance_after_an_adjudication_supersedes_it(fresh_store):
    from recistry.store import accept_reader

    with Store(fresh_store, create=False) as store:
        adjudicate(store, "P11", "ana", reason="PD seen on both CT and PET", adjudicator="cy")
        accept_reader(store, "ben", ["P11"])
        assert adjudications_in_force(store) == {}
        assert len(adjudication_history(store)) == 1


@pytest.mark.parametrize(
    ("patient", "reader", "reason", "adjudicator", "error", "match"),
    [
        ("P99", "ana", "why", "cy", StoreError, "no patient 'P99'"),
        ("P03", "zed", "why", "cy", StoreError, "did not read patient P03"),
        ("P03", "ana", "  ", "cy", InputError, "reason"),
        ("P03", "ana", "why", "", InputError, "adjudicator"),
        ("P03", "ana", "why", "ben", InputError, "another reviewer"),
    ],
)
def test_bad_adjudications_are_refused_and_write_nothing(
    store_path, patient, reader, reason, adjudicator, error, match
):
    with Store(store_path, create=False) as store:
        before = store.conn.execute("SELECT COUNT(*) FROM acceptances").fetchone()[0]
        with pytest.raises(error, match=match):
            adjudicate(store, patient, reader, reason=reason, adjudicator=adjudicator)
        assert store.conn.execute("SELECT COUNT(*) FROM acceptances").fetchone()[0] == before
        assert adjudication_history(store) == []


def test_the_test_data_has_the_discordances_it_claims(store_path):
    from recistry.cohort.readers import compare_readers

    reads, _ = load_reader_reads(store_path)
    flagged = {
        p.patient_id: tuple(r.value for r in p.rules) for p in compare_readers(reads).pending
    }
    assert flagged == DISCORDANT


def test_a_patient_with_one_read_has_nothing_to_adjudicate(fresh_store, tmp_path):
    from recistry.cli import main

    table = tmp_path / "one.csv"
    table.write_text(
        "patient_id,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state\n"
        "Q1,2024-01-02,T1,target,liver,no,30,,measured\n"
    )
    assert main(["import", str(table), "--store", str(fresh_store), "--reader", "ana"]) == 0
    with Store(fresh_store, create=False) as store, pytest.raises(StoreError, match="one read"):
        adjudicate(store, "Q1", "ana", reason="why", adjudicator="cy")


def test_a_split_target_read_as_fragments_is_scored_as_rescore_scores_it(tmp_path):
    """A reader who measures a split target as named fragments (RECIST 1.1 §4.3.2: their
    diameters are summed) is compared on the same sum that rescore --reader gives."""
    import json

    from recistry.cli import main

    header = "patient_id,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state,fragment\n"
    baseline = "P1,2024-01-01,T1,target,liver,false,40,,measured,\n"
    whole = tmp_path / "ana.csv"
    whole.write_text(header + baseline + "P1,2024-02-26,T1,target,liver,false,26,,measured,\n")
    split = tmp_path / "ben.csv"
    split.write_text(
        header
        + baseline
        + "P1,2024-02-26,T1,target,liver,false,20,,measured,a\n"
        + "P1,2024-02-26,T1,target,liver,false,12,,measured,b\n"
    )
    store = tmp_path / "s.db"
    for table, reader in ((whole, "ana"), (split, "ben")):
        assert main(["import", str(table), "--store", str(store), "--reader", reader]) == 0
    reads = {r.reader: r for r in load_reader_reads(store)[0]}
    out = tmp_path / "ben"
    assert main(["rescore", str(store), "--reader", "ben", "--out", str(out)]) == 0
    (patient,) = json.loads((out / "results.json").read_text())["patients"]
    assert patient["timepoints"][0]["target_sum_mm"] == 32  # 20 + 12: -20%
    assert reads["ben"].best_overall_response.value == patient["best_overall_response"] == "SD"
    assert reads["ana"].best_overall_response.value == "PR"  # 26 mm: -35%
