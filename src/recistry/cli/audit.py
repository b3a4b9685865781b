"""``recistry audit``: every measurement behind a patient's RECIST calls, with its history."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recistry.cli._store import add_pseudonym_arguments, add_store_argument, pseudonym_key

NAME = "audit"
HELP = "show the measurements, revisions and reasons behind one patient's response calls"
DESCRIPTION = """\
Show, scan by scan, every measurement in force for PATIENT (value, state, reader, time, the image
measured on and the file that holds it, the axis endpoints in patient mm) with its revision
history (who changed what, when, old -> new), the sums, the nadir and the reasons of each
response call. --format html writes one self-contained file.

examples:
  recistry audit P001 --store trial.db
  recistry audit P001 --store trial.db --format html --out P001-audit.html
  recistry audit P001 --store trial.db --reader dr_jones --format json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patient", metavar="PATIENT", help="patient ID")
    add_store_argument(parser)
    parser.add_argument(
        "--reader", metavar="NAME", help="audit this reader's read (default: the accepted read)"
    )
    parser.add_argument(
        "--format",
        choices=("table", "json", "html"),
        default="table",
        help="output format (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, metavar="FILE", help="write to FILE instead of standard output"
    )
    parser.add_argument(
        "--confirm", action="store_true", help="score with RECIST confirmation (Table 3)"
    )
    add_pseudonym_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from recistry.atomic import check_output_file, write_text_atomic
    from recistry.recist.model import AssessmentOptions
    from recistry.store import Store
    from recistry.store.audit import audit_json, patient_audit, render_html, render_text

    key = pseudonym_key(args)
    if args.out is not None:
        check_output_file(args.out)  # before any work
    with Store(args.store, readonly=True) as store, store.snapshot():
        document = patient_audit(
            store,
            args.patient,
            reader=args.reader,
            options=AssessmentOptions(confirm=args.confirm),
            key=key,
        )
    render = {"table": render_text, "json": audit_json, "html": render_html}[args.format]
    text = render(document)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(args.out, text)
        print(f"audit of {document['patient_id']} written to {args.out}", file=sys.stderr)
    return 0
