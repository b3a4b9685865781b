"""Journal-style cohort tables: baseline characteristics (Table 1), adverse events (Table 2),
best overall response and subgroup response.

Rows are frozen values with the numbers and their display text, so the HTML report, the CSV
files and the tests read the same thing. :func:`read_adverse_events` is the one reader here (it
validates the optional adverse-event table on the way in); everything else is pure.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from recistry.cohort.stats import Proportion, fixed
from recistry.cohort.summary import (
    Subgroup,
    best_response_counts,
    disease_control,
    objective_response,
    subgroup_members,
)
from recistry.errors import InputError
from recistry.recist.model import PatientAssessment, Response

HEADINGS = {
    "sex": "Sex",
    "age": "Age (years)",
    "primary_site": "Primary site",
    "who_grade": "WHO grade",
    "line_of_therapy": "Line of therapy",
    "met": "Sites of metastasis",
    "krenning": "Highest baseline Krenning grade (SSTR-PET)",
}
"""Display headings of well-known clinical columns (and of the ``met_*`` yes/no group)."""

MAX_CATEGORIES_FOR_NUMBERS = 6
"""A numeric column with at most this many distinct values (grade, line) is categorical."""

_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})
CTCAE_GRADES = (1, 2, 3, 4, 5)


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row of a summary table: its section, label, numbers and display text."""

    section: str
    label: str
    value: str
    count: int | None = None
    percent: float | None = None


def count_percent(count: int, total: int) -> str:
    """``n (xx%)`` as in the seed's tables; ``0`` alone when n is 0."""
    if count == 0 or total == 0:
        return str(count)
    return f"{count} ({fixed(100.0 * count / total, 0)}%)"


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _heading(column: str) -> str:
    return HEADINGS.get(column, column.replace("_", " "))


def baseline_characteristics(
    assessments: Sequence[PatientAssessment], columns: Sequence[str] | None = None
) -> list[TableRow]:
    """Table 1: each clinical covariate as n (%) per category, or median (range) if continuous.

    Parameters
    ----------
    assessments
        Patients; their ``covariates`` are the clinical table's extra columns.
    columns
        Columns to show, in order; default every covariate in first-seen order.

    Returns
    -------
    list[TableRow]
        A numeric column with more than :data:`MAX_CATEGORIES_FOR_NUMBERS` values gives one
        "Median (range)" row. Yes/no columns give one row each with the count of "yes"; columns
        named ``PREFIX_NAME`` sharing a prefix are grouped under one section (``met_liver``,
        ``met_bone`` → "Sites of metastasis": liver, bone). Missing values get a "missing" row.
    """
    total = len(assessments)
    if columns is None:
        seen: dict[str, None] = {}
        for a in assessments:
            seen.update(dict.fromkeys(a.covariates))
        columns = list(seen)
    prefixes = defaultdict(list)
    for column in columns:
        if "_" in column:
            prefixes[column.split("_", 1)[0]].append(column)
    rows: list[TableRow] = [TableRow("", "Patients", str(total), total, None)]
    for column in columns:
        values = [a.covariates.get(column, "").strip() for a in assessments]
        present = [v for v in values if v]
        missing = total - len(present)
        lowered = {v.casefold() for v in present}
        if present and lowered <= (_YES | _NO):
            prefix = column.split("_", 1)[0]
            grouped = "_" in column and len(prefixes[prefix]) > 1
            section = _heading(prefix) if grouped else _heading(column)
            label = column.split("_", 1)[1].replace("_", " ") if grouped else "yes"
            yes = sum(1 for v in present if v.casefold() in _YES)
            rows.append(TableRow(section, label, count_percent(yes, total), yes, _pct(yes, total)))
        elif (
            present
            and all(_is_number(v) for v in present)
            and len(set(present)) > MAX_CATEGORIES_FOR_NUMBERS
        ):
            numbers = sorted(float(v) for v in present)
            median = _median(numbers)
            text = f"{_fmt(median)} ({_fmt(numbers[0])}–{_fmt(numbers[-1])})"
            rows.append(TableRow(_heading(column), "Median (range)", text, len(numbers), None))
        else:
            counts: dict[str, int] = defaultdict(int)
            for v in present:
                counts[v] += 1
            for value in sorted(counts, key=lambda v: (-counts[v], _natural(v))):
                label = f"Grade {value}" if column in ("who_grade", "krenning") else value
                if column == "line_of_therapy":
                    label = f"Line {value}"
                rows.append(
                    TableRow(
                        _heading(column),
                        label,
                        count_percent(counts[value], total),
                        counts[value],
                        _pct(counts[value], total),
                    )
                )
        if missing:
            rows.append(
                TableRow(_heading(column), "missing", count_percent(missing, total), missing, None)
            )
    return _order_sections(rows)


def _order_sections(rows: list[TableRow]) -> list[TableRow]:
    """Keep each section's rows together, sections in first-seen order."""
    by_section: dict[str, list[TableRow]] = {}
    for row in rows:
        by_section.setdefault(row.section, []).append(row)
    ordered: list[TableRow] = []
    for section_rows in by_section.values():
        categorical = [r for r in section_rows if r.label not in ("missing",)]
        if all(r.label.startswith(("Grade ", "Line ")) for r in categorical):
            categorical.sort(key=lambda r: _natural(r.label))
        ordered.extend(categorical + [r for r in section_rows if r.label == "missing"])
    return ordered


