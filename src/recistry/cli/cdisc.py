"""``recistry cdisc``: SDTM TU/TR/RS and ADaM ADRS/ADTR/ADTTE as SAS transport and CSV."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from recistry._gc import cyclic_gc_paused
from recistry.cli._store import add_batch_arguments, available_cpus
from recistry.errors import InputError

NAME = "cdisc"
HELP = "write CDISC SDTM (TU, TR, RS) and ADaM (ADRS, ADTR, ADTTE) datasets as .xpt and .csv"
DESCRIPTION = """\
Score every patient by RECIST 1.1 (as 'recistry rescore' does) and write into --out DIR, as SAS
transport v5 (.xpt) and CSV:

  tu, tr, rs              SDTM tumour identification, tumour results, responses (TAUG-Oncology;
                          RSCAT "RECIST 1.1", and "iRECIST" with --irecist)
  adrs, adtr, adtte       ADaM overall response per visit and BOR/confirmed BOR, sums of diameters
                          with change from baseline and nadir, PFS / OS / duration of response
  define.csv              name, label, type, length, codelist and source of every variable

PATH is anything 'recistry rescore' accepts. The transport files are written by as many processes
as there are CPUs available (pyreadstat's writing is most of the work; the files are
independent); the patients are scored in this process. --workers N: N processes score and N
write; --workers 1: all in this process. The folder is written all or nothing (a temporary folder
renamed into place); an earlier delivery in DIR is replaced. docs/cdisc.md describes every
variable.

examples:
  recistry cdisc measurements.csv --clinical clinical.csv --study-id LUT-2024 --out sdtm/
  recistry cdisc trial.db --out sdtm/
  recistry cdisc measurements.csv --clinical clinical.csv --irecist --out sdtm/
"""

STUDY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", type=Path, help="what rescore accepts")
    parser.add_argument(
        "--clinical",
        type=Path,
        metavar="CSV",
        help="clinical table (treatment start, follow-up, death); a store uses its own",
    )
    parser.add_argument(
        "--reader", metavar="NAME", help="with a store: this reader's read, not the accepted one"
    )
    parser.add_argument(
        "--study-id",
        default="RECISTRY",
        metavar="ID",
        help="STUDYID of every record (default: %(default)s)",
    )
    parser.add_argument(
        "--confirm-days",
        type=int,
        default=28,
        metavar="N",
        help="minimum days between a response and its confirmation, for CBOR (default: 28)",
    )
    parser.add_argument(
        "--sd-min-days",
        type=int,
        default=42,
        metavar="N",
        help="minimum days from treatment start for SD to count (default: %(default)s)",
    )
    parser.add_argument(
        "--irecist",
        action="store_true",
        help="also score by iRECIST: RS records with RSCAT iRECIST, ADRS IOVR/IBOR/ICPD/IUPD",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", required=True, help="output folder")
    add_batch_arguments(
        parser,
        unit="patient",
        workers_help="processes that score the patients and write the transport files (default: "
        "score in this process, write with one process per CPU available)",
    )


def run(args: argparse.Namespace) -> int:
    from recistry.cdisc import StudyContext, build_datasets, write_datasets
    from recistry.recist.model import AssessmentOptions
    from recistry.scoring import load_records, score, score_irecist

    if not STUDY_ID.match(args.study_id):
        raise InputError(
            f"'{args.study_id}' is not a study identifier (letters, digits, '_', '.', '-'; "
            "at most 40 characters)",
            column="--study-id",
        )
    for name in ("confirm_days", "sd_min_days"):
        if getattr(args, name) < 0:
            raise InputError(f"--{name.replace('_', '-')} must be 0 or more days")
    options = AssessmentOptions(confirm_days=args.confirm_days, sd_min_days=args.sd_min_days)
    with cyclic_gc_paused():
        records = load_records(args.path, args.clinical, args.reader)
        scorers = 1 if args.workers is None else args.workers
        assessments = score(records, options, workers=scorers, dask_address=args.dask)
        irecist = None
        if args.irecist:
            from recistry.recist.irecist import IRecistOptions

            i_options = IRecistOptions(recist=options)
            irecist = {
                a.patient_id: a
                for a in score_irecist(records, i_options, workers=scorers, dask_address=args.dask)
            }
    adjudicated = _adjudicated(args.path, args.reader)
    context = StudyContext(args.study_id, adjudicated, irecist)
    datasets = build_datasets(records, assessments, context)
    writers = available_cpus() if args.workers is None else args.workers
    written = write_datasets(datasets, args.out, workers=writers)
    counts = ", ".join(f"{name} {len(cols['STUDYID']):,}" for name, cols in datasets.items())
    note = f"; adjudicated: {len(adjudicated)} of {len(records)} patients" if adjudicated else ""
    print(f"{len(written)} files written to {args.out}/ (records: {counts}){note}", file=sys.stderr)
    return 0


def _adjudicated(path: Path, reader: str | None) -> frozenset[str]:
    """Patients whose read in use was chosen by adjudication (none for a table or --reader)."""
    from recistry.store.adjudication import adjudicated_patients

    return adjudicated_patients(path, reader)
