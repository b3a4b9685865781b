"""The worked examples of iRECIST, one test each, named after their source.

Sources (read for this file; docs/irecist.md lists them with the tests):

* **Seymour 2017**: Seymour L et al. iRECIST: guidelines for response criteria for use in trials
  testing immunotherapeutics. Lancet Oncol 2017;18:e143-e152 (author manuscript PMC5648544):
  Table 2 (time-point response) and Table 3 (iBOR, examples 1-8).
* **EORTC FAQ**: the RECIST working group's iRECIST questions at recist.eortc.org/faq/ (page
  titles in each test). Where a page describes a scenario without numbers, the numbers here are
  ours and chosen to meet its description; the expected calls are the page's.
* **RECIST-tracker**: github.com/heyhey-yoyo/RECIST-tracker, tests/irecist.test.js (test names
  quoted); its fixtures: baseline target 100 mm on 2026-01-01, one liver target ``t1``.
* **admiralonco**: the iRECIST vignette of pharmaverse/admiralonco (vignettes/irecist.Rmd).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from decimal import Decimal

import pytest

from recistry.recist.irecist import IRecistTimepoint, IResponse, best_overall_response_irecist
from recistry.recist.model import AssessmentOptions, Measurement
from tests.recist._build import day, row
from tests.recist._ibuild import calls, irecist, irow, new_lesion, target_series

# --- Seymour 2017 Table 3: every response each cell allows -----------------------------------

ANY = ("iCR", "iPR", "iSD", "iUPD", "iCPD", "NE")
TABLE3 = [
    (
        "example 1",
        [
            ("iCR",),
            ("iCR", "iPR", "iUPD", "NE"),
            ("iCR", "iPR", "iUPD", "NE"),
            ("iUPD",),
            ("iCPD",),
        ],
        "iCR",
    ),
    (
        "example 2",
        [
            ("iUPD",),
            ("iPR", "iSD", "NE"),
            ("iCR",),
            ("iCR", "iUPD", "NE"),
            ("iCR", "iPR", "iSD", "iUPD", "iCPD", "NE"),
        ],
        "iCR",
    ),
    (
        "example 3",
        [
            ("iUPD",),
            ("iPR",),
            ("iPR", "iSD", "iUPD", "NE"),
            ("iPR", "iSD", "iUPD", "NE", "iCPD"),
            ("iPR", "iSD", "iUPD", "NE", "iCPD"),
        ],
        "iPR",
    ),
    (
        "example 4",
        [
            ("iUPD",),
            ("iSD", "NE"),
            ("iPR",),
            ("iPR", "iSD", "iUPD", "NE"),
            ("iPR", "iSD", "iUPD", "iCPD", "NE"),
        ],
        "iPR",
    ),
    (
        "example 5",
        [
            ("iUPD",),
            ("iSD",),
            ("iSD", "iUPD", "NE"),
            ("iSD", "iUPD", "iCPD", "NE"),
            ("iSD", "iUPD", "iCPD", "NE"),
        ],
        "iSD",
    ),
    ("example 6", [("iUPD",), ("iCPD",), ANY, ANY, ANY], "iCPD"),
    ("example 7", [("iUPD",), ("iUPD",), ("iCPD",), ANY, ANY], "iCPD"),
    ("example 8", [("iUPD",), ("NE",), ("NE",), ("NE",), ("NE",)], "iUPD"),
]


def _scans(codes: tuple[str, ...] | list[str], every: int = 56) -> list[IRecistTimepoint]:
    """Time points with the given iRECIST codes, ``every`` days apart from day ``every``."""
    template = irecist(target_series((0, 50), (56, 45))).timepoints[0]
    return [
        dataclasses.replace(template, date=day(every * (i + 1)), response=IResponse(code))
        for i, code in enumerate(codes)
    ]


def _ibor(codes: tuple[str, ...] | list[str], every: int = 56, **options: object) -> str:
    best, reasons = best_overall_response_irecist(
        _scans(codes, every), day(0), AssessmentOptions(**options), has_targets=True
    )
    # The reasons say why, in iRECIST's codes only.
    assert any(r.startswith("iBOR") for r in reasons), reasons
    assert not any(re.search(r"\b(CR|PR|SD|PD)\b", r) for r in reasons), reasons
    return best.value


@pytest.mark.parametrize(("name", "cells", "expected"), TABLE3, ids=[t[0] for t in TABLE3])
def test_seymour_2017_table3_every_allowed_sequence(name, cells, expected) -> None:
    """Seymour 2017 Table 3 ('Scenarios of assignments of best overall response using iRECIST',
    randomised study: no confirmation of iCR/iPR). Each cell lists the responses it allows;
    every combination must give the example's iBOR. Time points 8 weeks apart."""
    sequences = list(itertools.product(*cells))
    wrong = [seq for seq in sequences if _ibor(seq) != expected]
    assert not wrong, f"{name}: {len(wrong)} of {len(sequences)} sequences, e.g. {wrong[0]}"


