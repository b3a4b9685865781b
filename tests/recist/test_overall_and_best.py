"""Non-target, new lesions, overall (Tables 1-2) and best overall response (§4.4.3, Table 3).

Item numbers refer to the edge-case checklist of shared/reference/recist-rules.md §1.15.
"""

from __future__ import annotations

import pytest

from tests.recist._build import assess, calls, day, row, single_target


def nt_patient(*states: tuple[int, str], nodal: bool = False):
    """Non-target-only patient: NT1 with the given state per day."""
    site = "lymph node" if nodal else "pleura"
    return [row(d, "NT1", "non_target", state=s, site=site, nodal=nodal) for d, s in states]


# --- D. non-target -----------------------------------------------------------------------------


def test_non_target_all_absent_is_cr_item32_recist_4_3_3():
    rows = [
        row(0, "T1", mm=20),
        row(0, "NT1", "non_target", site="lymph node", nodal=True),
        row(56, "T1", state="absent"),
        row(56, "NT1", "non_target", state="absent", site="lymph node", nodal=True),
    ]
    a = assess(rows)
    assert a.timepoints[0].non_target_response.value == "CR"
    assert calls(a) == ["CR"]


def test_target_cr_with_non_target_present_is_pr_item33_43_table1():
    rows = [
        row(0, "T1", mm=20),
        row(0, "NT1", "non_target"),
        row(56, "T1", state="absent"),
        row(56, "NT1", "non_target"),
    ]
    a = assess(rows)
    assert a.timepoints[0].non_target_response.value == "NON_CR_NON_PD"
    assert calls(a) == ["PR"]


def test_non_target_unequivocal_progression_is_pd_item35_recist_4_3_4():
    a = assess(nt_patient((0, "present"), (56, "progression")))
    assert calls(a) == ["PD"]


def test_target_cr_non_target_not_evaluated_is_pr_item44_table1():
    rows = [
        row(0, "T1", mm=20),
        row(0, "NT1", "non_target"),
        row(56, "T1", state="absent"),
    ]
    assert calls(assess(rows)) == ["PR"]


@pytest.mark.parametrize(("followup", "expected"), [(65, "PR"), (90, "SD")])
def test_non_target_ne_keeps_target_call_item45_table1(followup, expected):
    rows = [
        row(0, "T1", mm=100),
        row(0, "NT1", "non_target"),
        row(56, "T1", mm=followup),
        row(56, "NT1", "non_target", state="not_evaluable"),
    ]
    a = assess(rows)
    assert a.timepoints[0].non_target_response.value == "NE"
    assert calls(a) == [expected]


def test_target_ne_non_target_non_pd_is_ne_item46_table1():
    rows = [
        row(0, "T1", mm=30),
        row(0, "T2", mm=30, site="lung"),
        row(0, "NT1", "non_target"),
        row(56, "T1", mm=25),
        row(56, "NT1", "non_target"),
    ]
    assert calls(assess(rows)) == ["NE"]


@pytest.mark.parametrize("extra", ["nt_progression", "new_lesion"])
def test_target_ne_with_other_pd_is_pd_item47_table1(extra):
    rows = [
        row(0, "T1", mm=30),
        row(0, "T2", mm=30, site="lung"),
        row(0, "NT1", "non_target"),
        row(56, "T1", mm=25),
    ]
    if extra == "nt_progression":
        rows.append(row(56, "NT1", "non_target", state="progression"))
    else:
        rows += [row(56, "NT1", "non_target"), row(56, "NEW1", "new", site="bone")]
    assert calls(assess(rows)) == ["PD"]


def test_target_cr_no_non_targets_is_cr_item48_table1():
    a = assess(single_target((0, 20), (56, 0)))
    assert a.timepoints[0].non_target_response is None
    assert calls(a) == ["CR"]


