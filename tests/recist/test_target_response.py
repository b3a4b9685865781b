"""Target-lesion response at one time point: RECIST 1.1 §4.3.1-4.3.2 and §4.4.2.

Item numbers refer to the edge-case checklist of shared/reference/recist-rules.md §1.15.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.recist._build import assess, calls, row, single_target


def target_calls(a):
    return [tp.target_response_strict.value for tp in a.timepoints]


@pytest.mark.parametrize(
    ("baseline", "followup", "expected"),
    [
        ("100", "70", "PR"),  # item 14: exactly -30 % is PR (inclusive)
        ("100", "71", "SD"),  # item 15: -29 %
        ("23.0", "16.1", "PR"),  # item 70: float arithmetic gives -29.999999999999993 %
        ("100", "70.1", "SD"),
    ],
)
def test_pr_threshold_is_inclusive_and_exact_recist_4_3_1(baseline, followup, expected):
    a = assess(single_target((0, baseline), (56, followup)))
    assert target_calls(a) == [expected]


def test_pd_checked_before_pr_item16_recist_4_3_1():
    # B 100, nadir 50, then 60: +20 % and +10 mm over the nadir although -40 % from baseline.
    a = assess(single_target((0, 100), (56, 50), (112, 60)))
    assert target_calls(a) == ["PR", "PD"]
    assert a.timepoints[1].change_from_baseline_pct == Decimal(-40)
    assert a.timepoints[1].change_from_nadir_pct == Decimal(20)


def test_pd_needs_5mm_absolute_item17_recist_4_3_1():
    # B 30, nadir 20, current 24: +20 % but only +4 mm, -20 % from baseline: SD.
    a = assess(single_target((0, 30), (56, 20), (112, 24)))
    assert target_calls(a)[-1] == "SD"


def test_pd_5mm_inclusive_item18_recist_4_3_1():
    a = assess(single_target((0, 30), (56, 20), (112, 25)))
    assert target_calls(a)[-1] == "PD"


def test_pd_against_baseline_when_baseline_is_nadir_item19_faq():
    a = assess(single_target((0, 50), (56, 60)))
    assert target_calls(a) == ["PD"]
    assert a.timepoints[0].nadir_date.isoformat() == "2024-01-01"


@pytest.mark.parametrize(
    ("nadir", "current"),
    [
        ("27.0", "32.4"),  # item 71: exactly +20 % and +5.4 mm; floats give 19.999999999999996 %
        ("11.4", "16.4"),  # item 72: +5.0 mm exactly; floats give 4.999999999999998 mm
    ],
)
def test_pd_threshold_exact_decimal_items_71_72(nadir, current):
    # Baseline above the nadir so that the nadir comes from a follow-up scan.
    baseline = str(Decimal(nadir) * 2)
    a = assess(single_target((0, baseline), (56, nadir), (112, current)))
    assert target_calls(a)[-1] == "PD"


def test_pd_reason_names_numbers_and_rule():
    a = assess(single_target((0, "36.5"), (56, "43.8")))
    reason = next(r for r in a.timepoints[0].reasons if r.startswith("PD"))
    assert reason == (
        "PD: sum 43.8 mm is +20.0% and +7.3 mm over the nadir 36.5 mm of 2024-01-01 "
        "(RECIST 1.1 §4.3.1)"
    )


def test_pr_continues_when_sum_rises_slightly_item20_faq_sd_clarification():
    a = assess(single_target((0, 165), (56, 63), (112, 65)))
    assert [tp.target_response.value for tp in a.timepoints] == ["PR", "PR"]


def test_pr_carried_strict_category_reported_item21_faq_managing_pr():
    a = assess(single_target((0, 100), (56, 70), (112, 70), (168, 80), (224, 80), (280, 80)))
    assert [tp.target_response.value for tp in a.timepoints] == ["PR"] * 5
    assert [tp.target_response_strict.value for tp in a.timepoints] == [
        "PR",
        "PR",
        "SD",
        "SD",
        "SD",
    ]
    assert calls(a) == ["PR"] * 5
    assert a.best_overall_response.value == "PR"
    assert any("carried" in r for r in a.timepoints[2].reasons)


def test_nadir_only_from_complete_timepoints_item22_recist_4_4_2():
    rows = [
        row(0, "T1", mm=20),
        row(0, "T2", mm=20, site="lung"),
        row(0, "T3", mm=10, site="bone"),
        row(56, "T1", mm=10),
        row(56, "T2", mm=10, site="lung"),
        row(112, "T1", mm=10),
        row(112, "T2", mm=10, site="lung"),
        row(112, "T3", mm=6, site="bone"),
    ]
    a = assess(rows)
    assert target_calls(a) == ["NE", "PR"]
    assert a.timepoints[1].nadir_mm == Decimal(50)
    assert a.timepoints[0].target_sum_mm is None  # a partial sum is never reported as the sum


def test_node_cr_with_nonzero_sum_item23_recist_4_3_1():
    rows = [
        row(0, "T1", mm=20),
        row(0, "N1", mm=16, site="mediastinal lymph node", nodal=True),
        row(56, "T1", state="absent"),
        row(56, "N1", mm=8, site="mediastinal lymph node", nodal=True),
    ]
    a = assess(rows)
    tp = a.timepoints[0]
    assert tp.target_response.value == "CR"
    assert tp.target_sum_mm == Decimal(8)
    assert round(tp.change_from_baseline_pct, 1) == Decimal("-77.8")


def test_node_at_10mm_is_not_cr_item24_recist_4_3_1():
    rows = [
        row(0, "T1", mm=20),
        row(0, "N1", mm=16, site="lymph node", nodal=True),
        row(56, "T1", state="absent"),
        row(56, "N1", mm=10, site="lymph node", nodal=True),
    ]
    assert target_calls(assess(rows)) == ["PR"]


def test_too_small_counts_5mm_item25_recist_4_3_2():
    rows = [
        row(0, "T1", mm=30),
        row(0, "T2", mm=20, site="lung"),
        row(56, "T1", state="absent"),
        row(56, "T2", state="too_small", site="lung"),
    ]
    a = assess(rows)
    assert a.timepoints[0].target_sum_mm == Decimal(5)
    assert target_calls(a) == ["PR"]


def test_measured_small_value_kept_item26_eortc_qa():
    a = assess(single_target((0, 20), (56, 3)))
    assert a.timepoints[0].target_sum_mm == Decimal(3)


def test_split_lesion_fragments_summed_item27_recist_4_3_2():
    rows = [row(0, "T1", mm=40), row(56, "T1", mm=15, fragment="a")]
    rows.append(row(56, "T1", mm=12, fragment="b"))
    a = assess(rows)
    assert a.timepoints[0].target_sum_mm == Decimal(27)


def test_coalesced_lesions_merged_counts_zero_item28_recist_4_3_2():
    rows = [
        row(0, "T1", mm=20),
        row(0, "T2", mm=15),
        row(56, "T1", mm=38),
        row(56, "T2", state="merged"),
    ]
    a = assess(rows)
    assert a.timepoints[0].target_sum_mm == Decimal(38)
    assert target_calls(a) == ["SD"]
    assert round(a.timepoints[0].change_from_nadir_pct, 1) == Decimal("8.6")


def test_missing_target_is_ne_item29_faq_surgery():
    rows = [row(0, "T1", mm=30), row(0, "T2", mm=20, site="lung"), row(56, "T1", mm=25)]
    a = assess(rows)
    assert target_calls(a) == ["NE"]
    assert calls(a) == ["NE"]


def test_partial_sum_proving_pd_item50_recist_4_4_2():
    rows = [
        row(0, "T1", mm=20),
        row(0, "T2", mm=20, site="lung"),
        row(0, "T3", mm=10, site="bone"),
        row(56, "T1", mm=40),
        row(56, "T2", mm=40, site="lung"),
        row(56, "T3", state="not_evaluable", site="bone"),
    ]
    a = assess(rows)
    assert target_calls(a) == ["PD"]
    assert "whatever T3 measures" in a.timepoints[0].reasons[0]


def test_partial_sum_not_proving_pd_is_ne_item51_recist_4_4_2():
    rows = [
        row(0, "T1", mm=20),
        row(0, "T2", mm=20, site="lung"),
        row(0, "T3", mm=10, site="bone"),
        row(56, "T1", mm=15),
        row(56, "T2", mm=15, site="lung"),
    ]
    assert target_calls(assess(rows)) == ["NE"]


def test_reappearance_from_zero_nadir_item30_faq():
    # Nadir 0 (non-nodal CR), then the lesion is back as too small: +5 mm over 0 is PD.
    a = assess(single_target((0, 20), (56, 0), (112, "TS")))
    assert target_calls(a) == ["CR", "PD"]
    assert a.timepoints[1].change_from_nadir_pct is None  # % change of 0 is undefined


def test_node_back_to_10mm_after_overall_cr_is_pd_item31_faq():
    rows = [
        row(0, "N1", mm=16, site="lymph node", nodal=True),
        row(56, "N1", mm=8, site="lymph node", nodal=True),
        row(112, "N1", mm=11, site="lymph node", nodal=True),
    ]
    a = assess(rows)
    assert calls(a) == ["CR", "PD"]


def test_node_back_to_11mm_after_partial_response_is_pr_item31_policy():
    # The previous overall response was PR (a non-target persists), so no reappearance rule.
    rows = [
        row(0, "N1", mm=16, site="lymph node", nodal=True),
        row(0, "NT1", "non_target", site="lung"),
        row(56, "N1", mm=8, site="lymph node", nodal=True),
        row(56, "NT1", "non_target", site="lung"),
        row(112, "N1", mm=11, site="lymph node", nodal=True),
        row(112, "NT1", "non_target", site="lung"),
    ]
    a = assess(rows)
    assert calls(a) == ["PR", "PR"]
    assert a.timepoints[1].target_response_strict.value == "PR"


# --- issue 10: node CR holds while every target node is < 10 mm --------------------------------


def test_single_target_node_16_4_9_is_cr_twice_node_cr_policy_faq_abnormal_lymph_node():
    # recist-rules.md §1.5 "CR" and §1.8 "Reappearance" (FAQ 'Abnormal lymph node'): a node below
    # 10 mm short axis is normal, so 4 -> 9 mm (+125 %, +5 mm) is not progression of the sum.
    rows = [
        row(0, "N1", mm=16, site="lymph node", nodal=True),
        row(56, "N1", mm=4, site="lymph node", nodal=True),
        row(112, "N1", mm=9, site="lymph node", nodal=True),
    ]
    a = assess(rows)
    assert target_calls(a) == ["CR", "CR"]
    assert calls(a) == ["CR", "CR"]
    assert any("below 10 mm" in r for r in a.timepoints[1].reasons)


def test_node_cr_holds_with_a_vanished_non_nodal_target_recist_4_3_1():
    # EJC09 §4.3.1: CR = every non-nodal target gone and every target node < 10 mm; the sum of
    # normal nodes (4 + 0 -> 9 + 0) is no evidence of progression.
    rows = [
        row(0, "T1", mm=30),
        row(0, "N1", mm=18, site="lymph node", nodal=True),
        row(0, "NT1", "non_target", site="lung"),
        row(56, "T1", state="absent"),
        row(56, "N1", mm=4, site="lymph node", nodal=True),
        row(56, "NT1", "non_target", site="lung"),
        row(112, "T1", state="absent"),
        row(112, "N1", mm=9, site="lymph node", nodal=True),
        row(112, "NT1", "non_target", site="lung"),
    ]
    assert target_calls(assess(rows)) == ["CR", "CR"]


def test_abnormal_node_after_normal_nadir_is_pd_by_the_sum_rule_recist_4_3_1():
    # The sum rule applies as soon as one target is abnormal: node 4 -> 10 mm (>= 10 mm) is +6 mm
    # and +150 % over the nadir 4 mm, PD (previous overall PR: a non-target persists).
    rows = [
        row(0, "N1", mm=16, site="lymph node", nodal=True),
        row(0, "NT1", "non_target", site="lung"),
        row(56, "N1", mm=4, site="lymph node", nodal=True),
        row(56, "NT1", "non_target", site="lung"),
        row(112, "N1", mm=10, site="lymph node", nodal=True),
        row(112, "NT1", "non_target", site="lung"),
    ]
    assert target_calls(assess(rows)) == ["CR", "PD"]


def test_node_cr_sum_rule_policy_keeps_the_old_reading():
    # The named policy node_cr = "sum-rule" applies +20 % and +5 mm to normal nodes too.
    rows = [
        row(0, "N1", mm=16, site="lymph node", nodal=True),
        row(56, "N1", mm=4, site="lymph node", nodal=True),
        row(112, "N1", mm=9, site="lymph node", nodal=True),
    ]
    assert target_calls(assess(rows, node_cr="sum-rule")) == ["CR", "PD"]