# --- Seymour 2017 Table 2: each row, with and without a previous iUPD ---------------------------


def visit(
    d: int,
    t1: float | None,
    nt: str = "present",
    further: str | None = None,
    new: dict[str, float] | None = None,
) -> list[Measurement]:
    """One scan: target T1 (liver, ``None`` = absent), non-target NT1 (bone) and new lesions."""
    rows = [row(d, "T1", mm=t1) if t1 is not None else row(d, "T1", state="absent")]
    extra = {"further_increase": further} if further else {}
    rows.append(irow(d, "NT1", "non_target", state=nt, site="bone", **extra))
    for lesion_id, mm in (new or {}).items():
        rows.append(new_lesion(d, mm, lesion_id))
    return rows


def scans(*visits: list[Measurement]) -> list[Measurement]:
    return [m for v in visits for m in v]


# Baseline 50 mm, nadir 40 mm at day 56, RECIST 1.1 target progression (50 mm) at day 112.
BEFORE = (visit(0, 50), visit(56, 40))
TARGET_IUPD = (*BEFORE, visit(112, 50))
NT_IUPD = (*BEFORE, visit(112, 40, "progression"))

TABLE2 = [
    # (row, no previous iUPD | previous iUPD, scans, calls from day 56)
    ("row 1 iCR/iCR/no: iCR", "none", (visit(0, 50), visit(56, None, "absent")), ["iCR"]),
    ("row 1", "previous", (*TARGET_IUPD, visit(154, None, "absent")), ["iSD", "iUPD", "iCR"]),
    ("row 2 iCR/non-iCR/no: iPR", "none", (visit(0, 50), visit(56, None)), ["iPR"]),
    ("row 2", "previous", (*TARGET_IUPD, visit(154, None)), ["iSD", "iUPD", "iPR"]),
    ("row 3 iPR/non-iCR/no: iPR", "none", (visit(0, 50), visit(56, 30)), ["iPR"]),
    ("row 3", "previous", (*TARGET_IUPD, visit(154, 30)), ["iSD", "iUPD", "iPR"]),
    ("row 4 iSD/non-iCR/no: iSD", "none", (visit(0, 50), visit(56, 45)), ["iSD"]),
    ("row 4", "previous", (*TARGET_IUPD, visit(154, 45)), ["iSD", "iUPD", "iSD"]),
    (
        "row 5 new lesions, no change: remains iUPD",
        "previous",
        (*BEFORE, visit(112, 40, new={"N1": 12}), visit(154, 40, new={"N1": 12})),
        ["iSD", "iUPD", "iUPD"],
    ),
    (
        "row 5 new-lesion target sum +5 mm: iCPD",
        "previous",
        (*BEFORE, visit(112, 40, new={"N1": 12}), visit(154, 40, new={"N1": 17})),
        ["iSD", "iUPD", "iCPD"],
    ),
    (
        "row 5 more new lesions: iCPD",
        "previous",
        (*BEFORE, visit(112, 40, new={"N1": 12}), visit(154, 40, new={"N1": 12, "N2": 11})),
        ["iSD", "iUPD", "iCPD"],
    ),
    ("row 6 iSD/iUPD/no: iUPD", "none", NT_IUPD, ["iSD", "iUPD"]),
    (
        "row 6 no further non-target increase: remains iUPD",
        "previous",
        (*NT_IUPD, visit(154, 40, "progression", "false")),
        ["iSD", "iUPD", "iUPD"],
    ),
    (
        "row 6 further non-target increase, not unequivocal: iCPD",
        "previous",
        (*NT_IUPD, visit(154, 40, "progression", "true")),
        ["iSD", "iUPD", "iCPD"],
    ),
    ("row 7 iUPD/non-iCR/no: iUPD", "none", TARGET_IUPD, ["iSD", "iUPD"]),
    (
        "row 7 +4 mm: remains iUPD",
        "previous",
        (*TARGET_IUPD, visit(154, 54)),
        ["iSD", "iUPD", "iUPD"],
    ),
    ("row 7 +5 mm: iCPD", "previous", (*TARGET_IUPD, visit(154, 55)), ["iSD", "iUPD", "iCPD"]),
    (
        "row 8 iUPD/iUPD/no: iUPD",
        "none",
        (*BEFORE, visit(112, 50, "progression")),
        ["iSD", "iUPD"],
    ),
    (
        # Row 8 writes '>5 mm' where rows 7 and 9 write '≥5 mm'; recistry reads ≥ 5 mm throughout
        # (the EORTC FAQ: '5mm or more').
        "row 8 target +5 mm: iCPD",
        "previous",
        (*BEFORE, visit(112, 50, "progression"), visit(154, 55, "progression")),
        ["iSD", "iUPD", "iCPD"],
    ),
    (
        "row 8 non-target increase: iCPD",
        "previous",
        (*BEFORE, visit(112, 50, "progression"), visit(154, 50, "progression", "true")),
        ["iSD", "iUPD", "iCPD"],
    ),
    (
        "row 9 iUPD/iUPD/yes: iUPD",
        "none",
        (*BEFORE, visit(112, 50, "progression", new={"N1": 12})),
        ["iSD", "iUPD"],
    ),
    (
        "row 9 target +5 mm: iCPD",
        "previous",
        (
            *BEFORE,
            visit(112, 50, "progression", new={"N1": 12}),
            visit(154, 55, "progression", new={"N1": 12}),
        ),
        ["iSD", "iUPD", "iCPD"],
    ),
]


