"""The ``recistry`` command.

Each subcommand lives in its own module of this package, which defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. The CLI never imports napari or Qt, and heavy
libraries are imported inside ``run`` so that ``recistry --help`` starts fast on a server.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
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
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 bad input or usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        status: int = args._run(args)
    except RecistryError as exc:
        print(f"recistry {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("recistry: interrupted", file=sys.stderr)
        return 130
    return status


def entry_point() -> None:
    sys.exit(main())
