"""The reader comparison as text, JSON and HTML (``recistry readers`` and the report's section).

One set of rows (:func:`agreement_rows`, :func:`patient_rows`) feeds every format, so the table,
the JSON and the HTML cannot say different things.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from recistry import __version__
from recistry.cohort.readers import PatientReads, ReaderComparison
from recistry.cohort.stats import fixed

__all__ = [
    "agreement_rows",
    "html_page",
    "html_section",
    "json_text",
    "patient_rows",
    "table_text",
    "write_atomic",
]

PATIENT_HEADER = ("Patient", "Reader", "BOR", "PD date", "Baseline targets", "Baseline SoD mm",
                  "Adjudication")  # fmt: skip


def _num(value: float | None, decimals: int = 2) -> str:
    if value is None:
        return "NA"
    if abs(value) < 0.5 * 10**-decimals:  # rounding noise of a zero mean prints 0.00, not -0.00
        value = 0.0
    return fixed(value, decimals)


def _pct(value: float | None) -> str:
    return "NA" if value is None else f"{fixed(100 * value, 1)}%"


def agreement_rows(comparison: ReaderComparison) -> list[tuple[str, str, str]]:
    """(readers, quantity, value) of every agreement figure, adjudication rate first."""
    rate = comparison.adjudication_rate
    rows = [
        (
            "all",
            "Patients needing adjudication (exact 95% CI)",
            rate.label() if rate.n else "no patient has two reads",
        ),
        ("all", "Adjudicated", f"{comparison.adjudicated} of {len(comparison.patients)} patients"),
        ("all", "Awaiting adjudication", str(len(comparison.pending))),
    ]
    for pair in comparison.pairs:
        who = f"{pair.first} vs {pair.second}"
        k = pair.kappa
        kappa = (
            "NA (one category only)"
            if k.kappa is None or k.ci95 is None
            else f"{k.kappa:.3f} (95% CI {k.ci95[0]:.3f} to {k.ci95[1]:.3f})"
        )
        progression = pair.progression
        ba = pair.bland_altman
        rows += [
            (who, "Patients read by both", str(pair.patients)),
            (who, "Cohen's kappa, best overall response", kappa),
            (
                who,
                f"Early discrepancy rate of PD ({pair.first} as reference)",
                _pct(progression.early_rate),
            ),
            (
                who,
                f"Late discrepancy rate of PD ({pair.first} as reference)",
                _pct(progression.late_rate),
            ),
            (
                who,
                "Bland-Altman bias of baseline SoD, mm (second - first)",
                "NA" if ba is None else _num(ba.bias),
            ),
            (
                who,
                "Bland-Altman 95% limits of agreement, mm",
                "NA" if ba is None else f"{_num(ba.limits[0])} to {_num(ba.limits[1])}",
            ),
            (who, "ICC(2,1) of baseline SoD", _num(pair.icc, 3)),
        ]
    return rows


def patient_rows(patients: Sequence[PatientReads]) -> list[tuple[str, ...]]:
    """One row per patient and reader (the patient's columns on its first row only)."""
    rows: list[tuple[str, ...]] = []
    for p in patients:
        status = (
            f"adjudicated: {p.adjudicated_reader}"
            if p.adjudicated_reader is not None
            else ("needed: " + ", ".join(r.value for r in p.rules) if p.rules else "")
        )
        for i, r in enumerate(p.reads):
            rows.append(
                (
                    p.patient_id if i == 0 else "",
                    r.reader,
                    r.best_overall_response.value,
                    "" if r.progression_date is None else r.progression_date.isoformat(),
                    " ".join(sorted(r.baseline_targets)),
                    "" if r.baseline_sum_mm is None else _num(r.baseline_sum_mm, 1),
                    status if i == 0 else "",
                )
            )
    return rows


def json_text(comparison: ReaderComparison) -> str:
    """The ``--format json`` document."""
    return json.dumps(comparison.as_dict(), indent=2, ensure_ascii=False) + "\n"


def table_text(comparison: ReaderComparison, max_patients: int = 1000) -> str:
    """The readable tables; beyond ``max_patients`` patients only those needing adjudication."""
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, width=120, force_terminal=False, color_system=None)
    patients = comparison.patients
    title = "Reads per patient"
    if len(patients) > max_patients:
        patients = tuple(p for p in patients if p.needs_adjudication)[:max_patients]
        title = f"Patients needing adjudication (first {len(patients)})"
    table = Table(title=title)
    for column in PATIENT_HEADER:
        table.add_column(column)
    for row in patient_rows(patients):
        table.add_row(*row)
    console.print(table)
    agreement = Table(title=f"Reader agreement (readers: {', '.join(comparison.readers)})")
    for column in ("Readers", "Quantity", "Value"):
        agreement.add_column(column)
    for row in agreement_rows(comparison):
        agreement.add_row(*row)
    console.print(agreement)
    return buffer.getvalue()


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


METHODS = (
    "Cohen's kappa of the best overall responses with the large-sample variance of Fleiss, "
    "Cohen and Everitt (1969) and a Wald 95% interval; early and late discrepancy rates of "
    "progression (Amit et al., Eur J Cancer 2011), progression dates within {window} days "
    "counting as the same call; Bland-Altman bias and 95% limits of agreement (bias +/- 1.96 SD; "
    "Lancet 1986) and ICC(2,1), two-way random effects, absolute agreement, single rater "
    "(Shrout and Fleiss 1979), of the baseline sums of diameters."
)


def html_section(comparison: ReaderComparison, max_patients: int = 500) -> str:
    """The report's reader-agreement section: agreement table, then the patients that need or
    had adjudication."""
    flagged = [p for p in comparison.patients if p.needs_adjudication or p.adjudicated_reader]
    shown = flagged[:max_patients]
    more = (
        f'<p class="note">First {len(shown)} of {len(flagged)} patients.</p>'
        if len(flagged) > len(shown)
        else ""
    )
    return (
        _table(("Readers", "Quantity", "Value"), agreement_rows(comparison))
        + (
            "<h3>Patients needing or given adjudication</h3>"
            + _table(PATIENT_HEADER, patient_rows(shown))
            + more
            if shown
            else '<p class="note">No patient needs adjudication.</p>'
        )
        + f'<p class="note">{html.escape(METHODS.format(window=comparison.pd_window_days))}</p>'
    )


def html_page(comparison: ReaderComparison, *, source: str = "") -> str:
    """A standalone page: agreement, then every patient's reads."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Independent reads'
        "</title><style>body{font-family:sans-serif;max-width:70rem;margin:2rem auto}"
        "table{border-collapse:collapse;margin:.6rem 0}th,td{padding:.2rem .6rem;"
        "border-bottom:1px solid #ddd;text-align:left}.note{color:#555;font-size:.9rem}"
        "</style></head><body><h1>Independent reads and adjudication</h1>"
        f'<p class="note">{html.escape(source)}<br>recistry {__version__}, RECIST 1.1, '
        f"generated {stamp}</p><h2>Agreement</h2>{html_section(comparison)}"
        "<h2>Every patient</h2>"
        + _table(PATIENT_HEADER, patient_rows(comparison.patients))
        + "</body></html>\n"
    )


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it into place (never half a file)."""
    from recistry.errors import InputError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", path=str(path)) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