@pytest.mark.parametrize(
    ("name", "column", "visits", "expected"), TABLE2, ids=[f"{t[0]} ({t[1]})" for t in TABLE2]
)
def test_seymour_2017_table2_rows(name, column, visits, expected) -> None:
    """Seymour 2017 Table 2 ('Assignment of timepoint response using iRECIST'), each row in the
    column 'no previous iUPD in any category' and 'previous iUPD in any category'."""
    assert calls(irecist(scans(*visits))) == expected


# --- EORTC iRECIST FAQ -------------------------------------------------------------------------


@pytest.mark.parametrize(("last", "expected"), [("NCLA", "iUPD"), ("INCLA", "iCPD")])
def test_faq_non_target_driven_iupd_nc_une_ncla_or_incla(last, expected) -> None:
    """EORTC FAQ 'If iUPD is driven by non-target disease, how is progression confirmed at the
    next assessment?': 'Assessments with NC, UNE, NCLA can then be differentiated ... from NC,
    UNE, INCLA with the former being iUPD/iUPD and the latter iUPD/iCPD'. NC is ``present``, UNE
    ``progression`` (unequivocal), NCLA/INCLA ``progression`` with ``further_increase`` false or
    true; the targets are stable."""
    further = "true" if last == "INCLA" else "false"
    rows = scans(
        visit(0, 50),
        visit(56, 48),  # NC
        visit(112, 48, "progression"),  # UNE: iUPD
        visit(154, 48, "progression", further),  # NCLA or INCLA
    )
    assert calls(irecist(rows)) == ["iSD", "iUPD", expected]


@pytest.mark.parametrize(("further", "expected"), [("false", "iUPD"), ("true", "iCPD")])
def test_faq_non_target_driven_iupd_same_for_new_non_targets(further, expected) -> None:
    """Same FAQ: 'The same is true for new lesions. A new lesion results in iUPD; if the new
    lesions are non-target, any increase in size at the next assessment allows iCPD'."""
    rows = [
        *target_series((0, 50), (56, 45), (98, 45)),
        new_lesion(56, 8.0),  # below 10 mm: a new-lesion non-target
        new_lesion(98, 8.5, further_increase=further),
    ]
    assert calls(irecist(rows)) == ["iUPD", expected]


def test_faq_managing_pr_when_measurements_change_slightly() -> None:
    """EORTC FAQ 'Managing PR when TP measurements change slightly over time': target sums 100
    (baseline), 70, 70, 80, 80, 80, non-targets unchanged: RECIST PR x5, iRECIST iPR x5."""
    sums = (100, 70, 70, 80, 80, 80)
    a = irecist(scans(*(visit(56 * i, mm) for i, mm in enumerate(sums))))
    assert [tp.overall_response.value for tp in a.recist.timepoints] == ["PR"] * 5
    assert calls(a) == ["iPR"] * 5