@pytest.mark.parametrize(
    ("state", "expected"),
    [("absent", "CR"), ("present", "NON_CR_NON_PD"), ("not_evaluable", "NE")],
)
def test_non_target_only_patient_table2_item49(state, expected):
    a = assess(nt_patient((0, "present"), (56, state)))
    assert a.timepoints[0].target_response is None
    assert calls(a) == [expected]


def test_non_target_only_with_new_lesion_is_pd_item49_table2():
    rows = [*nt_patient((0, "present"), (56, "present")), row(56, "NEW1", "new", site="bone")]
    assert calls(assess(rows)) == ["PD"]


def test_non_target_only_best_response_never_sd_table2():
    a = assess(nt_patient((0, "present"), (56, "present"), (112, "present")))
    assert a.best_overall_response.value == "NON_CR_NON_PD"
    assert a.measurable is False


def test_reappearing_non_target_after_overall_cr_is_pd_faq():
    rows = [
        row(0, "T1", mm=20),
        row(0, "NT1", "non_target"),
        row(56, "T1", state="absent"),
        row(56, "NT1", "non_target", state="absent"),
        row(112, "T1", state="absent"),
        row(112, "NT1", "non_target", state="present"),
    ]
    a = assess(rows)
    assert calls(a) == ["CR", "PD"]
    assert any("reappeared after an overall CR" in r for r in a.timepoints[1].reasons)


def _cr_then_nodal_non_target(state: str) -> list:
    return [
        row(0, "T1", mm=20),
        row(0, "NT1", "non_target", site="mediastinal lymph node", nodal=True),
        row(56, "T1", state="absent"),
        row(56, "NT1", "non_target", state="absent", site="mediastinal lymph node", nodal=True),
        row(112, "T1", state="absent"),
        row(112, "NT1", "non_target", state=state, site="mediastinal lymph node", nodal=True),
    ]


def test_nodal_non_target_present_after_cr_is_not_pd_item31_32_faq_abnormal_lymph_node():
    # recist-rules.md §1.8 "Reappearance" and checklist items 31-32 (FAQ 'Abnormal lymph node'):
    # a node has reappeared only when a target node is >= 10 mm or a non-target node has
    # unequivocally progressed; a nodal non-target recorded present is non-CR/non-PD.
    a = assess(_cr_then_nodal_non_target("present"))
    assert [tp.non_target_response.value for tp in a.timepoints] == ["CR", "NON_CR_NON_PD"]
    assert calls(a) == ["CR", "PR"]
    assert not any("reappeared" in r for r in a.timepoints[1].reasons)


def test_nodal_non_target_progression_after_cr_is_pd_item31_32_faq_abnormal_lymph_node():
    a = assess(_cr_then_nodal_non_target("progression"))
    assert calls(a) == ["CR", "PD"]


def test_nodal_non_target_present_after_cr_policy_present_is_pd():
    # The named policy node_reappearance = "present" reads any nodal non-target back as PD.
    a = assess(_cr_then_nodal_non_target("present"), node_reappearance="present")
    assert calls(a) == ["CR", "PD"]
    assert any("reappeared after an overall CR" in r for r in a.timepoints[1].reasons)


# --- E. new lesions ----------------------------------------------------------------------------


def test_new_lesion_is_pd_despite_shrinkage_item37_recist_4_3_5():
    rows = [*single_target((0, 100), (56, 50)), row(56, "NEW1", "new", mm=6)]
    a = assess(rows)
    assert a.timepoints[0].target_response.value == "PR"
    assert a.timepoints[0].new_lesions.value == "present"
    assert calls(a) == ["PD"]


def test_equivocal_new_lesion_backdated_when_confirmed_item38_recist_4_3_5():
    rows = [
        *single_target((0, 100), (56, 80), (112, 80), (168, 80)),
        row(112, "NEW1", "new", state="equivocal"),
        row(168, "NEW1", "new", state="present"),
    ]
    a = assess(rows)
    assert calls(a) == ["SD", "PD", "PD"]
    fu2 = a.timepoints[1]
    assert fu2.new_lesions.value == "equivocal"
    assert fu2.rescored_from.value == "SD"
    assert any("first call SD" in r and "NEW1" in r for r in fu2.reasons)
    assert a.progression_date == day(112)
    assert a.pfs_days == 112 and a.pfs_event


