"""Worker threads' results handed to the GUI thread, until the window closes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from qtpy.QtCore import QObject


class GuiDelivery:
    """Wraps a queued signal's ``emit`` for use from worker threads (a future's done-callback,
    a progress callback): once :meth:`close` is called, or the signal's Qt object turns out to be
    deleted with the window, late results are dropped instead of emitted.

    An emit and :meth:`close` exclude each other (a lock): once ``close`` has returned on the GUI
    thread, no worker is inside an emit, so the signal's object can be deleted. Emitting on an
    object that the GUI thread deletes at that moment crashed the interpreter (a segmentation
    fault in ``emit``, seen when a test's hidden viewer closed while a proposal search ran).
    """

    def __init__(self) -> None:
        self.closed = False
        self._lock = threading.RLock()  # re-entrant: a direct (same-thread) emit may close

    def close(self) -> None:
        with self._lock:
            self.closed = True

    def close_with(self, owner: QObject, pools: Iterable[ThreadPoolExecutor] = ()) -> None:
        """Close when ``owner`` is destroyed, however its window closed (shown or not), and
        cancel the jobs queued on ``pools``: Qt emits ``destroyed`` before it deletes the
        owner's children, the objects whose signals this delivers on."""
        pools = tuple(pools)

        def stop(*_args: object) -> None:
            self.close()
            for pool in pools:
                pool.shutdown(wait=False, cancel_futures=True)

        owner.destroyed.connect(stop)

    def to(self, emit: Callable[[Any], None]) -> Callable[[Any], None]:
        def deliver(payload: Any) -> None:
            with self._lock:
                if self.closed:
                    return
                try:
                    emit(payload)
                except RuntimeError:  # "wrapped C/C++ object ... has been deleted"
                    self.closed = True

        return deliver
