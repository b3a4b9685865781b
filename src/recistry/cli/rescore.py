"""``recistry rescore``: score measurements by RECIST 1.1 and summarise the cohort."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recistry.cli._store import add_batch_arguments, add_csv_guard_argument

if TYPE_CHECKING:  # imported lazily at run time: `recistry --help` stays fast
    from typing import TextIO

    from rich.console import Console

    from recistry.recist.irecist import IRecistOptions
    from recistry.recist.model import AssessmentOptions, PatientAssessment, PatientRecord
    from recistry.results import Assessment
    from recistry.scoring import TableChunks


NAME = "rescore"
HELP = "score a measurement table (or stored studies) by RECIST 1.1"
DESCRIPTION = """\
Score every patient by RECIST 1.1: each follow-up time point (target, non-target, new lesions,
overall response, with the numbers and rule behind each call), best overall response, progression
date, PFS and OS, and the cohort ORR, DCR and Kaplan-Meier medians.

PATH is a measurement table (CSV or Parquet; columns in docs/tables.md), a study store made by
'recistry import' (SQLite; each patient's accepted read, or --reader), or a folder tree of DICOM
SR (TID 1500) files.

examples:
  recistry rescore measurements.csv --clinical clinical.csv
  recistry rescore measurements.csv --confirm --format json > results.json
  recistry rescore measurements.csv --clinical clinical.csv --by who_grade --out results/
  recistry rescore recistry.db --reader dr.smith
  recistry rescore sample_dicom/demo_patient/sr/
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        metavar="PATH",
        type=Path,
        help="measurement table (CSV/Parquet), study store (SQLite) or folder of DICOM SR files",
    )
    parser.add_argument(
        "--reader",
        metavar="NAME",
        help="with a store: score this reader's read instead of each patient's accepted read",
    )
    parser.add_argument(
        "--clinical",
        type=Path,
        metavar="CSV",
        help="clinical table: patient_id, treatment_start, last_followup, death_date, covariates "
        "(without it the baseline scan is the origin and OS is null)",
    )
    parser.add_argument(
        "--criteria",
        choices=("recist1.1", "irecist"),
        default="recist1.1",
        help="RECIST 1.1, or iRECIST (Seymour et al. 2017: iUPD confirmed as iCPD at the next "
        "assessment; docs/irecist.md) (default: %(default)s)",
    )
    parser.add_argument(
        "--policy",
        metavar="NAME|FILE.toml",
        help="policy profile: every protocol choice (confirmation, SD minimum, node rules, PFS "
        "censoring …); built-in recist1.1 (default), recist1.1-confirmed, "
        "recist1.1-fda-sensitivity, recist1.1-legacy, or a TOML file (docs/recist-rules.md)",
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="shorthand: confirmation on (best response by RECIST Table 3: CR and PR need "
        "confirmation)",
    )
    parser.add_argument(
        "--confirm-days",
        type=int,
        metavar="N",
        help="shorthand: minimum days between a response and its confirmation (profile default 28)",
    )
    parser.add_argument(
        "--sd-min-days",
        type=int,
        metavar="N",
        help="shorthand: minimum days from treatment start for SD to count (profile default 42)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="treat baseline selection breaches (>5 targets, >2 per organ, too small) as errors",
    )
    parser.add_argument(
        "--by",
        action="append",
        default=[],
        metavar="COLUMN",
        help="add ORR/DCR subgroups per value of a clinical column, or 'name=column==value' "
        "(repeatable)",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="what to print on stdout (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="also write patients.csv, timepoints.csv and results.json into DIR",
    )
    add_csv_guard_argument(parser)
    parser.add_argument(
        "--require-krenning",
        type=int,
        metavar="GRADE",
        choices=range(5),
        help="exclude (and list on stderr) patients without a baseline lesion of this Krenning "
        "grade or more (the seed study's rule is 3)",
    )
    add_batch_arguments(parser, unit="patient")


