"""The "Proposals and hot spots" dock: one-click measurement, follow-up proposals, PET hot spots.

A thin adapter over :mod:`recistry_napari._proposals`, :mod:`recistry_napari._hotspot_list` and
the core's segmentation, registration and hot-spot search. Registration and the hot-spot search
run in a worker thread (a progress bar shows it; the GUI never waits for them); a click is
segmented at once (well under a second). Nothing proposed enters the reading until the reader
accepts it: then it is recorded through the annotator like a drawn line.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QObject, QTimer, Signal  # type: ignore[attr-defined]  # qtpy re-exports
from qtpy.QtWidgets import (
    QDockWidget,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from recistry.errors import RecistryError
from recistry.imaging.hotspots import HotSpot, PhysiologyRegion
from recistry.imaging.segment import LesionMeasurement
from recistry.recist.model import Role
from recistry_napari._geometry import layer_transform, world_to_lps
from recistry_napari._hotspot_list import (
    HotSpotReview,
    describe_burden,
    describe_spot,
    mark_physiological,
    search_hotspots,
    unannotated,
)
from recistry_napari._layers import CT_LAYER_NAME
from recistry_napari._proposal_layers import ProposalLayers
from recistry_napari._proposals import (
    Proposal,
    ProposalSource,
    RegistrationCache,
    accept,
    follow_up_proposals,
    lesions_to_follow,
    propose_at,
)
from recistry_napari._qt._threads import GuiDelivery
from recistry_napari._reading import Axis, Line, Reading

if TYPE_CHECKING:
    from recistry_napari._qt.annotator import AnnotatorWidget

logger = logging.getLogger(__name__)

DOCK_NAME = "Proposals and hot spots"
_START_DELAY_MS = 300
"""How long a scan is shown before its registration and hot-spot search start."""


class _Bridge(QObject):
    """Carries results and progress from the worker thread to the GUI thread (queued)."""

    finished = Signal(object)
    progress = Signal(str)


class ProposalPanel(QWidget):
    """Proposals (one-click, follow-up) and the PET hot spots not yet annotated.

    Parameters
    ----------
    annotator
        The annotator whose reading, scan and commands the panel uses.
    keys
        Key of each action (shown on the buttons): ``click_segment``, ``accept_proposal``,
        ``reject_proposal``.
    """

    def __init__(self, annotator: AnnotatorWidget, keys: dict[str, str]) -> None:
        super().__init__()
        self.annotator = annotator
        self.viewer = annotator.viewer
        self.layers = ProposalLayers(
            self.viewer, self._on_edited, on_created=lambda: annotator._rearrange()
        )
        self.proposals: dict[dt.date, list[Proposal]] = {}
        self.masks: dict[tuple[dt.date, str], LesionMeasurement] = {}
        """Masks of accepted segmentations by (scan date, lesion ID), written as SEG at save."""
        self.registrations = RegistrationCache()
        self.hotspots: dict[dt.date, HotSpotReview] = {}
        self.physiology: dict[dt.date, list[PhysiologyRegion]] = {}
        self._followed: set[dt.date] = set()
        self._searched: dict[dt.date, object] = {}
        self._jobs = 0
        self._counter = itertools.count(1)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recistry-proposals")
        self._delivery = GuiDelivery()  # closed with the window: late results are dropped
        self._bridge = _Bridge(self)
        self._bridge.finished.connect(self._on_finished)
        self._bridge.progress.connect(self._on_progress)
        # Until docked (a study opened) the panel has no parent: it goes with the annotator.
        for owner in (self, annotator):
            self._delivery.close_with(owner, pools=(self._worker,))
        self.armed = False
        self._docked = False
        # Timers owned by the panel: they die with it (a lambda on a bare single shot would
        # run after the viewer closed).
        self._start_date: dt.date | None = None
        self._start_timer = QTimer(self)
        self._start_timer.setSingleShot(True)
        self._start_timer.timeout.connect(self._start_jobs)
        self._tab_timer = QTimer(self)
        self._tab_timer.setSingleShot(True)
        self._tab_timer.timeout.connect(self.show_tab)
        self._build(keys)
        self.viewer.mouse_drag_callbacks.append(self._on_mouse)

    # --- layout ------------------------------------------------------------------------------

    def _build(self, keys: dict[str, str]) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(4, 4, 4, 4)
        box = QGroupBox("Proposals (not recorded until accepted)")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(4, 4, 4, 4)
        self.segment_button = QPushButton(f"Click to segment [{keys['click_segment']}]")
        self.segment_button.setCheckable(True)
        self.segment_button.setToolTip(
            "then click inside a lesion on the CT or PET: its RECIST axes are proposed for the "
            "selected lesion (or a new one)"
        )
        self.segment_button.toggled.connect(self._set_armed)
        layout.addWidget(self.segment_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumHeight(12)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.list = QListWidget()
        self.list.setMinimumHeight(110)
        self.list.setWordWrap(True)
        self.list.itemClicked.connect(lambda _item: self._go_to_selected())
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.accept_button = QPushButton(f"Accept [{keys['accept_proposal']}]")
        self.accept_button.clicked.connect(lambda: self.accept_selected())
        self.reject_button = QPushButton(f"Reject [{keys['reject_proposal']}]")
        self.reject_button.clicked.connect(lambda: self.reject_selected())
        self.accept_all_button = QPushButton("Accept all")
        self.accept_all_button.clicked.connect(self.accept_all)
        for button in (self.accept_button, self.reject_button, self.accept_all_button):
            row.addWidget(button)
        layout.addLayout(row)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setMinimumHeight(3 * self.message.fontMetrics().lineSpacing())
        layout.addWidget(self.message)
        root.addWidget(box, 3)

        spots = QGroupBox("PET hot spots not yet annotated")
        spot_layout = QVBoxLayout(spots)
        spot_layout.setContentsMargins(4, 4, 4, 4)
        self.burden_label = QLabel("")
        self.burden_label.setWordWrap(True)
        self.burden_label.setMinimumHeight(5 * self.burden_label.fontMetrics().lineSpacing())
        spot_layout.addWidget(self.burden_label)
        self.spot_list = QListWidget()
        self.spot_list.setMinimumHeight(60)
        self.spot_list.itemClicked.connect(lambda _item: self._go_to_spot())
        spot_layout.addWidget(self.spot_list, 1)
        spot_row = QHBoxLayout()
        self.physiology_button = QPushButton("Physiological")
        self.physiology_button.setToolTip("mark this uptake as physiological: it leaves the list")
        self.physiology_button.clicked.connect(lambda: self.dismiss_spot())
        self.spot_lesion_button = QPushButton("→ Lesion")
        self.spot_lesion_button.setToolTip(
            "segment it and propose it as the selected lesion, or a new one"
        )
        self.spot_lesion_button.clicked.connect(lambda: self.spot_to_lesion())
        spot_row.addWidget(self.physiology_button)
        spot_row.addWidget(self.spot_lesion_button)
        spot_layout.addLayout(spot_row)
        root.addWidget(spots, 2)
        self._update_buttons()

    def dock(self) -> None:
        """Dock the panel on the left of the viewer (once), in a tab beside the PET MIP."""
        if self._docked:
            return
        self.viewer.window.add_dock_widget(self, name=DOCK_NAME, area="left")
        self._docked = True
        # The left column has no room for both at full height: share the MIP's tab bar.
        mip, main = self.annotator._mip, self.window()
        if mip is not None and isinstance(main, QMainWindow):
            first, second = mip.parent(), self.parent()
            if isinstance(first, QDockWidget) and isinstance(second, QDockWidget):
                main.tabifyDockWidget(first, second)
                # In front once the tab bar exists (raising it now is undone by the tabifying).
                self._tab_timer.start(0)

    def show_tab(self) -> None:
        """Bring the panel's tab to the front (proposals arrived, or the click mode is on)."""
        dock = self.parent()
        if isinstance(dock, QDockWidget):
            dock.raise_()

    # --- scan shown ---------------------------------------------------------------------------

    def attach(self) -> None:
        """Put the proposal layers on the CT shown (called when a scan is shown)."""
        images = self.annotator.images
        assert images is not None
        self.layers.attach(layer_transform(images.ct), images.ct.array.shape)

    def on_timepoint_shown(self) -> None:
        """Show this scan's proposals; start following prior lesions and the hot-spot search."""
        self.dock()
        self.redraw()
        # Started once the scan is drawn, and only if the reader stays on it (flicking through
        # scans starts nothing).
        self._start_date = self.annotator.date
        self._start_timer.start(_START_DELAY_MS)

    def _start_jobs(self) -> None:
        date = self._start_date
        if date is not None and date == self.annotator.date:
            self._start_follow_up()
            self._start_hotspots()

    def refresh(self) -> None:
        """After any edit of the reading: drop the proposals it made moot, refresh the hot-spot
        list (a lesion located there leaves it), search again when the liver sphere moved."""
        reading, date = self.annotator.reading, self.annotator.date
        if reading is not None and date is not None and self.proposals.get(date):
            tp = reading.at(date)
            ids = {les.lesion_id: les for les in tp.lesions}
            kept = [
                p
                for p in self.proposals[date]
                if p.lesion_id is None
                or (
                    p.lesion_id in ids
                    and (p.source is not ProposalSource.FOLLOW_UP or ids[p.lesion_id].pending)
                )
            ]
            if len(kept) != len(self.proposals[date]):
                self.proposals[date] = kept
                self.redraw()
        if date is not None and date in self._searched:
            self._start_hotspots()
        self._fill_spots()

    def redraw(self) -> None:
        """Draw the proposals and accepted masks of the scan shown, and list the proposals."""
        date = self.annotator.date
        if date is None:
            return
        proposals = self.proposals.get(date, [])
        accepted = [m for (d, _lesion), m in self.masks.items() if d == date]
        self.layers.show(proposals, accepted)
        selected = self._selected_key()
        self.list.clear()
        for p in proposals:
            item = QListWidgetItem(p.describe())
            item.setData(256, p.key)
            self.list.addItem(item)
            if p.key == selected:
                self.list.setCurrentItem(item)
        if self.list.currentRow() < 0 and proposals:
            self.list.setCurrentRow(0)
        self._fill_spots()

    def _update_buttons(self) -> None:
        has = self.list.count() > 0
        for button in (self.accept_button, self.reject_button, self.accept_all_button):
            button.setEnabled(has)
        spot = self.spot_list.count() > 0
        self.physiology_button.setEnabled(spot)
        self.spot_lesion_button.setEnabled(spot)

    # --- one click ----------------------------------------------------------------------------

    def toggle_armed(self) -> None:
        """Switch the click-to-segment mode on or off (key ``K``)."""
        self.segment_button.setChecked(not self.segment_button.isChecked())

    def _set_armed(self, on: bool) -> None:
        self.armed = on
        if on:
            self._activate_ct()
            self.show_tab()
            self.say("click inside a lesion on the CT or PET (the left, current scan)")

    def _activate_ct(self) -> None:
        """Leave the layer tools (line, point) so that a click reaches the segmentation."""
        self.annotator.lesions.disarm()
        self.annotator.locations.disarm()
        ct = next((la for la in self.viewer.layers if la.name == CT_LAYER_NAME), None)
        if ct is not None:
            self.viewer.layers.selection.active = ct

    def _on_mouse(self, viewer: Any, event: Any) -> Any:
        if not self.armed or event.button != 1 or self.annotator.date is None:
            return
        active = viewer.layers.selection.active
        if getattr(active, "mode", "pan_zoom") != "pan_zoom":
            return  # a layer tool has the click (drawing, moving a proposal's end point …)
        start = tuple(float(v) for v in event.position)
        dragged = False
        yield
        while event.type == "mouse_move":
            dragged = True
            yield
        if not dragged:
            point = world_to_lps(start[-3:])
            self.segment_at((float(point[0]), float(point[1]), float(point[2])))

    def segment_at(
        self, point_lps: tuple[float, float, float], source: ProposalSource = ProposalSource.CLICK
    ) -> Proposal | None:
        """Segment the lesion under ``point_lps`` and propose it for the selected lesion (or a
        new one: a target at baseline, a new lesion at a follow-up). A point that cannot be
        segmented gives one line in the dock and no proposal."""
        annotator = self.annotator
        reading, date, images = annotator.reading, annotator.date, annotator.images
        if reading is None or date is None or images is None:
            return None
        lesion = annotator._selected_lesion()
        baseline = date == reading.baseline_date
        if lesion is not None:
            lesion_id, role, nodal = lesion.lesion_id, lesion.role, lesion.nodal
        else:
            lesion_id, nodal = None, annotator.nodal_check.isChecked()
            role = Role.TARGET if baseline else Role.NEW
        try:
            proposal = propose_at(
                images,
                point_lps,
                key=self._next_key(),
                date=date,
                lesion_id=lesion_id,
                role=role,
                nodal=nodal,
                source=source,
            )
        except RecistryError as exc:
            annotator._tell(f"no lesion segmented at {_xyz(point_lps)}: {_why(exc)}")
            self.say(f"no lesion segmented there: {_why(exc)}")
            return None
        if role is not Role.TARGET:
            # Non-target and new lesions are located, not measured: the mask's centre.
            proposal = _location_only(proposal)
        kept = [
            p
            for p in self.proposals.get(date, [])
            if p.lesion_id != lesion_id or p.source is not source
        ]
        self.proposals[date] = [*kept, proposal]
        self.redraw()
        self._select_key(proposal.key)
        self.say(f"{proposal.name} proposed: accept, drag an end point, or reject")
        return proposal

    # --- accept, reject -----------------------------------------------------------------------

    def _selected_key(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(256))

    def _select_key(self, key: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item is not None and item.data(256) == key:
                self.list.setCurrentRow(row)

    def _proposal(self, key: str | None) -> Proposal | None:
        date = self.annotator.date
        if date is None:
            return None
        found = [p for p in self.proposals.get(date, []) if key is None or p.key == key]
        return found[0] if found else None

    def accept_selected(self, key: str | None = None) -> str | None:
        """Record a proposal (the selected one) as the reader's measurement, with the lines as
        they are now on the canvas; returns the lesion's ID."""
        proposal = self._proposal(key or self._selected_key())
        annotator = self.annotator
        if proposal is None or annotator.reading is None or annotator.images is None:
            self.say("no proposal to accept")
            return None
        lines = self.layers.lines(proposal.key) if proposal.long_axis is not None else {}
        # The layer holds float32 vertices: a line the reader did not move is the proposal's.
        long_axis = _unless_moved(lines.get(Axis.LONG), proposal.long_axis)
        short_axis = _unless_moved(lines.get(Axis.SHORT), proposal.short_axis)
        if proposal.long_axis is not None:
            k = self.layers.slice_of(proposal.key)
            sop = None if k is None else annotator._sop_uid(k)
        else:
            sop = annotator._sop_uid(
                round(float(annotator.images.ct.patient_to_index(proposal.location_lps)[0][0]))
            )
        try:
            reading, lesion_id = accept(
                annotator.reading,
                proposal,
                long_axis=long_axis,
                short_axis=short_axis,
                series_instance_uid=annotator.images.ct.series_instance_uid,
                sop_instance_uid=sop,
                measured_at=_now(),
                site=annotator.site_edit.text(),
            )
        except ValueError as exc:
            annotator._tell(str(exc))
            self.say(str(exc))
            return None
        adjusted = (long_axis, short_axis) != (proposal.long_axis, proposal.short_axis)
        annotator._commit(reading, f"accept proposed {lesion_id}")
        if proposal.measurement is not None and long_axis is not None:
            self.masks[(proposal.date, lesion_id)] = proposal.measurement
        self._drop(proposal)
        annotator._redraw_all()
        annotator.select_lesion(lesion_id)
        self.say(f"accepted {lesion_id}" + (" (as adjusted)" if adjusted else ""))
        return lesion_id

    def accept_all(self) -> None:
        """Accept every proposal of the scan shown."""
        date = self.annotator.date
        for proposal in list(self.proposals.get(date, [])) if date else []:
            if self.accept_selected(proposal.key) is None:
                break

    def reject_selected(self, key: str | None = None) -> None:
        """Drop a proposal (the selected one): nothing is recorded."""
        proposal = self._proposal(key or self._selected_key())
        if proposal is None:
            self.say("no proposal to reject")
            return
        self._drop(proposal)
        self.say(f"rejected the proposal for {proposal.name}")

    def _drop(self, proposal: Proposal) -> None:
        self.proposals[proposal.date] = [
            p for p in self.proposals.get(proposal.date, []) if p.key != proposal.key
        ]
        self.redraw()
        # Done with that proposal's end points: the next click segments again (when armed).
        if self.layers.shapes is not None and self.layers.shapes.mode != "pan_zoom":
            self.layers.shapes.mode = "pan_zoom"
        if self.armed:
            self._activate_ct()

    def _on_edited(self, key: str) -> None:
        lines = self.layers.lines(key)
        if Axis.LONG in lines:
            self.say(f"adjusted: long axis {lines[Axis.LONG].diameter_mm} mm (accept to record)")

    def _go_to_selected(self) -> None:
        proposal = self._proposal(self._selected_key())
        if proposal is not None:
            self.annotator.focus_view(proposal.location_lps)

    # --- follow-up ----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while a registration or hot-spot search runs."""
        return self._jobs > 0

    def _start_follow_up(self) -> None:
        annotator = self.annotator
        reading, date, images = annotator.reading, annotator.date, annotator.images
        if reading is None or date is None or images is None or date in self._followed:
            return
        followed = lesions_to_follow(reading, date)
        if not followed:
            return
        from recistry_napari._reading import previous_date

        prior_date = previous_date(reading, date)
        if prior_date is None:
            return
        prior = annotator._images(prior_date)
        self._followed.add(date)
        counter = self._next_key

        def job() -> object:
            return follow_up_proposals(
                followed,
                prior,
                images,
                date,
                self.registrations,
                keys=counter,
                progress=self._delivery.to(self._bridge.progress.emit),
            )

        self._submit("follow-up", date, job)

    def _submit(self, kind: str, date: dt.date, job: Callable[[], object]) -> None:
        if self._delivery.closed:
            return  # the window closed (the worker is shut down) before a timer ran out
        self._jobs += 1
        self.progress.setVisible(True)
        future = self._worker.submit(job)
        deliver = self._delivery.to(self._bridge.finished.emit)
        future.add_done_callback(lambda f: deliver((kind, date, f)))

    def _on_progress(self, text: str) -> None:
        self.say(text)

    def _on_finished(self, done: tuple[str, dt.date, Future[Any]]) -> None:
        kind, date, future = done
        self._jobs -= 1
        self.progress.setVisible(self._jobs > 0)
        try:
            result = future.result()
        except RecistryError as exc:
            what = "prior lesions not followed" if kind == "follow-up" else "no hot-spot search"
            self.say(f"{what}: {_why(exc)}")
            return
        except Exception as exc:  # a worker failure must not take the reading down
            logger.exception("%s of %s failed", kind, date)
            self.say(f"{kind} failed: {exc}")
            return
        if kind == "follow-up":
            proposals = list(result)
            pending = {
                les.lesion_id
                for les in self.annotator.reading.at(date).lesions  # type: ignore[union-attr]
                if les.pending
            }
            # A lesion the reader assessed meanwhile needs no proposal.
            fresh = [p for p in proposals if p.lesion_id in pending]
            self.proposals[date] = [*self.proposals.get(date, []), *fresh]
            found = sum(p.long_axis is not None for p in fresh)
            if fresh:
                self.show_tab()
            self.say(
                f"{len(fresh)} prior lesion(s) proposed on {date} ({found} measured): check "
                "each, then accept, adjust or reject"
            )
        else:
            assert isinstance(result, HotSpotReview)
            self.hotspots[date] = result
            self._fill_spots()
        if date == self.annotator.date:
            self.redraw()

    # --- hot spots ----------------------------------------------------------------------------

    def _start_hotspots(self, force: bool = False) -> None:
        annotator = self.annotator
        reading, date, images = annotator.reading, annotator.date, annotator.images
        if reading is None or date is None or images is None or images.pet is None:
            self.burden_label.setText("" if images is None else "no PET on this scan")
            return
        tp = reading.at(date)
        liver = tp.liver_center_lps
        if not force and date in self._searched and self._searched[date] == liver:
            return
        self._searched[date] = liver
        marked = tuple(self.physiology.get(date, ()))
        self.burden_label.setText("searching the PET for hot spots …")
        self._submit("hot spots", date, lambda: search_hotspots(images, tp, marked))

    def _fill_spots(self) -> None:
        date, reading = self.annotator.date, self.annotator.reading
        self.spot_list.clear()
        review = None if date is None else self.hotspots.get(date)
        if review is None or reading is None:
            self._update_buttons()
            return
        self.burden_label.setText(describe_burden(review))
        proposed = [p.location_lps for p in self.proposals.get(review.date, []) if p.lesion_id]
        for spot in unannotated(review, reading, proposed):
            item = QListWidgetItem(describe_spot(spot))
            item.setData(256, spot)
            self.spot_list.addItem(item)
        self._update_buttons()

    def unannotated_spots(self) -> list[HotSpot]:
        """The hot spots listed now, in list order."""
        out = []
        for row in range(self.spot_list.count()):
            item = self.spot_list.item(row)
            if item is not None:
                out.append(item.data(256))
        return out

    def _spot(self, row: int | None) -> HotSpot | None:
        item = self.spot_list.item(self.spot_list.currentRow() if row is None else row)
        return None if item is None else item.data(256)

    def _go_to_spot(self, row: int | None = None) -> None:
        spot = self._spot(row)
        if spot is not None:
            self.annotator.focus_view(spot.max_lps_mm)

    def go_to_spot(self, row: int) -> None:
        """Jump the views to a listed hot spot (as clicking it in the list does)."""
        self.spot_list.setCurrentRow(row)
        self._go_to_spot(row)

    def dismiss_spot(self, row: int | None = None) -> None:
        """Mark a listed hot spot as physiological uptake: it leaves the list (the search is
        redone with the region set apart, so the burden follows)."""
        spot, date = self._spot(row), self.annotator.date
        if spot is None or date is None:
            return
        self.physiology.setdefault(date, []).append(mark_physiological(spot))
        self.say(f"marked physiological: {describe_spot(spot)}")
        self._start_hotspots(force=True)

    def spot_to_lesion(self, row: int | None = None) -> Proposal | None:
        """Segment a listed hot spot and propose it (for the selected lesion, or a new one)."""
        spot = self._spot(row)
        if spot is None:
            return None
        self.annotator.focus_view(spot.max_lps_mm)
        return self.segment_at(spot.max_lps_mm, ProposalSource.HOT_SPOT)

    # --- helpers ------------------------------------------------------------------------------

    def _next_key(self) -> str:
        return f"P{next(self._counter)}"

    def say(self, text: str) -> None:
        """One line in the panel (the latest message)."""
        self.message.setText(text)
        logger.info("%s", text)

    def write_masks(self, reading: Reading, store_path: Path) -> Reading:
        """Write the accepted masks as DICOM SEG into the store (see :mod:`._masks`) and return
        the reading with each lesion's SEG reference."""
        from recistry_napari._masks import write_masks

        study = self.annotator.study
        if not self.masks or study is None:
            return reading
        dates = {date for date, _lesion in self.masks}
        volumes = {date: self.annotator._images(date).ct for date in dates}
        return write_masks(reading, study, store_path, self.masks, volumes)

    def close_worker(self) -> None:
        """Stop the worker thread (the widget is closing): queued jobs are cancelled and a
        running one's result is dropped."""
        self._delivery.close()
        self._start_timer.stop()
        self._worker.shutdown(wait=False, cancel_futures=True)


def _location_only(proposal: Proposal) -> Proposal:
    from dataclasses import replace

    return replace(proposal, long_axis=None, short_axis=None)


def _unless_moved(shown: Line | None, proposed: Line | None) -> Line | None:
    """``proposed`` when the line on the canvas is still it (within 0.001 mm), else ``shown``."""
    if shown is None or proposed is None:
        return shown
    moved = max(
        math.dist(shown.start_lps, proposed.start_lps), math.dist(shown.end_lps, proposed.end_lps)
    )
    return proposed if moved < 1e-3 else shown


def _why(exc: RecistryError) -> str:
    return str(getattr(exc, "message", "") or exc)


def _xyz(point: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.0f}" for v in point) + " mm"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