def test_equivocal_new_lesion_never_confirmed_is_not_pd_item40():
    rows = [
        *single_target((0, 100), (56, 80), (112, 80)),
        row(56, "NEW1", "new", state="equivocal"),
    ]
    a = assess(rows)
    assert calls(a) == ["SD", "SD"]
    assert a.progression_date is None


def test_reappearance_after_overall_cr_item42_faq():
    rows = [*single_target((0, 30), (56, 0), (84, 0), (112, 6))]
    a = assess(rows)
    assert calls(a) == ["CR", "CR", "PD"]


# --- H. best overall response without confirmation ---------------------------------------------


def test_bor_best_before_pd_item53_recist_4_4_3():
    a = assess(single_target((0, 100), (42, 90), (84, 60), (126, 80)))
    assert calls(a) == ["SD", "PR", "PD"]
    assert a.best_overall_response.value == "PR"


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (((0, 100), (35, 90), (84, 130)), "PD"),  # item 54: SD too early, then PD
        (((0, 100), (35, 90)), "NE"),  # item 54: SD too early, then lost to follow-up
        (((0, 100), (49, 90), (84, 130)), "SD"),  # item 54: SD at day 49 counts
    ],
)
def test_bor_sd_minimum_duration_item54_recist_4_4_3(series, expected):
    a = assess(single_target(*series))
    assert a.best_overall_response.value == expected


def test_bor_sd_minimum_is_counted_from_treatment_start_recist_4_4_3():
    # Baseline scan 10 days before treatment: day 45 from the scan is day 35 of treatment.
    a = assess(single_target((0, 100), (45, 90)), start=10)
    assert a.best_overall_response.value == "NE"
    assert a.origin_date == day(10)


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (((0, 100), (56, 130)), "PD"),  # item 55
        (((0, 100), (56, "NE"), (112, "NE")), "NE"),
        (((0, 100),), "NE"),  # no post-baseline assessment
    ],
)
def test_bor_pd_and_ne_item55(series, expected):
    assert assess(single_target(*series)).best_overall_response.value == expected


def test_nothing_after_first_pd_counts_item56_recist_4_4_3():
    a = assess(single_target((0, 100), (56, 60), (112, 80), (168, 60), (224, 0)))
    assert calls(a)[1] == "PD"
    assert a.best_overall_response.value == "PR"
    assert a.progression_date == day(112)


def test_sd_counts_for_best_response_only_after_minimum_recist_4_4_3():
    a = assess(single_target((0, 100), (41, 90)), sd_min_days=42)
    assert a.best_overall_response.value == "NE"
    assert any("before the SD minimum of 42 days" in r for r in a.best_response_reasons)


# --- I. best overall response with confirmation (Table 3) --------------------------------------


def bor_confirmed(*series):
    return assess(single_target(*series), confirm=True).best_overall_response.value


def test_confirmed_pr_item58_table3():
    assert bor_confirmed((0, 100), (56, 60), (84, 60)) == "PR"


def test_pr_confirmation_needs_28_days_item58_table3():
    assert bor_confirmed((0, 100), (56, 60), (77, 60)) == "SD"
    assert bor_confirmed((0, 100), (56, 60), (77, 60), (112, 60)) == "PR"


def test_cr_confirmed_across_one_ne_item59_policy():
    assert bor_confirmed((0, 100), (56, 0), (84, "NE"), (112, 0)) == "CR"


def test_cr_not_confirmed_across_two_ne_item59_policy():
    assert bor_confirmed((0, 100), (56, 0), (70, "NE"), (84, "NE"), (112, 0)) == "SD"


