"""The annotator dock widget: study browser, lesion table, states, Krenning, live RECIST.

A thin adapter: every decision is made by the pure functions of
:mod:`recistry_napari._reading` and the RECIST engine; this class turns clicks and drawn lines
into calls to them and writes the results back to the table, the panels and the layers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtGui import QColor, QFont, QShowEvent
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from recistry.errors import RecistryError
from recistry.imaging.metrics import sphere_uptake
from recistry.recist.model import STATES_BY_ROLE, LesionState, Role
from recistry_napari import _reading
from recistry_napari._geometry import layer_transform, lps_to_world
from recistry_napari._layers import (
    CT_LAYER_NAME,
    DEFAULT_SUV_RANGE,
    DEFAULT_WINDOW,
    PET_LAYER_NAME,
    WINDOWS,
    ct_layer_data,
    pet_layer_data,
)
from recistry_napari._lesion_layer import DrawnLine, LesionLayer
from recistry_napari._loading import load_images, load_study
from recistry_napari._persist import SaveResult, restore_reading, save_reading
from recistry_napari._reading import Axis, LesionAnnotation, Reading
from recistry_napari._reference_layer import (
    REFERENCE_DIAMETER_MM,
    REFERENCES_LAYER_NAME,
    ReferenceLayer,
)
from recistry_napari._response import LiveResult, assess_reading, describe
from recistry_napari._study import ScanImages, Study
from recistry_napari._uptake import lesion_uptake, suggestion

if TYPE_CHECKING:
    import napari.viewer

logger = logging.getLogger(__name__)

COLUMNS = (
    "ID",
    "Role",
    "Site",
    "Nodal",
    "Long (mm)",
    "Short (mm)",
    "State",
    "Krenning",
    "Suggested",
    "SUVmax",
    "SUVpeak",
    "Prior",
    "Slice z (mm)",
)
STATE_LABELS: dict[LesionState, str] = {
    LesionState.TOO_SMALL: "Too small",
    LesionState.ABSENT: "Absent",
    LesionState.MERGED: "Merged",
    LesionState.NOT_EVALUABLE: "Not evaluable",
    LesionState.PRESENT: "Present",
    LesionState.PROGRESSION: "Unequivocal PD",
    LesionState.EQUIVOCAL: "Equivocal",
}
ROLE_LABELS = {Role.TARGET: "target", Role.NON_TARGET: "non-target", Role.NEW: "new"}
PENDING = "pending"
DEFAULT_STORE = Path("recistry.db")
"""Store used when none is named: the CLI's default too (``recistry.db`` in the working folder)."""
_PENDING_COLOUR = QColor("#ff9f1a")


def _suggested(tp: _reading.TimepointReading, lesion: LesionAnnotation) -> str:
    found = suggestion(tp, lesion)
    if found is None or isinstance(found, str):
        return ""
    return "review" if found.grade is None else str(found.grade)


