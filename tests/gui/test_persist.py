"""Saving a reading to the store and its SR, reopening it, and the unsaved-changes prompt."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from qtpy.QtCore import QTimer
from qtpy.QtGui import QCloseEvent
from qtpy.QtWidgets import QApplication, QMessageBox

from recistry.cli import main as recistry_main
from recistry.errors import InputError
from recistry.recist.model import LesionState, Measurement, Role
from recistry.scoring import load_records
from recistry.sr.reader import read_sr
from recistry.store import Store, save_measurements
from recistry.store.readings import ROLE_UNASSIGNED_KEY
from recistry_napari._lesion_layer import LESIONS_LAYER_NAME
from recistry_napari._persist import sr_folder_for
from tests.gui._annotator import BASELINE, FOLLOW_UP, draw, open_annotator, two_scan_study

pytestmark = pytest.mark.gui


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return two_scan_study(tmp_path / "P2", "P2")


_annotator = partial(open_annotator, reader="Dr Save")


def test_save_appends_revisions_under_the_reader_exports_sr_and_reopening_restores(
    make_napari_viewer: Callable[..., Any],
    study: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "store" / "recistry.db"
    widget = _annotator(make_napari_viewer(), study, store)
    t1 = widget.add_lesion(Role.TARGET, "liver")
    draw(widget, t1, (3, 5, 4), (3, 5, 24))
    widget.set_krenning(4)
    nt1 = widget.add_lesion(Role.NON_TARGET, "bone")
    widget.set_state(LesionState.PRESENT)
    widget.show_timepoint(FOLLOW_UP)
    draw(widget, t1, (2, 5, 4), (2, 5, 14))
    widget.select_lesion(nt1)
    widget.set_state(LesionState.ABSENT)
    assert widget.dirty

    result = widget.save()
    assert not widget.dirty
    assert (result.new_revisions, result.unchanged) == (4, 0)
    # One TID 1500 report per scan; it reads back to the values drawn.
    assert len(result.sr_files) == 2
    by_date = {m.date: m for path in result.sr_files for m in read_sr(path) if m.lesion_id == t1}
    assert by_date[BASELINE].long_axis_mm == Decimal("14.0")
    assert by_date[FOLLOW_UP].long_axis_mm == Decimal("7.0")
    assert by_date[BASELINE].extra["reader"] == "Dr Save"

    # The CLI re-scores what was saved, from the store and from the SR files, to the same answer.
    gui = widget.result.assessment  # type: ignore[union-attr]
    assert gui is not None
    for source in ([str(store), "--reader", "Dr Save"], [str(sr_folder_for(store))]):
        capsys.readouterr()  # napari's notifications print to stdout without a GUI handler
        assert recistry_main(["rescore", *source, "--format", "json"]) == 0
        out = capsys.readouterr()
        assert out.out.startswith("{"), out
        (cli,) = json.loads(out.out)["patients"]
        assert [tp["overall_response"] for tp in cli["timepoints"]] == [
            tp.overall_response.value for tp in gui.timepoints
        ]
        assert cli["best_overall_response"] == gui.best_overall_response.value
        assert cli["baseline_sum_mm"] == float(gui.baseline_sum_mm)  # type: ignore[arg-type]

    saved = widget.reading
    assert saved is not None
    reopened = _annotator(make_napari_viewer(), study, store)
    assert reopened.reading is not None
    for date in (BASELINE, FOLLOW_UP):
        assert reopened.reading.at(date).lesions == saved.at(date).lesions
    assert not reopened.dirty
    # Reopening says what was restored; nothing is pending, so it opens at the latest scan,
    # its line back on the Lesions layer where it was drawn.
    assert reopened.status_label.text().startswith(
        "reading restored: 2 lesion(s), 4 assessment(s) by Dr Save, last saved 20"
    )
    assert reopened.date == FOLLOW_UP
    layer = reopened.viewer.layers[LESIONS_LAYER_NAME]
    np.testing.assert_allclose(layer.data[0], [[2, 5, 4], [2, 5, 14]], atol=1e-9)

    # An edit saves as one new revision; the other rows are unchanged.
    reopened.show_timepoint(FOLLOW_UP)
    draw(reopened, t1, (2, 5, 4), (2, 5, 18))
    again = reopened.save()
    assert (again.new_revisions, again.unchanged) == (1, 3)


def test_saving_without_a_reader_name_is_refused_and_keeps_the_changes(
    make_napari_viewer: Callable[..., Any], study: Path, tmp_path: Path
) -> None:
    store = tmp_path / "recistry.db"
    widget = _annotator(make_napari_viewer(), study, store, reader="")
    widget.add_lesion(Role.NON_TARGET, "bone")
    widget.set_state(LesionState.PRESENT)
    widget._save_clicked()
    assert widget.dirty
    assert not store.exists()


def _answer_next_question(button: QMessageBox.StandardButton) -> list[str]:
    """Click ``button`` in the next message box shown; returns the box's text once clicked."""
    seen: list[str] = []

    def click() -> None:
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
        visible = [b for b in boxes if b.isVisible()]
        if not visible:
            QTimer.singleShot(20, click)
            return
        seen.append(visible[0].text())
        visible[0].button(button).click()

    QTimer.singleShot(20, click)
    return seen


