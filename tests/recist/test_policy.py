"""Policy profiles: built-in profiles, TOML files, unknown keys, and what each setting changes.

Each setting is checked by a patient whose result it changes, with the source of the rule.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest

from recistry.errors import InputError
from recistry.recist import AssessmentOptions
from recistry.recist.policy import PROFILES, policy_from_mapping, profile
from recistry.results import options_to_dict
from recistry.scoring import load_policy, options_with
from tests.recist._build import assess, calls, row, single_target


def test_builtin_profiles_are_named_and_versioned():
    assert profile("recist1.1") == AssessmentOptions()
    confirmed = profile("recist1.1-confirmed")
    assert confirmed.confirm and confirmed.policy == "recist1.1-confirmed"
    assert confirmed.confirm_days == 28 and confirmed.max_ne_between == 1
    legacy = profile("recist1.1-legacy")
    assert legacy.policy_version == 1 and legacy.node_cr == "sum-rule"
    assert all(p.policy == name for name, p in PROFILES.items())


def test_unknown_profile_lists_the_builtin_ones():
    with pytest.raises(InputError, match=r"unknown policy profile 'recist2'.*recist1\.1-confirmed"):
        load_policy("recist2")


def test_toml_profile_on_a_base(tmp_path):
    path = tmp_path / "trial.toml"
    path.write_text(
        'name = "trial-42"\nversion = 3\nbase = "recist1.1-confirmed"\nconfirm_days = 35\n'
        'node_cr = "sum-rule"\npfs_max_missed_scans = 1\n'
    )
    options = load_policy(path)
    assert (options.policy, options.policy_version) == ("trial-42", 3)
    assert options.confirm and options.confirm_days == 35
    assert options.node_cr == "sum-rule" and options.pfs_max_missed_scans == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("confirm_dayz = 35\n", "unknown policy key 'confirm_dayz'"),
        ("policy = 'x'\n", "unknown policy key 'policy'"),
        ("confirm = 'yes'\n", "policy key 'confirm' must be true or false"),
        ("sd_min_days = -1\n", "policy key 'sd_min_days' must be 0 or more"),
        ("node_cr = 'sometimes'\n", "policy key 'node_cr' must be 'normal-nodes' or 'sum-rule'"),
        ("base = 'recist9'\n", "policy key 'base'"),
        ("confirm = \n", "not a valid TOML file"),
    ],
)
def test_bad_policy_file_names_the_key_and_file(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_shorthands_apply_over_the_profile():
    options = options_with("recist1.1-confirmed", sd_min_days=56)
    assert options.confirm and options.sd_min_days == 56
    assert options_with(None, confirm=True).confirm
    with pytest.raises(InputError, match="--confirm-days"):
        options_with(None, confirm_days=-3)


def test_a_file_without_a_name_is_named_after_its_base_and_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("sd_min_days = 56\n")
    assert load_policy(path).policy == "recist1.1+mine.toml"
    assert policy_from_mapping({}, "x.toml") == dataclasses.replace(
        AssessmentOptions(), policy="recist1.1+x.toml"
    )


# --- what each setting changes ------------------------------------------------------------------


def test_slice_thickness_rule_eJC09_3_1_1_appendix_ii():
    # A 12 mm lesion on 8 mm slices is below 2 x 8 = 16 mm: not measurable [EJC09 §3.1.1].
    rows = [row(0, "T1", mm=12, thickness="8"), row(56, "T1", mm=12, thickness="8")]
    assert any("2 × slice thickness" in w for w in assess(rows).warnings)
    assert not assess(rows, slice_thickness_rule=False).warnings


def test_slice_thickness_rule_for_nodes_is_a_policy_eortc_qa():
    # EORTC Q&A "double the slice thickness & lymph nodes": open question, off by default.
    rows = [
        row(0, "N1", mm=16, site="lymph node", nodal=True, thickness="10"),
        row(56, "N1", mm=16, site="lymph node", nodal=True, thickness="10"),
    ]
    assert not assess(rows).warnings
    (warning,) = assess(rows, slice_thickness_rule_nodes=True).warnings
    assert "below 20.0 mm" in warning


def test_pet_only_new_lesion_policy_recist_4_3_5():
    # A DOTATATE-avid focus with no CT correlate: equivocal by default, PD dated back to the PET
    # when CT shows it later [EJC09 §4.3.5]; counted as new at once with pet_only_new_lesion.
    pet = dataclasses.replace(row(56, "NL1", "new"), extra={"pet_only": "true"})
    rows = [*single_target((0, 50), (56, 45), (112, 45)), pet]
    assert calls(assess(rows)) == ["SD", "SD"]
    assert calls(assess(rows, pet_only_new_lesion=True))[0] == "PD"
    confirmed = assess([*rows, row(112, "NL1", "new")])
    assert calls(confirmed) == ["PD", "PD"] and confirmed.timepoints[0].rescored_from == "SD"


def test_sd_minimum_and_confirmation_settings_recist_4_4_3_table3():
    series = single_target((0, 100), (56, 60), (84, 60))
    assert assess(series, confirm=True).best_overall_response == "PR"
    assert assess(series, confirm=True, confirm_days=35).best_overall_response == "SD"
    assert assess(series, confirm=True, confirm_days=35, sd_min_days=90).best_overall_response == (
        "NE"
    )


def test_max_ne_between_confirming_scans_item59():
    series = single_target((0, 100), (56, 60), (84, "NE"), (112, "NE"), (140, 60))
    assert assess(series, confirm=True).best_overall_response == "SD"
    assert assess(series, confirm=True, max_ne_between=2).best_overall_response == "PR"


def test_pfs_new_therapy_censoring_fda_appendix_3():
    series = single_target((0, 100), (56, 90), (112, 150))
    assert assess(series, new_therapy=100).pfs_event is False
    uncensored = assess(series, new_therapy=100, pfs_censor_new_therapy=False)
    assert (uncensored.pfs_days, uncensored.pfs_event) == (112, True)


def test_pfs_missed_scans_censoring_item67_fda_table_a():
    # Death on d400 after two missed scans (last scan d224) is censored at 224 (item 67).
    series = single_target((0, 100), (56, 90), (112, 90), (168, 90), (224, 90))
    assert (assess(series, death=400).pfs_days, assess(series, death=400).pfs_event) == (400, True)
    censored = assess(series, death=400, pfs_max_missed_scans=1)
    assert (censored.pfs_days, censored.pfs_event) == (224, False)
    one_missed = assess(series, death=300, pfs_max_missed_scans=1)
    assert (one_missed.pfs_days, one_missed.pfs_event) == (300, True)


# --- iRECIST's settings in the profile ------------------------------------------------------


def test_irecist_settings_from_toml_read_exactly(tmp_path):
    """docs/irecist.md 'Policy settings': days are whole numbers, millimetres exact decimals."""
    path = tmp_path / "io.toml"
    path.write_text(
        "irecist_confirm_min_days = 26\nirecist_confirm_max_days = 63\n"
        "irecist_further_growth_mm = 7.5\nirecist_reset_shrinkage_mm = 10\n"
        "irecist_new_target_max = 3\nirecist_new_target_max_per_organ = 1\n"
        "irecist_new_lesion_measurable_mm = 10.1\nirecist_new_node_measurable_mm = 15\n"
    )
    options = load_policy(path)
    assert (options.irecist_confirm_min_days, options.irecist_confirm_max_days) == (26, 63)
    assert options.irecist_further_growth_mm == Decimal("7.5")
    assert str(options.irecist_new_lesion_measurable_mm) == "10.1"
    assert options.irecist_reset_shrinkage_mm == 10
    assert (options.irecist_new_target_max, options.irecist_new_target_max_per_organ) == (3, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("irecist_confirm_min_dayz = 26\n", "unknown policy key 'irecist_confirm_min_dayz'"),
        ("irecist_further_growth_mm = '5'\n", "'irecist_further_growth_mm' must be a number of mm"),
        ("irecist_reset_shrinkage_mm = -1\n", "'irecist_reset_shrinkage_mm' must be 0 mm or more"),
        ("irecist_new_target_max = 2.5\n", "'irecist_new_target_max' must be a whole number"),
        ("irecist_confirm_min_days = -1\n", "'irecist_confirm_min_days' must be 0 or more"),
        (
            "irecist_confirm_max_days = 21\n",
            r"'irecist_confirm_max_days' \(21\) is less than 'irecist_confirm_min_days' \(28\)",
        ),
    ],
)
def test_bad_irecist_setting_names_the_key_and_file(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_irecist_settings_are_printed_in_the_json_options():
    """The JSON ``options`` (rescore, audit) carry every iRECIST setting as a number."""
    options = json.loads(json.dumps(options_to_dict(AssessmentOptions())))
    assert options["irecist_confirm_min_days"] == 28 and options["irecist_confirm_max_days"] == 56
    assert options["irecist_further_growth_mm"] == 5.0
    assert options["irecist_reset_shrinkage_mm"] == 5.0
    assert options["irecist_new_target_max"] == 5
    assert options["irecist_new_target_max_per_organ"] == 2
    assert options["irecist_new_lesion_measurable_mm"] == 10.0
    assert options["irecist_new_node_measurable_mm"] == 15.0


IUPD_THEN_DAY_27 = """\
patient_id,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state
P1,2024-01-01,T1,target,liver,false,40,,measured
P1,2024-03-01,T1,target,liver,false,50,,measured
P1,2024-03-28,T1,target,liver,false,55,,measured
"""


def test_rescore_irecist_with_a_policy_file_day_27(tmp_path, capsys):
    """End to end: +25% is iUPD; +5 mm 27 days later is disregarded by default (EORTC FAQ, four
    weeks) and confirms with a profile allowing the FAQ's 2-day variance; the JSON names it."""
    from recistry.cli import main

    table = tmp_path / "m.csv"
    table.write_text(IUPD_THEN_DAY_27)
    policy = tmp_path / "trial.toml"
    policy.write_text('name = "io-trial"\nversion = 4\nirecist_confirm_min_days = 26\n')
    runs = {}
    for label, extra in (("default", []), ("trial", ["--policy", str(policy)])):
        args = ["rescore", str(table), "--criteria", "irecist", "--format", "json", *extra]
        assert main(args) == 0
        runs[label] = json.loads(capsys.readouterr().out)
    responses = {
        label: [tp["response"] for tp in doc["patients"][0]["timepoints"]]
        for label, doc in runs.items()
    }
    assert responses == {"default": ["iUPD", "iUPD"], "trial": ["iUPD", "iCPD"]}
    assert runs["trial"]["options"]["policy"] == "io-trial"
    assert runs["trial"]["options"]["irecist_confirm_min_days"] == 26
    assert runs["default"]["options"]["irecist_confirm_min_days"] == 28
