"""Options shared by the commands that use a study store (kept light: no heavy imports)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_STORE = Path("recistry.db")
"""The store used without ``--store``: ``recistry.db`` in the working folder."""


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_STORE,
        metavar="PATH",
        help="study store (SQLite file; default: %(default)s in the working folder)",
    )


def add_batch_arguments(
    parser: argparse.ArgumentParser, unit: str = "study", *, workers_help: str | None = None
) -> None:
    """``--workers``, ``--dask`` and ``--no-progress``; ``unit`` is what one task handles.

    With ``workers_help`` (a command whose default is not one process) ``--workers`` has that
    help and defaults to ``None``, which the command resolves (e.g. with :func:`available_cpus`).
    """
    parser.add_argument(
        "--workers",
        type=int,
        default=None if workers_help else 1,
        metavar="N",
        help=workers_help or f"local processes, one {unit} per task (default: %(default)s)",
    )
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help=f"run the per-{unit} tasks on an existing Dask cluster (e.g. tcp://host:8786)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="do not show the progress bar on stderr"
    )


def add_pseudonym_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pseudonymize",
        action="store_true",
        help="replace patient names and IDs by a keyed hash (HMAC-SHA-256)",
    )
    parser.add_argument(
        "--key-file",
        type=Path,
        metavar="FILE",
        help="the pseudonymisation key (≥ 16 bytes); default: $RECISTRY_PSEUDONYM_KEY",
    )


def pseudonym_key(args: argparse.Namespace) -> bytes | None:
    """The key when ``--pseudonymize`` is given, else ``None``."""
    if not args.pseudonymize:
        return None
    from recistry.store.privacy import load_key

    return load_key(args.key_file)


def add_csv_guard_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-csv-guard``: write CSV cells as they are (see :mod:`recistry.csv_guard`)."""
    parser.add_argument(
        "--no-csv-guard",
        action="store_true",
        help="write CSV text cells as they are; by default a cell starting with = + - @ (not a "
        "number) gets a leading ' so that spreadsheets do not run it as a formula",
    )


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