def test_faq_less_than_four_weeks_new_lesion_in_a_new_site() -> None:
    """EORTC FAQ 'Can imaging be used to confirm progression, even when done LESS than four weeks
    after the scans that showed iUPD': iUPD at TP3 for new liver lesions; an unscheduled CT 14
    days later, for new symptoms, shows a new lesion in a new site: it may define iCPD. (The
    table cannot say why the scan was done: the reason says the condition.)"""
    rows = [
        *target_series((0, 50), (56, 45), (112, 45), (168, 45), (182, 45)),
        new_lesion(168, 12.0, "L1", site="liver"),
        new_lesion(182, 12.0, "L1", site="liver"),
        new_lesion(182, 11.0, "B1", site="brain"),
    ]
    a = irecist(rows)
    assert calls(a) == ["iSD", "iSD", "iUPD", "iCPD"]
    assert any("new symptom or sign" in r for r in a.timepoints[-1].reasons)
    assert a.progression_date == day(168)


def test_faq_less_than_four_weeks_growth_does_not_confirm() -> None:
    """Same FAQ: 'Increases in size of existing lesions (including new lesions identified at the
    time of iUPD) would not allow iCPD to be assigned' on the early scan; 4.5 weeks after the
    iUPD a further new liver lesion and growth of the first by more than 5 mm confirm."""
    rows = [
        *target_series((0, 50), (56, 45), (112, 45), (168, 45), (182, 45), (200, 45)),
        new_lesion(168, 12.0, "L1", site="liver"),
        new_lesion(182, 18.0, "L1", site="liver"),
        new_lesion(200, 18.0, "L1", site="liver"),
        new_lesion(200, 11.0, "L2", site="liver"),
    ]
    a = irecist(rows)
    assert calls(a) == ["iSD", "iSD", "iUPD", "iUPD", "iCPD"]
    assert any("disregarded" in r for r in a.timepoints[3].reasons)


def test_faq_how_new_lesions_define_progression_iupd_iupd_iupd_icpd() -> None:
    """EORTC FAQ 'How do new lesions define progression?': new lesions that stay stable keep
    iUPD ('The TPR would be iUPD, iUPD, iUPD, iCPD for example'); a later increase of 5 mm or
    more of the new-lesion targets is iCPD."""
    rows = [
        *target_series((0, 50), (56, 45), (112, 45), (168, 45), (224, 45)),
        *(new_lesion(d, mm) for d, mm in ((56, 12.0), (112, 12.0), (168, 11.0), (224, 17.0))),
    ]
    assert calls(irecist(rows)) == ["iUPD", "iUPD", "iUPD", "iCPD"]


def test_faq_sequential_increases_of_new_lesions_are_additive() -> None:
    """Same FAQ, note: 'sequential increases are additive; thus a 4mm increase at one
    assessment, followed at the next assessment by a further 2mm increase meets the criteria
    for iCPD' (here, of the new-lesion target sum)."""
    rows = [
        *target_series((0, 50), (56, 45), (112, 45), (168, 45)),
        *(new_lesion(d, mm) for d, mm in ((56, 12.0), (112, 16.0), (168, 18.0))),
    ]
    assert calls(irecist(rows)) == ["iUPD", "iUPD", "iCPD"]


# After a new-lesion iUPD the baseline lesions shrink to iPR (FAQ scenario B): the bar is reset.
RESET = ((0, 100), (56, 80), (112, 60), (168, 60))


@pytest.mark.parametrize(
    ("at_day_168", "expected"),
    [
        ({"N1": 12.0, "N2": 11.0}, "iUPD"),  # 'Further new lesions develop'
        ({"N1": 17.0}, "iUPD"),  # new-lesion target sum +41.7% and +5.0 mm over its nadir
        ({"N1": 16.9}, "iPR"),  # +4.9 mm: not RECIST 1.1 PD
    ],
)
def test_faq_after_a_reset_new_lesions_need_fresh_progression(at_day_168, expected) -> None:
    """Same FAQ: when the next response is iSD or iPR, the new lesions give a new iUPD only when
    further new lesions develop or the new-lesion targets meet RECIST 1.1 PD (>= 20% and >= 5
    mm over their nadir)."""
    rows = [
        *target_series(*RESET),
        new_lesion(56, 12.0),
        new_lesion(112, 12.0),
        *(new_lesion(168, mm, lesion_id) for lesion_id, mm in at_day_168.items()),
    ]
    assert calls(irecist(rows)) == ["iUPD", "iPR", expected]