def run(args: argparse.Namespace) -> int:
    from recistry.recist.irecist import IRecistOptions
    from recistry.results import (
        IRECIST_PATIENT_COLUMNS,
        PATIENT_COLUMNS,
        PRETTY_JSON_MAX_PATIENTS,
        build_document,
        csv_text,
        dumps,
        patient_rows,
        write_outputs,
    )
    from recistry.scoring import load_records, options_with, score, score_irecist, table_chunks

    options = options_with(
        args.policy,
        confirm=True if args.confirm else None,
        confirm_days=args.confirm_days,
        sd_min_days=args.sd_min_days,
        strict=True if args.strict else None,
    )
    from recistry.cohort.summary import Subgroup

    for spec in args.by:  # a malformed --by is refused before any work
        Subgroup.parse(spec)
    if args.out is not None:
        from recistry.atomic import check_output_folder_writable

        check_output_folder_writable(args.out)
    progress = not args.no_progress and sys.stderr.isatty()
    batch = {"workers": args.workers, "dask_address": args.dask, "progress": progress}
    irecist = IRecistOptions(recist=options) if args.criteria == "irecist" else None
    # recistry.cohort.krenning: the inclusion rule and the 'krenning' covariate
    by_krenning = args.require_krenning is not None or any(
        Subgroup.parse(spec).column == "krenning" for spec in args.by
    )
    if by_krenning and irecist is not None:
        from recistry.errors import InputError

        raise InputError(
            "--require-krenning and --by krenning work with --criteria recist1.1",
            column="--criteria",
        )
    if (
        (args.format != "table" or args.out is not None)
        and _is_table(args.path)
        and args.reader is None
        and args.workers <= 1
        and args.dask is None
        and not by_krenning
    ):
        chunks = table_chunks(args.path, args.clinical)
        if len(chunks.patient_ids) > PRETTY_JSON_MAX_PATIENTS:
            _stream(args, chunks, options, irecist, progress)
            return 0
        records: Sequence[PatientRecord] = [r for c in chunks.records() for r in c]
    else:
        records = load_records(args.path, args.clinical, args.reader)
    scored: Sequence[Assessment]
    if irecist is not None:
        scored = score_irecist(records, irecist, **batch)
    else:
        scored = score(records, options, **batch)
        if by_krenning:
            scored = _select_by_krenning(records, scored, args.require_krenning)
    document = build_document(scored, options, args.by)
    if args.out is not None:
        write_outputs(args.out, scored, document)
    if args.format == "json":
        sys.stdout.write(dumps(document))
    elif args.format == "csv":
        columns = IRECIST_PATIENT_COLUMNS if args.criteria == "irecist" else PATIENT_COLUMNS
        sys.stdout.write(csv_text(columns, [list(r.values()) for r in patient_rows(scored)]))
    else:
        _print_table(document)
    if args.out is not None:
        print(f"results written to {args.out}/", file=sys.stderr)
    _say_adjudicated(args.path, args.reader, len(scored))
    return 0


def _select_by_krenning(
    records: Sequence[PatientRecord],
    scored: Sequence[PatientAssessment],
    required: int | None,
) -> list[PatientAssessment]:
    from recistry.cohort.krenning import select_by_krenning

    selection = select_by_krenning(records, scored, required)
    if selection.excluded:
        print(
            f"excluded (no baseline lesion of Krenning grade >= {required}): "
            f"{len(selection.excluded)} ({', '.join(selection.excluded)})",
            file=sys.stderr,
        )
    return list(selection.assessments)


def _say_adjudicated(path: Path, reader: str | None, patients: int) -> None:
    """With a store whose reads in use include adjudicated ones, say how many (stderr)."""
    from recistry.store.adjudication import adjudicated_patients, adjudication_note

    note = adjudication_note(adjudicated_patients(path, reader), patients)
    if note is not None:
        print(note, file=sys.stderr)