def _now() -> str:
    """The store's timestamp format: ISO 8601 UTC to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _header(header: QHeaderView | None) -> QHeaderView:
    assert header is not None  # a QTableWidget always has both headers
    return header


def _mm(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


class AnnotatorWidget(QWidget):
    """Dock widget for reading one patient's CT/PET study by RECIST 1.1.

    Parameters
    ----------
    viewer
        The napari viewer it docks into.
    """

    def __init__(
        self,
        # Postponed, this annotation is the string napari looks for to pass its viewer.
        viewer: napari.viewer.Viewer,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.study: Study | None = None
        self.reading: Reading | None = None
        self.date: dt.date | None = None
        self.images: ScanImages | None = None
        self.result: LiveResult | None = None
        self.dirty = False
        self._selected: str | None = None
        self.lesions = LesionLayer(
            viewer, self._on_lines_changed, schedule=lambda f: QTimer.singleShot(0, f)
        )
        self.references = ReferenceLayer(
            viewer, self._on_references_changed, schedule=lambda f: QTimer.singleShot(0, f)
        )
        self._close_guard: _CloseGuard | None = None
        self._build()
        viewer.layers.events.inserted.connect(self._on_layer_inserted)
        # Docked after a study folder was opened with our reader: take that study over too.
        for layer in list(viewer.layers):
            root = layer.metadata.get("recistry", {}).get("study_root")
            if root:
                QTimer.singleShot(0, lambda r=Path(root): self._adopt(r))
                break

    # --- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        root = QVBoxLayout(self)

        study_box = QGroupBox("Study")
        study = QFormLayout(study_box)
        self.open_button = QPushButton("Open study…")
        self.open_button.clicked.connect(self._choose_study)
        self.reader_edit = QLineEdit()
        self.reader_edit.setPlaceholderText("your name (recorded with every measurement)")
        self.reader_edit.textChanged.connect(self._on_reader_changed)
        self.timepoint_list = QListWidget()
        self.timepoint_list.setMaximumHeight(90)
        self.timepoint_list.currentRowChanged.connect(self._on_timepoint_row)
        self.window_combo = QComboBox()
        self.window_combo.addItems(list(WINDOWS))
        self.window_combo.setCurrentText(DEFAULT_WINDOW)
        self.window_combo.currentTextChanged.connect(self.set_window)
        self.suv_max_spin = QDoubleSpinBox()
        self.suv_max_spin.setRange(0.5, 100.0)
        self.suv_max_spin.setSingleStep(0.5)
        self.suv_max_spin.setValue(DEFAULT_SUV_RANGE[1])
        self.suv_max_spin.setSuffix(" SUV")
        self.suv_max_spin.valueChanged.connect(self.set_suv_max)
        self.store_edit = QLineEdit(str(DEFAULT_STORE.resolve()))
        self.store_edit.setToolTip("the recistry study store (SQLite) readings are saved to")
        study.addRow(self.open_button)
        study.addRow("Reader", self.reader_edit)
        study.addRow("Store", self.store_edit)
        study.addRow("Time points", self.timepoint_list)
        study.addRow("CT window", self.window_combo)
        study.addRow("PET range 0 –", self.suv_max_spin)
        root.addWidget(study_box)

        lesion_box = QGroupBox("Lesions")
        lesions = QVBoxLayout(lesion_box)
        add_row = QHBoxLayout()
        self.site_edit = QLineEdit()
        self.site_edit.setPlaceholderText("site, e.g. liver")
        self.nodal_check = QCheckBox("node")
        add_row.addWidget(self.site_edit)
        add_row.addWidget(self.nodal_check)
        lesions.addLayout(add_row)
        add_buttons = QHBoxLayout()
        self.add_buttons: dict[Role, QPushButton] = {}
        for role, text in (
            (Role.TARGET, "+ Target"),
            (Role.NON_TARGET, "+ Non-target"),
            (Role.NEW, "+ New lesion"),
        ):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, r=role: self._add_clicked(r))
            add_buttons.addWidget(button)
            self.add_buttons[role] = button
        lesions.addLayout(add_buttons)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        _header(self.table.verticalHeader()).setVisible(False)
        _header(self.table.horizontalHeader()).setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        lesions.addWidget(self.table)

        measure_row = QHBoxLayout()
        self.measure_buttons: dict[Axis, QPushButton] = {}
        for axis, text in ((Axis.LONG, "Measure long axis"), (Axis.SHORT, "Measure short axis")):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, a=axis: self.measure(a))
            measure_row.addWidget(button)
            self.measure_buttons[axis] = button
        lesions.addLayout(measure_row)

        states = QGridLayout()
        self.state_buttons: dict[LesionState, QPushButton] = {}
        for n, (state, text) in enumerate(STATE_LABELS.items()):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, s=state: self.set_state(s))
            states.addWidget(button, n // 4, n % 4)
            self.state_buttons[state] = button
        lesions.addLayout(states)

        krenning_row = QHBoxLayout()
        self.krenning_combo = QComboBox()
        self.krenning_combo.addItems(["—", "0", "1", "2", "3", "4"])
        self.krenning_combo.activated.connect(self._krenning_chosen)
        self.krenning_hint = QLabel("")
        krenning_row.addWidget(QLabel("Krenning"))
        krenning_row.addWidget(self.krenning_combo)
        lesions.addLayout(krenning_row)
        reference_row = QHBoxLayout()
        self.reference_buttons: dict[str, QPushButton] = {}
        for organ in ("liver", "spleen"):
            button = QPushButton(f"Place {organ} reference")
            button.setToolTip(
                f"click the centre of a {REFERENCE_DIAMETER_MM[organ]:g} mm sphere in normal "
                f"{organ} on the PET"
            )
            button.clicked.connect(lambda _=False, o=organ: self.place_reference(o))
            reference_row.addWidget(button)
            self.reference_buttons[organ] = button
        lesions.addLayout(reference_row)
        self.reference_label = QLabel("")
        lesions.addWidget(self.reference_label)
        self.krenning_hint.setWordWrap(True)
        lesions.addWidget(self.krenning_hint)
        root.addWidget(lesion_box)

        self.checks_label = QLabel("")
        self.checks_label.setWordWrap(True)
        self.checks_label.setStyleSheet("color: #ff9f1a;")
        root.addWidget(self.checks_label)

        response_box = QGroupBox("Response (RECIST 1.1)")
        response = QVBoxLayout(response_box)
        self.response_text = QPlainTextEdit()
        self.response_text.setReadOnly(True)
        self.response_text.setMinimumHeight(120)
        response.addWidget(self.response_text)
        root.addWidget(response_box, 1)

        self.save_button = QPushButton("Save reading")
        self.save_button.clicked.connect(self._save_clicked)
        root.addWidget(self.save_button)
        self._update_controls()

    # --- study and time points ---------------------------------------------------------------

    def _choose_study(self) -> None:
        if not self.confirm_discard():
            return
        folder = QFileDialog.getExistingDirectory(self, "Open a patient's study folder")
        if folder:
            try:
                self.open_study(Path(folder))
            except RecistryError as exc:
                self._tell(f"study not opened: {exc}")

    def open_study(self, root: Path) -> None:
        """Index ``root``, start a reading of its patient and show the baseline scan."""
        study = load_study(Path(root))
        self.study = study
        reading = _reading.new_reading(
            study.patient_id, (s.date for s in study.scans), reader=self.reader_edit.text().strip()
        )
        self.reading = restore_reading(reading, self.store_path)
        self.date = None
        self.dirty = False
        self.timepoint_list.blockSignals(True)
        self.timepoint_list.clear()
        for n, scan in enumerate(study.scans):
            label = "baseline" if n == 0 else f"follow-up {n}"
            kinds = "CT + PET" if scan.pet_paths else "CT"
            self.timepoint_list.addItem(QListWidgetItem(f"{scan.date}  {label}  ({kinds})"))
        self.timepoint_list.blockSignals(False)
        self.show_timepoint(study.scans[0].date)

    def _on_layer_inserted(self, event: Any) -> None:
        # A study folder dropped on napari is read by our reader, which tags its layers with the
        # folder: take the study over, so the browser, lesions and response follow it.
        tag = getattr(event.value, "metadata", {}).get("recistry", {})
        root = tag.get("study_root")
        if not root or (self.study is not None and self.study.root == Path(root)):
            return
        QTimer.singleShot(0, lambda: self._adopt(Path(root)))

    def _adopt(self, root: Path) -> None:
        if self.study is not None and self.study.root == root:
            return
        for layer in [
            la
            for la in self.viewer.layers
            if la.metadata.get("recistry", {}).get("study_root") == str(root)
        ]:
            self.viewer.layers.remove(layer)
        if self.confirm_discard():
            self.open_study(root)

    def _on_timepoint_row(self, row: int) -> None:
        if self.study is not None and 0 <= row < len(self.study.scans):
            try:
                self.show_timepoint(self.study.scans[row].date)
            except RecistryError as exc:
                self._tell(f"scan not shown: {exc}")

    def show_timepoint(self, date: dt.date) -> None:
        """Show the scan of ``date`` and its lesions, keeping the anatomical position (mm)."""
        if self.study is None or self.reading is None:
            raise RuntimeError("open a study first")
        if date == self.date:
            return
        keep = self._world_position()
        images = load_images(self.study, date)
        self.images = images
        self.date = date
        self._record_scan_geometry(date, images)
        for name in (CT_LAYER_NAME, PET_LAYER_NAME):
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
        data, kwargs, _ = ct_layer_data(images.ct, self.window_combo.currentText())
        ct_layer = self.viewer.add_image(data, **kwargs)
        if images.pet is not None:
            data, kwargs, _ = pet_layer_data(images.pet, (0.0, self.suv_max_spin.value()))
            self.viewer.add_image(data, **kwargs)
        transform = layer_transform(images.ct)
        if images.pet is not None:
            points = self.references.attach(transform)
            self.viewer.layers.move(self.viewer.layers.index(points), len(self.viewer.layers))
            self.references.show(self.reading.at(date))
        elif self.references.layer in self.viewer.layers:
            self.viewer.layers.remove(REFERENCES_LAYER_NAME)
        lesion_layer = self.lesions.attach(transform)
        # Keep the lesions on top of the images just added.
        self.viewer.layers.move(self.viewer.layers.index(lesion_layer), len(self.viewer.layers))
        self.lesions.show(self.reading.at(date))
        self.viewer.layers.selection.active = ct_layer
        if keep is not None:
            self.viewer.dims.point = keep
        row = [s.date for s in self.study.scans].index(date)
        self.timepoint_list.blockSignals(True)
        self.timepoint_list.setCurrentRow(row)
        self.timepoint_list.blockSignals(False)
        self._refresh()

    def _world_position(self) -> tuple[float, ...] | None:
        if CT_LAYER_NAME not in self.viewer.layers:
            return None
        return tuple(float(v) for v in self.viewer.dims.point)

    def _record_scan_geometry(self, date: dt.date, images: ScanImages) -> None:
        assert self.reading is not None and self.study is not None
        ct = images.ct
        thickness = self.study.scan(date).ct_slice_thickness_mm
        tp = self.reading.at(date)
        tp = replace(
            tp,
            # SliceThickness, else the slice step (equal for contiguous reconstructions).
            slice_thickness_mm=thickness if thickness else float(ct.spacing_mm[0]),
            study_instance_uid=ct.study_instance_uid,
            frame_of_reference_uid=ct.frame_of_reference_uid,
        )
        self.reading = _reading.replace_timepoint(self.reading, tp)

    def set_window(self, name: str) -> None:
        """Apply a CT window preset (soft tissue, lung, bone, liver)."""
        if CT_LAYER_NAME in self.viewer.layers:
            self.viewer.layers[CT_LAYER_NAME].contrast_limits = WINDOWS[name].contrast_limits
        if self.window_combo.currentText() != name:
            self.window_combo.setCurrentText(name)

    def set_suv_max(self, value: float) -> None:
        """Show PET from SUV 0 (transparent black) to ``value`` (white)."""
        if PET_LAYER_NAME in self.viewer.layers:
            self.viewer.layers[PET_LAYER_NAME].contrast_limits = (0.0, float(value))

    # --- lesions -----------------------------------------------------------------------------

    def _add_clicked(self, role: Role) -> None:
        try:
            self.add_lesion(role, self.site_edit.text(), self.nodal_check.isChecked())
        except ValueError as exc:
            self._tell(str(exc))

    def add_lesion(self, role: Role, site: str, nodal: bool = False) -> str:
        """Add a lesion at the time point shown and select it; returns its new ID."""
        reading, date = self._require()
        reading, lesion_id = _reading.add_lesion(reading, date, role, site, nodal)
        self._commit(reading)
        self.select_lesion(lesion_id)
        return lesion_id

    def select_lesion(self, lesion_id: str) -> None:
        """Select a lesion in the table and go to the slice it was (last) measured on."""
        reading, date = self._require()
        self._selected = lesion_id
        ids = [lesion.lesion_id for lesion in reading.at(date).lesions]
        self.table.blockSignals(True)
        self.table.selectRow(ids.index(lesion_id))
        self.table.blockSignals(False)
        line = self._line_to_show(lesion_id)
        if line is not None:
            self.viewer.dims.set_point(0, line.z_mm)
        self._update_controls()

    def _line_to_show(self, lesion_id: str) -> _reading.Line | None:
        reading, date = self._require()
        lesion = reading.at(date).lesion(lesion_id)
        if lesion.long_axis is not None:
            return lesion.long_axis
        prior = reading.prior(date, lesion_id)
        return None if prior is None else prior[1].long_axis

    def _on_table_selection(self) -> None:
        model = self.table.selectionModel()
        rows = [] if model is None else model.selectedRows()
        if rows and self.reading is not None and self.date is not None:
            lesion = self.reading.at(self.date).lesions[rows[0].row()]
            if lesion.lesion_id != self._selected:
                self.select_lesion(lesion.lesion_id)

    def measure(self, axis: Axis) -> None:
        """Arm the line tool: the next line drawn is this diameter of the selected lesion."""
        lesion = self._selected_lesion()
        if lesion is None:
            self._tell("select a lesion in the table first")
            return
        self.lesions.arm(lesion.lesion_id, axis, lesion.role)

    def draw(
        self,
        lesion_id: str,
        axis: Axis,
        start_lps: Sequence[float],
        end_lps: Sequence[float],
    ) -> None:
        """Draw a diameter from a script, the way a reader does: select, arm, go to the slice.

        The end points (LPS mm) are snapped to the nearest CT pixel centres, as clicks are, and
        the line goes through the Lesions layer's own events like a drawn one.
        """
        layer = self.lesions.layer
        if layer is None:
            raise RuntimeError("open a study first")
        data = np.rint([layer.world_to_data(lps_to_world(p)) for p in (start_lps, end_lps)])
        self.select_lesion(lesion_id)
        self.measure(axis)
        self.viewer.dims.set_point(0, float(layer.data_to_world(data[0])[0]))
        layer.add_lines(data)

    def _on_lines_changed(self, lines: list[DrawnLine]) -> None:
        reading, date = self._require()
        drawn = {(d.lesion_id, d.axis): d for d in lines}
        assert self.images is not None
        sop_uids = self.images.ct.sop_instance_uids
        for lesion in reading.at(date).lesions:
            for axis in Axis:
                old = lesion.long_axis if axis is Axis.LONG else lesion.short_axis
                d = drawn.get((lesion.lesion_id, axis))
                new = None if d is None else d.line
                if new == old:
                    continue
                sop = None
                if d is not None and 0 <= d.slice_index < len(sop_uids):
                    sop = sop_uids[d.slice_index]
                reading = _reading.set_line(
                    reading,
                    date,
                    lesion.lesion_id,
                    axis,
                    new,
                    series_instance_uid=self.images.ct.series_instance_uid,
                    sop_instance_uid=sop,
                    measured_at=_now(),
                )
                if axis is Axis.LONG or lesion.nodal:
                    reading = self._measure_uptake(reading, date, lesion.lesion_id)
        self._commit(reading)

    def _measure_uptake(self, reading: Reading, date: dt.date, lesion_id: str) -> Reading:
        """SUVmax and SUVpeak of a lesion from its drawn axes, when the scan has PET."""
        if self.images is None or self.images.pet is None:
            return reading
        try:
            uptake = lesion_uptake(self.images.pet, reading.at(date).lesion(lesion_id))
        except RecistryError as exc:
            self._tell(f"{lesion_id}: no PET uptake: {exc}")
            uptake = None
        return _reading.update_lesion(
            reading,
            date,
            lesion_id,
            suv_max=None if uptake is None else round(uptake.suv_max, 2),
            suv_peak=None if uptake is None else round(uptake.suv_peak, 2),
        )

    def place_reference(self, organ: str) -> None:
        """Arm the point tool: the next click is the centre of ``organ``'s reference sphere."""
        if self.images is None or self.images.pet is None:
            self._tell("reference spheres are measured on PET; this scan has none")
            return
        self.references.arm(organ)

    def _on_references_changed(self, centres: dict[str, tuple[float, float, float]]) -> None:
        reading, date = self._require()
        assert self.images is not None and self.images.pet is not None
        changes: dict[str, object] = {}
        for organ in ("liver", "spleen"):
            centre = centres.get(organ)
            mean = None
            if centre is not None:
                try:
                    sphere = sphere_uptake(self.images.pet, centre, REFERENCE_DIAMETER_MM[organ])
                    mean = round(sphere.suv_mean, 2)
                except RecistryError as exc:
                    self._tell(f"{organ} reference not measured: {exc}")
                    centre = None
            changes[f"{organ}_center_lps"] = centre
            changes[f"{organ}_suv_mean"] = mean
        tp = replace(reading.at(date), **changes)  # type: ignore[arg-type]
        self._commit(_reading.replace_timepoint(reading, tp))
        # One sphere per organ: redraw from the reading, dropping a replaced point.
        QTimer.singleShot(0, lambda: self.references.show(tp))

    def set_state(self, state: LesionState) -> None:
        """Record a state for the selected lesion (one click)."""
        lesion = self._selected_lesion()
        if lesion is None:
            self._tell("select a lesion in the table first")
            return
        reading, date = self._require()
        changes: dict[str, object] = {"state": state, "measured_at": _now()}
        if lesion.long_axis is None and self.images is not None:
            # No line to point at: the slice on screen is where the reader judged the lesion,
            # and the SR needs an image as evidence for every finding.
            changes["series_instance_uid"] = self.images.ct.series_instance_uid
            changes["sop_instance_uid"] = self._slice_on_screen()
        try:
            reading = _reading.update_lesion(reading, date, lesion.lesion_id, **changes)
        except ValueError as exc:
            self._tell(str(exc))
            return
        self._commit(reading)

    def _slice_on_screen(self) -> str | None:
        """SOPInstanceUID of the CT slice shown."""
        if self.images is None or CT_LAYER_NAME not in self.viewer.layers:
            return None
        layer = self.viewer.layers[CT_LAYER_NAME]
        k = round(float(layer.world_to_data(self.viewer.dims.point)[0]))
        uids = self.images.ct.sop_instance_uids
        return uids[k] if 0 <= k < len(uids) else None

    def _krenning_chosen(self, index: int) -> None:
        self.set_krenning(None if index == 0 else index - 1)

    def set_krenning(self, grade: int | None) -> None:
        """Record the reader's Krenning grade (0–4, ``None`` to clear) for the selected lesion."""
        lesion = self._selected_lesion()
        if lesion is None:
            self._tell("select a lesion in the table first")
            return
        reading, date = self._require()
        self._commit(
            _reading.update_lesion(
                reading, date, lesion.lesion_id, krenning=grade, measured_at=_now()
            )
        )

    # --- model to view -----------------------------------------------------------------------

    def _commit(self, reading: Reading) -> None:
        self.reading = reading
        self.dirty = True
        self._refresh()

    def _refresh(self) -> None:
        if self.reading is None or self.date is None:
            return
        self.result = assess_reading(self.reading, self.date)
        self._fill_table()
        self.checks_label.setText("\n".join(f"⚠ {c}" for c in self.result.checks))
        pending = [les.lesion_id for les in self.reading.at(self.date).lesions if les.pending]
        self.response_text.setPlainText("\n".join(describe(self.result, self.date, pending)))
        self._update_controls()

    def _fill_table(self) -> None:
        reading, date = self._require()
        lesions = reading.at(date).lesions
        self.table.blockSignals(True)
        self.table.setRowCount(len(lesions))
        for row, lesion in enumerate(lesions):
            for column, text in enumerate(self._cells(reading, date, lesion)):
                item = QTableWidgetItem(text)
                if lesion.pending:
                    item.setForeground(_PENDING_COLOUR)
                    font = QFont()
                    font.setItalic(True)
                    item.setFont(font)
                self.table.setItem(row, column, item)
            if lesion.lesion_id == self._selected:
                self.table.selectRow(row)
        self.table.blockSignals(False)

    @staticmethod
    def _cells(reading: Reading, date: dt.date, lesion: LesionAnnotation) -> list[str]:
        prior = reading.prior(date, lesion.lesion_id)
        prior_text, line = "", lesion.long_axis
        if prior is not None:
            prior_date, prior_lesion = prior
            counted = prior_lesion.counted_line
            value = f"{counted.diameter_mm} mm" if counted else prior_lesion.state or ""
            prior_text = f"{value} ({prior_date})"
            line = line or prior_lesion.long_axis
        return [
            lesion.lesion_id,
            ROLE_LABELS[lesion.role],
            lesion.site,
            "yes" if lesion.nodal else "",
            "" if lesion.long_axis is None else str(lesion.long_axis.diameter_mm),
            "" if lesion.short_axis is None else str(lesion.short_axis.diameter_mm),
            PENDING if lesion.state is None else lesion.state.value,
            "" if lesion.krenning is None else str(lesion.krenning),
            _suggested(reading.at(date), lesion),
            _mm(lesion.suv_max),
            _mm(lesion.suv_peak),
            prior_text,
            "" if line is None else f"{line.z_mm:.1f}",
        ]

    def _update_controls(self) -> None:
        lesion = self._selected_lesion()
        has_date = self.date is not None
        for button in self.add_buttons.values():
            button.setEnabled(has_date)
        for axis, button in self.measure_buttons.items():
            button.setEnabled(lesion is not None and (axis is Axis.LONG or (lesion.nodal or False)))
        allowed = STATES_BY_ROLE[lesion.role] if lesion is not None else frozenset()
        for state, button in self.state_buttons.items():
            button.setEnabled(state in allowed)
        self.krenning_combo.setEnabled(lesion is not None)
        if lesion is not None:
            self.krenning_combo.setCurrentIndex(
                0 if lesion.krenning is None else lesion.krenning + 1
            )
        self.save_button.setEnabled(self.reading is not None)
        has_pet = self.images is not None and self.images.pet is not None
        for button in self.reference_buttons.values():
            button.setEnabled(has_pet)
        self.reference_label.setText(self._reference_text())
        self.krenning_hint.setText(self._krenning_text(lesion))

    def _reference_text(self) -> str:
        if self.reading is None or self.date is None:
            return ""
        tp = self.reading.at(self.date)
        parts = [
            f"{organ} SUVmean {mean:.2f}"
            for organ, mean in (("liver", tp.liver_suv_mean), ("spleen", tp.spleen_suv_mean))
            if mean is not None
        ]
        return "References: " + ", ".join(parts) if parts else ""

    def _krenning_text(self, lesion: LesionAnnotation | None) -> str:
        if lesion is None or self.reading is None or self.date is None:
            return ""
        found = suggestion(self.reading.at(self.date), lesion)
        if found is None:
            return ""
        if isinstance(found, str):
            return f"Suggested grade: {found}"
        peak = "" if lesion.suv_peak is None else f", SUVpeak {lesion.suv_peak:.2f}"
        grade = "review" if found.grade is None else str(found.grade)
        return (
            f"SUVmax {found.lesion_suv:.2f}{peak}: {found.ratio_to_liver:.2f} × liver, "
            f"{found.ratio_to_spleen:.2f} × spleen → suggested {grade}. {found.reason}"
        )

    def _selected_lesion(self) -> LesionAnnotation | None:
        if self._selected is None or self.reading is None or self.date is None:
            return None
        try:
            return self.reading.at(self.date).lesion(self._selected)
        except KeyError:
            return None

    def _on_reader_changed(self, text: str) -> None:
        if self.reading is not None:
            self.reading = _reading.replace_reader(self.reading, text.strip())

    # --- saving ------------------------------------------------------------------------------

    @property
    def store_path(self) -> Path:
        """The store file readings are saved to and restored from."""
        return Path(self.store_edit.text().strip() or DEFAULT_STORE).expanduser()

    def _save_clicked(self) -> None:
        try:
            self.save()
        except RecistryError as exc:
            self._tell(f"not saved: {exc}")

    def save(self) -> SaveResult:
        """Append the reading to the store under the reader's name and export its SR.

        Raises
        ------
        recistry.errors.RecistryError
            Nothing was saved (no reader name, nothing assessed, store not writable …).
        """
        reading, _date = self._require()
        assert self.study is not None
        result = save_reading(
            reading, self.study.root, self.store_path, self.store_path.parent / "sr"
        )
        self.dirty = False
        from napari.utils.notifications import show_info

        show_info(
            f"saved: {result.new_revisions} new revision(s), {result.unchanged} unchanged; "
            f"SR: {', '.join(str(p) for p in result.sr_files) or 'none'}"
        )
        return result

    def confirm_discard(self) -> bool:
        """Ask what to do with unsaved changes; True when it is fine to go on (close, reopen)."""
        if not self.dirty:
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved reading",
            "This reading has changes that are not saved. Save them to the store?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            try:
                self.save()
            except RecistryError as exc:
                self._tell(f"not saved: {exc}")
                return False
            return True
        return bool(answer == QMessageBox.StandardButton.Discard)

    def showEvent(self, event: QShowEvent | None) -> None:
        """Once docked, watch the main window's close to protect unsaved changes."""
        super().showEvent(event)
        window = self.window()
        if window is not None and window is not self and self._close_guard is None:
            self._close_guard = _CloseGuard(self)
            window.installEventFilter(self._close_guard)

    def _require(self) -> tuple[Reading, dt.date]:
        if self.reading is None or self.date is None:
            raise RuntimeError("open a study first")
        return self.reading, self.date

    def _tell(self, message: str) -> None:
        from napari.utils.notifications import show_warning

        show_warning(message)


class _CloseGuard(QObject):
    """Event filter on the main window: a close with unsaved changes asks first."""

    def __init__(self, widget: AnnotatorWidget) -> None:
        super().__init__(widget)
        self._widget = widget

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        closing = event is not None and event.type() == QEvent.Type.Close
        if closing and not self._widget.confirm_discard():
            assert event is not None
            event.ignore()
            return True
        return False