@pytest.mark.parametrize(("further", "expected"), [("true", "iPR"), ("unequivocal", "iUPD")])
def test_faq_after_a_reset_new_non_targets_need_unequivocal_progression(further, expected) -> None:
    """Same FAQ: after a reset, new non-target lesions give a new iUPD when they 'meet RECIST 1.1
    criteria for PD (unequivocal increase...)'; a smaller increase does not."""
    rows = [
        *target_series(*RESET),
        new_lesion(56, 8.0),  # below 10 mm: a new non-target
        new_lesion(112, 8.0),
        new_lesion(168, 9.0, further_increase=further),
    ]
    assert calls(irecist(rows)) == ["iUPD", "iPR", expected]


def test_faq_scenario_d_target_iupd_then_shrinkage_is_ipr() -> None:
    """EORTC FAQ 'Assigning response after the appearance of new lesions: must the new lesions
    resolve completely before an iPR or iCR can be assigned?', scenario D: 'iUPD occurs at TP3
    based on an increase in target lesion size, which then shrinks, and meets the criteria for
    iPR at TP4'."""
    a = irecist(target_series((0, 100), (56, 80), (112, 60), (168, 75), (224, 65)))
    assert calls(a) == ["iSD", "iPR", "iUPD", "iPR"]


# --- RECIST-tracker tests/irecist.test.js ----------------------------------------------------

# The fixture's dates as days after its baseline (2026-01-01).
FEB1, FEB15, FEB28, MAR1, MAR8, MAR29, MAR30, APR5 = 31, 45, 58, 59, 66, 87, 88, 94


def nl1(d: int, mm: float | None, **extra: str) -> Measurement:
    """The fixture's new target lesion 'nl1' (lung, declared a new-lesion target)."""
    return new_lesion(d, mm, "nl1", new_lesion_category="target", **extra)


def test_tracker_reappearance_after_prior_overall_cr_is_iupd() -> None:
    """RECIST-tracker 'reappearance after prior overall CR produces iUPD instead of NE'."""
    a = irecist(target_series((0, 10), (FEB1, 0), (MAR8, 4)))
    assert calls(a) == ["iCR", "iUPD"]
    assert a.timepoints[1].recist.overall_response.value == "PD"


@pytest.mark.parametrize(("t1", "expected"), [(50, "iPR"), (90, "iSD")])
def test_tracker_stable_new_lesion_does_not_block_ipr_or_isd(t1, expected) -> None:
    """RECIST-tracker 'stable new lesion does not block iPR or iSD after original disease
    improves': 125 mm + new lesion (iUPD), then 50 mm (iPR) or 90 mm (iSD)."""
    rows = [*target_series((0, 100), (FEB1, 125), (MAR8, t1)), nl1(FEB1, 10), nl1(MAR8, 10)]
    assert calls(irecist(rows)) == ["iUPD", expected]


def test_tracker_unchanged_prior_pr_plus_stable_new_lesion_remains_iupd() -> None:
    """RECIST-tracker 'unchanged prior PR plus stable new lesion remains iUPD' (FAQ scenario F)."""
    rows = [*target_series((0, 100), (FEB1, 50), (MAR1, 50), (APR5, 50))]
    rows += [nl1(MAR1, 10), nl1(APR5, 10)]
    assert calls(irecist(rows)) == ["iPR", "iUPD", "iUPD"]


def test_tracker_scan_before_28_days_does_not_alter_later_nadir() -> None:
    """RECIST-tracker 'scan before 28 days does not alter later nadir or state machine': the
    50 mm of the scan 14 days after the iUPD is disregarded, so 60 mm is iPR against a nadir of
    100 mm (the EORTC FAQ: such scans 'should be disregarded')."""
    rows = [*target_series((0, 100), (FEB1, 100), (FEB15, 50), (MAR8, 60))]
    rows += [nl1(FEB1, 10), nl1(FEB15, 10), nl1(MAR8, 10)]
    a = irecist(rows)
    assert calls(a) == ["iUPD", "iUPD", "iPR"]
    assert any("nadir 100.0 mm" in r for r in a.timepoints[2].reasons)