def test_closing_with_unsaved_changes_asks_and_cancel_keeps_the_window_open(
    make_napari_viewer: Callable[..., Any], study: Path, tmp_path: Path, qtbot: Any
) -> None:
    viewer = make_napari_viewer(show=True)
    widget = _annotator(viewer, study, tmp_path / "recistry.db")
    try:
        qtbot.waitUntil(widget.isVisible)
        widget.add_lesion(Role.NON_TARGET, "bone")
        widget.set_state(LesionState.PRESENT)
        window = widget.window()

        asked = _answer_next_question(QMessageBox.StandardButton.Cancel)
        event = QCloseEvent()
        QApplication.sendEvent(window, event)
        assert asked and "not saved" in asked[0]
        assert not event.isAccepted()
        assert widget.dirty

        _answer_next_question(QMessageBox.StandardButton.Discard)
        assert widget.confirm_discard()
    finally:
        widget.dirty = False  # the fixture closes the viewer: nothing left to ask


def test_an_imported_lesion_without_a_role_is_shown_unassigned_and_scores_once_assigned(
    make_napari_viewer: Callable[..., Any],
    study: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "store" / "recistry.db"
    store.parent.mkdir()
    # As an OHIF or Slicer SR import stores it: a placeholder role, marked unassigned.
    ct = pydicom.dcmread(sorted((study / "a").iterdir())[0])
    imported = Measurement(
        patient_id="P2",
        date=BASELINE,
        lesion_id="1",
        role=Role.NON_TARGET,
        site="liver",
        nodal=False,
        state=LesionState.PRESENT,
        extra={
            "reader": "Dr Save",
            ROLE_UNASSIGNED_KEY: "1",
            "long_axis_start_mm": "2 3 4",
            "long_axis_end_mm": "2 21 4",
            "frame_of_reference_uid": ct.FrameOfReferenceUID,
            "study_uid": ct.StudyInstanceUID,
            "series_uid": ct.SeriesInstanceUID,
            "sop_instance_uid": ct.SOPInstanceUID,
        },
    )
    with Store(store) as db:
        save_measurements(db, [imported], source="ohif.dcm", reader="Dr Save")
    with pytest.raises(InputError, match="1 lesions have no RECIST role"):
        load_records(store, reader="Dr Save")

    widget = _annotator(make_napari_viewer(), study, store)
    widget.show_timepoint(BASELINE)
    assert widget.table.item(0, 0).text() == "1"
    assert widget.table.item(0, 1).text() == "unassigned"
    assert "1 lesions need a RECIST role: 1" in widget.checks_label.text()

    widget.select_lesion("1")
    widget.role_button.click()
    assert widget.table.item(0, 1).text() == "target"
    assert "need a RECIST role" not in widget.checks_label.text()
    widget.undo()  # an edit like the others
    assert widget.table.item(0, 1).text() == "unassigned"
    widget.redo()
    widget.save()

    (record,) = load_records(store, reader="Dr Save")
    (target,) = record.measurements
    assert (target.lesion_id, target.role, target.long_axis_mm) == (
        "T1",
        Role.TARGET,
        Decimal("18.0"),
    )
    assert ROLE_UNASSIGNED_KEY not in target.extra
    capsys.readouterr()
    assert recistry_main(["rescore", str(store), "--reader", "Dr Save", "--format", "json"]) == 0
    (scored,) = json.loads(capsys.readouterr().out)["patients"]
    assert scored["baseline_sum_mm"] == 18.0
