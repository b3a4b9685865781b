"""Worker threads' results handed to the GUI thread, until the window closes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class GuiDelivery:
    """Wraps a queued signal's ``emit`` for use from worker threads (a future's done-callback,
    a progress callback): once :meth:`close` is called, or the signal's Qt object turns out to be
    deleted with the window, late results are dropped instead of emitted."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def to(self, emit: Callable[[Any], None]) -> Callable[[Any], None]:
        def deliver(payload: Any) -> None:
            if self.closed:
                return
            try:
                emit(payload)
            except RuntimeError:  # "wrapped C/C++ object ... has been deleted"
                self.closed = True

        return deliver
