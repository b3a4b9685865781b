"""``recistry export``: write the store's readings as DICOM SR (TID 1500) files."""

from __future__ import annotations

import argparse
from pathlib import Path

from recistry.cli._store import add_pseudonym_arguments, add_store_argument, pseudonym_key

NAME = "export"
HELP = "write every reader's scan readings as DICOM SR (TID 1500) measurement reports"
DESCRIPTION = """\
Write one TID 1500 measurement report (Comprehensive 3D SR) per reader per scan into OUT, as
OUT/<patient>/<YYYYMMDD>/<reader>.dcm. Each report references the CT images measured on (they
must be in the store's DICOM index: run 'recistry index ROOT --store S' first), carries the
lesions' tracking UIDs, long and short axes with their endpoints, SUVs, Krenning scores and the
RECIST call of the scan. Exporting the same store twice gives identical files.

examples:
  recistry export stored_studies/ --store trial.db
  RECISTRY_PSEUDONYM_KEY=... recistry export shared/ --store trial.db --pseudonymize
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", type=Path, help="output folder")
    add_store_argument(parser)
    parser.add_argument("--reader", metavar="NAME", help="export only this reader's readings")
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="score the responses written in the reports with RECIST confirmation",
    )
    add_pseudonym_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from recistry.recist.model import AssessmentOptions
    from recistry.sr.export import export_store
    from recistry.store import Store

    key = pseudonym_key(args)
    with Store(args.store, create=False) as store:
        reports = export_store(
            store,
            args.out,
            reader=args.reader,
            key=key,
            options=AssessmentOptions(confirm=args.confirm),
        )
    patients = len({r.patient for r in reports})
    print(f"wrote {len(reports)} SR files for {patients} patients to {args.out}/")
    return 0
