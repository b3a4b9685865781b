"""The cohort report: one self-contained ``report.html`` plus every figure and table as files.

``report.html`` embeds its figures (PNG as data URIs), uses no script, font or stylesheet from
the network, and has print styles, so it reads offline and prints as a document. Beside it go
the figures as PNG and SVG, every table as CSV, ``patients.csv`` and ``report.json`` (the cohort
summary of :func:`~recistry.cohort.summary.cohort_summary`).

Writing is all-or-nothing: files are built in a temporary folder next to the output folder and
moved in only when everything succeeded.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from recistry import __version__
from recistry.atomic import atomic_folder, check_output_folder
from recistry.cohort import plots
from recistry.cohort.krenning import KrenningSelection
from recistry.cohort.readers import ReaderComparison
from recistry.cohort.stats import fixed
from recistry.cohort.summary import (
    DAYS_PER_MONTH,
    cohort_summary,
    duration_of_response,
    objective_response,
    overall_survival,
    progression_free_survival,
    response_basis,
)
from recistry.cohort.survival import KaplanMeier, median_followup
from recistry.cohort.tables import (
    CTCAE_GRADES,
    AdverseEvent,
    TableRow,
    adverse_event_table,
    baseline_characteristics,
    best_response_table,
    subgroup_table,
)
from recistry.csv_guard import guard_rows
from recistry.errors import InputError
from recistry.recist.model import AssessmentOptions, PatientAssessment

log = logging.getLogger(__name__)

HTML_PATIENT_ROWS = 500
"""The HTML listing stops here; patients.csv always has every patient."""

SECTIONS = (
    ("summary", "Summary"),
    ("baseline", "Baseline characteristics"),
    ("response", "Best overall response"),
    ("subgroups", "Subgroups"),
    ("readers", "Reader agreement"),
    ("pfs", "Progression-free survival"),
    ("os", "Overall survival"),
    ("dor", "Duration of response"),
    ("waterfall", "Waterfall plot"),
    ("spider", "Spider plot"),
    ("swimmer", "Swimmer plot"),
    ("krenning", "SSTR-PET uptake (Krenning)"),
    ("adverse-events", "Adverse events"),
    ("patients", "Patients"),
    ("methods", "Methods"),
)
"""Section ids and headings of report.html, in order."""


@dataclass(frozen=True, slots=True)
class ReportOutput:
    """What :func:`write_report` wrote, and the seconds spent in each part."""

    html: Path
    files: tuple[Path, ...]
    summary: dict[str, object]
    timings: dict[str, float] = field(default_factory=dict)


def _quiet(_part: str) -> None:
    """Default progress callback: say nothing."""


@contextmanager
def _timed(timings: dict[str, float], part: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[part] = timings.get(part, 0.0) + time.perf_counter() - start


def _csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(guard_rows(["" if v is None else v for v in row] for row in rows))


def _table_rows_csv(path: Path, rows: Sequence[TableRow]) -> None:
    _csv(
        path,
        ("section", "label", "value", "count", "percent"),
        [(r.section, r.label, r.value, r.count, r.percent) for r in rows],
    )


def _km_csv(path: Path, fit: KaplanMeier) -> None:
    t = fit.table
    _csv(
        path,
        ("time_months", "at_risk", "events", "censored", "survival", "lower95", "upper95"),
        list(
            zip(t.time, t.at_risk, t.events, t.censored, t.survival, t.lower, t.upper, strict=True)
        ),
    )


def _e(text: object) -> str:
    return html.escape(str(text))


def _html_table(
    header: Sequence[str], rows: Sequence[Sequence[object]], *, section_col: bool = False
) -> str:
    """A table; with ``section_col`` the first column becomes a spanning section row."""
    out = ["<table><thead><tr>"]
    shown = header[1:] if section_col else header
    out += [f"<th>{_e(h)}</th>" for h in shown]
    out.append("</tr></thead><tbody>")
    current: object = object()
    for row in rows:
        cells = list(row)
        if section_col:
            section, cells = cells[0], cells[1:]
            if section != current and section:
                out.append(
                    f'<tr class="section"><td colspan="{len(shown)}">{_e(section)}</td></tr>'
                )
            current = section
        out.append(
            "<tr>" + "".join(f"<td>{_e('' if c is None else c)}</td>" for c in cells) + "</tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _img(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(alt)} — files: {_e(png.name)}, {_e(png.with_suffix('.svg').name)}"
        "</figcaption></figure>"
    )


def _fmt_months(value: float | None) -> str:
    return "NR" if value is None else fixed(value, 1)


def _pct(value: float | None) -> str:
    return "NA" if value is None else f"{fixed(100 * value, 1)}%"


def _km_rows(
    fit: KaplanMeier, name: str, follow_up: KaplanMeier | None = None
) -> list[tuple[str, str]]:
    """Events/N, median (95% CI), 12- and 24-month rates and median follow-up of one endpoint."""
    lo, hi = fit.median_ci95
    rows = [
        ("Patients", str(fit.n)),
        ("Events", str(fit.events)),
        (
            "Median, months (95% CI)",
            f"{_fmt_months(fit.median)} ({_fmt_months(lo)}–{_fmt_months(hi)})",
        ),
    ]
    if fit.n:
        for landmark in (12.0, 24.0):
            s, lower, upper = fit.survival_at(landmark)
            rows.append(
                (
                    f"{name} at {landmark:.0f} months (95% CI)",
                    f"{_pct(s)} ({_pct(lower)}–{_pct(upper)})",
                )
            )
    if follow_up is not None:
        rows.append(("Median follow-up, months (reverse KM)", _fmt_months(follow_up.median)))
    return rows


def write_report(
    assessments: Sequence[PatientAssessment],
    out_dir: Path,
    *,
    by: Sequence[str] = (),
    adverse_events: Sequence[AdverseEvent] | None = None,
    title: str = "Cohort response report",
    source: str = "",
    progress: Callable[[str], None] | None = None,
    readers: ReaderComparison | None = None,
    adjudicated: frozenset[str] = frozenset(),
    krenning: KrenningSelection | None = None,
    stamp: str | None = None,
) -> ReportOutput:
    """Write report.html, figures (PNG+SVG), tables (CSV), patients.csv and report.json.

    Parameters
    ----------
    assessments
        One RECIST assessment per patient, scored with the same options.
    out_dir
        Output folder, created if needed; existing files of the same names are replaced.
    by
        Subgroup specs (see :class:`~recistry.cohort.summary.Subgroup`).
    adverse_events
        Rows of the optional adverse-event table; the section says "not provided" without it.
    title, source
        Heading of the report and a description of the input, shown under it.
    progress
        Called with the name of each part as it starts (for a CLI status line).
    readers
        The comparison of independent reads (``recistry readers``) for the reader-agreement
        section and reader_agreement.csv; the section says why it is empty without it.
    adjudicated
        Patients whose read in use was chosen by an adjudicator (said in the summary).
    krenning
        The SSTR-PET summary and Krenning selection (:func:`~recistry.cohort.krenning.
        select_by_krenning`) for the uptake section, krenning_uptake.csv and the exploratory
        SUVmax waterfall; ``assessments`` should be its ``assessments``.
    stamp
        Shown as "generated <stamp>" under the heading; without it the same input gives
        byte-identical files.

    Raises
    ------
    InputError
        If there are no patients, a ``by`` spec is malformed, or the folder cannot be written.
    """
    if not assessments:
        raise InputError("no patients to report on", path=source or None)
    timings: dict[str, float] = {}
    say = progress or _quiet
    check_output_folder(out_dir)  # before any work
    # Built beside out_dir and swapped in whole: a killed run leaves the old report or the new.
    with atomic_folder(out_dir, marker="recistry report\n") as work:
        say("statistics")
        with _timed(timings, "statistics"):
            summary = cohort_summary(assessments, by=by)
            basis = response_basis(assessments)
            pfs = progression_free_survival(assessments)
            os_fit = overall_survival(assessments)
            dor = duration_of_response(assessments)
            pfs_follow = median_followup(
                [a.pfs_days / DAYS_PER_MONTH for a in assessments],
                [a.pfs_event for a in assessments],
            )
            os_follow = (
                None
                if os_fit is None
                else median_followup(
                    [
                        (a.os_days or 0) / DAYS_PER_MONTH
                        for a in assessments
                        if a.os_days is not None
                    ],
                    [bool(a.os_event) for a in assessments if a.os_days is not None],
                )
            )
            orr = objective_response(assessments)
        say("tables")
        with _timed(timings, "tables"):
            baseline = baseline_characteristics(assessments)
            response = best_response_table(assessments)
            subgroups = subgroup_table(assessments, by)
            ae_rows = (
                None
                if adverse_events is None
                else adverse_event_table(adverse_events, len(assessments))
            )
            _table_rows_csv(work / "baseline_characteristics.csv", baseline)
            _table_rows_csv(work / "best_response.csv", response)
            _table_rows_csv(work / "subgroups.csv", subgroups)
            if krenning is not None:
                _csv(work / "krenning_uptake.csv", KRENNING_CSV_HEADER, _uptake_rows(krenning))
            if readers is not None:
                from recistry.cohort.readers_output import agreement_rows

                _csv(work / "reader_agreement.csv", ("readers", "quantity", "value"),
                     agreement_rows(readers))  # fmt: skip
            _km_csv(work / "pfs_kaplan_meier.csv", pfs)
            if os_fit is not None:
                _km_csv(work / "os_kaplan_meier.csv", os_fit)
            _km_csv(work / "dor_kaplan_meier.csv", dor)
            endpoints = [("PFS", _km_rows(pfs, "PFS", pfs_follow))]
            if os_fit is not None:
                endpoints.append(("OS", _km_rows(os_fit, "OS", os_follow)))
            endpoints.append(("Duration of response", _km_rows(dor, "In response")))
            _csv(
                work / "time_to_event.csv",
                ("endpoint", "quantity", "value"),
                [(end, q, v) for end, rows in endpoints for q, v in rows],
            )
            if ae_rows is not None:
                _csv(
                    work / "adverse_events_table.csv",
                    ("category", "event", *(f"grade_{g}" for g in CTCAE_GRADES)),
                    [(r.category, r.event, *(r.cell(g) for g in CTCAE_GRADES)) for r in ae_rows],
                )
            from recistry.results import patient_rows

            listing = patient_rows(assessments)
            _csv(work / "patients.csv", list(listing[0]), [list(r.values()) for r in listing])
            (work / "report.json").write_text(
                json.dumps({"cohort": summary}, indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
        say("figures")
        figures: dict[str, Path] = {}
        with _timed(timings, "figures"):
            built: list[tuple[str, Callable[[], Figure]]] = [
                (
                    "km_pfs",
                    lambda: plots.kaplan_meier_figure(
                        pfs, title="Progression-free survival", ylabel="Progression-free"
                    ),
                ),
                (
                    "waterfall",
                    lambda: plots.waterfall_figure(
                        assessments, orr, title="Best change in target lesions"
                    ),
                ),
                (
                    "spider",
                    lambda: plots.spider_figure(assessments, title="Target lesions over time"),
                ),
                ("swimmer", lambda: plots.swimmer_figure(assessments, title="Time on study")),
            ]
            if os_fit is not None:
                built.insert(
                    1,
                    (
                        "km_os",
                        lambda: plots.kaplan_meier_figure(
                            os_fit, title="Overall survival", ylabel="Alive"
                        ),
                    ),
                )
            if dor.n:
                built.insert(
                    2,
                    (
                        "km_dor",
                        lambda: plots.kaplan_meier_figure(
                            dor,
                            title="Duration of response",
                            ylabel="In response",
                            xlabel="Months since first response",
                        ),
                    ),
                )
            if krenning is not None and any(
                u.best_suv_change_pct is not None for u in krenning.uptakes
            ):
                responses = {a.patient_id: a.best_overall_response for a in assessments}
                built.append(
                    (
                        "suv_waterfall",
                        lambda: plots.suv_waterfall_figure(krenning.uptakes, responses),
                    )
                )
            for name, make in built:
                with _timed(timings, f"figure {name}"):
                    png, _svg = plots.save_figure(make(), work / name)
                figures[name] = png
        say("html")
        with _timed(timings, "html"):
            page = _render_html(
                policy=assessments[0].options,
                title=title,
                source=source,
                summary=summary,
                basis=basis,
                baseline=baseline,
                response=response,
                subgroups=subgroups,
                pfs=pfs,
                os_fit=os_fit,
                dor=dor,
                pfs_follow=pfs_follow,
                os_follow=os_follow,
                ae_rows=ae_rows,
                listing=listing,
                figures=figures,
                readers=readers,
                adjudicated=adjudicated,
                krenning=krenning,
                stamp=stamp,
            )
            (work / "report.html").write_text(page, encoding="utf-8")
        written = [out_dir / p.name for p in sorted(work.iterdir())]
    log.info(
        "report written to %s (%s)", out_dir, ", ".join(f"{k} {v:.2f}s" for k, v in timings.items())
    )
    return ReportOutput(out_dir / "report.html", tuple(written), summary, timings)


_CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #ccc;
padding-bottom:.2rem;margin-top:2rem}
.meta{color:#555;font-size:.9rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{padding:.2rem .6rem;text-align:left;border-bottom:1px solid #e4e4e4;vertical-align:top}
th{border-bottom:2px solid #888}tr.section td{font-weight:bold;background:#f4f4f4}
figure{margin:1rem 0}img{max-width:100%;height:auto}figcaption{font-size:.8rem;color:#555}
.headline{font-size:1.05rem;background:#f6f9fc;border-left:4px solid #0072B2;padding:.5rem .8rem}
nav ol{columns:2;font-size:.9rem}.note{font-size:.85rem;color:#555}
@media print{body{max-width:none;margin:0}nav{display:none}section{break-inside:avoid}
h2{break-after:avoid}figure{break-inside:avoid}}
"""


