"""``recistry report``: score a cohort and write the HTML report with figures and tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recistry.cli._store import add_csv_guard_argument
from recistry.errors import InputError

if TYPE_CHECKING:
    from recistry.cohort.krenning import KrenningSelection
    from recistry.cohort.readers import ReaderComparison
    from recistry.recist.model import AssessmentOptions

NAME = "report"
HELP = "write a cohort report (report.html, figures, CSV tables) from scored patients"
DESCRIPTION = """\
Score every patient by RECIST 1.1 and write, into --out DIR:

  report.html             one self-contained page (figures embedded, readable offline, printable)
  *.png, *.svg            Kaplan-Meier PFS/OS/duration of response, waterfall, spider, swimmer
  *.csv                   baseline characteristics, best response, subgroups, Kaplan-Meier tables,
                          adverse events, patients
  report.json             the cohort summary (same as the "cohort" object of rescore --format json)

PATH is anything 'recistry rescore' accepts: a measurement table (CSV or Parquet), a folder tree
of TID 1500 SR files, or a study store written by 'recistry import' (then the clinical data
stored with it are used unless --clinical is given).

examples:
  recistry report measurements.csv --clinical clinical.csv --out report/
  recistry report trial.db --by who_grade --out report/
  recistry report measurements.csv --clinical clinical.csv --adverse-events ae.csv \\
      --by who_grade --by 'ileal=primary_site==ileum' --confirm --out report/
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", type=Path, help="what rescore accepts")
    parser.add_argument(
        "--clinical",
        type=Path,
        metavar="CSV",
        help="clinical table: patient_id, treatment_start, last_followup, death_date, covariates "
        "(a study store given as PATH uses the clinical data stored with it)",
    )
    parser.add_argument(
        "--reader",
        metavar="NAME",
        help="with a study store as PATH: this reader's measurements instead of the accepted ones",
    )
    parser.add_argument(
        "--adverse-events",
        type=Path,
        metavar="CSV",
        help="optional table patient_id, event, category, grade (CTCAE 1-5)",
    )
    parser.add_argument(
        "--by",
        action="append",
        default=[],
        metavar="COLUMN",
        help="subgroup ORR/DCR per value of a clinical column, or 'name=column==value' "
        "(repeatable)",
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="headline best response by RECIST Table 3 (CR/PR confirmed); both are reported",
    )
    parser.add_argument(
        "--require-krenning",
        type=int,
        metavar="GRADE",
        choices=range(5),
        help="exclude (and list) patients without a baseline lesion of this Krenning grade or "
        "more (the seed study's rule is 3); without it such patients are flagged",
    )
    parser.add_argument("--title", default="Cohort response report", help="heading of the report")
    parser.add_argument("--out", type=Path, metavar="DIR", required=True, help="output folder")
    parser.add_argument(
        "--stamp",
        action="store_true",
        help="show the time the report was generated (without it, the same input gives "
        "byte-identical files)",
    )
    add_csv_guard_argument(parser)


