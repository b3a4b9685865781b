"""A withdrawn reading (a lesion the reader deleted) is a new revision, never an UPDATE, and is
no longer in force."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

from recistry.recist.model import LesionState, Measurement, Role
from recistry.store import Store, in_force_measurements, save_measurements
from recistry.store.readings import WITHDRAWN_KEY


def _row(lesion_id: str) -> Measurement:
    return Measurement(
        patient_id="P1",
        date=dt.date(2024, 1, 15),
        lesion_id=lesion_id,
        role=Role.TARGET,
        site="liver",
        nodal=False,
        state=LesionState.MEASURED,
        long_axis_mm=Decimal("21.0"),
        short_axis_mm=None,
    )


def test_a_withdrawal_is_revision_2_and_leaves_the_reading_out_of_force(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        save_measurements(store, [_row("T1"), _row("T2")], source="a", reader="Dr A")
        withdrawn = dataclasses.replace(_row("T2"), extra={WITHDRAWN_KEY: "true"})
        summary = save_measurements(store, [withdrawn], source="b", reader="Dr A")
        assert summary.new_revisions == 1
        assert [m.lesion_id for m in in_force_measurements(store, "Dr A")] == ["T1"]
        revisions = store.conn.execute(
            "SELECT m.revision FROM measurements m JOIN lesions l USING (lesion_pk) "
            "WHERE l.lesion_id = 'T2' ORDER BY m.revision"
        ).fetchall()
        assert revisions == [(1,), (2,)]
        # Recording it again brings it back, as revision 3.
        save_measurements(store, [_row("T2")], source="c", reader="Dr A")
        assert [m.lesion_id for m in in_force_measurements(store, "Dr A")] == ["T1", "T2"]
