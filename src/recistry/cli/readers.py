"""``recistry readers``: independent reads side by side, adjudication needs and reader agreement."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recistry.cli._store import add_batch_arguments, available_cpus
from recistry.errors import InputError

NAME = "readers"
HELP = "compare independent readers' reads: who needs adjudication, and their agreement"
DESCRIPTION = """\
Score every reader's read of every patient in a study store (RECIST 1.1) and show, per patient,
each reader's best overall response, progression date and baseline targets; the patients that
need adjudication and the rule that sends them (different best response, progression dates more
than --pd-window days apart or by one reader only, different baseline targets); and the readers'
agreement: Cohen's kappa of best response with its 95% interval, the adjudication rate, the early
and late discrepancy rates of progression (the FDA's BICR audit measures), and Bland-Altman bias
and limits and ICC(2,1) of the baseline sums. docs/readers.md describes the workflow.

examples:
  recistry readers trial.db
  recistry readers trial.db --format html --out readers.html
  recistry readers trial.db --format json --pd-window 42
"""

MAX_PATIENT_ROWS = 1000
"""--format table lists every patient up to this many; beyond, only those needing adjudication."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", metavar="STORE", type=Path, help="study store (SQLite file)")
    parser.add_argument(
        "--format",
        choices=("table", "json", "html"),
        default="table",
        help="what to write (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="write to FILE instead of standard output"
    )
    parser.add_argument(
        "--pd-window",
        type=int,
        default=28,
        metavar="DAYS",
        help="progression dates further apart need adjudication (default: %(default)s)",
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="compare confirmed best responses (RECIST Table 3; default: unconfirmed)",
    )
    add_batch_arguments(
        parser,
        unit="patient",
        workers_help="readers' reads loaded and scored at once, one process each (default: one "
        "per CPU available)",
    )


def run(args: argparse.Namespace) -> int:
    from recistry.cohort.readers import compare_readers
    from recistry.cohort.readers_output import html_page, json_text, table_text
    from recistry.recist.model import AssessmentOptions
    from recistry.store import is_store_file
    from recistry.store.adjudication import load_reader_reads

    if args.pd_window < 0:
        raise InputError("--pd-window must be 0 or more days", column="--pd-window")
    if not is_store_file(args.store):
        raise InputError(
            "not a study store (make one with 'recistry import')", path=str(args.store)
        )
    reads, adjudicated = load_reader_reads(
        args.store,
        AssessmentOptions(confirm=args.confirm),
        workers=available_cpus() if args.workers is None else args.workers,
        dask_address=args.dask,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    comparison = compare_readers(reads, pd_window_days=args.pd_window, adjudicated=adjudicated)
    if args.format == "json":
        text = json_text(comparison)
    elif args.format == "html":
        text = html_page(comparison, source=str(args.store))
    else:
        text = table_text(comparison, max_patients=MAX_PATIENT_ROWS)
    if args.out is None:
        sys.stdout.write(text)
    else:
        from recistry.cohort.readers_output import write_atomic

        write_atomic(args.out, text)
        print(f"written to {args.out}", file=sys.stderr)
    return 0
