"""Baseline measurability and target selection: RECIST 1.1 §3.1, §4.2 and the committee FAQ.

Item numbers refer to the edge-case checklist of shared/reference/recist-rules.md §1.15.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from recistry.errors import InputError
from recistry.recist.engine import organ_of
from tests.recist._build import assess, row


def warnings_for(rows, **kw):
    return assess([*rows, *(r for r in _followups(rows))], **kw).warnings


def _followups(rows):
    # Give every baseline target a follow-up so the patient is scoreable.
    return [
        row(56, r.lesion_id, mm=str(r.counted_axis_mm), site=r.site, nodal=r.nodal)
        for r in rows
        if r.role.value == "target"
    ]


@pytest.mark.parametrize(("size", "warned"), [("10.0", False), ("9.9", True)])
def test_non_nodal_target_minimum_10mm_item1_recist_3_1_1(size, warned):
    w = warnings_for([row(0, "T1", mm=size)])
    assert any("below the measurable minimum 10.0 mm" in x for x in w) is warned


@pytest.mark.parametrize(("size", "warned"), [("12", True), ("16", False)])
def test_minimum_is_twice_slice_thickness_item2_recist_appendix_ii(size, warned):
    w = warnings_for([row(0, "T1", mm=size, thickness="8")])
    assert any("2 × slice thickness 8.0 mm" in x for x in w) is warned


@pytest.mark.parametrize(("short_axis", "warned"), [("15.0", False), ("14.9", True)])
def test_nodal_target_short_axis_15mm_item4_recist_3_1_1(short_axis, warned):
    w = warnings_for([row(0, "N1", mm=short_axis, site="lymph node", nodal=True)])
    assert any("a node of 10 to <15 mm is a non-target" in x for x in w) is warned


def test_valid_selection_baseline_sum_125_item8_recist_4_2():
    rows = [
        row(0, "T1", mm=40),
        row(0, "T2", mm=30),
        row(0, "T3", mm=22, site="right lung"),
        row(0, "T4", mm=15, site="left lung"),
        row(0, "N1", mm=18, site="axillary lymph node", nodal=True),
        row(0, "NT1", "non_target"),
    ]
    a = assess([*rows, *_followups(rows), row(56, "NT1", "non_target")])
    assert a.baseline_sum_mm == Decimal(125)
    assert a.warnings == ()


def test_sixth_target_and_third_liver_target_warn_item8_recist_4_2():
    rows = [
        row(0, f"T{i}", mm=20, site=s)
        for i, s in enumerate(["liver", "liver", "liver", "lung", "bone", "pancreas"], start=1)
    ]
    w = warnings_for(rows)
    assert any("6 target lesions at baseline; at most 5" in x for x in w)
    assert any("3 targets in one organ (liver" in x for x in w)


def test_paired_organs_and_all_nodes_are_one_organ_item9_faq_paired_organs():
    lungs = [
        row(0, "T1", mm=20, site="right lung"),
        row(0, "T2", mm=18, site="left lung"),
        row(0, "T3", mm=15, site="lung right"),
    ]
    assert any("3 targets in one organ (lung" in x for x in warnings_for(lungs))
    nodes = [
        row(0, "N1", mm=16, site="mediastinal", nodal=True),
        row(0, "N2", mm=17, site="axillary", nodal=True),
        row(0, "N3", mm=20, site="inguinal", nodal=True),
    ]
    assert any("3 targets in one organ (lymph node" in x for x in warnings_for(nodes))


def test_organ_of_normalises_sites():
    assert organ_of("Left Lung", False) == "lung"
    assert organ_of("kidney-right", False) == "kidney"
    assert organ_of("cervical lymph node", False) == "lymph node"
    assert organ_of("porta hepatis", True) == "lymph node"


def test_strict_makes_selection_breach_an_error_recist_4_2():
    rows = [row(0, "T1", mm="9.9", line=1), row(56, "T1", mm=5, line=2)]
    with pytest.raises(InputError, match=r"test.csv, row 1: .*below the measurable minimum"):
        assess(rows, strict=True)


def test_baseline_more_than_4_weeks_before_treatment_warns_item10_recist_3_2():
    rows = [row(0, "T1", mm=20), row(90, "T1", mm=20)]
    assert any("35 days before treatment start" in w for w in assess(rows, start=35).warnings)
    assert not any("before treatment start" in w for w in assess(rows, start=28).warnings)


def test_target_first_seen_after_baseline_is_error_item12_recist_4_2():
    rows = [row(0, "T1", mm=20, line=1), row(56, "T1", mm=20, line=2), row(56, "T2", mm=15, line=3)]
    with pytest.raises(InputError) as err:
        assess(rows)
    assert err.value.row == 3 and err.value.column == "role"
    assert "record a lesion that appears later as role 'new'" in str(err.value)


def test_new_lesion_at_baseline_is_error_recist_4_3_5():
    with pytest.raises(InputError, match="new lesion NEW1 is on the baseline scan"):
        assess([row(0, "T1", mm=20), row(0, "NEW1", "new")])


def test_role_change_is_error():
    rows = [row(0, "L1", mm=20), row(56, "L1", "non_target", line=2)]
    with pytest.raises(InputError, match="keeps its role"):
        assess(rows)


def test_duplicate_rows_that_are_not_fragments_are_errors():
    rows = [row(0, "T1", mm=20), row(56, "T1", mm=20), row(56, "T1", state="absent", line=9)]
    with pytest.raises(InputError) as err:
        assess(rows)
    assert err.value.row == 9 and err.value.column == "fragment"
    assert "lesion T1 on 2024-02-26 is given twice" in str(err.value)


@pytest.mark.parametrize(
    ("first", "second"),
    [("", ""), ("a", ""), ("", "a"), ("a", "a")],
    ids=["unnamed", "second-unnamed", "first-unnamed", "same-name"],
)
def test_repeated_measured_rows_are_fragments_only_when_each_is_named_recist_4_3_2(first, second):
    """A split target's fragments are summed [EJC09 §4.3.2], so a table must say which rows are
    fragments: an unnamed repeat is a copy (59 mm twice is not a 118 mm lesion), refused."""
    rows = [
        row(0, "T1", mm=59),
        row(56, "T1", mm=59, fragment=first, line=3),
        row(56, "T1", mm=59, fragment=second, line=4),
    ]
    with pytest.raises(InputError) as err:
        assess(rows)
    assert err.value.row == 4 and err.value.column == "fragment"
    assert "given twice (first at row 3)" in str(err.value)


def test_only_a_measured_target_can_be_a_fragment():
    rows = [row(0, "T1", mm=20), row(0, "NT1", "non_target"), row(56, "T1", mm=20)]
    rows.append(row(56, "NT1", "non_target", fragment="a", line=7))
    with pytest.raises(InputError, match="only a 'measured' target can be split") as err:
        assess(rows)
    assert err.value.row == 7 and err.value.column == "fragment"


def test_measured_target_without_size_names_the_axis_column():
    rows = [
        row(0, "N1", mm=20, site="node", nodal=True),
        row(56, "N1", state="measured", site="node", nodal=True, line=4),
    ]
    with pytest.raises(InputError) as err:
        assess(rows)
    assert err.value.column == "short_axis_mm" and err.value.row == 4


def test_scan_after_death_is_an_impossible_value():
    rows = [row(0, "T1", mm=20), row(100, "T1", mm=20)]
    with pytest.raises(InputError, match=r"death_date 2024-03-01 .* before their last scan"):
        assess(rows, death=60)


def test_determinism_same_input_same_result_item77():
    rows = [row(0, "T1", mm=20), row(56, "T1", mm=13), row(112, "T1", mm=30)]
    assert assess(rows) == assess(list(reversed(rows)))


@pytest.mark.parametrize("state", ["absent", "progression"])
def test_non_target_must_be_present_at_baseline(state):
    rows = [row(0, "T1", mm=20), row(0, "NT1", "non_target", state=state, line=2)]
    with pytest.raises(InputError) as err:
        assess(rows)
    assert err.value.row == 2 and err.value.column == "state"


def test_follow_up_scan_before_treatment_start_warns():
    rows = [row(0, "T1", mm=20), row(7, "T1", mm=20), row(70, "T1", mm=18)]
    a = assess(rows, start=14)
    assert any("2024-01-08 is before the treatment start 2024-01-15" in w for w in a.warnings)


def test_progression_before_treatment_start_is_an_error():
    rows = [row(0, "T1", mm=20), row(7, "T1", mm=40)]
    with pytest.raises(InputError, match="before the treatment start"):
        assess(rows, start=14)
