"""The Qt-free parts of follow-up reading: states by time point, delete/rename/re-role, undo
history, pending markers and prior marks, PET range from the references, the coronal MIP."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from recistry.imaging.metrics import VoiUptake
from recistry.imaging.volume import Volume
from recistry.recist.model import LesionState, Measurement, Role
from recistry.store.readings import ROLE_UNASSIGNED_KEY, refuse_unassigned_roles
from recistry_napari import _reading as r
from recistry_napari._history import History
from recistry_napari._layers import DEFAULT_SUV_RANGE, suv_display_range
from recistry_napari._longitudinal import pending_markers, prior_marks
from recistry_napari._mip import coronal_mip
from recistry_napari._uptake import with_uptake

BASELINE = dt.date(2024, 1, 15)
FOLLOW_UP = dt.date(2024, 3, 11)


def _reading() -> r.Reading:
    return r.new_reading("P1", [BASELINE, FOLLOW_UP], reader="Dr A")


def _line(x0: float, x1: float, z: float = -20.0) -> r.Line:
    return r.Line((x0, 0.0, z), (x1, 0.0, z))


def test_baseline_offers_no_follow_up_state_recist_4_2() -> None:
    assert r.allowed_states(Role.TARGET, baseline=True) == {LesionState.MEASURED}
    assert r.allowed_states(Role.NON_TARGET, baseline=True) == {
        LesionState.PRESENT,
        LesionState.NOT_EVALUABLE,
    }
    assert LesionState.MERGED in r.allowed_states(Role.TARGET, baseline=False)
    reading, nt1 = r.add_lesion(_reading(), BASELINE, Role.NON_TARGET, "bone")
    with pytest.raises(ValueError, match="'absent' is a follow-up state"):
        r.update_lesion(reading, BASELINE, nt1, state=LesionState.ABSENT)
    assert r.update_lesion(reading, FOLLOW_UP, nt1, state=LesionState.ABSENT)


def test_new_lesion_ids_cannot_be_misread_as_non_targets() -> None:
    reading, nt1 = r.add_lesion(_reading(), BASELINE, Role.NON_TARGET, "bone")
    reading, new1 = r.add_lesion(reading, FOLLOW_UP, Role.NEW, "liver")
    assert (nt1, new1) == ("NT1", "NEW1")


def test_a_location_marks_a_pending_non_target_present_and_travels_as_location_mm() -> None:
    reading, nt1 = r.add_lesion(_reading(), BASELINE, Role.NON_TARGET, "bone")
    reading = r.set_location(
        reading,
        BASELINE,
        nt1,
        (1.5, -2.25, 30.0),
        series_instance_uid="1.2",
        sop_instance_uid="1.3",
    )
    lesion = reading.at(BASELINE).lesion(nt1)
    assert lesion.state is LesionState.PRESENT and lesion.sop_instance_uid == "1.3"
    (row,) = r.to_measurements(reading)
    assert row.extra["location_mm"] == "1.5 -2.25 30.0"
    restored = r.from_measurements(_reading(), [row])
    assert restored.at(BASELINE).lesion(nt1).location_lps == (1.5, -2.25, 30.0)


def test_delete_where_added_rename_and_re_role() -> None:
    reading, t1 = r.add_lesion(_reading(), BASELINE, Role.TARGET, "liver")
    reading, t2 = r.add_lesion(reading, BASELINE, Role.TARGET, "lung")
    reading = r.set_line(reading, BASELINE, t1, r.Axis.LONG, _line(0, 20))
    with pytest.raises(ValueError, match="delete it there"):
        r.delete_lesion(reading, FOLLOW_UP, t2)
    deleted = r.delete_lesion(reading, BASELINE, t2)
    assert [les.lesion_id for tp in deleted.timepoints for les in tp.lesions] == [t1, t1]
    renamed = r.rename_lesion(reading, t1, "T9")
    assert (
        renamed.at(FOLLOW_UP).lesion("T9").tracking_uid
        != reading.at(FOLLOW_UP).lesion(t1).tracking_uid
    )  # a new lesion to the store: its old rows are withdrawn on save
    with pytest.raises(ValueError, match="already used"):
        r.rename_lesion(reading, t1, t2)
    moved, nt = r.change_role(reading, t1, Role.NON_TARGET)
    assert nt == "NT1"
    assert moved.at(BASELINE).lesion(nt).state is LesionState.PRESENT
    back, t = r.change_role(moved, nt, Role.TARGET)
    assert back.at(BASELINE).lesion(t).state is LesionState.MEASURED
    reading, new1 = r.add_lesion(reading, FOLLOW_UP, Role.NEW, "liver")
    with pytest.raises(ValueError, match="a new lesion stays new"):
        r.change_role(reading, new1, Role.TARGET)


def test_history_undoes_and_redoes_and_forgets_the_undone_after_a_new_edit() -> None:
    history = History()
    a = _reading()
    b, _ = r.add_lesion(a, BASELINE, Role.TARGET, "liver")
    c, _ = r.add_lesion(b, BASELINE, Role.TARGET, "lung")
    history.reset(a)
    history.push(b, "add T1")
    history.push(c, "add T2")
    assert history.undo() == (b, "add T2")
    assert history.undo() == (a, "add T1")
    assert history.undo() is None
    assert history.redo() == (b, "add T1")
    history.push(c, "add T2 again")
    assert history.redo() is None and history.can_undo


def _uptake(suv_max: float) -> VoiUptake:
    return VoiUptake(
        suv_max=suv_max,
        suv_mean=suv_max / 2,
        suv_peak=suv_max * 0.8,
        max_lps_mm=(0.0, 0.0, 0.0),
        peak_center_lps_mm=(0.0, 0.0, 0.0),
        peak_voxel_count=14,
        voxel_count=40,
        volume_ml=2.5,
    )


def test_uptake_measured_in_the_background_survives_undo_and_a_stale_one_is_dropped() -> None:
    history = History()
    start, t1 = r.add_lesion(_reading(), BASELINE, Role.TARGET, "liver")
    drawn = r.set_line(start, BASELINE, t1, r.Axis.LONG, _line(0.0, 20.0))
    graded = r.update_lesion(drawn, BASELINE, t1, krenning=3)
    history.reset(start)
    history.push(drawn, "draw T1")
    history.push(graded, "T1 Krenning 3")
    measured = drawn.at(BASELINE).lesion(t1)
    # The uptake of the line arrives after a later edit: every state with that line gets it,
    # so undoing the later edit keeps it.
    current = with_uptake(graded, BASELINE, measured, _uptake(12.345))
    history.amend(lambda reading: with_uptake(reading, BASELINE, measured, _uptake(12.345)))
    assert current.at(BASELINE).lesion(t1).suv_max == 12.35
    undone = history.undo()
    assert undone is not None
    assert undone[0].at(BASELINE).lesion(t1).suv_max == 12.35
    assert undone[0].at(BASELINE).lesion(t1).suv_peak == 9.88
    assert history.undo() is not None and history.undo() is None  # the start has no line
    # A line drawn since gets its own measurement: an uptake of the old line changes nothing.
    redrawn = r.set_line(graded, BASELINE, t1, r.Axis.LONG, _line(0.0, 25.0))
    assert with_uptake(redrawn, BASELINE, measured, _uptake(99.0)) is redrawn


def test_pending_markers_are_where_the_lesion_was_and_prior_marks_carry_id_and_length() -> None:
    reading, t1 = r.add_lesion(_reading(), BASELINE, Role.TARGET, "liver")
    reading = r.set_line(reading, BASELINE, t1, r.Axis.LONG, _line(10, 30))
    reading, nt1 = r.add_lesion(reading, BASELINE, Role.NON_TARGET, "bone")
    reading = r.set_location(reading, BASELINE, nt1, (5.0, 6.0, -40.0))
    marks = prior_marks(reading.at(BASELINE))
    assert [m.label for m in marks] == ["T1 20.0 mm", "NT1 present"]
    pending = pending_markers(reading, FOLLOW_UP)
    assert [(m.lesion_id, m.points_lps) for m in pending] == [
        (t1, ((20.0, 0.0, -20.0),)),
        (nt1, ((5.0, 6.0, -40.0),)),
    ]
    reading = r.set_line(reading, FOLLOW_UP, t1, r.Axis.LONG, _line(10, 25))
    assert [m.lesion_id for m in pending_markers(reading, FOLLOW_UP)] == [nt1]
    assert r.next_pending(reading.at(FOLLOW_UP), t1) == nt1
    assert r.counted_value_mm(reading.at(FOLLOW_UP).lesion(t1)) == Decimal("15.0")


def test_pet_range_puts_the_spleen_at_80_percent_krenning_4_saturates() -> None:
    assert suv_display_range(None, None) == DEFAULT_SUV_RANGE
    assert suv_display_range(6.5, 25.6) == (0.0, 32.0)
    assert suv_display_range(6.5, None) == (0.0, 26.0)


def test_coronal_mip_finds_the_hot_spot_depth() -> None:
    data = np.zeros((4, 5, 6), dtype=np.float32)
    data[3, 2, 4] = 9.0  # k = 3 (most superior), j = 2, i = 4
    volume = Volume(
        array=data,
        spacing_mm=(2.0, 1.0, 1.0),
        origin_mm=(-3.0, -2.0, 10.0),
        direction=np.eye(3),
        modality="PT",
        units="SUVbw",
        study_instance_uid="1",
        series_instance_uid="2",
        frame_of_reference_uid="3",
        sop_instance_uids=("4",) * 4,
        provenance={},
    )
    mip = coronal_mip(volume)
    assert mip.image.shape == (4, 6) and mip.image[0, 4] == 9.0  # superior on top
    assert mip.hot_spot_lps(0, 4) == (1.0, 0.0, 16.0)


def _imported(lesion_id: str, long_axis: bool) -> Measurement:
    """A baseline row as an OHIF or Slicer SR import stores it: no RECIST role (placeholder)."""
    extra = {"reader": "Dr A", ROLE_UNASSIGNED_KEY: "1"}
    if long_axis:
        extra |= {"long_axis_start_mm": "0 0 -20", "long_axis_end_mm": "18 0 -20"}
    return Measurement(
        patient_id="P1",
        date=BASELINE,
        lesion_id=lesion_id,
        role=Role.NON_TARGET,
        site="liver",
        nodal=False,
        state=LesionState.PRESENT,
        extra=extra,
    )


def test_an_imported_lesion_without_a_role_is_listed_until_the_reader_assigns_one() -> None:
    reading = r.from_measurements(_reading(), [_imported("1", True), _imported("2", False)])
    assert [les.role_unassigned for les in reading.at(BASELINE).lesions] == [True, True]
    assert r.unassigned_warning(reading) == (
        "2 lesions need a RECIST role: 1, 2 (make each a target or a non-target at baseline)"
    )
    # Saved unassigned as long as the reader has not chosen, so scoring keeps refusing it.
    assert all(m.extra[ROLE_UNASSIGNED_KEY] == "1" for m in r.to_measurements(reading))

    reading, t1 = r.change_role(reading, "1", Role.TARGET)
    reading, nt = r.change_role(reading, "2", Role.NON_TARGET)
    assert (t1, nt) == ("T1", "2")  # the placeholder role kept keeps its ID
    target = reading.at(BASELINE).lesion(t1)
    assert (target.role, target.state, target.role_unassigned) == (
        Role.TARGET,
        LesionState.MEASURED,
        False,
    )
    assert reading.at(BASELINE).lesion(nt).role is Role.NON_TARGET
    assert r.unassigned_warning(reading) is None
    rows = r.to_measurements(reading)
    assert {m.lesion_id: m.long_axis_mm for m in rows} == {"T1": Decimal("18.0"), "2": None}
    assert not any(ROLE_UNASSIGNED_KEY in m.extra for m in rows)
    refuse_unassigned_roles(rows, "reading")  # nothing left to refuse


def test_a_lesion_with_both_axes_has_one_label_long_by_short() -> None:
    """Two labels at one corner covered each other: a node's label is ``N1 14.5 × 12.1 mm``
    on its long axis; a single axis keeps its own label."""
    from recistry_napari._longitudinal import axis_labels

    node = r.LesionAnnotation("N1", Role.TARGET, "lymph node", nodal=True)
    both = dataclasses.replace(node, long_axis=_line(0.0, 14.5), short_axis=_line(0.0, 12.1))
    assert axis_labels(both) == {r.Axis.LONG: "N1 14.5 × 12.1 mm", r.Axis.SHORT: ""}
    short = dataclasses.replace(node, short_axis=_line(0.0, 12.1))
    assert axis_labels(short) == {r.Axis.SHORT: "N1 SA 12.1 mm"}
