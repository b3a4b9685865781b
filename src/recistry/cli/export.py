"""``recistry export``: write the store's readings as DICOM SR (TID 1500) files."""

from __future__ import annotations

import argparse
from pathlib import Path

from recistry.cli._store import add_pseudonym_arguments, add_store_argument, pseudonym_key

NAME = "export"
HELP = "write every reader's scan readings as DICOM SR (TID 1500) measurement reports"
DESCRIPTION = """\
Write one TID 1500 measurement report (Comprehensive 3D SR) per reader per scan into OUT, as
OUT/<patient>/<YYYYMMDD>/<reader>-<hash>.dcm (the hash tells apart readers whose names look
alike). OUT is built beside itself and swapped in whole when complete (it then holds a
.recistry-complete marker); it must be a new or empty folder or an earlier export. Each report
references the CT images measured on (they must be in the store's DICOM index: run 'recistry
index ROOT --store S' first), carries the lesions' tracking UIDs, long and short axes with their
endpoints, SUVs, Krenning scores and the RECIST call of the scan. Exporting the same store twice
gives identical files. --pseudonymize applies the DICOM PS3.15 Basic Confidentiality Profile
with modified dates (docs/security.md).

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
    from recistry.atomic import check_output_folder
    from recistry.recist.model import AssessmentOptions
    from recistry.sr.export import export_store
    from recistry.store import Store

    key = pseudonym_key(args)
    check_output_folder(args.out)  # before any work
    with Store(args.store, readonly=True) as store:
        reports = export_store(
            store,
            args.out,
            reader=args.reader,
            key=key,
            options=AssessmentOptions(confirm=args.confirm),
            as_folder=True,
        )
    patients = len({r.patient for r in reports})
    files = sum(1 for r in reports if r.path.is_file())
    print(f"wrote {files} SR files for {patients} patients to {args.out}/")
    return 0
