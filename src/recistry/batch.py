"""Running independent tasks in parallel, locally or on a Dask cluster, with a progress bar.

The unit of work is chosen by the caller (recistry uses one study per task). Results come back in
the order of the inputs whichever way the tasks ran, so a batch gives identical output with one
process, N processes or a Dask cluster. A task should return its failure as a value rather than
raise, so that one bad study is reported and the others go on.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from recistry.errors import InputError

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def progress_bar(enabled: bool) -> Progress:
    """The progress bar of long work, on stderr; hidden when not ``enabled``."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


def run_tasks(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int = 1,
    dask_address: str | None = None,
    label: str = "working",
    progress: bool = True,
) -> list[R]:
    """Apply ``fn`` to every item and return the results in input order.

    Parameters
    ----------
    fn
        A module-level function (it is pickled to other processes).
    items
        The tasks' inputs (picklable).
    workers
        Local processes; 1 runs in this process.
    dask_address
        Scheduler address of an existing Dask distributed cluster (e.g. ``tcp://host:8786``);
        overrides ``workers``.
    label
        Shown before the progress bar (on stderr).
    progress
        Show the progress bar.

    Raises
    ------
    InputError
        ``workers`` is below 1, or the Dask scheduler cannot be reached.
    """
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    results: list[R | None] = [None] * len(items)
    with progress_bar(progress) as bar:
        task = bar.add_task(label, total=len(items))
        if dask_address is not None:
            _run_dask(fn, items, dask_address, results, lambda: bar.advance(task))
        elif workers == 1 or len(items) <= 1:
            for i, item in enumerate(items):
                results[i] = fn(item)
                bar.advance(task)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.advance(task)
    return results  # type: ignore[return-value]


def _run_dask(
    fn: Callable[[T], R],
    items: Sequence[T],
    address: str,
    results: list[R | None],
    advance: Callable[[], None],
) -> None:
    try:
        # Typed as Any: distributed's API is untyped, and it is an optional dependency.
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise InputError(
            "--dask needs the 'distributed' package: pip install 'recistry[dask]'"
        ) from None
    try:
        client = distributed.Client(address, timeout="10s")
    except OSError as exc:
        raise InputError(
            f"cannot reach the Dask scheduler at {address}: {exc}", column="--dask"
        ) from None
    try:
        # pure=False: two equal inputs are still two tasks (each study is its own work).
        futures = client.map(fn, list(items), pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        for future in distributed.as_completed(futures):
            results[index[future.key]] = future.result()
            advance()
    finally:
        client.close()
