"""Worker results reach the GUI thread only while the window is open (a result emitted on a
Qt object deleted with the window crashed napari's exit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recistry_napari._qt._threads import GuiDelivery


def test_results_after_close_or_after_the_qt_object_is_gone_are_dropped() -> None:
    got: list[object] = []
    delivery = GuiDelivery()
    deliver = delivery.to(got.append)
    deliver(1)
    delivery.close()
    deliver(2)
    assert got == [1]

    def deleted(_payload: object) -> None:
        got.append("tried")
        raise RuntimeError("wrapped C/C++ object of type _Bridge has been deleted")

    other = GuiDelivery()
    gone = other.to(deleted)
    gone(3)  # no exception reaches the worker thread
    gone(4)
    assert got == [1, "tried"] and other.closed


def test_close_waits_for_an_emit_in_progress() -> None:
    # Once close() has returned, no worker is inside an emit: the signal's object may go.
    import threading

    inside, release = threading.Event(), threading.Event()

    def slow_emit(_payload: object) -> None:
        inside.set()
        release.wait(5)

    delivery = GuiDelivery()
    worker = threading.Thread(target=delivery.to(slow_emit), args=(1,))
    worker.start()
    assert inside.wait(5)
    closer = threading.Thread(target=delivery.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive() and not delivery.closed
    release.set()
    closer.join(5)
    worker.join(5)
    assert delivery.closed


def test_deleting_the_owner_closes_the_delivery_and_cancels_queued_jobs(qtbot: Any) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from qtpy.QtCore import QObject

    owner = QObject()
    delivery = GuiDelivery()
    pool = ThreadPoolExecutor(max_workers=1)
    delivery.close_with(owner, pools=(pool,))
    release = threading.Event()
    running = pool.submit(release.wait, 5)
    queued = pool.submit(lambda: "never run")
    got: list[object] = []
    deliver = delivery.to(got.append)
    running.add_done_callback(deliver)
    owner.deleteLater()
    qtbot.waitUntil(lambda: delivery.closed, timeout=2000)
    release.set()
    assert running.result(5) is True
    assert queued.cancelled() and got == []
    pool.shutdown()


def test_a_hidden_viewer_closed_closes_both_deliveries(
    make_napari_viewer: Callable[..., Any], qtbot: Any
) -> None:
    # Hidden viewers never show the dock, so the close guard (installed when shown) never ran:
    # a proposal search finishing after such a viewer closed emitted on its deleted bridge.
    from recistry_napari._qt.annotator import AnnotatorWidget

    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget, name="RECIST annotator")
    deliveries = (widget._delivery, widget.proposal_panel._delivery)
    assert not any(d.closed for d in deliveries)
    viewer.close()
    qtbot.waitUntil(lambda: all(d.closed for d in deliveries), timeout=5000)


def test_an_uptake_queued_when_the_window_closes_is_dropped(
    make_napari_viewer: Callable[..., Any], qtbot: Any
) -> None:
    # The uptake of an edit starts a moment after it; a window closed meanwhile has shut its
    # pools down, and submitting to one from the timer raised in a Qt slot.
    from pathlib import Path

    from recistry.recist.model import Role
    from recistry_napari._qt.annotator import AnnotatorWidget

    sample = Path(__file__).resolve().parents[2] / "sample_dicom" / "demo_patient" / "SYN1-001"
    viewer = make_napari_viewer()
    widget = AnnotatorWidget(viewer)
    viewer.window.add_dock_widget(widget, name="RECIST annotator")
    widget.open_study(sample)
    lesion_id = widget.add_lesion(Role.TARGET, "liver")
    assert widget.date is not None
    widget._measure_uptake_later(widget.date, lesion_id)
    widget.stop_background_work()  # what closing the window does
    qtbot.wait(600)
    assert not widget._uptake_jobs
    widget.dirty = False