def _render_html(
    *,
    title: str,
    source: str,
    summary: dict[str, Any],
    basis: str,
    baseline: Sequence[TableRow],
    response: Sequence[TableRow],
    subgroups: Sequence[TableRow],
    pfs: KaplanMeier,
    os_fit: KaplanMeier | None,
    dor: KaplanMeier,
    pfs_follow: KaplanMeier,
    os_follow: KaplanMeier | None,
    ae_rows: Sequence[Any] | None,
    listing: Sequence[dict[str, Any]],
    figures: dict[str, Path],
    readers: ReaderComparison | None = None,
    adjudicated: frozenset[str] = frozenset(),
    policy: AssessmentOptions | None = None,
    krenning: KrenningSelection | None = None,
    stamp: str | None = None,
) -> str:
    orr, dcr = summary["orr"], summary["dcr"]

    def rate(block: dict[str, Any]) -> str:
        if block["rate"] is None:
            return f"{block['responders']}/{block['n']}"
        lo, hi = block["ci95"]
        return (
            f"{block['responders']}/{block['n']} = {100 * block['rate']:.1f}% "
            f"(95% CI {100 * lo:.1f}–{100 * hi:.1f})"
        )

    os_text = "not available (no clinical table)" if os_fit is None else plots.median_text(os_fit)
    body: dict[str, str] = {}
    counts = ", ".join(
        f"{k if k != 'NON_CR_NON_PD' else 'non-CR/non-PD'} {v}"
        for k, v in summary["best_overall_response_counts"].items()
        if v or k != "NON_CR_NON_PD"
    )
    body["summary"] = (
        f'<p class="headline">ORR ({basis} best response) {_e(rate(orr))}; DCR {_e(rate(dcr))}.'
        f"<br>PFS: {_e(plots.median_text(pfs))}. OS: {_e(os_text)}.</p>"
        f"<p>{summary['patients']} patients, {summary['measurable']} with measurable disease at "
        f"baseline (the ORR/DCR denominator). Best overall response: {_e(counts)}.</p>"
        f'<p class="note">Headline response uses the {basis} best overall response; the '
        "other reading is in the response table.</p>"
        + (
            f"<p>Reads in use: adjudicated: {len(adjudicated)} of {summary['patients']} patients "
            "(the read an adjudicator accepted; see Reader agreement).</p>"
            if adjudicated
            else ""
        )
    )
    body["krenning"] = _krenning_html(krenning, figures)
    if readers is None:
        body["readers"] = (
            '<p class="note">One read per patient (or a table): no reader agreement to '
            "measure. Independent reads in a study store are compared here.</p>"
        )
    else:
        from recistry.cohort.readers_output import html_section

        body["readers"] = html_section(readers)
    body["baseline"] = _html_table(
        ("Section", "Characteristic", f"Patients (N = {summary['patients']})"),
        [(r.section, r.label, r.value) for r in baseline],
        section_col=True,
    )
    body["response"] = _html_table(
        ("Basis", "Best overall response", "n (%)"),
        [(r.section, r.label, r.value) for r in response],
        section_col=True,
    )
    paired = [
        (orr_row.section, orr_row.label.removesuffix(": ORR"), orr_row.value, dcr_row.value)
        for orr_row, dcr_row in zip(subgroups[::2], subgroups[1::2], strict=True)
    ]
    body["subgroups"] = (
        _html_table(
            ("Subgroup", "Group", "ORR k/n (%, exact 95% CI)", "DCR k/n (%, exact 95% CI)"),
            paired,
            section_col=True,
        )
        + '<p class="note">Subgroups are descriptive; their exact intervals are wide.</p>'
        if subgroups
        else '<p class="note">No subgroups requested (use --by COLUMN).</p>'
    )
    body["pfs"] = _html_table(("Quantity", "Value"), _km_rows(pfs, "PFS", pfs_follow)) + _img(
        figures["km_pfs"], "Kaplan–Meier PFS"
    )
    body["os"] = (
        '<p class="note">No clinical table with follow-up: OS not estimated.</p>'
        if os_fit is None
        else _html_table(("Quantity", "Value"), _km_rows(os_fit, "OS", os_follow))
        + _img(figures["km_os"], "Kaplan–Meier OS")
    )
    body["dor"] = (
        '<p class="note">No responders.</p>'
        if not dor.n
        else _html_table(("Quantity", "Value"), _km_rows(dor, "In response"))
        + _img(figures["km_dor"], "Kaplan–Meier duration of response")
    )
    body["waterfall"] = _img(figures["waterfall"], "Waterfall plot of best % change")
    body["spider"] = _img(figures["spider"], "Spider plot of % change over time")
    body["swimmer"] = _img(figures["swimmer"], "Swimmer plot of time on study")
    if ae_rows is None:
        body["adverse-events"] = '<p class="note">No adverse-event table was given.</p>'
    else:
        grades = [g for g in CTCAE_GRADES if any(r.by_grade.get(g) for r in ae_rows)] or [1, 2, 3]
        body["adverse-events"] = (
            _html_table(
                ("Category", "Event", *(f"Grade {g} n (%)" for g in grades)),
                [(r.category, r.event, *(r.cell(g) for g in grades)) for r in ae_rows],
                section_col=True,
            )
            + '<p class="note">Patients by worst CTCAE v5.0 grade per event, % of all patients.</p>'
        )
    shown = listing[:HTML_PATIENT_ROWS]
    columns = (
        "patient_id",
        "best_overall_response_unconfirmed",
        "best_overall_response_confirmed",
        "best_change_from_baseline_pct",
        "pfs_months",
        "pfs_event",
        "os_months",
        "os_event",
    )
    body["patients"] = _html_table(
        (
            "Patient",
            "BOR (unconfirmed)",
            "BOR (confirmed)",
            "Best change %",
            "PFS mo",
            "PFS event",
            "OS mo",
            "OS event",
        ),
        [[_cell(row[c]) for c in columns] for row in shown],
    ) + (
        f'<p class="note">First {HTML_PATIENT_ROWS} of {len(listing)} patients; all are in '
        "patients.csv.</p>"
        if len(listing) > HTML_PATIENT_ROWS
        else ""
    )
    body["methods"] = f"{_policy_html(policy)}{_METHODS}" if policy else _METHODS
    nav = "".join(f'<li><a href="#{sid}">{_e(head)}</a></li>' for sid, head in SECTIONS)
    sections = "".join(
        f'<section id="{sid}"><h2>{_e(head)}</h2>{body[sid]}</section>' for sid, head in SECTIONS
    )
    generated = "" if stamp is None else f", generated {stamp}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><p class="meta">{_e(source)}<br>recistry {__version__}, '
        f"RECIST 1.1{_e(generated)}</p></header>"
        f"<nav><ol>{nav}</ol></nav>{sections}</body></html>\n"
    )


