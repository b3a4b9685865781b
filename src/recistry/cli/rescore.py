"""``recistry rescore``: score measurements by RECIST 1.1 and summarise the cohort."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from recistry.cli._store import add_batch_arguments, add_csv_guard_argument
from recistry.errors import InputError

if TYPE_CHECKING:  # imported lazily at run time: `recistry --help` stays fast
    from rich.console import Console

    from recistry.recist.columnar import ScoredPatient
    from recistry.recist.model import AssessmentOptions, PatientAssessment

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
        "--confirm",
        action="store_true",
        help="best response by RECIST Table 3: CR and PR need confirmation (default: off)",
    )
    parser.add_argument(
        "--confirm-days",
        type=int,
        default=28,
        metavar="N",
        help="minimum days between a response and its confirmation (default: %(default)s)",
    )
    parser.add_argument(
        "--sd-min-days",
        type=int,
        default=42,
        metavar="N",
        help="minimum days from treatment start for SD to count (default: %(default)s)",
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
    add_batch_arguments(parser, unit="patient")


def run(args: argparse.Namespace) -> int:
    from recistry.recist.model import AssessmentOptions
    from recistry.results import (
        PATIENT_COLUMNS,
        build_document,
        csv_text,
        dumps,
        patient_rows,
        write_outputs,
    )
    from recistry.scoring import load_records, score

    for name in ("confirm_days", "sd_min_days"):
        if getattr(args, name) < 0:
            raise InputError(f"--{name.replace('_', '-')} must be 0 or more days")
    options = AssessmentOptions(
        confirm=args.confirm,
        confirm_days=args.confirm_days,
        sd_min_days=args.sd_min_days,
        strict=args.strict,
    )
    from recistry.cohort.summary import Subgroup

    for spec in args.by:  # a malformed --by is refused before any work
        Subgroup.parse(spec)
    if args.out is not None:
        from recistry.atomic import check_output_folder_writable

        check_output_folder_writable(args.out)
    progress = not args.no_progress and sys.stderr.isatty()
    batch = {"workers": args.workers, "dask_address": args.dask, "progress": progress}
    scored: Sequence[PatientAssessment] | _FastResult
    if _is_table(args.path) and args.reader is None:
        scored = _score_table(
            args.path,
            args.clinical,
            options,
            rows=args.out is not None or args.format == "csv",
            **batch,
        )
    else:
        scored = score(load_records(args.path, args.clinical, args.reader), options, **batch)

    if isinstance(scored, _FastResult):
        scored.cohort(args.by)  # computed before anything is written
        if args.out is not None:
            scored.write_outputs(args.out, options, args.by)
        if args.format == "json":
            scored.write_json(sys.stdout, options, args.by)
        elif args.format == "csv":
            sys.stdout.write(csv_text(PATIENT_COLUMNS, scored.patient_rows()))
        else:
            _print_table(scored.summary(options, args.by), scored.warnings())
    else:
        document = build_document(scored, options, args.by)
        if args.out is not None:
            write_outputs(args.out, scored, document)
        if args.format == "json":
            sys.stdout.write(dumps(document))
        elif args.format == "csv":
            sys.stdout.write(
                csv_text(PATIENT_COLUMNS, [list(r.values()) for r in patient_rows(scored)])
            )
        else:
            _print_table(document)
    if args.out is not None:
        print(f"results written to {args.out}/", file=sys.stderr)
    return 0


def _is_table(path: Path) -> bool:
    from recistry.store import is_store_file

    return not path.is_dir() and not is_store_file(path)


def _score_table(
    path: Path,
    clinical_path: Path | None,
    options: AssessmentOptions,
    *,
    rows: bool,
    workers: int = 1,
    dask_address: str | None = None,
    progress: bool = False,
) -> list[PatientAssessment] | _FastResult:
    """Score a measurement table: by the reference engine (a cohort small enough to print
    indented and tabulated), or by the columnar fast path.

    The fast path (:mod:`recistry.recist.columnar`) scores the patients it covers straight
    from the table's columns and leaves the others to the reference engine; its outputs are
    the reference engine's, byte for byte (tests compare them).
    """
    from recistry.recist.columnar import rows_of_patients, score_columns
    from recistry.results import PRETTY_JSON_MAX_PATIENTS
    from recistry.scoring import score
    from recistry.tables import build_records, check_clinical, read_clinical, read_measurement_table

    clinical = read_clinical(clinical_path) if clinical_path is not None else {}
    table = read_measurement_table(path)
    if table.frame["patient_id"].nunique() <= PRETTY_JSON_MAX_PATIENTS:
        records = build_records(table.measurements(), clinical)
        return score(
            records, options, workers=workers, dask_address=dask_address, progress=progress
        )
    columns = table.columns()
    patient_ids = columns.patient_ids
    check_clinical(set(patient_ids), clinical)
    # Scoring makes millions of small objects and no reference cycles: the cyclic garbage
    # collector would only walk them again and again (about 15% of the time here).
    from recistry.batch import progress_bar

    gc.disable()
    try:
        with progress_bar(progress) as bar:
            task = bar.add_task("Scoring patients", total=len(patient_ids))
            patients = score_columns(
                columns,
                clinical,
                options,
                rows=rows,
                on_progress=lambda done: bar.advance(task, done),
            )
    finally:
        gc.enable()
    slow_codes = [code for code, scored in enumerate(patients) if scored is None]
    slow_ids = {patient_ids[code] for code in slow_codes}
    slow = score(
        build_records(
            table.measurements(rows_of_patients(columns, slow_codes)),
            {p: c for p, c in clinical.items() if p in slow_ids},
        ),
        options,
        workers=workers,
        dask_address=dask_address,
        progress=progress,
    )
    by_id = {a.patient_id: a for a in slow}
    return _FastResult([p or by_id[patient_ids[code]] for code, p in enumerate(patients)])


class _FastResult:
    """Patients scored by the fast path (:class:`ScoredPatient`) or, where it could not, by the
    reference engine (:class:`PatientAssessment`), in table order, and their outputs."""

    def __init__(self, patients: list[ScoredPatient | PatientAssessment]) -> None:
        self.patients = patients
        self._cohort: dict[tuple[str, ...], dict[str, object]] = {}

    def cohort(self, by: Sequence[str]) -> dict[str, object]:
        """The ``cohort`` object of the document (computed once per ``by``)."""
        from recistry.cohort.summary import cohort_summary
        from recistry.recist.columnar import ScoredPatient

        key = tuple(by)
        if key not in self._cohort:
            outcomes = [p.outcome if isinstance(p, ScoredPatient) else p for p in self.patients]
            self._cohort[key] = cohort_summary(outcomes, by=key)
        return self._cohort[key]

    def summary(self, options: AssessmentOptions, by: Sequence[str]) -> dict[str, Any]:
        """The document without its patients (what ``--format table`` prints of a large one)."""
        from recistry.results import CRITERIA, options_to_dict

        return {
            "criteria": CRITERIA,
            "options": options_to_dict(options),
            "patients": [],
            "cohort": self.cohort(by),
        }

    def warnings(self) -> list[tuple[str, str]]:
        """(patient, warning) of every patient, in table order."""
        from recistry.recist.columnar import ScoredPatient

        out: list[tuple[str, str]] = []
        for p in self.patients:
            if isinstance(p, ScoredPatient):
                out.extend((p.outcome.patient_id, w) for w in p.warnings)
            else:
                out.extend((p.patient_id, w) for w in p.warnings)
        return out

    def write_json(self, out: TextIO, options: AssessmentOptions, by: Sequence[str]) -> None:
        """The ``--format json`` document, as ``dumps(build_document(...))`` writes it."""
        from recistry.recist.columnar import ScoredPatient
        from recistry.results import CRITERIA, assessment_to_dict, options_to_dict

        head = json.dumps({"criteria": CRITERIA, "options": options_to_dict(options)})
        cohort = json.dumps(self.cohort(by), ensure_ascii=False)
        out.write(f'{head[:-1]}, "patients": [')
        for start in range(0, len(self.patients), 1000):  # pieces: no copy of the whole
            texts = [
                p.json
                if isinstance(p, ScoredPatient)
                else json.dumps(assessment_to_dict(p), ensure_ascii=False)
                for p in self.patients[start : start + 1000]
            ]
            out.write((", " if start else "") + ", ".join(texts))
        out.write(f'], "cohort": {cohort}}}\n')

    def patient_rows(self) -> list[Sequence[object]]:
        from recistry.recist.columnar import ScoredPatient
        from recistry.results import patient_rows

        rows: list[Sequence[object]] = []
        for p in self.patients:
            if isinstance(p, ScoredPatient):
                assert p.patient_row is not None, "scored without rows=True"
                rows.append(p.patient_row)
            else:
                rows.extend(list(r.values()) for r in patient_rows([p]))
        return rows

    def timepoint_rows(self) -> list[Sequence[object]]:
        from recistry.recist.columnar import ScoredPatient
        from recistry.results import timepoint_rows

        rows: list[Sequence[object]] = []
        for p in self.patients:
            if isinstance(p, ScoredPatient):
                rows.extend(p.timepoint_rows or ())
            else:
                rows.extend(list(r.values()) for r in timepoint_rows([p]))
        return rows

    def write_outputs(self, out: Path, options: AssessmentOptions, by: Sequence[str]) -> None:
        """patients.csv, timepoints.csv and results.json, as :func:`write_outputs` writes them."""
        from recistry.results import write_files

        write_files(
            out,
            self.patient_rows(),
            self.timepoint_rows(),
            lambda handle: self.write_json(handle, options, by),
        )


def _label(code: str) -> str:
    return "non-CR/non-PD" if code == "NON_CR_NON_PD" else code


def _fmt(value: Any) -> str:
    return "–" if value is None else str(value)


MAX_WARNINGS_SHOWN = 50
"""Warnings printed by ``--format table`` for a cohort too large for the per-patient table."""


def _print_table(
    document: dict[str, Any], warnings: Sequence[tuple[str, str]] | None = None
) -> None:
    """The readable summary: one table row per patient and their warnings, then the cohort.

    ``document`` without patients (a cohort too large for a table of patients) prints the
    cohort with a pointer to the per-patient outputs, and at most ``MAX_WARNINGS_SHOWN`` of
    ``warnings`` (patient, warning).
    """
    from rich.console import Console
    from rich.table import Table

    from recistry.results import PRETTY_JSON_MAX_PATIENTS

    console = Console()
    if not document["patients"]:
        _print_cohort(console, document)
        shown = list(warnings or ())[:MAX_WARNINGS_SHOWN]
        for pid, warning in shown:
            console.print(f"[yellow]warning[/] {pid}: {warning}", highlight=False)
        if len(warnings or ()) > len(shown):
            console.print(
                f"… and {len(warnings or ()) - len(shown):,} more warnings (patients.csv)",
                highlight=False,
            )
        console.print(
            f"{document['cohort']['patients']:,} patients: the table of patients is printed up "
            f"to {PRETTY_JSON_MAX_PATIENTS:,}; --out DIR or --format csv gives every patient",
            highlight=False,
        )
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
            f"{tp['date']} {_label(tp['overall_response'])}" for tp in p["timepoints"]
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