def _is_table(path: Path) -> bool:
    from recistry.store import is_store_file

    return not path.is_dir() and not is_store_file(path)


def _stream(
    args: argparse.Namespace,
    chunks: TableChunks,
    options: AssessmentOptions,
    irecist: IRecistOptions | None,
    progress: bool,
) -> None:
    """A large table: patients scored and written a chunk at a time (recistry.results
    .stream_outputs); stdout gets the document only once every patient is scored."""
    import tempfile

    from recistry.batch import progress_bar
    from recistry.results import stream_outputs
    from recistry.scoring import CHUNK_PATIENTS, score_chunks

    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        with progress_bar(progress) as bar:
            task = bar.add_task("Scoring patients", total=len(chunks.patient_ids))

            def scored() -> Iterator[Sequence[Assessment]]:
                for chunk in score_chunks(chunks.records(), options, irecist=irecist):
                    yield chunk
                    bar.advance(task, min(CHUNK_PATIENTS, len(chunk)))

            warnings: list[tuple[str, str]] = []
            cohort = stream_outputs(
                scored(),
                options,
                args.by,
                irecist=irecist is not None,
                json_to=spool if args.format == "json" else None,
                csv_to=spool if args.format == "csv" else None,
                out=args.out,
                warnings=warnings,
                max_warnings=MAX_WARNINGS_SHOWN,
            )
        _copy_to_stdout(spool)
    if args.format == "table":
        from rich.console import Console

        from recistry.results import CRITERIA, IRECIST_CRITERIA, options_to_dict

        document = {
            "criteria": IRECIST_CRITERIA if irecist is not None else CRITERIA,
            "options": options_to_dict(options),
            "cohort": cohort,
        }
        _print_large(Console(), document, warnings, len(chunks.patient_ids))
    if args.out is not None:
        print(f"results written to {args.out}/", file=sys.stderr)


def _copy_to_stdout(spool: TextIO) -> None:
    """The spooled document to stdout: by the kernel (``os.sendfile``) when stdout is a file
    descriptor that takes it, which saves decoding and re-encoding half a gigabyte of text
    (about 1 s of CPU for 100,000 patients); else as text."""
    import contextlib
    import os
    import shutil

    spool.flush()
    try:
        target = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a StringIO (tests, notebooks)
        spool.seek(0)
        shutil.copyfileobj(spool, sys.stdout, 1 << 20)
        return
    sys.stdout.flush()
    source, size, offset = spool.fileno(), os.fstat(spool.fileno()).st_size, 0
    with contextlib.suppress(OSError):  # a descriptor sendfile cannot write to: copied below
        while offset < size and (sent := os.sendfile(target, source, offset, size - offset)):
            offset += sent
    if offset < size:
        with open(source, "rb", closefd=False) as rest:
            rest.seek(offset)
            shutil.copyfileobj(rest, sys.stdout.buffer, 1 << 20)
        sys.stdout.buffer.flush()


def _label(code: str) -> str:
    return {"NON_CR_NON_PD": "non-CR/non-PD", "NON_iCR_NON_iUPD": "non-iCR/non-iUPD"}.get(
        code, code
    )


def _fmt(value: Any) -> str:
    return "–" if value is None else str(value)


MAX_WARNINGS_SHOWN = 50
"""Warnings printed by ``--format table`` for a cohort too large for the per-patient table."""


