"""Benchmark: SIGKILL at random moments of import, report and export, N times each.

Runs the loop of ``tests/test_kill.py`` (which runs it 6 times per command in ``make test``)
with more kills, and prints how many landed mid-run and that every promise held: stores pass
``PRAGMA integrity_check`` with each import wholly present or absent, output folders are absent
or whole (completion marker, every file), nothing is left beside a target after the next run.
An assertion error means a promise broke.

Usage: python bench/bench_kill.py [--kills 34]   (34 x 3 commands = 102 kills)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tests.test_kill import kill_loop, tally_line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=34, help="kills per command")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        tally = kill_loop(Path(folder), args.kills, seed=2026)
    seconds = time.perf_counter() - start
    killed = sum(tally.killed.values())
    runs = sum(tally.runs.values())
    print(tally_line(tally))
    print(f"{killed} of {runs} runs killed mid-run; every promise held; {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
