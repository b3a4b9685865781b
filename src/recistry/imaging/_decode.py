"""Decoding compressed (encapsulated) pixel data, in parallel across cores.

The decoders (pylibjpeg's libjpeg and openjpeg plugins, pyjpegls) hold Python's global
interpreter lock while they decode, so threads do not decode two frames at once: frames are
decoded in worker processes, a few frames of one file per task, and only the decoded frames come
back. The pool is started once per process and reused by every load. Workers are forked where
the platform can (Linux): a fork starts in milliseconds and never re-imports the caller's
``__main__``, so a script calling the loaders at top level, without an
``if __name__ == "__main__"`` guard, works; elsewhere they are spawned (and such scripts need
the guard, as with any use of multiprocessing there). The forked workers only run the decoders.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt
import pydicom

logger = logging.getLogger(__name__)

#: Frames per task sent to a worker process: small enough that finished frames waiting to be
#: copied into the volume stay a few MB, large enough that a multi-frame file is parsed rarely.
FRAMES_PER_TASK = 8
#: Below this many compressed frames a series is decoded in the calling process (starting the
#: workers would cost more than it saves).
PARALLEL_FROM_FRAMES = 24


@dataclass(frozen=True, slots=True)
class FrameRequest:
    """One frame to decode: its file, 0-based frame index (``None`` for a single-frame file)
    and the file's transfer syntax (used when the file has no file meta information)."""

    path: str
    frame: int | None
    transfer_syntax_uid: str


class DecodeFailure(Exception):
    """A frame could not be decoded; ``index`` is its position in the request list."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(index, reason)  # both in args: it is pickled back from the workers
        self.index = index
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def decode_frames(requests: Sequence[FrameRequest], first_index: int = 0) -> list[npt.NDArray[Any]]:
    """Decode ``requests`` in order (the stored values, BitsStored applied, not rescaled).

    Frames of one multi-frame file that follow each other are decoded from one parse of it.

    Raises
    ------
    DecodeFailure
        For the first frame that cannot be decoded.
    """
    out: list[npt.NDArray[Any]] = []
    i = 0
    while i < len(requests):
        request = requests[i]
        j = i + 1
        if request.frame is not None:
            while j < len(requests) and requests[j].path == request.path:
                j += 1
        try:
            out.extend(_decode_file(requests[i:j]))
        except Exception as exc:  # pydicom and the plugins raise many types
            raise DecodeFailure(first_index + i, f"{type(exc).__name__}: {exc}") from None
        i = j
    return out


def _decode_file(requests: Sequence[FrameRequest]) -> Iterator[npt.NDArray[Any]]:
    from pydicom.pixels.utils import iter_pixels, pixel_array
    from pydicom.uid import UID

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = requests[0]
        if first.frame is not None:
            try:
                indices = [r.frame for r in requests if r.frame is not None]
                yield from iter_pixels(first.path, indices=indices)
                return
            except AttributeError:
                pass  # no file meta information: decode from the data set below
        ds = pydicom.dcmread(first.path, force=True)
        if "TransferSyntaxUID" not in ds.file_meta:
            # A bare data set: pydicom inferred its encoding while reading (PS3.5 §10.1).
            ds.file_meta.TransferSyntaxUID = UID(first.transfer_syntax_uid)
        for r in requests:
            yield pixel_array(ds, index=r.frame)


def _decode_task(requests: Sequence[FrameRequest], first_index: int) -> list[npt.NDArray[Any]]:
    return decode_frames(requests, first_index)


_pool: ProcessPoolExecutor | None = None
_pool_workers = 0
_pool_lock = threading.Lock()


def worker_count(frames: int) -> int:
    """Worker processes worth starting for ``frames`` compressed frames (0: decode here)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not cores or cores < 2 or frames < PARALLEL_FROM_FRAMES:
        return 0
    return min(cores, 8, frames // FRAMES_PER_TASK)


def _context() -> multiprocessing.context.BaseContext:
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _executor(workers: int) -> Executor:
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context())
            _pool_workers = workers
        return _pool


def shutdown_workers(*, wait: bool = False) -> None:
    """Stop the decoding worker processes (they are started again when needed)."""
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=wait, cancel_futures=True)
        _pool, _pool_workers = None, 0


atexit.register(shutdown_workers)


def decode_in_parallel(
    requests: Sequence[FrameRequest],
) -> Iterator[tuple[int, npt.NDArray[Any]]]:
    """``(position, stored values)`` for every request, in request order; in worker processes
    when there are enough frames to gain from them.

    Raises
    ------
    DecodeFailure
        For the first frame (in request order) that cannot be decoded.
    """
    workers = worker_count(len(requests))
    if workers == 0:
        yield from enumerate(decode_frames(requests))
        return
    pool = _executor(workers)
    starts = iter(range(0, len(requests), FRAMES_PER_TASK))
    # At most two tasks per worker in flight, and a finished task dropped once its frames are
    # handed on, so decoded frames waiting in this process stay a few MB whatever the series.
    in_flight: deque[tuple[int, Future[list[npt.NDArray[Any]]]]] = deque()

    def submit_next() -> None:
        start = next(starts, None)
        if start is not None:
            chunk = requests[start : start + FRAMES_PER_TASK]
            in_flight.append((start, pool.submit(_decode_task, chunk, start)))

    for _ in range(2 * workers):
        submit_next()
    try:
        while in_flight:
            start, future = in_flight.popleft()
            try:
                frames = future.result()
            except BrokenProcessPool:
                shutdown_workers()  # a worker died (a decoder crashed): start afresh next time
                count = min(FRAMES_PER_TASK, len(requests) - start)
                raise DecodeFailure(
                    start,
                    f"the decoding worker process died on this frame or one of the {count - 1} "
                    "after it in volume order (a decoder crash on damaged data?)",
                ) from None
            del future
            submit_next()
            for offset, frame in enumerate(frames):
                yield start + offset, frame
    finally:
        for _, pending in in_flight:
            pending.cancel()