KRENNING_CSV_HEADER = (
    "patient_id",
    "highest_baseline_krenning",
    "baseline_lesions_krenning_3_plus",
    "best_target_suv_max_change_pct",
    "lesion_id",
    "lesion_baseline_krenning",
    "date",
    "suv_max",
    "lesion_to_liver_ratio",
    "suv_max_change_from_baseline_pct",
)


def _uptake_rows(selection: KrenningSelection) -> list[tuple[object, ...]]:
    """One row per patient, target and scan (patients without targets get one row)."""
    rows: list[tuple[object, ...]] = []
    for u in selection.uptakes:
        head = (
            u.patient_id,
            u.highest_krenning,
            u.lesions_grade_3_plus,
            _round(u.best_suv_change_pct),
        )
        if not u.targets:
            rows.append((*head, None, None, None, None, None, None))
        for t in u.targets:
            for scan in t.scans:
                rows.append(
                    (
                        *head,
                        t.lesion_id,
                        t.krenning,
                        scan.date.isoformat(),
                        scan.suv_max,
                        _round(scan.liver_ratio),
                        _round(scan.change_pct),
                    )
                )
    return rows


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _krenning_html(selection: KrenningSelection | None, figures: dict[str, Path]) -> str:
    if selection is None or not selection.graded:
        return (
            '<p class="note">No Krenning grades recorded (measurement columns krenning, '
            "suv_max, liver_suv_mean).</p>"
        )
    parts = []
    if selection.required is not None:
        parts.append(
            f"<p>Inclusion rule applied (--require-krenning {selection.required}): a baseline "
            f"lesion of Krenning grade {selection.required} or more. Excluded: "
            f"{len(selection.excluded)}"
            + (f" ({_e(', '.join(selection.excluded))})" if selection.excluded else "")
            + ".</p>"
        )
    elif selection.below_inclusion:
        parts.append(
            '<p class="headline">Flagged: '
            f"{len(selection.below_inclusion)} patient(s) without a baseline lesion of Krenning "
            f"grade 3 or more (the seed study's inclusion rule): "
            f"{_e(', '.join(selection.below_inclusion))}. "
            "Use --require-krenning 3 to exclude them.</p>"
        )
    else:
        parts.append("<p>Every patient has a baseline lesion of Krenning grade 3 or more.</p>")
    rows = []
    for u in selection.uptakes[:HTML_PATIENT_ROWS]:
        targets = "; ".join(
            f"{t.lesion_id}: "
            + ", ".join(
                f"{s.date.isoformat()} {_cell(s.suv_max)}"
                + ("" if s.liver_ratio is None else f" (×{s.liver_ratio:.1f} liver)")
                + ("" if s.change_pct is None else f" {s.change_pct:+.0f}%")
                for s in t.scans[:1] + t.scans[-1:]
                if t.scans
            )
            for t in u.targets
        )
        rows.append(
            (
                u.patient_id,
                _cell(u.highest_krenning),
                str(u.lesions_grade_3_plus),
                targets,
                "–" if u.best_suv_change_pct is None else f"{u.best_suv_change_pct:+.1f}%",
            )
        )
    parts.append(
        _html_table(
            (
                "Patient",
                "Highest baseline Krenning",
                "Lesions grade ≥ 3",
                "Target SUVmax: baseline and last scan (lesion/liver, change)",
                "Best change in target SUVmax",
            ),
            rows,
        )
    )
    if "suv_waterfall" in figures:
        parts.append(
            _img(figures["suv_waterfall"], "Exploratory waterfall of target SUVmax change")
        )
    parts.append(
        '<p class="note">Every scan of every target is in krenning_uptake.csv. SUVmax change is '
        "exploratory: it is not a RECIST 1.1 criterion.</p>"
    )
    return "".join(parts)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _policy_html(policy: AssessmentOptions) -> str:
    """The policy profile the assessments were scored with: name, version and every setting."""
    settings = ", ".join(
        f"{name} = {value}"
        for name, value in asdict(policy).items()
        if name not in ("policy", "policy_version")
    )
    return (
        f"<p>Policy profile <code>{_e(policy.policy)}</code> version {policy.policy_version}: "
        f"{_e(settings)} (docs/recist-rules.md, “Policy profiles”).</p>"
    )


