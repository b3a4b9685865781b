"""Pausing Python's cyclic garbage collector around bulk work."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["cyclic_gc_paused"]


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Run a block with the cyclic garbage collector paused (and restored as it was after).

    Loading, scoring and writing a large cohort make millions of small objects and no reference
    cycles: every full collection would only walk them, and every record already loaded, again
    (a fifth to a third of the CPU time for 10,000 patients). Reference counting still frees
    everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