def run(args: argparse.Namespace) -> int:
    from recistry.atomic import check_output_folder
    from recistry.cohort.report import write_report
    from recistry.cohort.summary import Subgroup
    from recistry.cohort.tables import read_adverse_events
    from recistry.recist.engine import assess_patients
    from recistry.recist.model import AssessmentOptions
    from recistry.scoring import load_records

    for spec in args.by:
        Subgroup.parse(spec)  # a malformed --by fails before any work
    check_output_folder(args.out)
    adverse = read_adverse_events(args.adverse_events) if args.adverse_events is not None else None
    records = load_records(args.path, args.clinical, args.reader)
    options = AssessmentOptions(confirm=args.confirm)
    from recistry.cohort.krenning import select_by_krenning

    krenning = select_by_krenning(records, assess_patients(records, options), args.require_krenning)
    assessments = list(krenning.assessments)
    records = [r for r in records if r.patient_id in {a.patient_id for a in assessments}]
    readers, adjudicated = _independent_reads(args.path, args.reader, options)
    known = {r.patient_id for r in records}
    if adverse is not None:
        unknown = next((ev for ev in adverse if ev.patient_id not in known), None)
        if unknown is not None:
            raise InputError(
                f"patient {unknown.patient_id} is not in the measurement table",
                path=str(args.adverse_events),
                row=unknown.row,
                column="patient_id",
            )
    output = write_report(
        assessments,
        args.out,
        by=args.by,
        adverse_events=adverse,
        title=args.title,
        source=str(args.path) + ("" if args.clinical is None else f" (clinical: {args.clinical})"),
        readers=readers,
        adjudicated=adjudicated,
        krenning=krenning,
        stamp=_now() if args.stamp else None,
    )
    for line in summary_lines(output.summary):
        print(line)
    for line in krenning_lines(krenning):
        print(line)
    from recistry.store.adjudication import adjudication_note

    note = adjudication_note(adjudicated, len(records))
    if note is not None:
        print(note)
    if readers is not None:
        print(
            f"reader agreement: {readers.adjudication_rate.successes} of "
            f"{readers.adjudication_rate.n} patients with two reads needed adjudication, "
            f"{len(readers.pending)} still pending"
        )
    print(f"report: {output.html}")
    print(f"{len(output.files)} files written to {args.out}/", file=sys.stderr)
    return 0


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _independent_reads(
    path: Path, reader: str | None, options: AssessmentOptions
) -> tuple[ReaderComparison | None, frozenset[str]]:
    """With a store of several readers: their comparison, and the adjudicated patients."""
    from recistry.store import Store, is_store_file
    from recistry.store.adjudication import (
        adjudicated_patients,
        load_reader_reads,
        readers_by_patient,
    )

    if not is_store_file(path):
        return None, frozenset()
    with Store(path, readonly=True) as store:
        several = any(len(names) > 1 for names in readers_by_patient(store).values())
    comparison = None
    if several:
        from recistry.cohort.readers import compare_readers

        reads, chosen = load_reader_reads(path, options)
        comparison = compare_readers(reads, adjudicated=chosen)
    return comparison, adjudicated_patients(path, reader)


def krenning_lines(selection: KrenningSelection) -> list[str]:
    """What the terminal says of the Krenning rule: who was excluded, or who is flagged."""
    if not selection.graded:
        return []
    grades = [u.highest_krenning for u in selection.uptakes]
    spread = ", ".join(f"grade {g}: {grades.count(g)}" for g in range(5) if grades.count(g))
    lines = [f"highest baseline Krenning grade: {spread}"]
    if selection.required is not None:
        lines.append(
            f"excluded (no baseline lesion of Krenning grade >= {selection.required}): "
            f"{len(selection.excluded)}"
            + (f" ({', '.join(selection.excluded)})" if selection.excluded else "")
        )
    elif selection.below_inclusion:
        lines.append(
            "flagged (no baseline lesion of Krenning grade >= 3): "
            + ", ".join(selection.below_inclusion)
        )
    return lines


def _rate(block: dict[str, Any]) -> str:
    if block["rate"] is None:
        return f"{block['responders']}/{block['n']}"
    lo, hi = block["ci95"]
    return (
        f"{block['responders']}/{block['n']} = {100 * block['rate']:.1f}% "
        f"(95% CI {100 * lo:.1f}-{100 * hi:.1f})"
    )


def _months(value: float | None, unit: str = "") -> str:
    """One decimal; NR (not reached) for a Kaplan-Meier limit that never crosses 50%."""
    return "NR" if value is None else f"{value:.1f}{unit}"


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """A few lines of cohort summary for the terminal (the report has the rest)."""
    counts = ", ".join(
        f"{code} {n}" for code, n in summary["best_overall_response_counts"].items() if n
    )
    lines = [
        f"{summary['patients']} patients ({summary['measurable']} measurable); best response "
        f"({summary['response_basis']}): {counts}",
        f"ORR {_rate(summary['orr'])}; DCR {_rate(summary['dcr'])}",
    ]
    for name, key in (("PFS", "pfs"), ("OS", "os")):
        if key == "os" and not summary["os_patients"]:
            continue
        lo, hi = summary[f"{key}_median_ci95"]
        lines.append(
            f"median {name} {_months(summary[f'{key}_median_months'], ' months')} "
            f"(95% CI {_months(lo)}-{_months(hi)})"
        )
    for name, groups in summary["subgroups"].items():
        lines.append(
            f"ORR by {name}: "
            + "; ".join(
                f"{value} {g['orr']['responders']}/{g['orr']['n']}"
                + ("" if g["orr"]["rate"] is None else f" ({100 * g['orr']['rate']:.1f}%)")
                for value, g in groups.items()
            )
        )
    return lines