@pytest.mark.parametrize(
    ("early_confirms", "expected"),
    [(False, ["iUPD", "iUPD", "iCPD"]), (True, ["iUPD", "iCPD", "iCPD"])],
)
def test_tracker_new_lesion_on_an_ignored_early_scan(early_confirms, expected) -> None:
    """RECIST-tracker 'new lesion first seen on ignored early scan is re-detected at next eligible
    scan': with ``irecist_early_new_lesion_confirms = false`` (the tracker's reading) the early
    scan is disregarded and the lesion confirms at the next scan. recistry's default follows the
    EORTC FAQ's exception (a new lesion on an early scan done for a new symptom confirms), so
    iCPD comes one scan earlier."""
    rows = [*target_series((0, 100), (FEB1, 125), (FEB15, 125), (MAR8, 125))]
    rows += [nl1(FEB15, 10), nl1(MAR8, 10)]
    a = irecist(rows, irecist_early_new_lesion_confirms=early_confirms)
    assert calls(a) == expected
    assert a.progression_date == day(FEB1)


@pytest.mark.parametrize(("confirming", "expected"), [(FEB28, "iUPD"), (MAR1, "iCPD")])
def test_tracker_27_day_scan_excluded_28_day_scan_confirms(confirming, expected) -> None:
    """RECIST-tracker '27-day scan is excluded and 28-day scan can confirm progression':
    125 mm (iUPD) on Feb 1, 130 mm on Feb 28 (27 days) or Mar 1 (28 days)."""
    a = irecist(target_series((0, 100), (FEB1, 125), (confirming, 130)))
    assert calls(a) == ["iUPD", expected]


@pytest.mark.parametrize(("confirming", "late"), [(MAR29, False), (MAR30, True)])
def test_tracker_56_days_has_no_late_window_note_57_does(confirming, late) -> None:
    """RECIST-tracker '56 days has no late-window warning while 57 days does'."""
    a = irecist(target_series((0, 100), (FEB1, 125), (confirming, 130)))
    assert calls(a) == ["iUPD", "iCPD"]
    assert any("later than the 56 days" in r for r in a.timepoints[1].reasons) is late


def test_tracker_base_cr_with_unresolved_new_lesion_is_not_a_prior_overall_cr() -> None:
    """RECIST-tracker 'base CR with unresolved new lesion does not count as prior overall iCR':
    target 0 mm with a new lesion is iUPD, not iCR, so 4 mm next is no reappearance after CR."""
    rows = [*target_series((0, 10), (FEB1, 0), (MAR8, 4)), nl1(FEB1, 10), nl1(MAR8, 10)]
    a = irecist(rows)
    assert calls(a) == ["iUPD", "iUPD"]
    assert a.recist.timepoints[0].overall_response.value == "PD"
    assert not any("CR" in r for r in a.recist.timepoints[1].reasons if "reappear" in r)


def test_tracker_ne_timepoint_after_iupd() -> None:
    """RECIST-tracker 'NE timepoint after iUPD does not enter nadir series (no false iCPD)':
    iUPD by a new lesion, then a scan where the new lesion is not measured (NE: the iUPD can be
    neither confirmed nor reset), then 61 mm. The tracker leaves the NE scan's 50 mm out of the
    nadir and calls iPR; recistry keeps it: the target sum was measured completely, and RECIST
    1.1 §4.3.1 takes the smallest sum on study as the nadir whatever the overall call, so 61 mm
    is target progression (+22%, +11 mm) in a category that had not progressed: iCPD."""
    rows = [*target_series((0, 100), (FEB1, 100), (MAR8, 50), (APR5, 61))]
    rows += [nl1(FEB1, 10), nl1(APR5, 10)]
    a = irecist(rows)
    assert calls(a) == ["iUPD", "NE", "iCPD"]
    assert any("not evaluated" in r for r in a.timepoints[1].reasons)
    assert a.timepoints[2].recist.nadir_mm == Decimal(50)


@pytest.mark.parametrize(("first", "second"), [(3.2, 8.2), (25.5, 30.6)])
def test_tracker_new_target_sum_exact_boundaries(first, second) -> None:
    """RECIST-tracker 'new target sum exact +5.0 mm boundary confirms iCPD' (3.2 -> 8.2, where
    floats give 4.999999999999999) and 'exact +20% boundary (25.5 -> 30.6) confirms iCPD'."""
    rows = [*target_series((0, 100), (FEB1, 100), (MAR8, 100)), nl1(FEB1, first), nl1(MAR8, second)]
    assert calls(irecist(rows)) == ["iUPD", "iCPD"]


