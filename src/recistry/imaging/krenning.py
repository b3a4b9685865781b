"""Suggested Krenning uptake grade (0–4) of a lesion on somatostatin-receptor PET.

The Krenning scale (Kwekkeboom & Krenning, Semin Nucl Med 2002;32:84) compares lesion uptake
with normal liver and spleen: 0 none, 1 much lower than liver, 2 about liver, 3 above liver,
4 above spleen. On Ga-68 DOTATATE PET it is applied with the same anchors (the "modified"
Krenning score). This module turns measured SUVs into a *suggestion* for the reader: ratios
near a grade boundary are reported as indeterminate and ask for review, the thresholds and the
rule version are recorded with every suggestion, and the reader's grade always wins
(:func:`resolve_grade`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from recistry.errors import InputError

__all__ = [
    "RULE_VERSION",
    "GradeSource",
    "KrenningDecision",
    "KrenningSuggestion",
    "KrenningThresholds",
    "resolve_grade",
    "suggest_grade",
]

RULE_VERSION = "recistry-krenning-1"
"""Identifies the rule below; stored with each suggestion (and in SR algorithm parameters)."""


@dataclass(frozen=True, slots=True)
class KrenningThresholds:
    """Grade boundaries as ratios to the reference SUVmean values.

    Attributes
    ----------
    liver_band
        Grade 2 is lesion/liver within ``1 ± liver_band`` (default 0.1: "about equal to liver").
    visible_ratio
        Without a background reference, uptake above ``visible_ratio`` × liver counts as visible
        (grade 1 rather than 0). Default 0.25.
    review_margin
        Relative distance to any boundary inside which the suggestion is indeterminate and the
        reader must decide. Default 0.05 (5 %).
    """

    liver_band: float = 0.1
    visible_ratio: float = 0.25
    review_margin: float = 0.05

    def __post_init__(self) -> None:
        for name in ("liver_band", "visible_ratio", "review_margin"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise InputError(f"{name} must be in [0, 1), got {value}", column=name)
        if self.visible_ratio >= 1.0 - self.liver_band:
            raise InputError(
                "visible_ratio must lie below the grade-2 band (1 - liver_band)",
                column="visible_ratio",
            )

    def as_parameters(self) -> dict[str, str]:
        """The thresholds as text, for the audit trail and SR algorithm parameters."""
        return {
            "rule_version": RULE_VERSION,
            "liver_band": f"{self.liver_band:g}",
            "visible_ratio": f"{self.visible_ratio:g}",
            "review_margin": f"{self.review_margin:g}",
        }


@dataclass(frozen=True, slots=True)
class KrenningSuggestion:
    """What the rule suggests for one lesion, with the numbers behind it.

    Attributes
    ----------
    grade
        The suggested grade 0–4, or ``None`` when indeterminate.
    candidates
        The grades the lesion lies between: one grade when determinate, the two grades either
        side of the nearest boundary when indeterminate.
    needs_review
        True when indeterminate: the reader must choose.
    lesion_suv, liver_suv_mean, spleen_suv_mean, background_suv
        The inputs (SUV g/ml); lesion uptake is normally SUVmax.
    ratio_to_liver, ratio_to_spleen
        Lesion SUV / reference SUVmean.
    reason
        One sentence with the comparison that decided, for the reader and the audit trail.
    rule_version, thresholds
        Which rule and parameters produced this.
    """

    grade: int | None
    candidates: tuple[int, ...]
    needs_review: bool
    lesion_suv: float
    liver_suv_mean: float
    spleen_suv_mean: float
    background_suv: float | None
    ratio_to_liver: float
    ratio_to_spleen: float
    reason: str
    rule_version: str = RULE_VERSION
    thresholds: KrenningThresholds = field(default_factory=KrenningThresholds)


class GradeSource(StrEnum):
    """Where the final grade came from."""

    READER = "reader"
    SUGGESTION = "suggestion"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class KrenningDecision:
    """The grade to record: the reader's if given, else a determinate suggestion.

    ``agrees`` tells whether a reader grade matches a determinate suggestion (``None`` when
    there is nothing to compare), for reader–rule agreement studies.
    """

    grade: int | None
    source: GradeSource
    agrees: bool | None
    suggestion: KrenningSuggestion | None


def suggest_grade(
    lesion_suv: float,
    liver_suv_mean: float,
    spleen_suv_mean: float,
    *,
    background_suv: float | None = None,
    thresholds: KrenningThresholds | None = None,
) -> KrenningSuggestion:
    """Suggest a Krenning grade from lesion uptake and the liver and spleen references.

    Parameters
    ----------
    lesion_suv
        Lesion uptake, SUV (g/ml); SUVmax by default in this project (SUVpeak also works,
        record which).
    liver_suv_mean
        Normal-liver reference SUVmean (3 cm sphere, right lobe).
    spleen_suv_mean
        Spleen reference SUVmean.
    background_suv
        Optional local background or blood-pool SUVmean: grade 0 means not above it. Without
        it, ``thresholds.visible_ratio`` × liver is the boundary.
    thresholds
        Boundaries and the review margin (defaults: :class:`KrenningThresholds`).

    Returns
    -------
    KrenningSuggestion
        Rule ``recistry-krenning-1``, checked in order: 4 if lesion > spleen; 3 if lesion >
        liver × (1 + band); 2 if lesion ≥ liver × (1 − band); 1 if lesion > background (or
        visible_ratio × liver); else 0. Within ``review_margin`` (relative) of any boundary the
        grade is ``None`` and ``needs_review`` is set. A spleen reference at or below the upper
        liver band leaves no room for grade 3; such references are refused.

    Raises
    ------
    InputError
        When a reference is not positive, the lesion SUV is negative, or the spleen reference
        is not above the grade-2 band of the liver.
    """
    th = thresholds or KrenningThresholds()
    for name, value in (("liver_suv_mean", liver_suv_mean), ("spleen_suv_mean", spleen_suv_mean)):
        if not value > 0:
            raise InputError(f"{name} must be positive, got {value}", column=name)
    if not lesion_suv >= 0:
        raise InputError(f"lesion SUV must not be negative, got {lesion_suv}", column="lesion_suv")
    if background_suv is not None and not 0 <= background_suv < liver_suv_mean * (
        1 - th.liver_band
    ):
        raise InputError(
            f"background SUV {background_suv} must lie below the liver band "
            f"({liver_suv_mean * (1 - th.liver_band):.3g})",
            column="background_suv",
        )
    upper_liver = liver_suv_mean * (1 + th.liver_band)
    if spleen_suv_mean <= upper_liver:
        raise InputError(
            f"spleen SUVmean {spleen_suv_mean} is not above liver SUVmean × {1 + th.liver_band:g} "
            f"({upper_liver:.3g}); check the reference spheres (or asplenia/splenosis)",
            column="spleen_suv_mean",
        )
    visible = background_suv if background_suv is not None else th.visible_ratio * liver_suv_mean
    visible_name = "background" if background_suv is not None else f"{th.visible_ratio:g} × liver"
    # (boundary SUV, grade above it, description) from the top down.
    boundaries = (
        (spleen_suv_mean, 4, "spleen"),
        (upper_liver, 3, f"liver × {1 + th.liver_band:g}"),
        (liver_suv_mean * (1 - th.liver_band), 2, f"liver × {1 - th.liver_band:g}"),
        (visible, 1, visible_name),
    )
    ratio_liver = lesion_suv / liver_suv_mean
    ratio_spleen = lesion_suv / spleen_suv_mean

    def result(grade: int | None, candidates: tuple[int, ...], reason: str) -> KrenningSuggestion:
        return KrenningSuggestion(
            grade=grade,
            candidates=candidates,
            needs_review=grade is None,
            lesion_suv=lesion_suv,
            liver_suv_mean=liver_suv_mean,
            spleen_suv_mean=spleen_suv_mean,
            background_suv=background_suv,
            ratio_to_liver=ratio_liver,
            ratio_to_spleen=ratio_spleen,
            reason=reason,
            thresholds=th,
        )

    for boundary, above, name in boundaries:
        if boundary > 0 and abs(lesion_suv / boundary - 1.0) <= th.review_margin:
            return result(
                None,
                (above - 1, above),
                f"lesion SUV {lesion_suv:.2f} is within {th.review_margin:.0%} of {name} "
                f"({boundary:.2f}): grade {above - 1} or {above}, reader review needed",
            )
    for boundary, above, name in boundaries:
        if lesion_suv > boundary:
            return result(
                above,
                (above,),
                f"lesion SUV {lesion_suv:.2f} > {name} ({boundary:.2f}): grade {above} "
                f"(lesion/liver {ratio_liver:.2f}, lesion/spleen {ratio_spleen:.2f})",
            )
    return result(0, (0,), f"lesion SUV {lesion_suv:.2f} ≤ {visible_name} ({visible:.2f}): grade 0")


def resolve_grade(
    reader_grade: int | None, suggestion: KrenningSuggestion | None
) -> KrenningDecision:
    """The grade to record: the reader's grade always wins over the suggestion.

    Parameters
    ----------
    reader_grade
        The radiologist's grade 0–4, or ``None`` when not graded.
    suggestion
        The rule's suggestion, or ``None`` when no PET references were measured.

    Raises
    ------
    InputError
        When the reader grade is not 0–4.
    """
    if reader_grade is not None and reader_grade not in range(5):
        raise InputError(f"Krenning grade must be 0-4, got {reader_grade}", column="krenning")
    suggested = suggestion.grade if suggestion is not None else None
    if reader_grade is not None:
        agrees = None if suggested is None else suggested == reader_grade
        return KrenningDecision(reader_grade, GradeSource.READER, agrees, suggestion)
    if suggested is not None:
        return KrenningDecision(suggested, GradeSource.SUGGESTION, None, suggestion)
    return KrenningDecision(None, GradeSource.NONE, None, suggestion)
