"""``recistry export``: write the store's readings as DICOM SR (TID 1500) files."""

from __future__ import annotations

import argparse
from pathlib import Path

from recistry.cli._store import add_pseudonym_arguments, add_store_argument, pseudonym_key
from recistry.cli.pull import add_connection_arguments

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

With --to URL the written files (and the indexed DICOM SEG files they reference) are then
stored into a PACS with STOW-RS (DICOMweb URL) or C-STORE (dimse://AET@HOST:PORT), so a
viewer on the same archive (OHIF) shows the readings; credentials and TLS as for
'recistry pull' (docs/pacs.md).

examples:
  recistry export stored_studies/ --store trial.db
  recistry export stored_studies/ --store trial.db --to https://pacs.example.org/dicom-web
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
    parser.add_argument(
        "--to",
        metavar="URL",
        help="also store the files into this PACS: DICOMweb base URL or dimse://AET@HOST:PORT",
    )
    add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from recistry.atomic import check_output_folder
    from recistry.errors import InputError
    from recistry.pacs import parse_location, push
    from recistry.pacs.outputs import outputs_to_store
    from recistry.recist.model import AssessmentOptions
    from recistry.sr.export import export_store
    from recistry.store import Store

    destination = parse_location(args.to) if args.to else None  # a bad URL writes nothing
    if destination is not None and args.pseudonymize:
        raise InputError(
            "pseudonymised reports would be filed under another patient next to the original "
            "images; push without --pseudonymize",
            column="--to",
        )
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
    written = sum(1 for r in reports if r.path.is_file())
    print(f"wrote {written} SR files for {patients} patients to {args.out}/")
    if destination is not None:
        files = outputs_to_store(reports)
        pushed = push(destination, files, ca_bundle=args.ca_bundle, calling_aet=args.aet)
        print(f"stored {pushed.stored} files in {pushed.destination}")
    return 0