def test_intervening_sd_breaks_confirmation_item60_policy():
    # PR, then a scan that alone is SD (-29 %, +18 % over the nadir), then PR: the carried
    # category reads PR at every scan, but confirmation needs the criteria met again, so
    # Table 3 reads PR -> SD.
    a = assess(single_target((0, 100), (56, 60), (84, 71), (112, 60)), confirm=True)
    assert calls(a) == ["PR", "PR", "PR"]
    assert [tp.overall_response_strict.value for tp in a.timepoints] == ["PR", "SD", "PR"]
    assert a.best_overall_response.value == "SD"
    assert a.best_overall_response_unconfirmed.value == "PR"


def test_strict_pr_sequence_confirms_faq_managing_pr():
    # 100 -> 70 -> 70 -> 80: the second 70 confirms the PR.
    assert bor_confirmed((0, 100), (56, 70), (84, 70), (112, 80)) == "PR"


def test_unconfirmed_pr_then_ne_counts_as_sd_item61_table3():
    assert bor_confirmed((0, 100), (56, 60), (84, "NE")) == "SD"
    assert bor_confirmed((0, 100), (35, 60), (84, "NE")) == "NE"


def test_unconfirmed_pr_then_pd_item62_table3():
    assert bor_confirmed((0, 100), (37, 60), (70, 80)) == "PD"
    assert bor_confirmed((0, 100), (49, 60), (84, 80)) == "SD"


def test_cr_then_pr_is_adjudicated_as_pr_item63_table3_note():
    rows = [
        row(0, "T1", mm=20),
        row(0, "NT1", "non_target"),
        row(56, "T1", state="absent"),
        row(56, "NT1", "non_target", state="absent"),
        row(84, "T1", state="absent"),  # non-target not evaluated: Table 1 gives PR
    ]
    a = assess(rows, confirm=True)
    assert calls(a) == ["CR", "PR"]
    assert a.best_overall_response.value == "PR"
    assert any("adjudication" in w for w in a.warnings)


def test_pr_confirmed_by_cr_item64_table3():
    assert bor_confirmed((0, 100), (56, 60), (84, 0)) == "PR"


def test_unconfirmed_mode_single_pr_item65_recist_4_6_1():
    a = assess(single_target((0, 100), (56, 60), (84, 110)))
    assert a.best_overall_response.value == "PR"
    assert a.best_overall_response_confirmed.value == "SD"


# --- J. dates ----------------------------------------------------------------------------------


def test_pfs_event_at_progression_scan_item67_fda():
    a = assess(single_target((0, 100), (84, 90), (168, 130)), followup=300)
    assert (a.pfs_days, a.pfs_event) == (168, True)
    assert (a.os_days, a.os_event) == (300, False)


def test_pfs_event_at_death_without_pd_item67_fda():
    a = assess(single_target((0, 100), (84, 90)), death=200)
    assert (a.pfs_days, a.pfs_event) == (200, True)
    assert (a.os_days, a.os_event) == (200, True)


def test_pfs_censored_at_last_evaluable_scan_item67_fda():
    a = assess(single_target((0, 100), (168, 90), (336, 90), (400, "NE")), followup=420)
    assert (a.pfs_days, a.pfs_event) == (336, False)
    assert float(a.pfs_months) == pytest.approx(336 / 30.4375)


def test_without_clinical_os_is_null_and_origin_is_baseline():
    from recistry.recist.engine import assess_patient
    from recistry.recist.model import PatientRecord

    a = assess_patient(PatientRecord("P1", tuple(single_target((0, 100), (56, 60)))))
    assert a.os_days is None and a.os_event is None
    assert a.origin_date == day(0)


def test_first_response_date_for_duration_of_response_item66():
    a = assess(single_target((0, 100), (56, 60), (84, 60), (252, 130)), confirm=True)
    assert a.first_response_date == day(56)
    assert (a.progression_date - a.first_response_date).days == 196


# --- items not covered above -------------------------------------------------------------------


