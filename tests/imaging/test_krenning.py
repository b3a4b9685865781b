"""Suggested Krenning grades: Kwekkeboom & Krenning, Semin Nucl Med 2002;32:84 (0 none,
1 < liver, 2 ≈ liver, 3 > liver, 4 > spleen), project rule recistry-krenning-1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recistry.errors import InputError
from recistry.imaging.krenning import (
    RULE_VERSION,
    GradeSource,
    KrenningThresholds,
    resolve_grade,
    suggest_grade,
)

LIVER, SPLEEN = 6.0, 20.0


@pytest.mark.parametrize(
    ("lesion", "grade"),
    [(30.0, 4), (13.0, 3), (6.0, 2), (5.7, 2), (3.0, 1), (0.8, 0), (0.0, 0)],
)
def test_grades_follow_the_liver_and_spleen_anchors_of_krenning_2002(
    lesion: float, grade: int
) -> None:
    suggestion = suggest_grade(lesion, LIVER, SPLEEN)
    assert suggestion.grade == grade
    assert suggestion.candidates == (grade,)
    assert not suggestion.needs_review
    assert suggestion.ratio_to_liver == pytest.approx(lesion / LIVER)
    assert suggestion.ratio_to_spleen == pytest.approx(lesion / SPLEEN)
    assert suggestion.rule_version == RULE_VERSION


@pytest.mark.parametrize(
    ("lesion", "candidates"),
    [(20.5, (3, 4)), (19.2, (3, 4)), (6.7, (2, 3)), (5.3, (1, 2)), (1.5, (0, 1))],
)
def test_near_a_boundary_the_suggestion_is_indeterminate_and_asks_for_review(
    lesion: float, candidates: tuple[int, int]
) -> None:
    suggestion = suggest_grade(lesion, LIVER, SPLEEN)
    assert suggestion.grade is None
    assert suggestion.needs_review
    assert suggestion.candidates == candidates
    assert "review" in suggestion.reason


def test_thresholds_are_configurable_and_recorded() -> None:
    exact = KrenningThresholds(review_margin=0.0)
    wide = KrenningThresholds(liver_band=0.2, review_margin=0.0)
    assert suggest_grade(6.9, LIVER, SPLEEN, thresholds=exact).grade == 3
    wide_suggestion = suggest_grade(6.9, LIVER, SPLEEN, thresholds=wide)
    assert wide_suggestion.grade == 2
    assert wide_suggestion.thresholds.as_parameters() == {
        "rule_version": RULE_VERSION,
        "liver_band": "0.2",
        "visible_ratio": "0.25",
        "review_margin": "0",
    }


def test_a_measured_background_sets_the_grade_0_boundary() -> None:
    assert suggest_grade(1.0, LIVER, SPLEEN, background_suv=1.2).grade == 0
    assert suggest_grade(2.0, LIVER, SPLEEN, background_suv=1.2).grade == 1
    # Without a background, 0.25 × liver (1.5) is the boundary.
    assert suggest_grade(2.0, LIVER, SPLEEN).grade == 1
    assert suggest_grade(1.0, LIVER, SPLEEN).grade == 0


def test_the_reader_grade_always_wins() -> None:
    """The suggestion is help; the reader's grade is recorded (project rule)."""
    hot = suggest_grade(30.0, LIVER, SPLEEN)
    decision = resolve_grade(2, hot)
    assert (decision.grade, decision.source, decision.agrees) == (2, GradeSource.READER, False)
    assert resolve_grade(4, hot).agrees is True
    unsure = suggest_grade(20.5, LIVER, SPLEEN)
    assert resolve_grade(3, unsure).grade == 3
    assert resolve_grade(3, unsure).agrees is None
    assert resolve_grade(None, hot).grade == 4
    assert resolve_grade(None, hot).source == GradeSource.SUGGESTION
    assert resolve_grade(None, unsure).grade is None
    assert resolve_grade(None, unsure).source == GradeSource.NONE
    assert resolve_grade(1, None).grade == 1
    with pytest.raises(InputError, match="krenning"):
        resolve_grade(5, hot)


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((5.0, 0.0, SPLEEN), {}, "liver_suv_mean"),
        ((5.0, LIVER, -1.0), {}, "spleen_suv_mean"),
        ((-1.0, LIVER, SPLEEN), {}, "lesion_suv"),
        ((5.0, LIVER, 6.2), {}, "spleen_suv_mean"),
        ((5.0, LIVER, SPLEEN), {"background_suv": 6.0}, "background_suv"),
    ],
)
def test_impossible_references_are_refused_with_the_field_named(
    args: tuple[float, float, float], kwargs: dict[str, float], field: str
) -> None:
    with pytest.raises(InputError) as info:
        suggest_grade(*args, **kwargs)
    assert info.value.column == field


def test_bad_thresholds_are_refused() -> None:
    with pytest.raises(InputError, match="liver_band"):
        KrenningThresholds(liver_band=1.5)
    with pytest.raises(InputError, match="visible_ratio"):
        KrenningThresholds(visible_ratio=0.95)


def test_rule_reproduces_every_grade_of_the_demo_patient_ground_truth() -> None:
    truth_path = (
        Path(__file__).resolve().parents[2] / "sample_dicom" / "demo_patient" / "ground_truth.json"
    )
    truth = json.loads(truth_path.read_text())
    grades = set()
    for patient in truth["patients"]:
        for tp in patient["timepoints"]:
            for lesion in tp["lesions"]:
                suggestion = suggest_grade(
                    lesion["suv_max"], patient["liver_suv_mean"], patient["spleen_suv_mean"]
                )
                assert suggestion.grade == lesion["krenning"], lesion["lesion_id"]
                grades.add(suggestion.grade)
    assert grades == {0, 1, 2, 3, 4}