def _natural(text: str) -> tuple[float, str]:
    tail = text.rsplit(" ", 1)[-1]
    return (float(tail), text) if _is_number(tail) else (math.inf, text)


def _pct(count: int, total: int) -> float | None:
    return None if total == 0 else 100.0 * count / total


def _median(values: Sequence[float]) -> float:
    n = len(values)
    mid = n // 2
    return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2


def _fmt(x: float) -> str:
    return f"{x:.0f}" if x == int(x) else f"{x:.1f}"


@dataclass(frozen=True, slots=True)
class AdverseEvent:
    """One patient's adverse event at its CTCAE v5.0 grade (1 mild … 5 death)."""

    patient_id: str
    event: str
    category: str
    grade: int
    row: int | None = None


AE_COLUMNS = ("patient_id", "event", "category", "grade")


def read_adverse_events(path: str | Path) -> list[AdverseEvent]:
    """Read the adverse-event table (CSV: patient_id, event, category, grade 1–5 per CTCAE).

    Raises
    ------
    InputError
        Naming the file, 1-based data row and column of the first invalid value.
    """
    import csv

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=str(path))
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, skipinitialspace=True)
            header = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in AE_COLUMNS if c not in header]
            if missing:
                raise InputError(
                    f"missing column(s) {', '.join(missing)}; found {', '.join(header)}",
                    path=str(path),
                )
            events = []
            for row_number, raw in enumerate(reader, start=1):
                row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
                for column in AE_COLUMNS:
                    if not row.get(column):
                        raise InputError(
                            "value is required", path=str(path), row=row_number, column=column
                        )
                grade_text = row["grade"]
                if grade_text not in {str(g) for g in CTCAE_GRADES}:
                    raise InputError(
                        f"'{grade_text}' is not a CTCAE grade 1-5",
                        path=str(path),
                        row=row_number,
                        column="grade",
                    )
                events.append(
                    AdverseEvent(
                        row["patient_id"],
                        row["event"],
                        row["category"],
                        int(grade_text),
                        row_number,
                    )
                )
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc}", path=str(path)) from exc
    return events


@dataclass(frozen=True, slots=True)
class AdverseEventRow:
    """Patients with one event, by worst grade; ``by_grade[g]`` is the count at grade g."""

    category: str
    event: str
    by_grade: Mapping[int, int]
    total_patients: int

    def cell(self, grade: int) -> str:
        """``n (xx%)`` of all treated patients at this grade, as in the seed's Table 2."""
        return count_percent(self.by_grade.get(grade, 0), self.total_patients)


def adverse_event_table(
    events: Iterable[AdverseEvent], total_patients: int
) -> list[AdverseEventRow]:
    """Table 2: per category and event, patients by worst CTCAE grade, as n (%) of all treated.

    A patient with the same event reported several times counts once, at the worst grade
    (the usual convention of safety tables, e.g. NETTER-1's).
    """
    worst: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    order: dict[str, dict[str, None]] = {}
    for ev in events:
        key = (ev.category, ev.event)
        worst[key][ev.patient_id] = max(ev.grade, worst[key].get(ev.patient_id, 0))
        order.setdefault(ev.category, {})[ev.event] = None
    rows = []
    for category, names in order.items():
        for name in names:
            grades: dict[int, int] = defaultdict(int)
            for grade in worst[(category, name)].values():
                grades[grade] += 1
            rows.append(AdverseEventRow(category, name, dict(grades), total_patients))
    return rows


def best_response_table(assessments: Sequence[PatientAssessment]) -> list[TableRow]:
    """Best overall response n (%) under both readings, then ORR and DCR with exact 95% CIs.

    Sections are "Unconfirmed" and "Confirmed" (RECIST 1.1 §4.6.1: confirmation is required
    when response is the primary endpoint of a non-randomised study).
    """
    total = len(assessments)
    rows: list[TableRow] = []
    for basis in ("unconfirmed", "confirmed"):
        section = basis.capitalize()
        counts = best_response_counts(assessments, basis)
        for code in Response:
            if code is Response.NON_CR_NON_PD and counts[code.value] == 0:
                continue
            n = counts[code.value]
            label = code.value if code is not Response.NON_CR_NON_PD else "Non-CR/non-PD"
            rows.append(TableRow(section, label, count_percent(n, total), n, _pct(n, total)))
        for label, prop in (
            ("ORR (CR+PR)", objective_response(assessments, basis)),
            ("DCR (CR+PR+SD)", disease_control(assessments, basis)),
        ):
            rows.append(_proportion_row(section, label, prop))
    return rows


def _proportion_row(section: str, label: str, prop: Proportion) -> TableRow:
    return TableRow(
        section,
        label,
        prop.label(),
        prop.successes,
        None if prop.rate is None else 100.0 * prop.rate,
    )


def subgroup_table(
    assessments: Sequence[PatientAssessment], specs: Sequence[str]
) -> list[TableRow]:
    """Subgroup ORR and DCR as k/n (xx.x%, exact 95% CI) per value, unclassified last.

    Two rows per group value, labelled ``"VALUE: ORR"`` then ``"VALUE: DCR"``. The intervals
    of small subgroups are wide: the values are descriptive, not tests.
    """
    rows: list[TableRow] = []
    for text in specs:
        spec = Subgroup.parse(text)
        for value, group in subgroup_members(spec, assessments).items():
            rows.append(_proportion_row(spec.name, f"{value}: ORR", objective_response(group)))
            rows.append(_proportion_row(spec.name, f"{value}: DCR", disease_control(group)))
    return rows
