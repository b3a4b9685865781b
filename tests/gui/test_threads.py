"""Worker results reach the GUI thread only while the window is open (a result emitted on a
Qt object deleted with the window crashed napari's exit)."""

from __future__ import annotations

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