def test_tracker_demo_patient() -> None:
    """RECIST-tracker src/demo.js, patient DEMO-001 (liver target 40 mm, retroperitoneal node
    20 mm short axis, ascites non-target): 30 + 14, then 42 + 18 'reaches initial progression'
    (iUPD), then 47 + 20 'target sum +7 mm over the iUPD' with the ascites increased: iCPD."""
    visits = ((0, 40, 20, None), (FEB1, 30, 14, None), (MAR1, 42, 18, None), (APR5, 47, 20, "true"))
    rows = []
    for d, liver, node, further in visits:
        rows.append(row(d, "T1", mm=liver))
        rows.append(row(d, "T2", mm=node, site="lymph node", nodal=True))
        extra = {"further_increase": further} if further else {}
        rows.append(irow(d, "NT1", "non_target", site="peritoneum", **extra))
    a = irecist(rows)
    assert calls(a) == ["iSD", "iUPD", "iCPD"]
    assert any("+7.0 mm over 60.0 mm at the iUPD" in r for r in a.timepoints[2].reasons)


# --- admiralonco iRECIST vignette ------------------------------------------------------------


def test_admiralonco_pd_date_is_the_first_iupd_of_iupd_iupd_icpd() -> None:
    """admiralonco vignette, 'Derive Confirmed and Unconfirmed Progressive Disease Parameter':
    'when we have values of iUPD, iUPD, and iCPD, the iRECIST PD date would be the first
    occurrence of iUPD' (the second example, SD SD iUPD PR PR iUPD iCPD, is in test_irecist)."""
    a = irecist(target_series((0, 50), (56, 40), (112, 50), (154, 52), (196, 56)))
    assert calls(a) == ["iSD", "iUPD", "iUPD", "iCPD"]
    assert a.progression_date == day(112)


@pytest.mark.parametrize(("last", "unconfirmed"), [(52, 112), (42, None)])
def test_admiralonco_unconfirmed_iupd(last, unconfirmed) -> None:
    """admiralonco vignette: the unconfirmed PD parameter is an 'iUPD that has never been
    confirmed and no subsequent iSD, iPR or iCR has been observed'. Its date here is the first
    iUPD of the run (recistry's choice, as for a confirmed one; the vignette's code would take
    the last iUPD of the run, 154)."""
    a = irecist(target_series((0, 50), (56, 40), (112, 50), (154, last)))
    assert a.unconfirmed_iupd_date == (None if unconfirmed is None else day(unconfirmed))
    assert a.progression_date is None


def test_admiralonco_ibor_ipr_ipr_icr_is_icr() -> None:
    """admiralonco vignette, 'Derive Best Overall Response Parameter': 'a subject with iPR, iPR,
    iCR qualifies for both ibor_icr and ibor_ipr ... iCR is selected'."""
    assert _ibor(["iPR", "iPR", "iCR"]) == "iCR"


@pytest.mark.parametrize(("every", "expected"), [(41, "NE"), (42, "iSD")])
def test_admiralonco_ibor_isd_at_least_42_days(every, expected) -> None:
    """admiralonco vignette, ibor_isd: iSD counts when 'occurring at least 42 days after
    randomization'; earlier, the iBOR is NE (ibor_ne)."""
    assert _ibor(["iSD"], every=every) == expected


@pytest.mark.parametrize(
    ("codes", "every", "expected"),
    [
        (["iPR", "iPR"], 28, "iPR"),  # iPR followed by iPR at least 28 days later
        (["iPR", "iPR"], 27, "iSD"),  # too soon: the iPR counts as iSD
        (["iCR", "NE", "iCR"], 28, "iCR"),  # at most one NE in between
        (["iPR", "NE", "NE", "iPR"], 28, "iSD"),  # two NE in between: not confirmed
        (["iPR", "iUPD", "iPR"], 28, "iSD"),  # only iCR, iPR or NE may stand in between
    ],
)
def test_admiralonco_confirmed_ibor(codes, every, expected) -> None:
    """admiralonco vignette, 'Derive Response Parameters requiring Confirmation' (icbor_icr,
    icbor_ipr with confirmation_period = 28): the confirming response at least 28 days later,
    with only iCR, iPR or at most one NE in between."""
    assert _ibor(codes, every=every, confirm=True) == expected
