"""The ``recistry`` command.

Each subcommand lives in its own module of this package, which defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. The CLI never imports napari or Qt, and heavy
libraries are imported inside ``run`` so that ``recistry --help`` starts fast on a server.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import logging
import sys
import traceback
import warnings
from collections.abc import Sequence

from recistry import __version__
from recistry.errors import RecistryError

# Order shown in --help; a module that does not exist yet is skipped.
SUBCOMMANDS = (
    "rescore",
    "index",
    "pull",
    "synth",
    "import_",
    "audit",
    "export",
    "report",
    "cdisc",
    "readers",
    "adjudicate",
    "measure",
    "track",
    "hotspots",
)

# A subcommand module named with a trailing underscore (import_) avoids a Python keyword.

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recistry",
        description=(
            "Assess tumour response by RECIST 1.1 from DICOM CT/PET studies and measurement "
            "tables, and roll it up into cohort ORR, DCR and Kaplan-Meier PFS/OS."
        ),
        epilog="Run 'recistry COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"recistry {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module_name = f"recistry.cli.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        sub_parser = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    0: done. 2: a problem the user can fix (bad input, usage, an output path that cannot be
    written): one line on stderr naming the file and field, nothing written. 1: an unexpected
    failure (a bug): one line, and the traceback with ``-v``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # pydicom and highdicom log each warning as well as issuing it.
        for name in ("pydicom", "highdicom"):
            logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        if not args.verbose:
            # Library warnings (pydicom's on a non-conformant file, pandas', numpy's) are not
            # the user's to act on; the error that follows, if any, says what is wrong.
            warnings.simplefilter("ignore")
        return _run(args)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _run(args: argparse.Namespace) -> int:
    from recistry.csv_guard import csv_guard

    command = f"recistry {args.command}"
    try:
        with csv_guard(not getattr(args, "no_csv_guard", False)):
            status: int = args._run(args)
    except RecistryError as exc:
        print(f"{command}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("recistry: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        # The environment, not the input: a file vanished, a disk is full, a folder is read-only.
        if args.verbose:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{command}: error: {where}{_one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
            hint = ""
        else:
            hint = f" (rerun as 'recistry -v {args.command} ...' for the traceback)"
        print(
            f"{command}: internal error: {type(exc).__name__}: {_one_line(str(exc))}{hint}",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    return status


def entry_point() -> None:
    status = main()
    # Free what reference cycles still hold (an error's traceback frames may keep an Arrow table
    # alive) while Arrow's thread and memory pools exist: freed in the interpreter's final
    # teardown instead, Arrow can abort the process after the right message was printed
    # ("terminate called without an active exception", apache/arrow#34314).
    gc.collect()
    sys.exit(status)