def _print_table(document: dict[str, Any]) -> None:
    """The readable summary: one table row per patient and their warnings, then the cohort.

    A cohort of more than ``PRETTY_JSON_MAX_PATIENTS`` patients prints the cohort, at most
    ``MAX_WARNINGS_SHOWN`` warnings and a pointer to the per-patient outputs.
    """
    from rich.console import Console
    from rich.table import Table

    from recistry.results import PRETTY_JSON_MAX_PATIENTS

    console = Console()
    patients = document["patients"]
    if len(patients) > PRETTY_JSON_MAX_PATIENTS:
        warnings = [(p["patient_id"], w) for p in patients for w in p["warnings"]]
        _print_large(console, document, warnings, len(patients))
        return
    table = Table(title=f"{document['criteria']} per patient", show_lines=False)
    for column in (
        "patient",
        "baseline SoD mm",
        "scans: overall response",
        "best",
        "PFS mo",
        "OS mo",
    ):
        table.add_column(column)
    for p in document["patients"]:
        calls = "\n".join(
            f"{tp['date']} {_label(tp.get('response') or tp['overall_response'])}"
            for tp in p["timepoints"]
        )
        pfs = f"{_fmt(p['pfs_months'])}{'' if p['pfs_event'] else '+'}"
        os_text = (
            "–" if p["os_months"] is None else f"{p['os_months']}{'' if p['os_event'] else '+'}"
        )
        table.add_row(
            p["patient_id"],
            _fmt(p["baseline_sum_mm"]),
            calls,
            _label(p["best_overall_response"]),
            pfs,
            os_text,
        )
    console.print(table)
    for p in document["patients"]:
        for warning in p["warnings"]:
            console.print(f"[yellow]warning[/] {p['patient_id']}: {warning}", highlight=False)
    _print_cohort(console, document)


def _print_large(
    console: Console,
    document: dict[str, Any],
    warnings: Sequence[tuple[str, str]],
    patients: int,
) -> None:
    """A cohort too large for a table row per patient: the cohort figures, the first
    ``MAX_WARNINGS_SHOWN`` warnings and where every patient is."""
    from recistry.results import PRETTY_JSON_MAX_PATIENTS

    _print_cohort(console, document)
    for pid, warning in warnings[:MAX_WARNINGS_SHOWN]:
        console.print(f"[yellow]warning[/] {pid}: {warning}", highlight=False)
    if len(warnings) > MAX_WARNINGS_SHOWN:
        console.print(
            f"… and {len(warnings) - MAX_WARNINGS_SHOWN:,} more warnings (patients.csv)",
            highlight=False,
        )
    console.print(
        f"{patients:,} patients: the table of patients is printed up to "
        f"{PRETTY_JSON_MAX_PATIENTS:,}; --out DIR or --format csv gives every patient",
        highlight=False,
    )


def _print_cohort(console: Console, document: dict[str, Any]) -> None:
    cohort = document["cohort"]

    def rate(block: dict[str, Any]) -> str:
        lo, hi = block["ci95"]
        return (
            f"{block['responders']}/{block['n']} = {100 * block['rate']:.1f}% "
            f"(95% CI {100 * lo:.1f}–{100 * hi:.1f}%)"
        )

    basis = "confirmed" if document["options"]["confirm"] else "unconfirmed"
    console.print(
        f"Patients {cohort['patients']}, measurable {cohort['measurable']}; best response "
        f"({basis}): "
        + ", ".join(f"{k} {v}" for k, v in cohort["best_overall_response_counts"].items()),
        highlight=False,
    )
    if cohort["orr"]["n"]:
        console.print(f"ORR {rate(cohort['orr'])}; DCR {rate(cohort['dcr'])}", highlight=False)
    for label, key in (("PFS", "pfs"), ("OS", "os")):
        if key == "os" and not cohort["os_patients"]:
            continue
        lower, upper = cohort[f"{key}_median_ci95"]
        console.print(
            f"Median {label} {_months(cohort.get(f'{key}_median_months'))} "
            f"(95% CI {_months(lower, 'NA')} to {_months(upper)})",
            highlight=False,
        )


def _months(value: float | None, missing: str = "NR") -> str:
    """Months to one decimal. A median or upper limit never reached prints NR (as R's survfit
    prints NA there); a lower limit that cannot be computed prints NA."""
    return missing if value is None else f"{value:.1f} months"
