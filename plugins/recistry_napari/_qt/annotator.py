"""The annotator dock widget: study browser, lesion table, states, Krenning, live RECIST.

A thin adapter: every decision is made by the pure functions of
:mod:`recistry_napari._reading` and the RECIST engine; this class turns clicks, key presses and
drawn lines into calls to them and writes the results back to the table, the panels and the
layers.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import (  # type: ignore[attr-defined]  # Signal: star-exported by qtpy
    QEvent,
    QObject,
    Qt,
    QTimer,
    Signal,
)
from qtpy.QtGui import (  # type: ignore[attr-defined]  # QShortcut: star-exported by qtpy
    QColor,
    QFont,
    QKeySequence,
    QShortcut,
    QShowEvent,
)
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
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from recistry.errors import RecistryError
from recistry.imaging.metrics import VoiUptake, sphere_uptake
from recistry.recist.model import LesionState, Role
from recistry_napari import _reading
from recistry_napari._display import (
    CANVAS_READOUT_SEPARATOR,
    Focus,
    put_image,
    readout_text,
    show_name,
    show_overlays,
    show_readout,
)
from recistry_napari._geometry import layer_transform, lps_to_world
from recistry_napari._history import History
from recistry_napari._layers import (
    CT_LAYER_NAME,
    DEFAULT_WINDOW,
    PET_LAYER_NAME,
    WINDOWS,
    ct_layer_data,
    pet_layer_data,
    suv_display_range,
)
from recistry_napari._lesion_layer import ROLE_COLOURS, DrawnLine, LesionLayer
from recistry_napari._loading import load_images, load_study
from recistry_napari._location_layer import LocationLayer, PlacedPoint
from recistry_napari._longitudinal import pending_markers, prior_marks
from recistry_napari._mip import CoronalMip, coronal_mip
from recistry_napari._persist import (
    RestoreInfo,
    SaveResult,
    append_reading,
    export_reading,
    restore_reading,
    sr_folder_for,
)
from recistry_napari._prior_layers import (
    BASELINE,
    PENDING_NAME,
    PRIOR,
    Cell,
    arrange,
    hide_prior,
    prior_layer_names,
    show_pending,
    show_prior,
)
from recistry_napari._proposal_layers import PROPOSAL_LAYER_NAMES
from recistry_napari._qt._threads import GuiDelivery
from recistry_napari._qt.proposals import ProposalPanel
from recistry_napari._reading import Axis, LesionAnnotation, Reading
from recistry_napari._reference_layer import (
    REFERENCE_DIAMETER_MM,
    REFERENCES_LAYER_NAME,
    ReferenceLayer,
)
from recistry_napari._response import LiveResult, assess_reading, describe
from recistry_napari._study import ScanImages, Study
from recistry_napari._uptake import lesion_uptake, suggestion, with_uptake

if TYPE_CHECKING:
    import napari.viewer

logger = logging.getLogger(__name__)

COLUMNS = (
    "ID",
    "Role",
    "Site",
    "Value",
    "Prior",
    "Change",
    "State",
    "Nodal",
    "Long (mm)",
    "Short (mm)",
    "Krenning",
    "Suggested",
    "SUVmax",
    "SUVpeak",
    "Slice z (mm)",
)
MAIN_COLUMNS = 7
"""The first columns, always shown (ID … State); the others on demand ("More columns")."""
STATE_LABELS: dict[LesionState, str] = {
    LesionState.TOO_SMALL: "Too small",
    LesionState.ABSENT: "Absent",
    LesionState.MERGED: "Merged",
    LesionState.NOT_EVALUABLE: "Not evaluable",
    LesionState.PRESENT: "Present",
    LesionState.PROGRESSION: "Unequivocal PD",
    LesionState.EQUIVOCAL: "Equivocal",
}
STATE_KEYS: dict[LesionState, str] = {
    LesionState.PRESENT: "Alt+P",
    LesionState.ABSENT: "Alt+A",
    LesionState.TOO_SMALL: "Alt+S",
    LesionState.MERGED: "Alt+M",
    LesionState.NOT_EVALUABLE: "Alt+N",
    LesionState.PROGRESSION: "Alt+U",
    LesionState.EQUIVOCAL: "Alt+E",
}
"""Keys of the state buttons (Alt + a letter: napari's layers use the bare letters)."""
KEYS: dict[str, str] = {
    "next_pending": "N",
    "previous_pending": "Shift+N",
    "next_timepoint": "PgDown",
    "previous_timepoint": "PgUp",
    "measure_long": "M",
    "measure_short": "Shift+M",
    "undo": "Ctrl+Z",
    "redo": "Ctrl+Shift+Z",
    "save": "Ctrl+S",
    "click_segment": "K",
    "accept_proposal": "Alt+Y",
    "reject_proposal": "Alt+R",
}
ROLE_LABELS = {Role.TARGET: "target", Role.NON_TARGET: "non-tgt", Role.NEW: "new"}
UNASSIGNED = "unassigned"
"""Role shown for a lesion imported without one (its stored role is a placeholder)."""
PENDING = "pending"
DEFAULT_STORE = Path("recistry.db")
"""Store used when none is named: the CLI's default too (``recistry.db`` in the working folder)."""
_PENDING_COLOUR = QColor("#ff9f1a")
_PREFETCH_DELAY_MS = 3000
"""How long a scan is shown before the next one is read in the background."""
_READOUT_MS = 80
"""Shortest time between two updates of the canvas readout (HU, SUV under the cursor)."""
_UPTAKE_DELAY_MS = 250
"""How long after an edit its PET uptake starts being measured (off the GUI thread): once the
edit is drawn, as a measurement running beside the drawing slowed it (by ~30 ms of ~130 ms
on the 2-core VM under software OpenGL); edits made meanwhile are measured together."""
_CACHE_SCANS = 3
"""Scans kept loaded: the current one, its prior and the one just left (and the baseline, when
it is shown as a third view)."""


def help_text() -> str:
    """The keyboard list shown in the dock and in docs/annotate.md."""
    rows = [
        ("next / previous pending lesion", f"{KEYS['next_pending']} / {KEYS['previous_pending']}"),
        (
            "next / previous time point",
            f"{KEYS['next_timepoint']} / {KEYS['previous_timepoint']}",
        ),
        ("measure long / short axis", f"{KEYS['measure_long']} / {KEYS['measure_short']}"),
        *((f"state: {STATE_LABELS[s]}", key) for s, key in STATE_KEYS.items()),
        ("undo / redo", f"{KEYS['undo']} / {KEYS['redo']}"),
        ("save", KEYS["save"]),
        ("click to segment (on / off)", KEYS["click_segment"]),
        ("accept / reject proposal", f"{KEYS['accept_proposal']} / {KEYS['reject_proposal']}"),
    ]
    return "\n".join(f"{key:<14} {what}" for what, key in rows)


def _load_scan(study: Study, date: dt.date) -> tuple[ScanImages, CoronalMip | None]:
    """A scan's volumes and its PET's coronal MIP, read together (off the GUI thread when the
    scan is read ahead)."""
    images = load_images(study, date)
    return images, None if images.pet is None else coronal_mip(images.pet)


def _suggested(tp: _reading.TimepointReading, lesion: LesionAnnotation) -> str:
    found = suggestion(tp, lesion)
    if found is None or isinstance(found, str):
        return ""
    return "review" if found.grade is None else str(found.grade)


def _now() -> str:
    """The store's timestamp format: ISO 8601 UTC to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _set_text(widget: QLabel | QTableWidgetItem, text: str) -> None:
    """Set a label's or a table cell's text only when it changed: every set lays the dock out
    and repaints it again (a word-wrapped label, the whole dock), and this runs on every edit."""
    if widget.text() != text:
        widget.setText(text)


def _header(header: QHeaderView | None) -> QHeaderView:
    assert header is not None  # a QTableWidget always has both headers
    return header


def _mm(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _value_text(lesion: LesionAnnotation) -> str:
    value = _reading.counted_value_mm(lesion) if lesion.role is Role.TARGET else None
    if value is not None:
        return f"{value} mm"
    if lesion.state is None:
        return ""
    return lesion.state.value.replace("_", " ")


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
        self.restored: RestoreInfo | None = None
        self.history = History()
        self._dirty = False
        self._selected: str | None = None
        self._cache: OrderedDict[dt.date, tuple[ScanImages, CoronalMip | None]] = OrderedDict()
        self._on_screen_dates: set[dt.date] = set()
        self._indexed: set[tuple[Path, Path]] = set()
        # The next scan is read in the background while this one is read by the radiologist.
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recistry-prefetch")
        self._prefetch: dict[dt.date, Future[tuple[ScanImages, CoronalMip | None]]] = {}
        # PET uptake of a drawn lesion is measured off the GUI thread (see _measure_uptake_later).
        self._uptake_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recistry-uptake")
        self._uptake_jobs: dict[Future[VoiUptake | None], tuple[dt.date, LesionAnnotation]] = {}
        self._uptake_queue: dict[tuple[dt.date, str], None] = {}  # ordered, no duplicates
        self._delivery = GuiDelivery()  # closed with the window: late results are dropped
        self._relay = _Relay(self)
        self._relay.done.connect(self._apply_uptake)
        self._relay.exported.connect(self._exported)
        # SR files are exported from the store off the GUI thread, one save after another.
        self._export_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recistry-sr")
        # However the window goes (closed shown or hidden, or this widget deleted), no late
        # result is emitted on the deleted relay; saved readings' SR exports still finish.
        self._delivery.close_with(self, pools=(self._loader, self._uptake_pool))
        self._mip: Any = None
        # a lesion, proposal or hot spot shown FOCUS_FIELD_MM across (the proposal panel too)
        self.focus_view = Focus(viewer)
        self.lesions = LesionLayer(
            viewer, self._on_lines_changed, schedule=lambda f: QTimer.singleShot(0, f)
        )
        self.references = ReferenceLayer(
            viewer, self._on_references_changed, schedule=lambda f: QTimer.singleShot(0, f)
        )
        self.locations = LocationLayer(
            viewer, self._on_locations_changed, schedule=lambda f: QTimer.singleShot(0, f)
        )
        self._close_guard: _CloseGuard | None = None
        self.proposal_panel = ProposalPanel(self, KEYS)
        self._build()
        self._bind_keys()
        viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self._readout = ""
        self._readout_timer = QTimer(self)
        self._readout_timer.setSingleShot(True)
        self._readout_timer.setInterval(_READOUT_MS)
        self._readout_timer.timeout.connect(self._show_readout)
        viewer.cursor.events.position.connect(self._on_cursor)
        # The orientation letters and the scale bar are made (and drawn, their GPU programs
        # built) with the dock, not when a study opens: under software OpenGL that is ~0.7 s of
        # the first drawing of a study.
        show_overlays(viewer)
        # Docked after a study folder was opened with our reader: take that study over too.
        for layer in list(viewer.layers):
            root = layer.metadata.get("recistry", {}).get("study_root")
            if root:
                QTimer.singleShot(0, lambda r=Path(root): self._adopt(r))
                break

    # --- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(4, 4, 4, 4)
        # Wide enough for the main table columns without scrolling (ID … State).
        self.setMinimumWidth(540)

        study_box = QGroupBox("Study")
        study = QFormLayout(study_box)
        study.setContentsMargins(4, 4, 4, 4)
        self.open_button = QPushButton("Open study…")
        self.open_button.clicked.connect(self._choose_study)
        self.reader_edit = QLineEdit()
        self.reader_edit.setPlaceholderText("your name (recorded with every measurement)")
        self.reader_edit.textChanged.connect(self._on_reader_changed)
        self.reader_edit.editingFinished.connect(self._on_reader_finished)
        self.timepoint_list = QListWidget()
        self.timepoint_list.setMaximumHeight(64)
        self.timepoint_list.currentRowChanged.connect(self._on_timepoint_row)
        display_row = QHBoxLayout()
        self.window_combo = QComboBox()
        self.window_combo.addItems(list(WINDOWS))
        self.window_combo.setCurrentText(DEFAULT_WINDOW)
        self.window_combo.currentTextChanged.connect(self.set_window)
        self.suv_max_spin = QDoubleSpinBox()
        self.suv_max_spin.setRange(0.5, 200.0)
        self.suv_max_spin.setSingleStep(0.5)
        self.suv_max_spin.setValue(suv_display_range(None, None)[1])
        self.suv_max_spin.setPrefix("PET 0–")
        self.suv_max_spin.setSuffix(" SUV")
        self.suv_max_spin.setToolTip(
            "PET display range; set from the spleen reference (spleen at 80 % of the scale) "
            "once it is placed"
        )
        self.suv_max_spin.valueChanged.connect(self.set_suv_max)
        self.prior_check = QCheckBox("prior beside current")
        self.prior_check.setChecked(True)
        self.prior_check.setToolTip("at a follow-up, show the prior scan beside the current one")
        self.prior_check.toggled.connect(lambda _on: self._show_prior())
        self.baseline_check = QCheckBox("+ baseline (third view)")
        self.baseline_check.setToolTip(
            "from the second follow-up on, show the baseline scan too, in a third view"
        )
        self.baseline_check.toggled.connect(lambda _on: self._show_prior())
        display_row.addWidget(QLabel("CT"))
        display_row.addWidget(self.window_combo)
        display_row.addWidget(self.suv_max_spin)
        views_row = QHBoxLayout()
        views_row.addWidget(self.prior_check)
        views_row.addWidget(self.baseline_check)
        views_row.addStretch(1)
        self.store_edit = QLineEdit(str(DEFAULT_STORE.resolve()))
        self.store_edit.setToolTip("the recistry study store (SQLite) readings are saved to")
        reader_row = QHBoxLayout()
        reader_row.addWidget(self.reader_edit, 1)
        reader_row.addWidget(self.open_button)
        study.addRow("Reader", reader_row)
        study.addRow("Store", self.store_edit)
        study.addRow("Scans", self.timepoint_list)
        study.addRow("Display", display_row)
        study.addRow("Views", views_row)
        root.addWidget(study_box)

        lesion_box = QGroupBox("Lesions")
        lesions = QVBoxLayout(lesion_box)
        lesions.setContentsMargins(4, 4, 4, 4)
        add_row = QHBoxLayout()
        self.site_edit = QLineEdit()
        self.site_edit.setPlaceholderText("site, e.g. liver")
        self.nodal_check = QCheckBox("node")
        add_row.addWidget(self.site_edit)
        add_row.addWidget(self.nodal_check)
        self.add_buttons: dict[Role, QPushButton] = {}
        for role, text in (
            (Role.TARGET, "+ Target"),
            (Role.NON_TARGET, "+ Non-target"),
            (Role.NEW, "+ New"),
        ):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, r=role: self._add_clicked(r))
            add_row.addWidget(button)
            self.add_buttons[role] = button
        lesions.addLayout(add_row)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(150)
        _header(self.table.verticalHeader()).setVisible(False)
        _header(self.table.verticalHeader()).setDefaultSectionSize(22)
        header = _header(self.table.horizontalHeader())
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(30)
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        lesions.addWidget(self.table, 1)
        self.more_columns = QCheckBox("More columns (axes, Krenning, SUV, slice)")
        self.more_columns.toggled.connect(self._show_columns)
        self._show_columns(False)

        measure_row = QHBoxLayout()
        self.measure_buttons: dict[Axis, QPushButton] = {}
        for axis, text, key in (
            (Axis.LONG, "Measure long axis", KEYS["measure_long"]),
            (Axis.SHORT, "Measure short axis", KEYS["measure_short"]),
        ):
            button = QPushButton(f"{text} [{key}]")
            button.clicked.connect(lambda _=False, a=axis: self.measure(a))
            measure_row.addWidget(button)
            self.measure_buttons[axis] = button
        self.locate_button = QPushButton("Locate")
        self.locate_button.setToolTip("click where the selected lesion is on the current scan")
        self.locate_button.clicked.connect(lambda: self.locate())
        measure_row.addWidget(self.locate_button)
        lesions.addLayout(measure_row)

        states = QGridLayout()
        states.setSpacing(2)
        self.state_buttons: dict[LesionState, QPushButton] = {}
        for n, (state, text) in enumerate(STATE_LABELS.items()):
            button = QPushButton(text)
            button.setToolTip(STATE_KEYS[state])
            button.clicked.connect(lambda _=False, s=state: self.set_state(s))
            states.addWidget(button, n // 4, n % 4)
            self.state_buttons[state] = button
        lesions.addLayout(states)

        edit_row = QHBoxLayout()
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo)
        self.redo_button = QPushButton("Redo")
        self.redo_button.clicked.connect(self.redo)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self._delete_clicked)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.clicked.connect(self._rename_clicked)
        self.role_button = QPushButton("T ⇄ NT")
        self.role_button.setToolTip(
            "make a target a non-target or the reverse, or an unassigned (imported) lesion a "
            "target (baseline only)"
        )
        self.role_button.clicked.connect(self._role_clicked)
        for button in (
            self.undo_button,
            self.redo_button,
            self.delete_button,
            self.rename_button,
            self.role_button,
        ):
            edit_row.addWidget(button)
        lesions.addLayout(edit_row)

        krenning_row = QHBoxLayout()
        self.krenning_combo = QComboBox()
        self.krenning_combo.addItems(["—", "0", "1", "2", "3", "4"])
        self.krenning_combo.activated.connect(self._krenning_chosen)
        krenning_row.addWidget(QLabel("Krenning"))
        krenning_row.addWidget(self.krenning_combo)
        self.reference_buttons: dict[str, QPushButton] = {}
        for organ in ("liver", "spleen"):
            button = QPushButton(f"Place {organ}")
            button.setToolTip(
                f"click the centre of a {REFERENCE_DIAMETER_MM[organ]:g} mm sphere in normal "
                f"{organ} on the PET"
            )
            button.clicked.connect(lambda _=False, o=organ: self.place_reference(o))
            krenning_row.addWidget(button)
            self.reference_buttons[organ] = button
        lesions.addLayout(krenning_row)
        self.reference_label = QLabel("")
        lesions.addWidget(self.reference_label)
        self.krenning_hint = QLabel("")
        self.krenning_hint.setWordWrap(True)
        lesions.addWidget(self.krenning_hint)
        lesions.addWidget(self.more_columns)
        root.addWidget(lesion_box, 3)

        # Warnings scroll inside a bounded box: however many there are, the table keeps its room.
        self.checks_label = QLabel("")
        self.checks_label.setWordWrap(True)
        self.checks_label.setStyleSheet("color: #ff9f1a;")
        self.checks_scroll = QScrollArea()
        self.checks_scroll.setWidgetResizable(True)
        self.checks_scroll.setWidget(self.checks_label)
        self.checks_scroll.setMaximumHeight(64)
        self.checks_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        root.addWidget(self.checks_scroll)

        response_box = QGroupBox("Response (RECIST 1.1)")
        response = QVBoxLayout(response_box)
        response.setContentsMargins(4, 4, 4, 4)
        self.response_text = QPlainTextEdit()
        self.response_text.setReadOnly(True)
        self.response_text.setMinimumHeight(110)
        response.addWidget(self.response_text)
        root.addWidget(response_box, 2)

        self.readout_label = QLabel("")
        self.readout_label.setToolTip("CT (HU) and PET (SUVbw) under the cursor, current scan")
        root.addWidget(self.readout_label)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        root.addWidget(self.status_label)
        save_row = QHBoxLayout()
        self.save_button = QPushButton(f"Save reading [{KEYS['save']}]")
        self.save_button.clicked.connect(self._save_clicked)
        self.help_button = QPushButton("Keys…")
        self.help_button.setCheckable(True)
        save_row.addWidget(self.save_button, 1)
        save_row.addWidget(self.help_button)
        root.addLayout(save_row)
        self.help_label = QLabel(help_text())
        self.help_label.setFont(QFont("monospace", 8))
        self.help_label.setVisible(False)
        self.help_button.toggled.connect(self.help_label.setVisible)
        root.addWidget(self.help_label)
        self._update_controls()

    def _show_columns(self, more: bool) -> None:
        for column in range(MAIN_COLUMNS, len(COLUMNS)):
            self.table.setColumnHidden(column, not more)

    def _bind_keys(self) -> None:
        """The same keys on the canvas (napari key bindings) and in the dock (Qt shortcuts)."""
        actions: list[tuple[str, Callable[[], object]]] = [
            (KEYS["next_pending"], lambda: self.select_next_pending(1)),
            (KEYS["previous_pending"], lambda: self.select_next_pending(-1)),
            (KEYS["next_timepoint"], lambda: self.step_timepoint(1)),
            (KEYS["previous_timepoint"], lambda: self.step_timepoint(-1)),
            (KEYS["measure_long"], lambda: self.measure(Axis.LONG)),
            (KEYS["measure_short"], lambda: self.measure(Axis.SHORT)),
            (KEYS["undo"], self.undo),
            (KEYS["redo"], self.redo),
            (KEYS["save"], self._save_clicked),
            (KEYS["click_segment"], lambda: self.proposal_panel.toggle_armed()),
            (KEYS["accept_proposal"], lambda: self.proposal_panel.accept_selected()),
            (KEYS["reject_proposal"], lambda: self.proposal_panel.reject_selected()),
            *((key, lambda s=state: self.set_state(s)) for state, key in STATE_KEYS.items()),
        ]
        self._shortcuts = []
        for key, action in actions:
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)
            self._shortcuts.append(shortcut)
            napari_key = (
                key.replace("Ctrl", "Control")
                .replace("PgDown", "PageDown")
                .replace("PgUp", "PageUp")
            ).replace("+", "-")
            self.viewer.bind_key(napari_key, lambda _viewer, a=action: a(), overwrite=True)

    # --- study and time points ---------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        """True while the reading has changes that are not saved."""
        return self._dirty

    @dirty.setter
    def dirty(self, value: bool) -> None:
        self._dirty = value
        self._update_title()

    def _update_title(self) -> None:
        if self.study is None:
            return
        reader = self.reader_edit.text().strip() or "no reader"
        mark = " — unsaved changes *" if self._dirty else " — saved"
        self.viewer.title = f"recistry: {self.study.patient_id} ({reader}){mark}"

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
        """Index ``root``, start (or restore) this reader's reading of its patient and show it:
        the first scan with a pending lesion, at that lesion."""
        study = load_study(Path(root))
        self.study = study
        self._cache.clear()
        self._prefetch.clear()
        self.date = None
        self.timepoint_list.blockSignals(True)
        self.timepoint_list.clear()
        for n, scan in enumerate(study.scans):
            label = "baseline" if n == 0 else f"follow-up {n}"
            kinds = "CT + PET" if scan.pet_paths else "CT"
            self.timepoint_list.addItem(QListWidgetItem(f"{scan.date}  {label}  ({kinds})"))
        self.timepoint_list.blockSignals(False)
        try:
            self._load_reading()
        except RecistryError:
            # A saved reading the annotator cannot show: nothing is opened, nothing can be saved.
            self.study, self.reading = None, None
            self.timepoint_list.clear()
            raise
        self._resize_window()

    def _load_reading(self) -> None:
        """Start this reader's reading (restored from the store when saved) and show it."""
        assert self.study is not None
        study = self.study
        reading = _reading.new_reading(
            study.patient_id, (s.date for s in study.scans), reader=self.reader_edit.text().strip()
        )
        self.reading, self.restored = restore_reading(reading, self.store_path)
        self.history_reader = self.reading.reader
        self.history.reset(self.reading)
        self._uptake_jobs.clear()  # measured for the reading left
        self._uptake_queue.clear()
        self._selected = None
        self.date = None
        self.dirty = False
        start = study.scans[0].date
        first_pending = None
        if self.restored is not None:
            for tp in self.reading.timepoints:
                pending = [les.lesion_id for les in tp.lesions if les.pending]
                if pending:
                    start, first_pending = tp.date, pending[0]
                    break
            else:
                start = self.reading.timepoints[-1].date
        self.show_timepoint(start)
        if self.restored is not None:
            where = f"; opened at {first_pending} ({start})" if first_pending else ""
            self._say(self.restored.describe() + where)
            if first_pending is not None:
                self.select_lesion(first_pending)
        else:
            self._say(f"new reading of {study.patient_id}: {len(study.scans)} scans")

    def _resize_window(self) -> None:
        """A usable window: the screen's available area (a reading needs the room)."""
        window = self.window()
        screen = window.screen() if window is not None else None
        if window is None or window is self or screen is None:
            return
        area = screen.availableGeometry()
        if window.width() < area.width() * 0.9 or window.height() < area.height() * 0.9:
            window.setGeometry(area)

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

    def step_timepoint(self, step: int) -> None:
        """Go to the next (``step`` = 1) or previous (−1) scan."""
        if self.study is None or self.date is None:
            return
        dates = [s.date for s in self.study.scans]
        row = dates.index(self.date) + step
        if 0 <= row < len(dates):
            self.show_timepoint(dates[row])

    def _images(self, date: dt.date) -> ScanImages:
        assert self.study is not None
        if date in self._cache:
            self._cache.move_to_end(date)
            return self._cache[date][0]
        future = self._prefetch.pop(date, None)
        loaded = future.result() if future is not None else _load_scan(self.study, date)
        self._cache[date] = loaded
        # The least recently shown go first, never a scan on screen (current, prior, baseline).
        limit = _CACHE_SCANS + (1 if self.baseline_check.isChecked() else 0)
        while len(self._cache) > limit:
            victim = next((d for d in self._cache if d not in self._on_screen_dates), None)
            if victim is None:
                break
            del self._cache[victim]
        return loaded[0]

    def _prefetch_next(self) -> None:
        """Start reading the scan after the one shown, unless it is loaded or loading (or the
        widget is not on screen: nobody is reading; or the window closed, its pools stopped)."""
        if self.study is None or self.date is None or not self.isVisible():
            return
        if self._delivery.closed:
            return
        dates = [s.date for s in self.study.scans]
        row = dates.index(self.date) + 1
        if row >= len(dates) or dates[row] in self._cache or dates[row] in self._prefetch:
            return
        study, date = self.study, dates[row]
        self._prefetch = {date: self._loader.submit(_load_scan, study, date)}

    def show_timepoint(self, date: dt.date) -> None:
        """Show the scan of ``date`` and its lesions (with the prior beside it at a follow-up),
        keeping the anatomical position (mm)."""
        if self.study is None or self.reading is None:
            raise RuntimeError("open a study first")
        if date == self.date:
            return
        self._on_screen_dates = self._dates_shown(date)
        keep = self._world_position()
        images = self._images(date)
        self.images = images
        self.date = date
        self._record_scan_geometry(date, images)
        tp = self.reading.at(date)
        data, kwargs, _ = ct_layer_data(images.ct, self.window_combo.currentText())
        ct_layer = put_image(self.viewer, CT_LAYER_NAME, data, kwargs)
        row = [s.date for s in self.study.scans].index(date)
        show_name(ct_layer, "#ffd400")
        if images.pet is not None:
            data, kwargs, _ = pet_layer_data(images.pet, self._suv_range(tp))
            pet = put_image(self.viewer, PET_LAYER_NAME, data, kwargs)
            pet.colorbar.visible = True
            pet.colorbar.position = "top_right"
        elif PET_LAYER_NAME in self.viewer.layers:
            self.viewer.layers.remove(PET_LAYER_NAME)
        transform = layer_transform(images.ct)
        # The reference and location layers are made when first needed: each layer is more
        # to build and draw when a study opens.
        placed = tp.liver_center_lps is not None or tp.spleen_center_lps is not None
        if images.pet is not None and (placed or self._on_screen(self.references.layer)):
            self.references.attach(transform)
            self.references.show(tp)
        elif images.pet is None and self._on_screen(self.references.layer):
            self.viewer.layers.remove(REFERENCES_LAYER_NAME)
        located = any(les.location_lps is not None for les in tp.lesions)
        if located or self._on_screen(self.locations.layer):
            self.locations.attach(transform)
            self.locations.show(tp)
        self.lesions.attach(transform)
        self.lesions.show(tp)
        self.proposal_panel.attach()
        show_pending(self.viewer, pending_markers(self.reading, date), transform)
        self._show_prior(arrange_only=False)
        show_overlays(self.viewer)
        self.viewer.layers.selection.active = ct_layer
        if keep is not None:
            self.viewer.dims.point = keep
        else:
            self.viewer.reset_view()
        self.timepoint_list.blockSignals(True)
        self.timepoint_list.setCurrentRow(row)
        self.timepoint_list.blockSignals(False)
        self._update_mip()
        self._refresh()
        self.proposal_panel.on_timepoint_shown()
        # Started once the scan is on screen and the reader looks at it: reading in the
        # background competes with drawing for the interpreter.
        QTimer.singleShot(_PREFETCH_DELAY_MS, self._prefetch_next)

    def _current_layers(self) -> list[Any]:
        names = [
            CT_LAYER_NAME,
            PET_LAYER_NAME,
            REFERENCES_LAYER_NAME,
            self.locations.layer.name if self.locations.layer is not None else "",
            PENDING_NAME,
            self.lesions.layer.name if self.lesions.layer is not None else "",
            *PROPOSAL_LAYER_NAMES,
        ]
        return [self.viewer.layers[n] for n in names if n and n in self.viewer.layers]

    def _on_screen(self, layer: Any) -> bool:
        return layer is not None and layer in self.viewer.layers

    def _ensure_layer(self, owner: LocationLayer | ReferenceLayer) -> None:
        """Make a layer that is made when first needed, on the scan shown, in its grid cell."""
        if self._on_screen(owner.layer):
            return
        reading, date = self._require()
        assert self.images is not None
        owner.attach(layer_transform(self.images.ct))
        owner.show(reading.at(date))
        self._rearrange()

    def _rearrange(self) -> None:
        """Put a layer made after the scan was shown in its grid cell (zoom and pan kept)."""
        arrange(self.viewer, self._current_layers(), *self._earlier_cells())

    def _earlier_cells(self) -> list[list[Any]]:
        """The layers of the prior's and the baseline's cells shown, in viewer order."""
        return [
            [self.viewer.layers[n] for n in prior_layer_names(self.viewer, cell)]
            for cell in (PRIOR, BASELINE)
        ]

    def _dates_shown(self, date: dt.date) -> set[dt.date]:
        """The scans on screen with ``date``'s: it, its prior and the baseline when asked."""
        assert self.reading is not None
        shown = {date}
        prior = _reading.previous_date(self.reading, date)
        if prior is not None and self.prior_check.isChecked():
            shown.add(prior)
            if self.baseline_check.isChecked():
                shown.add(self.reading.baseline_date)
        return shown

    def _show_prior(self, arrange_only: bool = False) -> None:
        """At a follow-up, the prior scan beside the current one (and the baseline when asked
        and it is not the prior), in grid mode; else one view."""
        if self.reading is None or self.date is None or self.study is None:
            return
        self._on_screen_dates = self._dates_shown(self.date)
        prior_date = _reading.previous_date(self.reading, self.date)
        baseline_date = self.reading.baseline_date
        shown: dict[Cell, dt.date] = {}
        if prior_date is not None and self.prior_check.isChecked():
            shown[PRIOR] = prior_date
            if self.baseline_check.isChecked() and prior_date != baseline_date:
                shown[BASELINE] = baseline_date
        suv_range = self._suv_range(self.reading.at(self.date))
        active = self.viewer.layers.selection.active
        for cell in (PRIOR, BASELINE):
            date = shown.get(cell)
            if date is None:
                hide_prior(self.viewer, cell)
                continue
            show_prior(
                self.viewer,
                self._images(date),
                date,
                prior_marks(self.reading.at(date)),
                window=WINDOWS[self.window_combo.currentText()].contrast_limits,
                suv_range=suv_range,
                cell=cell,
            )
        if arrange(self.viewer, self._current_layers(), *self._earlier_cells()):
            self.viewer.reset_view()
        if active is not None and active in self.viewer.layers:
            self.viewer.layers.selection.active = active  # a layer added took the selection

    def _suv_range(self, tp: _reading.TimepointReading) -> tuple[float, float]:
        """The PET range: from the references of this scan (else the prior's), else the spin."""
        assert self.reading is not None
        candidates = [tp, *reversed([t for t in self.reading.timepoints if t.date < tp.date])]
        for t in candidates:
            if t.spleen_suv_mean is not None or t.liver_suv_mean is not None:
                low, high = suv_display_range(t.liver_suv_mean, t.spleen_suv_mean)
                self.suv_max_spin.blockSignals(True)
                self.suv_max_spin.setValue(high)
                self.suv_max_spin.blockSignals(False)
                return (low, high)
        return (0.0, float(self.suv_max_spin.value()))

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
        """Apply a CT window preset (soft tissue, lung, bone, liver) to both scans."""
        for layer in self.viewer.layers:
            if layer.name == CT_LAYER_NAME or layer.name.startswith((PRIOR.ct, BASELINE.ct)):
                layer.contrast_limits = WINDOWS[name].contrast_limits
        if self.window_combo.currentText() != name:
            self.window_combo.setCurrentText(name)

    def set_suv_max(self, value: float) -> None:
        """Show PET from SUV 0 (transparent black) to ``value`` (white), on both scans."""
        for name in (PET_LAYER_NAME, PRIOR.pet, BASELINE.pet):
            if name in self.viewer.layers:
                self.viewer.layers[name].contrast_limits = (0.0, float(value))

    def _on_cursor(self, event: Any) -> None:
        layers = {layer.name: layer for layer in self.viewer.layers}
        ct, pet = layers.get(CT_LAYER_NAME), layers.get(PET_LAYER_NAME)
        if ct is None:
            return
        position = self.viewer.cursor.position
        self.readout_label.setText(readout_text(ct, pet, position))
        # On the canvas too, where the eyes are (short: the slice position is on the slider);
        # at most every _READOUT_MS, as each change redraws the canvas.
        self._readout = readout_text(
            ct, pet, position, with_z=False, separator=CANVAS_READOUT_SEPARATOR
        )
        if not self._readout_timer.isActive():
            self._readout_timer.start()

    def _show_readout(self) -> None:
        show_readout(self.viewer, self._readout)

    # --- coronal MIP -------------------------------------------------------------------------

    def _update_mip(self) -> None:
        if self.images is None or self.images.pet is None:
            return
        from recistry_napari._qt.mip import MipPanel

        if self._mip is None:
            self._mip = MipPanel(self._jump_to_point)
            self.viewer.window.add_dock_widget(
                self._mip, name="PET MIP (click a hot spot)", area="left"
            )
        loaded = self._cache.get(self.date) if self.date is not None else None
        self._mip.show_volume(self.images.pet, None if loaded is None else loaded[1])

    def _jump_to_point(self, point_lps: tuple[float, float, float]) -> None:
        self.focus_view(point_lps)

    # --- lesions -----------------------------------------------------------------------------

    def _add_clicked(self, role: Role) -> None:
        try:
            self.add_lesion(role, self.site_edit.text(), self.nodal_check.isChecked())
        except ValueError as exc:
            self._tell(str(exc))

    def add_lesion(self, role: Role, site: str, nodal: bool = False) -> str:
        """Add a lesion at the time point shown and select it; returns its new ID.

        A non-target or new lesion is then located: the next click on the canvas places it.
        """
        reading, date = self._require()
        reading, lesion_id = _reading.add_lesion(reading, date, role, site, nodal)
        self._commit(reading, f"add {lesion_id}")
        self.select_lesion(lesion_id)
        if role is not Role.TARGET:
            self.locate(lesion_id)
        return lesion_id

    def select_lesion(self, lesion_id: str) -> None:
        """Select a lesion in the table, centre the view on it and zoom in: on this scan's line
        or point, else where it was at its latest assessment."""
        reading, date = self._require()
        self._selected = lesion_id
        ids = [lesion.lesion_id for lesion in reading.at(date).lesions]
        self.table.blockSignals(True)
        self.table.selectRow(ids.index(lesion_id))
        self.table.blockSignals(False)
        position = self._position_to_show(lesion_id)
        if position is not None:
            self.focus_view(position)
        lesion = reading.at(date).lesion(lesion_id)
        self.lesions.assign(lesion_id, self._axis_for_new_line(lesion), lesion.role)
        self._update_controls()

    @staticmethod
    def _axis_for_new_line(lesion: LesionAnnotation) -> Axis:
        # A node with its long axis drawn gets its short axis next; anything else its long axis.
        if lesion.nodal and lesion.long_axis is not None and lesion.short_axis is None:
            return Axis.SHORT
        return Axis.LONG

    def _position_to_show(self, lesion_id: str) -> tuple[float, float, float] | None:
        reading, date = self._require()
        lesion = reading.at(date).lesion(lesion_id)
        if lesion.position_lps is not None:
            return lesion.position_lps
        prior = reading.prior(date, lesion_id)
        return None if prior is None else prior[1].position_lps

    def select_next_pending(self, step: int = 1) -> str | None:
        """Select the next (``step`` = 1) or previous (−1) pending lesion of this scan."""
        if self.reading is None or self.date is None:
            return None
        found = _reading.next_pending(self.reading.at(self.date), self._selected, step)
        if found is None:
            self._say(f"nothing pending on {self.date}")
        else:
            self.select_lesion(found)
        return found

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
        if axis is Axis.SHORT and not lesion.nodal:
            self._tell(f"{lesion.lesion_id} is not a node: only nodes count a short axis")
            return
        self.lesions.arm(lesion.lesion_id, axis, lesion.role)

    def locate(self, lesion_id: str | None = None) -> None:
        """Arm the point tool: the next click on the canvas is where the lesion is."""
        lesion_id = lesion_id or self._selected
        if lesion_id is None or self.reading is None or self.date is None:
            self._tell("select a lesion in the table first")
            return
        lesion = self.reading.at(self.date).lesion(lesion_id)
        self._ensure_layer(self.locations)
        self.locations.arm(lesion_id, ROLE_COLOURS[lesion.role])
        self._say(f"click where {lesion_id} is on the current scan")

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

    def place(self, lesion_id: str, point_lps: Sequence[float]) -> None:
        """Locate a lesion from a script, the way a reader does: arm, then a point on its slice
        (snapped to the nearest CT pixel centre, as a click is)."""
        self.locate(lesion_id)
        layer = self.locations.layer
        if layer is None:
            raise RuntimeError("open a study first")
        data = np.rint(layer.world_to_data(lps_to_world(point_lps)))
        self.viewer.dims.set_point(0, float(layer.data_to_world(data)[0]))
        layer.add(data)

    def _sop_uid(self, slice_index: int) -> str | None:
        assert self.images is not None
        uids = self.images.ct.sop_instance_uids
        return uids[slice_index] if 0 <= slice_index < len(uids) else None

    def _on_lines_changed(self, lines: list[DrawnLine]) -> None:
        reading, date = self._require()
        drawn: dict[tuple[str, Axis], DrawnLine] = {}
        for each in lines:
            drawn[(each.lesion_id, each.axis)] = each  # the latest line of an axis wins
        assert self.images is not None
        changed, measure = [], []
        for lesion in reading.at(date).lesions:
            for axis in Axis:
                old = lesion.long_axis if axis is Axis.LONG else lesion.short_axis
                d = drawn.get((lesion.lesion_id, axis))
                new = None if d is None else d.line
                if new == old:
                    continue
                reading = _reading.set_line(
                    reading,
                    date,
                    lesion.lesion_id,
                    axis,
                    new,
                    series_instance_uid=self.images.ct.series_instance_uid,
                    sop_instance_uid=None if d is None else self._sop_uid(d.slice_index),
                    measured_at=_now(),
                )
                changed.append(f"{lesion.lesion_id} {axis.value} axis")
                if axis is Axis.LONG or lesion.nodal:
                    measure.append(lesion.lesion_id)
        if changed:
            self._commit(reading, "draw " + ", ".join(changed))
        for lesion_id in dict.fromkeys(measure):
            self._measure_uptake_later(date, lesion_id)
        # Redraw from the reading: labels get their lengths (now, so that the canvas and the
        # dock are repainted together), a replaced line disappears (once napari has finished
        # the drawing at hand).
        if not self.lesions.relabel(reading.at(date)):
            QTimer.singleShot(0, self._redraw_lesions)

    def _redraw_lesions(self) -> None:
        if self.reading is not None and self.date is not None and self.lesions.layer is not None:
            self.lesions.show(self.reading.at(self.date))

    def _on_locations_changed(self, points: list[PlacedPoint]) -> None:
        reading, date = self._require()
        placed = {p.lesion_id: p for p in points}
        changed = []
        assert self.images is not None
        for lesion in reading.at(date).lesions:
            p = placed.get(lesion.lesion_id)
            if lesion.long_axis is not None:
                continue
            new = None if p is None else p.point_lps
            if new == lesion.location_lps:
                continue
            reading = _reading.set_location(
                reading,
                date,
                lesion.lesion_id,
                new,
                series_instance_uid=self.images.ct.series_instance_uid,
                sop_instance_uid=None if p is None else self._sop_uid(p.slice_index),
                measured_at=_now(),
            )
            changed.append(lesion.lesion_id)
        if changed:
            self._commit(reading, "locate " + ", ".join(changed))
            self._say(f"located {', '.join(changed)}")
        QTimer.singleShot(0, lambda: self.locations.show(reading.at(date)))

    def _measure_uptake_later(self, date: dt.date, lesion_id: str) -> None:
        """Measure a lesion's SUVmax and SUVpeak from its drawn axes in the background, when
        the scan has PET: the table, response and canvas follow the line at once, the uptake
        columns and the Krenning hint a moment later (:meth:`finish_background_work`).

        The measurement starts :data:`_UPTAKE_DELAY_MS` later, once the edit is on screen, so
        that it does not compete with drawing it for the processor.
        """
        if self.images is None or self.images.pet is None:
            return
        if not self._uptake_queue:
            QTimer.singleShot(_UPTAKE_DELAY_MS, self._start_uptakes)
        self._uptake_queue[(date, lesion_id)] = None

    def _start_uptakes(self) -> None:
        queued, self._uptake_queue = list(self._uptake_queue), {}
        if self.images is None or self.images.pet is None or self.reading is None:
            return
        if self._delivery.closed:
            return  # the window closed (its pools are shut down) before the delay ran out
        for date, lesion_id in queued:
            try:
                lesion = self.reading.at(date).lesion(lesion_id)
            except KeyError:
                continue  # deleted or renamed since
            future = self._uptake_pool.submit(lesion_uptake, self.images.pet, lesion)
            self._uptake_jobs[future] = (date, lesion)
            future.add_done_callback(self._delivery.to(self._relay.done.emit))

    def stop_background_work(self) -> None:
        """The window is closing: queued reads and measurements are cancelled, running ones end
        without touching the (deleted) widgets; SR exports of saved readings still finish."""
        self._delivery.close()
        self._loader.shutdown(wait=False, cancel_futures=True)
        self._uptake_pool.shutdown(wait=False, cancel_futures=True)
        self._export_pool.shutdown(wait=False)
        self.proposal_panel.close_worker()

    def _apply_uptake(self, future: Future[VoiUptake | None]) -> None:
        job = self._uptake_jobs.pop(future, None)
        if job is None or self.reading is None:
            return  # applied already (finish_background_work), or the study was closed
        date, lesion = job
        try:
            uptake = future.result()
        except RecistryError as exc:
            self._tell(f"{lesion.lesion_id}: no PET uptake: {exc}")
            uptake = None
        reading = with_uptake(self.reading, date, lesion, uptake)
        if reading is self.reading:
            return
        self.history.amend(lambda r: with_uptake(r, date, lesion, uptake))
        self.reading = reading
        self._fill_table()
        self._update_controls()

    def finish_background_work(self) -> None:
        """Wait for the uptake measurements still running and record them (before a save)."""
        self._start_uptakes()
        for future in list(self._uptake_jobs):
            future.exception()  # waits
            self._apply_uptake(future)

    def place_reference(self, organ: str) -> None:
        """Arm the point tool: the next click is the centre of ``organ``'s reference sphere."""
        if self.images is None or self.images.pet is None:
            self._tell("reference spheres are measured on PET; this scan has none")
            return
        self._ensure_layer(self.references)
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
        self._commit(_reading.replace_timepoint(reading, tp), "reference spheres")
        # The PET range follows the references (spleen at 80 % of the scale).
        self.set_suv_max(self._suv_range(tp)[1])
        # One sphere per organ: redraw from the reading, dropping a replaced point.
        QTimer.singleShot(0, lambda: self.references.show(tp))

    def set_state(self, state: LesionState) -> None:
        """Record a state for the selected lesion (one click); a non-target or new lesion not
        yet located on this scan is then located by the next click on the canvas."""
        lesion = self._selected_lesion()
        if lesion is None:
            self._tell("select a lesion in the table first")
            return
        reading, date = self._require()
        try:
            reading = _reading.update_lesion(
                reading, date, lesion.lesion_id, state=state, measured_at=_now()
            )
        except ValueError as exc:
            self._tell(str(exc))
            return
        self._commit(reading, f"{lesion.lesion_id} {state.value}")
        if (
            lesion.role is not Role.TARGET
            and lesion.position_lps is None
            and state is not LesionState.ABSENT
        ):
            self.locate(lesion.lesion_id)

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
            ),
            f"{lesion.lesion_id} Krenning {grade}",
        )

    # --- delete, rename, re-role -------------------------------------------------------------

    def delete_lesion(self, lesion_id: str) -> None:
        """Delete a lesion where it was added, or clear it to pending at a later scan.

        A saved lesion is withdrawn by a new revision when the reading is saved.
        """
        reading, date = self._require()
        try:
            if _reading.first_date(reading, lesion_id) == date:
                reading = _reading.delete_lesion(reading, date, lesion_id)
                what = f"delete {lesion_id}"
                self._selected = None
            else:
                reading = _reading.clear_lesion(reading, date, lesion_id)
                what = f"clear {lesion_id} on {date}"
        except ValueError as exc:
            self._tell(str(exc))
            return
        self._commit(reading, what)
        self._redraw_all()
        self._say(what)

    def rename_lesion(self, lesion_id: str, new_id: str) -> None:
        """Give a lesion another ID (at every scan)."""
        reading, _date = self._require()
        try:
            reading = _reading.rename_lesion(reading, lesion_id, new_id)
        except ValueError as exc:
            self._tell(str(exc))
            return
        self._selected = new_id.strip()
        self._commit(reading, f"rename {lesion_id} to {new_id}")
        self._redraw_all()

    def change_role(self, lesion_id: str, role: Role) -> str | None:
        """Make a target a non-target or the reverse (at baseline); returns the new ID."""
        reading, date = self._require()
        if date != reading.baseline_date:
            self._tell("targets and non-targets are chosen at baseline: change the role there")
            return None
        try:
            reading, new_id = _reading.change_role(reading, lesion_id, role)
        except ValueError as exc:
            self._tell(str(exc))
            return None
        self._selected = new_id
        self._commit(reading, f"{lesion_id} becomes {ROLE_LABELS[role]} {new_id}")
        self._redraw_all()
        return new_id

    def _delete_clicked(self) -> None:
        lesion = self._selected_lesion()
        if lesion is None:
            self._tell("select a lesion in the table first")
            return
        answer = QMessageBox.question(
            self,
            "Delete lesion",
            f"Delete {lesion.lesion_id} ({lesion.site})? Undo with {KEYS['undo']}.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_lesion(lesion.lesion_id)

    def _rename_clicked(self) -> None:
        lesion = self._selected_lesion()
        if lesion is None:
            self._tell("select a lesion in the table first")
            return
        new_id, ok = QInputDialog.getText(
            self, "Rename lesion", f"New ID for {lesion.lesion_id}:", text=lesion.lesion_id
        )
        if ok:
            self.rename_lesion(lesion.lesion_id, new_id)

    def _role_clicked(self) -> None:
        lesion = self._selected_lesion()
        if lesion is None:
            self._tell("select a lesion in the table first")
            return
        other = (
            Role.NON_TARGET
            if lesion.role is Role.TARGET and not lesion.role_unassigned
            else Role.TARGET
        )
        self.change_role(lesion.lesion_id, other)

    # --- undo and redo -----------------------------------------------------------------------

    def undo(self) -> None:
        """Undo the last edit (Ctrl+Z)."""
        step = self.history.undo()
        if step is None:
            self._say("nothing to undo")
            return
        self.reading, what = step
        self.dirty = True
        self._redraw_all()
        self._say(f"undone: {what}")

    def redo(self) -> None:
        """Redo the last undone edit (Ctrl+Shift+Z)."""
        step = self.history.redo()
        if step is None:
            self._say("nothing to redo")
            return
        self.reading, what = step
        self.dirty = True
        self._redraw_all()
        self._say(f"redone: {what}")

    def _redraw_all(self) -> None:
        """Redraw every layer of the current scan from the reading (after undo, delete …)."""
        reading, date = self._require()
        tp = reading.at(date)
        if self._selected is not None and self._selected not in {
            les.lesion_id for les in tp.lesions
        }:
            self._selected = None
        self.lesions.show(tp)
        if self._on_screen(self.locations.layer):
            self.locations.show(tp)
        if self._on_screen(self.references.layer):
            self.references.show(tp)
        self._show_pending()
        self._refresh()

    # --- model to view -----------------------------------------------------------------------

    def _commit(self, reading: Reading, what: str = "edit") -> None:
        self.reading = reading
        self.history.push(reading, what)
        self.dirty = True
        self._refresh()
        self._show_pending()

    def _show_pending(self) -> None:
        """Markers where the lesions still pending here were (gone once assessed)."""
        if self.reading is not None and self.date is not None and self.images is not None:
            made = PENDING_NAME not in self.viewer.layers
            layer = show_pending(
                self.viewer,
                pending_markers(self.reading, self.date),
                layer_transform(self.images.ct),
            )
            if made and layer is not None:
                self._rearrange()

    def _refresh(self) -> None:
        if self.reading is None or self.date is None:
            return
        self.result = assess_reading(self.reading, self.date)
        self._fill_table()
        unassigned = _reading.unassigned_warning(self.reading)
        checks = [*([unassigned] if unassigned else []), *self.result.checks]
        _set_text(self.checks_label, "\n".join(f"⚠ {c}" for c in checks))
        if self.checks_scroll.isVisibleTo(self) != bool(checks):
            self.checks_scroll.setVisible(bool(checks))
        pending = [les.lesion_id for les in self.reading.at(self.date).lesions if les.pending]
        text = "\n".join(describe(self.result, self.date, pending))
        if text != self.response_text.toPlainText():
            self.response_text.setPlainText(text)
        self._update_controls()
        self.proposal_panel.refresh()

    def _fill_table(self) -> None:
        """Show the lesions of the time point, changing only the cells whose text changed: a
        line edit changes a few cells, and every cell set relays out and repaints the dock."""
        reading, date = self._require()
        lesions = reading.at(date).lesions
        self.table.blockSignals(True)
        if self.table.rowCount() != len(lesions):
            self.table.setRowCount(len(lesions))
        for row, lesion in enumerate(lesions):
            for column, text in enumerate(self._cells(reading, date, lesion)):
                item = self.table.item(row, column)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(row, column, item)
                _set_text(item, text)
                if item.font().italic() != lesion.pending:
                    font = item.font()
                    font.setItalic(lesion.pending)
                    item.setFont(font)
                    if lesion.pending:
                        item.setForeground(_PENDING_COLOUR)
                    else:
                        item.setData(Qt.ItemDataRole.ForegroundRole, None)
            if lesion.lesion_id == self._selected and self.table.currentRow() != row:
                self.table.selectRow(row)
        self.table.blockSignals(False)

    @staticmethod
    def _cells(reading: Reading, date: dt.date, lesion: LesionAnnotation) -> list[str]:
        prior = reading.prior(date, lesion.lesion_id)
        prior_text, change, line = "", "", lesion.long_axis
        if prior is not None:
            _prior_date, prior_lesion = prior
            prior_text = _value_text(prior_lesion)
            line = line or prior_lesion.long_axis
            before = _reading.counted_value_mm(prior_lesion)
            now = _reading.counted_value_mm(lesion)
            if lesion.role is Role.TARGET and before is not None and now is not None:
                change = f"{now - before:+.1f} mm"
                if before > 0:
                    change += f" ({(now - before) / before * 100:+.0f} %)"
        return [
            lesion.lesion_id,
            UNASSIGNED if lesion.role_unassigned else ROLE_LABELS[lesion.role],
            lesion.site + (" (node)" if lesion.nodal and "node" not in lesion.site else ""),
            _value_text(lesion),
            prior_text,
            change,
            PENDING if lesion.state is None else lesion.state.value,
            "yes" if lesion.nodal else "",
            "" if lesion.long_axis is None else str(lesion.long_axis.diameter_mm),
            "" if lesion.short_axis is None else str(lesion.short_axis.diameter_mm),
            "" if lesion.krenning is None else str(lesion.krenning),
            _suggested(reading.at(date), lesion),
            _mm(lesion.suv_max),
            _mm(lesion.suv_peak),
            "" if line is None else f"{line.z_mm:.1f}",
        ]

    def _update_controls(self) -> None:
        lesion = self._selected_lesion()
        has_date = self.date is not None
        baseline = self.reading is not None and self.date == self.reading.baseline_date
        for role, button in self.add_buttons.items():
            button.setEnabled(has_date and (role is Role.NEW) != baseline)
        for axis, button in self.measure_buttons.items():
            button.setEnabled(lesion is not None and (axis is Axis.LONG or lesion.nodal))
        allowed = (
            _reading.allowed_states(lesion.role, baseline) if lesion is not None else frozenset()
        )
        for state, button in self.state_buttons.items():
            button.setEnabled(state in allowed)
        for button in (self.delete_button, self.rename_button, self.locate_button):
            button.setEnabled(lesion is not None)
        self.role_button.setEnabled(lesion is not None and baseline and lesion.role is not Role.NEW)
        self.undo_button.setEnabled(self.history.can_undo)
        self.redo_button.setEnabled(self.history.can_redo)
        self.krenning_combo.setEnabled(lesion is not None)
        if lesion is not None:
            self.krenning_combo.setCurrentIndex(
                0 if lesion.krenning is None else lesion.krenning + 1
            )
        self.save_button.setEnabled(self.reading is not None)
        has_pet = self.images is not None and self.images.pet is not None
        for button in self.reference_buttons.values():
            button.setEnabled(has_pet)
        _set_text(self.reference_label, self._reference_text())
        _set_text(self.krenning_hint, self._krenning_text(lesion))

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
        self._update_title()

    def _on_reader_finished(self) -> None:
        """A reader name typed (Enter or leaving the field) switches to that reader's reading."""
        self.switch_reader(self.reader_edit.text())

    def switch_reader(self, reader: str) -> None:
        """Show ``reader``'s reading of this patient (restored from the store when saved)."""
        reader = reader.strip()
        if self.study is None or self.reading is None:
            return
        if reader == (self.history_reader or ""):
            return
        # Unsaved edits belong to the previous reader: ask before leaving them.
        if (
            self.dirty
            and self.history_reader
            and not self.confirm_discard(as_reader=self.history_reader)
        ):
            self.reader_edit.blockSignals(True)
            self.reader_edit.setText(self.history_reader)
            self.reader_edit.blockSignals(False)
            self.reading = _reading.replace_reader(self.reading, self.history_reader)
            return
        if self.dirty and not self.history_reader:
            # Work started before a name was typed: it becomes this reader's.
            self.history_reader = reader
            return
        self.reader_edit.blockSignals(True)
        self.reader_edit.setText(reader)
        self.reader_edit.blockSignals(False)
        previous = self.history_reader
        try:
            self._load_reading()
        except RecistryError as exc:
            self._tell(f"reading of {reader} not opened: {exc}")
            self.reader_edit.blockSignals(True)
            self.reader_edit.setText(previous)
            self.reader_edit.blockSignals(False)
            self._load_reading()

    @property
    def history_reader(self) -> str:
        """The reader whose reading is shown (the name it was opened or restored under)."""
        return getattr(self, "_history_reader", "")

    @history_reader.setter
    def history_reader(self, value: str) -> None:
        self._history_reader = value

    # --- saving ------------------------------------------------------------------------------

    @property
    def store_path(self) -> Path:
        """The store file readings are saved to and restored from."""
        return Path(self.store_edit.text().strip() or DEFAULT_STORE).expanduser()

    def pending_summary(self) -> str:
        """The lesions still pending, scan by scan (empty when none)."""
        if self.reading is None:
            return ""
        parts = []
        for tp in self.reading.timepoints:
            ids = [les.lesion_id for les in tp.lesions if les.pending]
            if ids and any(not les.pending for les in tp.lesions):
                parts.append(f"{tp.date}: {', '.join(ids)}")
        return "; ".join(parts)

    def _save_clicked(self) -> None:
        pending = self.pending_summary()
        if pending:
            answer = QMessageBox.question(
                self,
                "Lesions still pending",
                f"Some lesions are not assessed yet ({pending}); a scan with pending lesions "
                "is not evaluable. Save anyway?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        try:
            self.save(wait=False)
        except RecistryError as exc:
            self._tell(f"not saved: {exc}")

    def save(self, wait: bool = True) -> SaveResult:
        """Append the reading to the store under the reader's name and export its SR.

        The store append is done at once; the SR export (files derived from the store) runs
        off the GUI thread, and with ``wait`` False this returns before it finishes (the
        status line says when it has; ``sr_files`` is then empty).

        Raises
        ------
        recistry.errors.RecistryError
            Nothing was saved (no reader name, nothing assessed, store not writable …), or,
            with ``wait``, the SR export failed (the store has the reading).
        """
        self.finish_background_work()
        reading, _date = self._require()
        assert self.study is not None
        store = self.store_path
        # The masks of accepted segmentations go to the store as DICOM SEG first: the SR
        # exported with the reading references them.
        reading = self.reading = self.proposal_panel.write_masks(reading, store)
        result = append_reading(reading, self.study.root, store)
        self.history_reader = reading.reader
        self.dirty = False
        withdrawn = f", {result.withdrawn} withdrawn" if result.withdrawn else ""
        saved = (
            f"saved: {result.new_revisions} new revision(s){withdrawn}, {result.unchanged} "
            "unchanged"
        )
        if not result.exported:
            self._say(saved)
            return result
        # The study's images are indexed into the store once a session: the SR cites them.
        indexed = (self.study.root, store.resolve())
        index = None if indexed in self._indexed else self.study.index
        if index is None and indexed not in self._indexed:
            index = load_study(self.study.root).index
        self._indexed.add(indexed)
        folder = sr_folder_for(store)
        future = self._export_pool.submit(export_reading, reading, store, folder, index=index)
        if wait:
            try:
                result = replace(result, sr_files=future.result())
            except RecistryError:
                self._indexed.discard(indexed)  # perhaps not indexed: again next time
                raise
            self._say(f"{saved}; {len(result.sr_files)} SR file(s) in {folder}")
            return result
        self._say(f"{saved}; exporting the SR files to {folder} …")
        relay = self._delivery.to(self._relay.exported.emit)
        future.add_done_callback(lambda f: relay((f, saved, folder, indexed)))
        return result

    def _exported(
        self, payload: tuple[Future[tuple[Path, ...]], str, Path, tuple[Path, Path]]
    ) -> None:
        future, saved, folder, indexed = payload
        try:
            files = future.result()
        except RecistryError as exc:
            self._indexed.discard(indexed)
            self._tell(f"{saved}, but the SR files were not exported: {exc}")
            return
        self._say(f"{saved}; {len(files)} SR file(s) in {folder}")

    def confirm_discard(self, as_reader: str | None = None) -> bool:
        """Ask what to do with unsaved changes; True when it is fine to go on (close, reopen)."""
        if not self.dirty:
            return True
        pending = self.pending_summary()
        note = f" Still pending: {pending}." if pending else ""
        who = f" of {as_reader}" if as_reader else ""
        answer = QMessageBox.question(
            self,
            "Unsaved reading",
            f"This reading{who} has changes that are not saved.{note} Save them to the store?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            try:
                if as_reader and self.reading is not None:
                    self.reading = _reading.replace_reader(self.reading, as_reader)
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

    def _say(self, message: str) -> None:
        """A status line in the dock (kept until the next one), also logged."""
        self.status_label.setText(message)
        logger.info("%s", message)

    def _tell(self, message: str) -> None:
        from napari.utils.notifications import show_warning

        self._say(message)
        show_warning(message)


class _Relay(QObject):
    """Carries a finished background job to the GUI thread (a queued signal)."""

    done = Signal(object)
    exported = Signal(object)


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
        if closing:
            self._widget.stop_background_work()
        return False
