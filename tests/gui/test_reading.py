"""The annotator's reading model (no Qt): lesion IDs, carry-over, states, rows for the engine."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from recistry.recist.model import LesionState, Role
from recistry_napari import _reading as r

BASELINE = dt.date(2024, 1, 15)
FOLLOW_UP = dt.date(2024, 3, 11)


def _reading() -> r.Reading:
    return r.new_reading("P1", [FOLLOW_UP, BASELINE], reader="Dr A")


def _line(x0: float, y0: float, x1: float, y1: float, z: float = -20.0) -> r.Line:
    return r.Line((x0, y0, z), (x1, y1, z))


def test_time_points_in_date_order_and_baseline_first() -> None:
    reading = _reading()
    assert [tp.date for tp in reading.timepoints] == [BASELINE, FOLLOW_UP]
    assert reading.baseline_date == BASELINE


def test_ids_per_role_and_carry_over_pending_to_follow_up() -> None:
    reading, t1 = r.add_lesion(_reading(), BASELINE, Role.TARGET, "liver")
    reading, t2 = r.add_lesion(reading, BASELINE, Role.TARGET, "lung")
    reading, nt1 = r.add_lesion(reading, BASELINE, Role.NON_TARGET, "bone")
    reading, n1 = r.add_lesion(reading, FOLLOW_UP, Role.NEW, "liver")
    assert (t1, t2, nt1, n1) == ("T1", "T2", "NT1", "NEW1")
    assert [les.lesion_id for les in reading.at(BASELINE).lesions] == ["T1", "T2", "NT1"]
    follow_up = reading.at(FOLLOW_UP)
    assert [les.lesion_id for les in follow_up.lesions] == ["T1", "T2", "NT1", "NEW1"]
    assert all(les.pending for les in follow_up.lesions)
    # One tracking UID follows a lesion through the time points.
    assert reading.at(BASELINE).lesion("T1").tracking_uid == follow_up.lesion("T1").tracking_uid


def test_roles_follow_recist_4_2_targets_at_baseline_new_lesions_later() -> None:
    with pytest.raises(ValueError, match="new lesion can only be recorded at a follow-up"):
        r.add_lesion(_reading(), BASELINE, Role.NEW, "liver")
    with pytest.raises(ValueError, match="chosen at baseline"):
        r.add_lesion(_reading(), FOLLOW_UP, Role.TARGET, "liver")
    with pytest.raises(ValueError, match="site"):
        r.add_lesion(_reading(), BASELINE, Role.TARGET, "  ")


def test_state_must_belong_to_the_role_recist_4_3() -> None:
    reading, nt1 = r.add_lesion(_reading(), BASELINE, Role.NON_TARGET, "bone")
    with pytest.raises(ValueError, match="'merged' does not apply to a non-target"):
        r.update_lesion(reading, BASELINE, nt1, state=LesionState.MERGED)
    with pytest.raises(ValueError, match="Krenning grade must be 0-4"):
        r.update_lesion(reading, BASELINE, nt1, krenning=5)


def test_drawing_the_counted_axis_measures_a_target_and_clearing_it_makes_it_pending() -> None:
    reading, t1 = r.add_lesion(_reading(), BASELINE, Role.TARGET, "liver")
    reading = r.set_line(reading, BASELINE, t1, r.Axis.LONG, _line(0, 0, 30, 40))
    lesion = reading.at(BASELINE).lesion(t1)
    assert lesion.state is LesionState.MEASURED
    assert lesion.long_axis is not None and lesion.long_axis.diameter_mm == Decimal("50.0")
    reading = r.set_line(reading, BASELINE, t1, r.Axis.LONG, None)
    assert reading.at(BASELINE).lesion(t1).pending


def test_a_node_is_measured_by_its_short_axis_recist_3_1_1() -> None:
    reading, t1 = r.add_lesion(_reading(), BASELINE, Role.TARGET, "mediastinum", nodal=True)
    reading = r.set_line(reading, BASELINE, t1, r.Axis.LONG, _line(0, 0, 30, 0))
    assert reading.at(BASELINE).lesion(t1).pending  # the long axis alone does not count
    reading = r.set_line(reading, BASELINE, t1, r.Axis.SHORT, _line(15, -9, 15, 9))
    (row,) = r.to_measurements(reading)
    assert row.state is LesionState.MEASURED
    assert (row.long_axis_mm, row.short_axis_mm) == (Decimal("30.0"), Decimal("18.0"))
    assert row.counted_axis_mm == Decimal("18.0")


def test_geometry_checks_flag_a_node_measured_on_its_long_axis_recist_3_1_1() -> None:
    reading, t1 = r.add_lesion(_reading(), BASELINE, Role.TARGET, "neck", nodal=True)
    reading = r.set_line(reading, BASELINE, t1, r.Axis.LONG, _line(0, 0, 30, 0))
    (only_long,) = r.geometry_checks(reading.at(BASELINE))
    assert "measured on its long axis only" in only_long
    # 70° between the axes: not perpendicular; and the "short" axis is the longer one.
    short = r.Line((0.0, 0.0, -20.0), (34.2020, 93.9693, -20.0))
    reading = r.set_line(reading, BASELINE, t1, r.Axis.SHORT, short)
    checks = r.geometry_checks(reading.at(BASELINE))
    assert any("longer than the long axis" in c for c in checks)
    assert any("at 70° to the long axis" in c for c in checks)
    # Within the 10° tolerance: no complaint.
    reading = r.set_line(reading, BASELINE, t1, r.Axis.SHORT, _line(15, -9, 16.5, 9))
    assert r.geometry_checks(reading.at(BASELINE)) == ()


def test_rows_round_trip_through_measurements_with_endpoints_in_lps_mm() -> None:
    reading, t1 = r.add_lesion(_reading(), BASELINE, Role.TARGET, "liver")
    reading, nt1 = r.add_lesion(reading, BASELINE, Role.NON_TARGET, "bone")
    reading = r.replace_timepoint(
        reading,
        r.TimepointReading(
            BASELINE,
            reading.at(BASELINE).lesions,
            slice_thickness_mm=5.0,
            study_instance_uid="1.2.3",
            frame_of_reference_uid="1.2.4",
        ),
    )
    line = r.Line((-61.25, 12.5, -17.5), (-31.0625, 40.1, -17.5))
    reading = r.set_line(
        reading,
        BASELINE,
        t1,
        r.Axis.LONG,
        line,
        series_instance_uid="1.2.5",
        sop_instance_uid="1.2.6",
    )
    reading = r.update_lesion(reading, BASELINE, t1, krenning=3, suv_max=12.25)
    reading = r.update_lesion(reading, BASELINE, nt1, state=LesionState.PRESENT)
    reading, n1 = r.add_lesion(reading, FOLLOW_UP, Role.NEW, "liver")
    reading = r.update_lesion(reading, FOLLOW_UP, n1, state=LesionState.EQUIVOCAL)
    rows = r.to_measurements(reading)
    # Pending lesions (T1 and NT1 at the follow-up) are not sent: the engine sees them missing.
    assert [(m.date, m.lesion_id) for m in rows] == [
        (BASELINE, "T1"),
        (BASELINE, "NT1"),
        (FOLLOW_UP, "NEW1"),
    ]
    assert rows[0].extra["long_axis_start_mm"] == "-61.25 12.5 -17.5"
    assert rows[0].extra["frame_of_reference_uid"] == "1.2.4"
    assert rows[0].slice_thickness_mm == Decimal("5.00")
    restored = r.from_measurements(r.new_reading("P1", [BASELINE, FOLLOW_UP]), rows)
    assert restored.at(BASELINE).lesion(t1) == reading.at(BASELINE).lesion(t1)
    assert restored.at(FOLLOW_UP).lesion(t1).pending
    assert restored.at(FOLLOW_UP).lesion(n1).state is LesionState.EQUIVOCAL


def test_prior_is_the_latest_assessed_earlier_time_point() -> None:
    reading, t1 = r.add_lesion(_reading(), BASELINE, Role.TARGET, "liver")
    reading = r.set_line(reading, BASELINE, t1, r.Axis.LONG, _line(0, 0, 20, 0))
    prior = reading.prior(FOLLOW_UP, t1)
    assert prior is not None and prior[0] == BASELINE
    assert prior[1].long_axis is not None and prior[1].long_axis.diameter_mm == Decimal("20.0")
    assert reading.prior(BASELINE, t1) is None


def test_diameter_rounds_half_up_to_a_tenth_of_a_millimetre() -> None:
    assert _line(0, 0, 10.25, 0).diameter_mm == Decimal("10.3")
    assert _line(0, 0, 9.94, 0).diameter_mm == Decimal("9.9")


def test_a_reading_with_a_split_lesion_is_refused_not_restored_without_a_fragment():
    """The annotator draws one line per axis: restoring a split target [EJC09 §4.3.2] would keep
    one fragment and a save would drop the other, so the reading is refused with its reason."""
    from dataclasses import replace

    from recistry.errors import InputError
    from recistry.recist.model import Measurement

    whole = Measurement(
        "P1", FOLLOW_UP, "T1", Role.TARGET, "liver", False, LesionState.MEASURED, Decimal(15)
    )
    rows = [replace(whole, extra={"fragment": name}) for name in ("a", "b")]
    with pytest.raises(
        InputError, match=r"T1 of P1 on 2024-03-11 is a split lesion \(fragments a, b\)"
    ):
        r.from_measurements(r.new_reading("P1", [BASELINE, FOLLOW_UP]), rows)


def test_the_response_panel_writes_non_cr_non_pd_in_words() -> None:
    """Issue 13: plain words in the response panel, the engine's reasons included."""
    from recistry_napari._response import assess_reading, describe

    reading, t1 = r.add_lesion(_reading(), BASELINE, Role.TARGET, "liver")
    reading, nt1 = r.add_lesion(reading, BASELINE, Role.NON_TARGET, "bone")
    reading = r.set_line(reading, BASELINE, t1, r.Axis.LONG, _line(0, 0, 30, 0))
    reading = r.update_lesion(reading, BASELINE, nt1, state=LesionState.PRESENT)
    reading = r.set_line(reading, FOLLOW_UP, t1, r.Axis.LONG, _line(0, 0, 29, 0))
    reading = r.update_lesion(reading, FOLLOW_UP, nt1, state=LesionState.PRESENT)
    text = "\n".join(describe(assess_reading(reading, FOLLOW_UP), FOLLOW_UP))
    assert "non-target non-CR/non-PD" in text and "NON_CR_NON_PD" not in text
