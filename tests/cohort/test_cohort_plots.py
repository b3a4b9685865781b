"""Figures: the numbers and marks drawn are the ones the conventions ask for (cohort-stats.md
§2.2–2.4). Figures are inspected as matplotlib artists, then written as real PNG/SVG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import to_hex
from matplotlib.image import imread

from recistry.cohort.plots import (
    RESPONSE_COLOURS,
    kaplan_meier_figure,
    misleading_bar,
    save_figure,
    spider_figure,
    swimmer_figure,
    waterfall_figure,
)
from recistry.cohort.stats import exact_proportion
from recistry.cohort.survival import kaplan_meier
from recistry.recist.model import NewLesions, NonTargetResponse, Response

from ._assessments import assessment, timepoint

R = Response


def test_km_at_risk_row_counts_patients_with_t_at_or_after_each_tick() -> None:
    """KMunicate table: at risk = #{T >= t} even with events exactly on a tick (R
    ``summary(fit, times=)$n.risk``; lifelines' add_at_risk_counts differs, §1.5)."""
    times = [6, 6, 6, 12, 12, 12, 12, 18, 24, 24]
    events = [True, False, True, True, True, False, False, True, True, False]
    fit = kaplan_meier(times, events)
    fig = kaplan_meier_figure(fit, title="PFS", ylabel="PFS", ticks=[0, 6, 12, 18, 24])
    risk_ax = fig.axes[1]
    top_row = max(t.get_position()[1] for t in risk_ax.texts)
    drawn = {
        t.get_position()[0]: int(t.get_text())
        for t in risk_ax.texts
        if t.get_position()[1] == top_row
    }
    expected = {tick: sum(1 for x in times if x >= tick) for tick in (0, 6, 12, 18, 24)}
    assert drawn == expected == {0: 10, 6: 10, 12: 7, 18: 3, 24: 2}


def test_km_median_annotation_says_nr_when_not_reached(tmp_path: Path) -> None:
    fit = kaplan_meier([5, 10, 15, 20, 25, 30], [True, False, False, False, False, False])
    fig = kaplan_meier_figure(fit, title="OS", ylabel="Alive")
    assert any("Median NR" in t.get_text() for t in fig.axes[0].texts)
    png, svg = save_figure(fig, tmp_path / "km")
    assert imread(png).shape[0] > 500 and svg.read_text().count("<svg") == 1


def _waterfall_cohort() -> list:
    shrinking_but_new_lesion = assessment(
        "NEW",
        R.PD,
        timepoints=[timepoint(84, -12.0, R.PD, new_lesions=NewLesions.PRESENT)],
    )
    return [
        assessment("PR1", R.PR, timepoints=[timepoint(84, -45.0, R.PR)]),
        assessment("SD1", R.SD, timepoints=[timepoint(84, 5.0, R.SD)]),
        assessment("PD1", R.PD, timepoints=[timepoint(84, 140.0, R.PD)]),
        shrinking_but_new_lesion,
        assessment(
            "NT",
            R.SD,
            timepoints=[
                timepoint(84, -5.0, R.SD),
                timepoint(170, -6.0, R.PD, non_target=NonTargetResponse.PD),
                timepoint(250, -50.0, R.PD),
            ],
        ),
        assessment("NOFU", R.NE),
    ]


def test_waterfall_sorted_coloured_and_flags_pd_by_new_or_non_target_lesions() -> None:
    """Bars sorted descending, coloured by best response, capped at +100%; ★ on patients whose
    PD came from new lesions or non-target progression (Kim & Prasad 2019)."""
    cohort = _waterfall_cohort()
    fig = waterfall_figure(cohort, exact_proportion(1, 6))
    ax = fig.axes[0]
    bars = ax.patches
    heights = [b.get_height() for b in bars]
    # 140% capped; NT's best includes its PD scan (-6%) but not the later -50%; no bar for NOFU.
    assert heights == [100.0, 5.0, -6.0, -12.0, -45.0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["PD1", "SD1", "NT", "NEW", "PR1"]
    colours = [to_hex(b.get_facecolor()).upper() for b in bars]
    assert colours[0] == RESPONSE_COLOURS[R.PD] and colours[-1] == RESPONSE_COLOURS[R.PR]
    stars = [line for line in ax.lines if line.get_marker() == "*"]
    assert len(stars) == 1 and list(stars[0].get_xdata()) == [2, 3]
    dashed = sorted(line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == "--")
    assert dashed == [-30, 20]
    assert any("140%" in t.get_text() for t in ax.texts)
    assert "ORR (unconfirmed best response) 1/6 (16.7%" in fig.get_supxlabel()
    assert [misleading_bar(a) for a in cohort] == [False, False, False, True, True, False]


def test_large_waterfall_draws_one_area_per_response_with_the_same_heights() -> None:
    """Thousands of bars are drawn as filled step areas; the outline still follows each bar."""
    changes = np.linspace(60, -90, 600)
    cohort = [
        assessment(
            f"P{i}",
            R.PR if v <= -30 else (R.PD if v >= 20 else R.SD),
            timepoints=[timepoint(84, round(float(v), 1), R.SD)],
        )
        for i, v in enumerate(changes)
    ]
    ax = waterfall_figure(cohort, exact_proportion(1, 2)).axes[0]
    assert not ax.patches
    areas = [c for c in ax.collections if c.get_paths()]
    assert len(areas) == 3
    tops = np.concatenate([c.get_paths()[0].vertices[:, 1] for c in areas])
    assert tops.max() == 60.0 and tops.min() == -90.0


def test_spider_starts_at_zero_and_breaks_at_missing_scans() -> None:
    """No interpolation across a scan without a complete target sum: the line breaks there."""
    patient = assessment(
        "P1",
        R.PR,
        timepoints=[
            timepoint(84, -20.0, R.SD),
            timepoint(168, None, R.NE),
            timepoint(252, -40.0, R.PR),
            timepoint(336, -42.0, R.PR),
        ],
    )
    fig = spider_figure([patient])
    collections = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)]
    segments = collections[0].get_segments()
    assert len(segments) == 2
    first, second = segments
    assert first[0][1] == 0.0 and first[0][0] < 0  # baseline scan 7 days before treatment start
    assert np.allclose(first[:, 1], [0.0, -20.0])
    assert np.allclose(second[:, 1], [-40.0, -42.0])


def test_swimmer_marks_death_progression_and_ongoing() -> None:
    cohort = [
        assessment("ALIVE", R.PR, first_response_day=84, pfs_days=400, os_days=600, os_event=False),
        assessment("DEAD", R.PD, pfs_days=80, pfs_event=True, os_days=300, os_event=True),
    ]
    fig = swimmer_figure(cohort)
    ax = fig.axes[0]
    by_marker = {line.get_marker(): line for line in ax.lines}
    assert list(by_marker["X"].get_xdata()) == [300 / 30.4375]
    assert list(by_marker[">"].get_xdata()) == [600 / 30.4375]
    assert list(by_marker["o"].get_xdata()) == [80 / 30.4375]
    assert list(by_marker["^"].get_xdata()) == [84 / 30.4375]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["DEAD", "ALIVE"]
