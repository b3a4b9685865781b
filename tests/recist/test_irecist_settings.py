"""iRECIST's policy settings: each one changes the result where it should, at its exact threshold.

The defaults are Seymour et al., Lancet Oncol 2017;18:e143-e152 ("4-8 weeks", "≥5 mm", "up to
five new lesions, two per organ, measurable by RECIST 1.1") and the EORTC iRECIST FAQ pages named
in each test. A protocol changes them in its policy profile (``--policy FILE.toml``).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from recistry.recist.policy import PROFILES
from tests.recist._ibuild import calls, irecist, new_lesion, target_series

# The target shrinks to a nadir of 40 mm and reaches RECIST 1.1 PD (50 mm, +25%) at day 112.
TO_IUPD = ((0, 50), (56, 40), (112, 50))


def test_defaults_are_seymour_2017_in_every_builtin_profile() -> None:
    for profile in PROFILES.values():
        assert (profile.irecist_confirm_min_days, profile.irecist_confirm_max_days) == (28, 56)
        assert profile.irecist_further_growth_mm == 5
        assert profile.irecist_reset_shrinkage_mm == 5
        assert (profile.irecist_new_target_max, profile.irecist_new_target_max_per_organ) == (5, 2)
        assert profile.irecist_new_lesion_measurable_mm == 10
        assert profile.irecist_new_node_measurable_mm == 15


# --- the confirmation window ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "settings", "expected"),
    [
        (27, {}, "iUPD"),
        (28, {}, "iCPD"),
        # The FAQ allows "a protocol defined variance ... of a recommended +/- 2 days".
        (27, {"irecist_confirm_min_days": 26}, "iCPD"),
        (25, {"irecist_confirm_min_days": 26}, "iUPD"),
    ],
)
def test_confirm_min_days_day_27_vs_28(days: int, settings: dict, expected: str) -> None:
    """EORTC iRECIST FAQ 'Can imaging be used to confirm progression, even when done LESS than
    four weeks after the scans that showed iUPD': +5 mm on a scan before the minimum interval is
    disregarded; from the minimum on it confirms."""
    a = irecist(target_series(*TO_IUPD, (112 + days, 55)), **settings)
    assert calls(a)[-1] == expected
    if expected == "iUPD":
        assert any("disregarded" in r for r in a.timepoints[-1].reasons)


def test_a_disregarded_scan_sets_no_nadir() -> None:
    """Same FAQ: scans done less than 4 weeks after the iUPD 'should be disregarded'. Its 30 mm
    is no nadir, so 36 mm four weeks after the iUPD is iPR, not RECIST progression over 30 mm;
    with a 14-day minimum the same scan counts and 36 mm is a new iUPD."""
    rows = target_series((0, 100), (56, 100), (112, 125), (126, 30), (147, 36))
    a = irecist(rows)
    assert calls(a) == ["iSD", "iUPD", "iUPD", "iPR"]
    assert a.timepoints[-1].recist.overall_response.value == "PD"  # RECIST 1.1 itself: 30 -> 36
    assert any("nadir 100.0 mm" in r for r in a.timepoints[-1].reasons)
    counted = irecist(rows, irecist_confirm_min_days=14)
    assert calls(counted) == ["iSD", "iUPD", "iPR", "iUPD"]


@pytest.mark.parametrize(
    ("days", "settings", "late"),
    [(56, {}, False), (57, {}, True), (57, {"irecist_confirm_max_days": 63}, False)],
)
def test_confirm_max_days_56_vs_57(days: int, settings: dict, late: bool) -> None:
    """Seymour 2017: the confirming assessment is 4-8 weeks after the iUPD; a later one still
    confirms, with a note naming the interval."""
    a = irecist(target_series(*TO_IUPD, (112 + days, 55)), **settings)
    assert calls(a)[-1] == "iCPD"
    note = f"{days} days after the iUPD, later than"
    assert any(note in r for r in a.timepoints[-1].reasons) is late


# --- the thresholds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mm", "settings", "expected"),
    [
        (55.0, {}, "iCPD"),
        (54.9, {}, "iUPD"),
        (57.4, {"irecist_further_growth_mm": "7.5"}, "iUPD"),
        (57.5, {"irecist_further_growth_mm": "7.5"}, "iCPD"),
    ],
)
def test_further_growth_of_the_target_sum(mm: float, settings: dict, expected: str) -> None:
    """Seymour 2017 Table 2: iCPD by a further increase of the target sum >= 5 mm (exact)."""
    settings = {k: _decimal(v) for k, v in settings.items()}
    assert calls(irecist(target_series(*TO_IUPD, (154, mm)), **settings))[-1] == expected


@pytest.mark.parametrize(
    ("mm", "settings", "expected"),
    [
        (17.0, {}, "iCPD"),
        (16.9, {}, "iUPD"),
        (19.4, {"irecist_further_growth_mm": "7.5"}, "iUPD"),
        (19.5, {"irecist_further_growth_mm": "7.5"}, "iCPD"),
    ],
)
def test_further_growth_of_the_new_lesion_target_sum(
    mm: float, settings: dict, expected: str
) -> None:
    """Seymour 2017 Table 2 row 5: '≥5 mm in sum of measures for new lesion target'."""
    settings = {k: _decimal(v) for k, v in settings.items()}
    rows = [*target_series((0, 50), (56, 45), (98, 45)), new_lesion(56, 12.0), new_lesion(98, mm)]
    assert calls(irecist(rows, **settings)) == ["iUPD", expected]


@pytest.mark.parametrize(
    ("mm", "settings", "expected"),
    [
        (55.0, {}, "iPR"),
        (55.1, {}, "iUPD"),
        (55.0, {"irecist_reset_shrinkage_mm": "10"}, "iUPD"),
        (50.0, {"irecist_reset_shrinkage_mm": "10"}, "iPR"),
    ],
)
def test_reset_shrinkage_after_a_new_lesion_iupd(mm: float, settings: dict, expected: str) -> None:
    """EORTC iRECIST FAQ 'must the new lesions resolve completely before an iPR or iCR can be
    assigned', scenario F: PR, then a new lesion (iUPD), then no change stays iUPD. recistry
    resets the bar when the target sum falls a further ``irecist_reset_shrinkage_mm`` (5 mm)."""
    settings = {k: _decimal(v) for k, v in settings.items()}
    rows = [
        *target_series((0, 100), (56, 60), (112, 60), (168, mm)),
        new_lesion(112, 12.0),
        new_lesion(168, 12.0),
    ]
    assert calls(irecist(rows, **settings)) == ["iPR", "iUPD", expected]


# --- which new lesions are new-lesion targets ------------------------------------------------


def _grown_new_lesions(sites: list[str], mm: float = 12.0, **new: str) -> list:
    """New lesions A0.. at day 56 on ``sites``; the last one grows by 5 mm at day 98. The growth
    confirms iCPD only when that lesion is a new-lesion target (no ``further_increase``)."""
    rows = target_series((0, 50), (56, 45), (98, 45))
    for i, site in enumerate(sites):
        last = i == len(sites) - 1
        rows.append(new_lesion(56, mm, f"A{i}", site=site, **new))
        rows.append(new_lesion(98, mm + 5 if last else mm, f"A{i}", site=site, **new))
    return rows


def test_new_target_max_five() -> None:
    """Seymour 2017 'new lesions': up to five new-lesion targets; the sixth is a non-target."""
    sites = ["lung", "bone", "spleen", "kidney", "adrenal"]
    assert calls(irecist(_grown_new_lesions(sites))) == ["iUPD", "iCPD"]
    six = irecist(_grown_new_lesions([*sites, "pancreas"]))
    assert calls(six) == ["iUPD", "iUPD"]
    assert six.timepoints[0].new_lesion_non_targets == ("A5",)
    three = irecist(_grown_new_lesions(sites), irecist_new_target_max=3)
    assert calls(three) == ["iUPD", "iUPD"]
    assert three.timepoints[0].new_lesion_targets == ("A0", "A1", "A2")


def test_new_target_max_two_per_organ() -> None:
    """Seymour 2017 'new lesions': at most two new-lesion targets per organ."""
    liver = ["liver", "liver", "liver"]
    assert calls(irecist(_grown_new_lesions(liver))) == ["iUPD", "iUPD"]
    three = irecist(_grown_new_lesions(liver), irecist_new_target_max_per_organ=3)
    assert calls(three) == ["iUPD", "iCPD"]


@pytest.mark.parametrize(
    ("mm", "settings", "expected"),
    [
        (10.0, {}, "iCPD"),
        (9.9, {}, "iUPD"),
        (9.9, {"irecist_new_lesion_measurable_mm": "9.9"}, "iCPD"),
    ],
)
def test_new_lesion_measurable_10_mm(mm: float, settings: dict, expected: str) -> None:
    """Seymour 2017: new lesions measurable by RECIST 1.1 (long axis >= 10 mm) can be new-lesion
    targets; a 9.9 mm one is a new-lesion non-target, whose 5 mm growth alone does not confirm."""
    settings = {k: _decimal(v) for k, v in settings.items()}
    assert calls(irecist(_grown_new_lesions(["lung"], mm), **settings)) == ["iUPD", expected]


@pytest.mark.parametrize(
    ("thickness", "settings", "expected"),
    [("5", {}, "iCPD"), ("8", {}, "iUPD"), ("8", {"slice_thickness_rule": False}, "iCPD")],
)
def test_new_lesion_measurable_twice_the_slice_thickness(thickness, settings, expected) -> None:
    """Seymour 2017: new lesions are measured by RECIST 1.1, whose minimum size is also twice
    the slice thickness [EJC09 §3.1.1; policy ``slice_thickness_rule``]: a 12 mm new lesion on
    8 mm slices is below 16 mm, a new-lesion non-target whose 5 mm growth alone does not
    confirm."""
    rows = [
        dataclasses.replace(m, slice_thickness_mm=Decimal(thickness)) if m.role == "new" else m
        for m in _grown_new_lesions(["lung"])
    ]
    assert calls(irecist(rows, **settings)) == ["iUPD", expected]


@pytest.mark.parametrize(
    ("settings", "expected"), [({}, "iCPD"), ({"irecist_new_node_measurable_mm": "15.1"}, "iUPD")]
)
def test_new_node_measurable_15_mm_short_axis(settings: dict, expected: str) -> None:
    """Seymour 2017: a new node is measurable at >= 15 mm short axis (RECIST 1.1)."""
    settings = {k: _decimal(v) for k, v in settings.items()}
    rows = _grown_new_lesions(["lymph node"], 15.0, nodal="true")
    assert calls(irecist(rows, **settings)) == ["iUPD", expected]


def _decimal(value: object) -> object:
    return Decimal(value) if isinstance(value, str) else value
