"""recistry.batch.run_tasks: input order whatever the execution order, clear errors."""

from __future__ import annotations

import os
import time

import pytest

from recistry.batch import run_tasks
from recistry.errors import InputError


def _slow_square(n: int) -> tuple[int, int]:
    # Later items finish first, so completion order is the reverse of input order.
    time.sleep(0.02 * (5 - n))
    return n * n, os.getpid()


def test_results_come_back_in_input_order_from_worker_processes() -> None:
    results = run_tasks(_slow_square, list(range(6)), workers=2, progress=False)
    assert [r[0] for r in results] == [0, 1, 4, 9, 16, 25]
    assert os.getpid() not in {pid for _, pid in results}  # really ran in other processes


def test_one_worker_runs_in_this_process() -> None:
    results = run_tasks(_slow_square, [3, 1], workers=1, progress=False)
    assert results == [(9, os.getpid()), (1, os.getpid())]


def test_workers_below_one_is_a_usage_error() -> None:
    with pytest.raises(InputError, match="--workers must be at least 1"):
        run_tasks(_slow_square, [1], workers=0)
