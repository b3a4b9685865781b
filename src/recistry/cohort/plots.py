"""Journal-style cohort figures: Kaplan–Meier, waterfall, spider and swimmer plots.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas, never through
``pyplot``, so nothing touches a display or global state (the CLI runs on headless servers and
the report may build figures in a loop). Conventions follow cohort-stats.md §2.2–2.4: KMunicate
at-risk tables (Morris et al., BMJ Open 2019;9:e030215) counting #{T ≥ t} at each tick, waterfall
bars coloured by best overall response with −30% / +20% lines and a marker where new lesions or
non-target progression make a bar misleading (Kim & Prasad, JAMA Netw Open 2019), spider lines
broken at missing scans. Times are months (days / 30.4375) from the origin (treatment start).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from recistry.cohort.krenning import PatientUptake
from recistry.cohort.stats import Proportion
from recistry.cohort.summary import DAYS_PER_MONTH, RESPONDERS, response_basis
from recistry.cohort.survival import KaplanMeier
from recistry.recist.model import NewLesions, NonTargetResponse, PatientAssessment, Response

log = logging.getLogger(__name__)

# Okabe–Ito colour-blind-safe palette, one colour per best overall response.
RESPONSE_COLOURS = {
    Response.CR: "#009E73",
    Response.PR: "#0072B2",
    Response.SD: "#E69F00",
    Response.NON_CR_NON_PD: "#CC79A7",
    Response.PD: "#D55E00",
    Response.NE: "#999999",
}
RESPONSE_LABELS = {
    r: ("Non-CR/non-PD" if r is Response.NON_CR_NON_PD else r.value) for r in Response
}

WATERFALL_CAP_PCT = 100.0
"""Bars above +100% are drawn at +100% with the true value written on them."""

WATERFALL_MAX_BAR_ARTISTS = 500
"""Above this many patients the waterfall is drawn as filled areas instead of bar artists."""

SWIMMER_MAX_PATIENTS = 60
"""A swimmer plot stays readable up to about this many lanes; larger cohorts show the longest."""

SPIDER_MAX_PATIENTS = 2000
"""Beyond this many lines a spider plot is ink, not information: a seeded sample is drawn."""


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, stem: Path) -> tuple[Path, Path]:
    """Write ``stem.png`` (200 dpi) and ``stem.svg``; returns both paths."""
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, dpi=200)
    # A fixed salt makes the SVG's element ids (clip paths, markers) the same on every run.
    with matplotlib.rc_context({"svg.hashsalt": "recistry"}):
        fig.savefig(svg, metadata={"Date": None})
    return png, svg


def _months_text(value: float | None) -> str:
    return "NR" if value is None else f"{value:.1f}"


def median_text(fit: KaplanMeier, unit: str = "months") -> str:
    """``Median 28.5 months (95% CI 17.7–48.0)``, NR for limits never reached."""
    lo, hi = fit.median_ci95
    return (
        f"Median {_months_text(fit.median)}"
        f"{'' if fit.median is None else ' ' + unit} "
        f"(95% CI {_months_text(lo)}–{_months_text(hi)})"
    )


def default_ticks(max_time: float) -> list[float]:
    """0, then every 3, 6 or 12 months so that there are at most about 10 ticks."""
    step = 3.0
    for candidate in (3.0, 6.0, 12.0, 24.0):
        step = candidate
        if max_time / candidate <= 10:
            break
    return [float(x) for x in np.arange(0.0, max_time + step * 0.999, step)]


def kaplan_meier_figure(
    fit: KaplanMeier,
    *,
    title: str,
    ylabel: str,
    xlabel: str = "Months since treatment start",
    ticks: Sequence[float] | None = None,
    colour: str = "#0072B2",
) -> Figure:
    """Kaplan–Meier curve with its 95% band, censoring marks, the median, and at-risk table.

    The table under the axis gives at each tick the number at risk #{T ≥ t} (as R
    ``summary(fit, times=)``) and the cumulative events and censored (KMunicate).
    """
    fig = _new_figure(7.0, 5.2)
    grid = fig.add_gridspec(2, 1, height_ratios=[4.0, 1.1])
    ax = fig.add_subplot(grid[0])
    risk_ax = fig.add_subplot(grid[1], sharex=ax)
    table = fit.table
    times = np.asarray(table.time, dtype=float)
    max_time = float(times[-1]) if times.size else 1.0
    ticks = list(ticks) if ticks is not None else default_ticks(max_time)

    x = np.concatenate(([0.0], times))
    s = np.concatenate(([1.0], np.asarray(table.survival, dtype=float)))
    # The band is undefined (R's NA) where S = 1 or 0; drawn as S itself there.
    lower = np.array([np.nan if v is None else v for v in table.lower], dtype=float)
    upper = np.array([np.nan if v is None else v for v in table.upper], dtype=float)
    lo = np.concatenate(([1.0], np.where(np.isnan(lower), s[1:], lower)))
    hi = np.concatenate(([1.0], np.where(np.isnan(upper), s[1:], upper)))
    ax.fill_between(x, lo, hi, step="post", color=colour, alpha=0.18, linewidth=0, label="95% CI")
    ax.step(x, s, where="post", color=colour, linewidth=1.8, label="Kaplan–Meier estimate")
    censored = np.asarray(table.censored) > 0
    ax.plot(
        times[censored],
        np.asarray(table.survival)[censored],
        linestyle="none",
        marker="|",
        markersize=9,
        markeredgewidth=1.4,
        color=colour,
        label="Censored",
    )
    if fit.median is not None:
        ax.plot([0, fit.median], [0.5, 0.5], linestyle="--", color="0.35", linewidth=0.9)
        ax.plot([fit.median, fit.median], [0, 0.5], linestyle="--", color="0.35", linewidth=0.9)
    lo_m, hi_m = fit.median_ci95
    if lo_m is not None:
        ax.hlines(
            0.5,
            lo_m,
            hi_m if hi_m is not None else max_time,
            color="0.35",
            linewidth=3,
            alpha=0.45,
            label="Median 95% CI",
        )
    ax.text(
        0.98,
        0.97,
        f"{median_text(fit)}\nEvents {fit.events}/{fit.n}",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=9,
        bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "0.8"},
    )
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max(ticks[-1], max_time) * 1.02 if ticks else max_time)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f}%")
    ax.grid(axis="y", color="0.92")
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.tick_params(labelbottom=True)
    ax.set_xticks(ticks)
    ax.set_xlabel(xlabel)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    at_risk = fit.number_at_risk(ticks)
    cumulative = fit.cumulative_counts(ticks)
    rows = [
        ("At risk", at_risk),
        ("Events", tuple(c[0] for c in cumulative)),
        ("Censored", tuple(c[1] for c in cumulative)),
    ]
    risk_ax.set_ylim(-0.5, len(rows) - 0.5)
    for r, (_name, values) in enumerate(rows):
        for tick, value in zip(ticks, values, strict=True):
            risk_ax.text(tick, len(rows) - 1 - r, str(value), ha="center", va="center", fontsize=8)
    risk_ax.set_yticks(range(len(rows) - 1, -1, -1), [name for name, _ in rows], fontsize=8)
    risk_ax.tick_params(axis="y", length=0, pad=16)
    risk_ax.tick_params(axis="x", labelbottom=False, length=0)
    for side in ("top", "right", "left", "bottom"):
        risk_ax.spines[side].set_visible(False)
    risk_ax.set_title(
        "Number at risk (cumulative events, censored)", loc="left", fontsize=8, color="0.3"
    )
    return fig


def misleading_bar(assessment: PatientAssessment) -> bool:
    """True when progression came from new lesions or non-target PD (not the target sum).

    Such a patient can have a shrinking bar and yet best response PD, or progress while the bar
    says response (cohort-stats.md §2.2).
    """
    for tp in assessment.timepoints:
        if tp.overall_response is Response.PD:
            return tp.new_lesions is NewLesions.PRESENT or (
                tp.non_target_response is NonTargetResponse.PD
            )
    return False


def best_change_until_progression(assessment: PatientAssessment) -> float | None:
    """Smallest % change of the target sum from baseline, up to and including the first PD
    (:attr:`PatientAssessment.best_change_from_baseline_pct`, as a float for plotting)."""
    best = assessment.best_change_from_baseline_pct
    return None if best is None else float(best)


def waterfall_figure(
    assessments: Sequence[PatientAssessment], orr: Proportion, *, title: str = ""
) -> Figure:
    """Best % change of the target sum from baseline per patient, sorted, coloured by BOR.

    The change is :func:`best_change_until_progression`; bars above +100% are capped. Above
    :data:`WATERFALL_MAX_BAR_ARTISTS` patients the bars are drawn as filled areas per response
    and unconfirmed responses are not hatched.

    Parameters
    ----------
    assessments
        Patients; those with measurable disease and a complete follow-up time point get a bar.
    orr
        The headline ORR, written with its exact interval in the caption.
    """
    basis = response_basis(assessments) if assessments else "unconfirmed"
    changes = [(best_change_until_progression(a), a) for a in assessments if a.measurable]
    bars = [(value, a) for value, a in changes if value is not None]
    excluded = sum(1 for a in assessments if a.measurable) - len(bars)
    bars.sort(key=lambda b: -b[0])
    n = len(bars)
    fig = _new_figure(max(6.0, min(12.0, 3.0 + 0.18 * n)), 4.6)
    ax = fig.add_subplot()
    heights = np.array([min(v, WATERFALL_CAP_PCT) for v, _ in bars])
    colours = [RESPONSE_COLOURS[a.best_overall_response] for _, a in bars]
    xs = np.arange(n)
    unconfirmed = [
        basis == "unconfirmed"
        and a.best_overall_response in RESPONDERS
        and a.best_overall_response_confirmed not in RESPONDERS
        for _, a in bars
    ]
    if n <= WATERFALL_MAX_BAR_ARTISTS:
        containers = ax.bar(xs, heights, width=0.8, color=colours, edgecolor="none")
        for patch, hatch in zip(containers.patches, unconfirmed, strict=True):
            if hatch:
                patch.set_hatch("////")
                patch.set_edgecolor("white")
    else:
        # Thousands of touching bars: one filled step area per response draws the same picture
        # without one artist per patient (the PNG/SVG of 10,000 bars took seconds).
        edges = np.repeat(np.arange(n + 1) - 0.5, 2)[1:-1]
        for response in Response:
            mask = np.array([a.best_overall_response is response for _, a in bars])
            if mask.any():
                ax.fill_between(
                    edges,
                    np.repeat(np.where(mask, heights, 0.0), 2),
                    color=RESPONSE_COLOURS[response],
                    linewidth=0,
                )
    for x, (value, _a) in zip(xs, bars, strict=True):
        if value > WATERFALL_CAP_PCT:
            ax.text(
                float(x),
                WATERFALL_CAP_PCT + 2,
                f"{value:.0f}%",
                ha="center",
                va="bottom",
                fontsize=7,
                rotation=90,
            )
    flagged = [(x, h) for x, h, (_v, a) in zip(xs, heights, bars, strict=True) if misleading_bar(a)]
    if flagged:
        fx, fh = zip(*flagged, strict=True)
        ax.plot(
            fx,
            [h + (4 if h >= 0 else -4) for h in fh],
            linestyle="none",
            marker="*",
            markersize=9,
            color="black",
            label="PD by new lesions or non-target progression",
        )
    ax.axhline(20, linestyle="--", color="0.3", linewidth=0.9)
    ax.axhline(-30, linestyle="--", color="0.3", linewidth=0.9)
    ax.axhline(0, color="0.2", linewidth=0.6)
    for level, text in ((20, "+20%\n(PD)"), (-30, "−30%\n(PR)")):
        ax.text(
            1.005,
            level,
            text,
            transform=ax.get_yaxis_transform(),
            ha="left",
            va="center",
            fontsize=8,
            color="0.3",
        )
    ax.set_xlim(-0.8, max(n, 1) - 0.2)
    ax.set_ylim(-105, WATERFALL_CAP_PCT + 15)
    ax.set_xticks([] if n > 40 else xs)
    if n <= 40:
        ax.set_xticklabels([a.patient_id for _, a in bars], rotation=90, fontsize=7)
    ax.set_ylabel("Best change in sum of diameters (%)")
    present = [r for r in Response if any(a.best_overall_response is r for _, a in bars)]
    handles: list[Patch | Line2D] = [
        Patch(color=RESPONSE_COLOURS[r], label=RESPONSE_LABELS[r]) for r in present
    ]
    if any(unconfirmed):
        handles.append(
            Patch(facecolor="0.6", hatch="////", edgecolor="white", label="Unconfirmed response")
        )
    if flagged:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="*",
                color="black",
                label="PD by new lesions / non-target",
            )
        )
    ax.legend(
        handles=handles,
        loc="upper right",
        fontsize=8,
        frameon=False,
        title=f"Best response ({basis})",
        title_fontsize=8,
    )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    caption = f"ORR ({basis} best response) {orr.label()}."
    if excluded:
        caption += f" {excluded} measurable patient(s) without a complete follow-up not shown."
    fig.supxlabel(caption, fontsize=8, color="0.25")
    return fig


def spider_figure(assessments: Sequence[PatientAssessment], *, title: str = "") -> Figure:
    """% change of the target sum from baseline over time, one line per patient.

    Each line starts at 0% at the baseline scan; a follow-up without a complete target sum
    breaks the line rather than being bridged (no interpolation across missing scans).
    New-lesion time points are marked with ×.
    """
    fig = _new_figure(7.0, 4.6)
    ax = fig.add_subplot()
    patients = [a for a in assessments if a.measurable]
    heading = title
    if len(patients) > SPIDER_MAX_PATIENTS:
        rng = np.random.default_rng(0)
        keep = sorted(rng.choice(len(patients), SPIDER_MAX_PATIENTS, replace=False).tolist())
        log.info("spider plot: %d of %d patients drawn", SPIDER_MAX_PATIENTS, len(patients))
        heading = f"{title} ({SPIDER_MAX_PATIENTS} of {len(patients)} patients, seeded sample)"
        patients = [patients[i] for i in keep]
    segments: list[list[tuple[float, float]]] = []
    seg_colours: list[str] = []
    new_x: list[float] = []
    new_y: list[float] = []
    for a in patients:
        colour = RESPONSE_COLOURS[a.best_overall_response]
        current = [((a.baseline_date - a.origin_date).days / DAYS_PER_MONTH, 0.0)]
        for tp in a.timepoints:
            t = (tp.date - a.origin_date).days / DAYS_PER_MONTH
            if tp.change_from_baseline_pct is None or not tp.complete:
                if len(current) > 1:
                    segments.append(current)
                    seg_colours.append(colour)
                current = []
                continue
            y = min(float(tp.change_from_baseline_pct), WATERFALL_CAP_PCT)
            current.append((t, y))
            if tp.new_lesions is NewLesions.PRESENT:
                new_x.append(t)
                new_y.append(y)
        if len(current) > 1:
            segments.append(current)
            seg_colours.append(colour)
    ax.add_collection(LineCollection(segments, colors=seg_colours, linewidths=1.2, alpha=0.85))
    for seg, colour in zip(segments, seg_colours, strict=True):
        ax.plot(*zip(*seg, strict=True), linestyle="none", marker="o", markersize=2.5, color=colour)
    if new_x:
        ax.plot(
            new_x,
            new_y,
            linestyle="none",
            marker="x",
            markersize=7,
            color="black",
            label="New lesion(s)",
        )
    ax.axhline(20, linestyle="--", color="0.3", linewidth=0.9)
    ax.axhline(-30, linestyle="--", color="0.3", linewidth=0.9)
    ax.axhline(0, color="0.2", linewidth=0.6)
    ax.autoscale_view()
    ax.set_ylim(-105, WATERFALL_CAP_PCT + 10)
    ax.set_xlabel("Months since treatment start")
    ax.set_ylabel("Change in sum of diameters from baseline (%)")
    present = [r for r in Response if any(a.best_overall_response is r for a in patients)]
    handles: list[Patch | Line2D] = [
        Line2D([], [], color=RESPONSE_COLOURS[r], label=RESPONSE_LABELS[r]) for r in present
    ]
    if new_x:
        handles.append(
            Line2D([], [], linestyle="none", marker="x", color="black", label="New lesion(s)")
        )
    ax.legend(
        handles=handles,
        loc="upper right",
        fontsize=8,
        frameon=False,
        title="Best response",
        title_fontsize=8,
    )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if heading:
        ax.set_title(heading.strip(), loc="left", fontsize=11, fontweight="bold")
    return fig


def swimmer_figure(assessments: Sequence[PatientAssessment], *, title: str = "") -> Figure:
    """Time on study per patient with response segments, progression, death and ongoing arrows.

    A lane runs from treatment start to last follow-up (OS time, else PFS time); the darker
    segment spans the response (first CR/PR to progression or censoring); ▲ first response,
    ● progression, ✕ death, → alive at last follow-up. Only the
    :data:`SWIMMER_MAX_PATIENTS` longest lanes are drawn in a larger cohort (said on the figure).
    """
    lanes = []
    for a in assessments:
        end_days = a.os_days if a.os_days is not None else a.pfs_days
        lanes.append((max(end_days, a.pfs_days) / DAYS_PER_MONTH, a))
    lanes.sort(key=lambda lane: lane[0])
    shown = lanes[-SWIMMER_MAX_PATIENTS:]
    n = len(shown)
    fig = _new_figure(7.5, max(3.0, 1.2 + 0.22 * n))
    ax = fig.add_subplot()
    first_x, prog_x, death_x, ongoing_x = [], [], [], []
    for y, (end, a) in enumerate(shown):
        colour = RESPONSE_COLOURS[a.best_overall_response]
        ax.barh(y, end, height=0.6, color=colour, alpha=0.35, edgecolor="none")
        if a.first_response_date is not None:
            start = (a.first_response_date - a.origin_date).days / DAYS_PER_MONTH
            stop = a.pfs_days / DAYS_PER_MONTH
            ax.barh(
                y, max(stop - start, 0.0), left=start, height=0.6, color=colour, edgecolor="none"
            )
            first_x.append((start, y))
        if a.progression_date is not None:
            prog_x.append(((a.progression_date - a.origin_date).days / DAYS_PER_MONTH, y))
        if a.os_event:
            death_x.append((end, y))
        elif not a.pfs_event or a.os_days is not None:
            ongoing_x.append((end, y))
    for points, marker, colour, label in (
        (first_x, "^", "black", "First response (CR/PR)"),
        (prog_x, "o", "#D55E00", "Progression"),
        (death_x, "X", "black", "Death"),
        (ongoing_x, ">", "0.3", "Alive at last follow-up"),
    ):
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(
                xs,
                ys,
                linestyle="none",
                marker=marker,
                markersize=6,
                color=colour,
                markeredgecolor="white" if marker == "o" else colour,
                label=label,
            )
    ax.set_yticks(range(n))
    ax.set_yticklabels([a.patient_id for _, a in shown], fontsize=7)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("Months since treatment start")
    present = [r for r in Response if any(a.best_overall_response is r for _, a in shown)]
    handles, _labels = ax.get_legend_handles_labels()
    handles = [
        Patch(color=RESPONSE_COLOURS[r], label=RESPONSE_LABELS[r]) for r in present
    ] + handles
    ax.legend(handles=handles, loc="lower right", fontsize=7, frameon=True, framealpha=0.9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    heading = title
    if len(lanes) > n:
        heading = f"{title} ({n} longest of {len(lanes)} patients)".strip()
    if heading:
        ax.set_title(heading, loc="left", fontsize=11, fontweight="bold")
    return fig


def suv_waterfall_figure(
    uptakes: Sequence[PatientUptake],
    best_response: Mapping[str, Response],
    *,
    title: str = "",
) -> Figure:
    """Exploratory waterfall: best % change from baseline of the summed target SUVmax.

    One bar per patient with target SUVmax at baseline and at a follow-up
    (:attr:`~recistry.cohort.krenning.PatientUptake.best_suv_change_pct`), sorted, coloured by
    the RECIST best overall response. No response threshold is drawn: SUVmax change is not a
    RECIST criterion (PERCIST uses SULpeak; Wahl et al., J Nucl Med 2009;50:122S).
    """
    bars = sorted(
        (
            (u.best_suv_change_pct, u.patient_id)
            for u in uptakes
            if u.best_suv_change_pct is not None
        ),
        key=lambda bar: -bar[0],
    )
    n = len(bars)
    fig = _new_figure(max(6.0, min(12.0, 3.0 + 0.18 * n)), 4.2)
    ax = fig.add_subplot()
    xs = np.arange(n)
    heights = np.array([min(v, WATERFALL_CAP_PCT) for v, _ in bars])
    colours = [RESPONSE_COLOURS[best_response.get(pid, Response.NE)] for _, pid in bars]
    if n:
        ax.bar(xs, heights, width=0.8, color=colours, edgecolor="none")
    ax.axhline(0, color="0.2", linewidth=0.6)
    ax.set_xlim(-0.8, max(n, 1) - 0.2)
    ax.set_ylim(-105, WATERFALL_CAP_PCT + 15)
    ax.set_xticks([] if n > 40 else xs)
    if n <= 40:
        ax.set_xticklabels([pid for _, pid in bars], rotation=90, fontsize=7)
    ax.set_ylabel("Best change in summed target SUVmax (%)")
    present = [r for r in Response if any(best_response.get(pid) is r for _, pid in bars)]
    ax.legend(
        handles=[Patch(color=RESPONSE_COLOURS[r], label=RESPONSE_LABELS[r]) for r in present],
        loc="upper right",
        fontsize=8,
        frameon=False,
        title="RECIST best response",
    )
    ax.set_title(title or "Exploratory: change in target SUVmax", fontsize=11)
    excluded = len(uptakes) - n
    if excluded:
        ax.text(
            0.0,
            -0.12,
            f"{excluded} patient(s) without target SUVmax at baseline and a follow-up",
            transform=ax.transAxes,
            fontsize=8,
            color="0.3",
        )
    return fig