def test_reader_judgement_on_non_targets_is_never_overridden_item34_recist_4_3_4():
    # Target SD (-10 %); one of many liver metastases slightly larger, marked 'present' (not
    # unequivocal progression) by the reader: overall SD.
    rows = [
        row(0, "T1", mm=50),
        row(0, "NT1", "non_target", site="liver"),
        row(56, "T1", mm=45),
        row(56, "NT1", "non_target", site="liver"),
    ]
    a = assess(rows)
    assert a.timepoints[0].non_target_response.value == "NON_CR_NON_PD"
    assert calls(a) == ["SD"]


def test_new_lesion_at_site_not_scanned_at_baseline_is_pd_item39_recist_4_3_5():
    rows = [*single_target((0, 50), (56, 45)), row(56, "NL1", "new", site="brain")]
    assert calls(assess(rows)) == ["PD"]


@pytest.mark.parametrize(
    ("short_axis", "new_lesions", "overall"),
    [
        ("8", "none", "SD"),  # < 10 mm: a normal node, not recorded as a new lesion
        ("11", "equivocal", "SD"),  # 10 to < 15 mm: re-evaluate at the next assessment
        ("16", "present", "PD"),
    ],
)
def test_new_lymph_node_size_rules_item40_faq_new_lymph_nodes(short_axis, new_lesions, overall):
    rows = [
        *single_target((0, 50), (56, 45)),
        row(56, "NL1", "new", mm=short_axis, site="para-aortic lymph node", nodal=True),
    ]
    a = assess(rows)
    assert a.timepoints[0].new_lesions.value == new_lesions
    assert calls(a) == [overall]


def test_new_node_10_to_15mm_confirmed_later_is_backdated_item40_recist_4_3_5():
    rows = [
        *single_target((0, 50), (56, 45), (112, 45)),
        row(56, "NL1", "new", mm="11", site="lymph node", nodal=True),
        row(112, "NL1", "new", mm="17", site="lymph node", nodal=True),
    ]
    a = assess(rows)
    assert calls(a) == ["PD", "PD"]
    assert a.timepoints[0].rescored_from.value == "SD"
    assert a.progression_date == day(56)


def test_scans_after_new_therapy_do_not_count_item57_policy():
    # PR (d56), new anticancer therapy on d80, CR (d112): BOR PR.
    a = assess(single_target((0, 100), (56, 60), (112, 0)), new_therapy=80)
    assert calls(a) == ["PR", "CR"]
    assert a.best_overall_response.value == "PR"
    assert any("new anticancer therapy" in w for w in a.warnings)


def test_pfs_censored_before_new_therapy_item67_fda_appendix():
    # No PD before the new therapy on d250; last scan before it d224; PD on d280 is not an event.
    a = assess(single_target((0, 100), (112, 90), (224, 90), (280, 150)), new_therapy=250)
    assert (a.pfs_days, a.pfs_event) == (224, False)
    assert a.progression_date is None


def test_non_diagnostic_ct_warns_item13_recist_3_2_2():
    from dataclasses import replace

    rows = [replace(r, extra={"diagnostic_ct": "false"}) for r in single_target((0, 50), (56, 40))]
    assert any("diagnostic quality" in w for w in assess(rows).warnings)
    assert not any("diagnostic quality" in w for w in assess(single_target((0, 50))).warnings)


def test_death_after_new_therapy_is_censored_item67_fda_appendix():
    a = assess(single_target((0, 100), (112, 90)), new_therapy=150, death=200)
    assert (a.pfs_days, a.pfs_event) == (112, False)
    assert (a.os_days, a.os_event) == (200, True)


def test_best_change_stops_at_first_pd_waterfall_convention():
    # -40 % then PD, then -60 % on a later scan: the best change is -40 %.
    a = assess(single_target((0, 100), (56, 60), (112, 80), (168, 40)))
    assert calls(a)[1] == "PD"
    assert a.best_change_from_baseline_pct == -40