_METHODS = """
<ul>
<li>Response by RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228–247). ORR = CR + PR and
DCR = CR + PR + SD over patients with at least one measurable target lesion at baseline; SD counts
only after the minimum interval from treatment start. Both the unconfirmed and the confirmed best
overall response (§4.6.1, Table 3) are reported.</li>
<li>Proportions with Clopper–Pearson exact 95% intervals (Biometrika 1934;26:404–413), as R
<code>binom.test</code>.</li>
<li>PFS: treatment start to the first scan showing progression, or death; censored at the last
evaluable scan. OS: treatment start to death; censored at last follow-up. Duration of response:
first CR/PR to progression or death, over responders. Months are days / 30.4375.</li>
<li>Kaplan–Meier estimates (lifelines) with Greenwood variance and log(−log) 95% pointwise
intervals; the median and its interval by the method of Brookmeyer and Crowley as in R
<code>survival::quantile.survfit</code> with <code>conf.type = "log-log"</code> (midpoint of a
flat at exactly 50%; NR when a line never crosses 50%). Numbers at risk are #{T ≥ t} at each tick
(KMunicate, Morris et al., BMJ Open 2019). Median follow-up by reverse Kaplan–Meier (Schemper and
Smith, 1996).</li>
<li>Waterfall bars: best % change of the target sum from baseline, sorted; ★ marks progression
by new lesions or non-target disease (the bar alone would mislead; Kim and Prasad, JAMA Netw
Open 2019). Adverse events: CTCAE v5.0, each patient counted once per event at the worst grade.</li>
</ul>
"""
