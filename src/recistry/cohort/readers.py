"""Independent reads side by side: who needs adjudication, and how well the readers agree.

Pure: one :class:`ReaderRead` per patient and reader in, a :class:`ReaderComparison` out. The
rules that send a patient to adjudication are named (:class:`AdjudicationRule`), as the charter
of a blinded independent central review names them (FDA guidance *Clinical Trial Imaging
Endpoint Process Standards*, 2018: discordance of two readers in the endpoint triggers an
adjudicator, whose choice of one read is recorded with its reason).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from recistry.cohort.agreement import (
    BlandAltman,
    Kappa,
    ProgressionDiscrepancy,
    bland_altman,
    cohen_kappa,
    icc_absolute_agreement,
    progression_discrepancy,
)
from recistry.cohort.stats import Proportion, exact_proportion
from recistry.recist.model import Response

__all__ = [
    "DEFAULT_PD_WINDOW_DAYS",
    "AdjudicationRule",
    "PatientReads",
    "ReaderComparison",
    "ReaderPairAgreement",
    "ReaderRead",
    "compare_readers",
]

DEFAULT_PD_WINDOW_DAYS = 28
"""Progression dates further apart than this need adjudication (4 weeks: one RECIST
confirmation interval, §4.6.1)."""


class AdjudicationRule(StrEnum):
    """Why two reads of one patient need an adjudicator."""

    BEST_RESPONSE = "best_response"
    """The readers' best overall responses differ."""
    PROGRESSION_DATE = "progression_date"
    """One reader calls progression and another does not, or the dates are more than the
    window apart."""
    BASELINE_TARGETS = "baseline_targets"
    """The readers chose different target lesions at baseline (by lesion ID)."""


@dataclass(frozen=True, slots=True)
class ReaderRead:
    """One reader's read of one patient, as the RECIST engine scored it.

    ``baseline_sum_mm`` is the baseline sum of diameters (mm); ``baseline_targets`` the lesion
    IDs the reader chose as targets at baseline.
    """

    patient_id: str
    reader: str
    best_overall_response: Response
    progression_date: dt.date | None
    baseline_date: dt.date
    baseline_targets: frozenset[str]
    baseline_sum_mm: float | None


@dataclass(frozen=True, slots=True)
class PatientReads:
    """Every read of one patient, the rules that call for adjudication, and its outcome.

    ``adjudicated_reader`` is the read an adjudicator accepted (``None`` if not adjudicated).
    """

    patient_id: str
    reads: tuple[ReaderRead, ...]
    rules: tuple[AdjudicationRule, ...]
    adjudicated_reader: str | None = None

    @property
    def needs_adjudication(self) -> bool:
        return bool(self.rules)


@dataclass(frozen=True, slots=True)
class ReaderPairAgreement:
    """Agreement of two readers over the patients both read.

    ``kappa`` is Cohen's kappa of the best overall responses; ``progression`` the early and late
    discrepancy rates with ``first`` in the reference (investigator) place; ``bland_altman``
    and ``icc`` compare the baseline sums (mm) of patients both measured.
    """

    first: str
    second: str
    patients: int
    kappa: Kappa
    progression: ProgressionDiscrepancy
    bland_altman: BlandAltman | None
    icc: float | None


@dataclass(frozen=True, slots=True)
class ReaderComparison:
    """All reads of a cohort compared.

    ``adjudication_rate`` is patients needing adjudication over patients with two or more reads
    (with its exact 95% interval).
    """

    readers: tuple[str, ...]
    pd_window_days: int
    patients: tuple[PatientReads, ...]
    pairs: tuple[ReaderPairAgreement, ...]
    adjudication_rate: Proportion

    @property
    def adjudicated(self) -> int:
        return sum(1 for p in self.patients if p.adjudicated_reader is not None)

    @property
    def pending(self) -> tuple[PatientReads, ...]:
        """Patients that need adjudication and have none yet."""
        return tuple(
            p for p in self.patients if p.needs_adjudication and p.adjudicated_reader is None
        )

    def as_dict(self) -> dict[str, Any]:
        """The ``recistry readers --format json`` document."""
        return {
            "readers": list(self.readers),
            "pd_window_days": self.pd_window_days,
            "patients": [_patient_dict(p) for p in self.patients],
            "adjudication": {
                "needing": self.adjudication_rate.successes,
                "of_patients_with_two_reads": self.adjudication_rate.n,
                "rate": self.adjudication_rate.rate,
                "ci95": (
                    None
                    if self.adjudication_rate.ci95 is None
                    else list(self.adjudication_rate.ci95)
                ),
                "rules": [rule.value for rule in AdjudicationRule],
                "adjudicated": self.adjudicated,
                "pending": [p.patient_id for p in self.pending],
            },
            "agreement": [_pair_dict(pair) for pair in self.pairs],
        }


def _date(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _patient_dict(p: PatientReads) -> dict[str, Any]:
    return {
        "patient_id": p.patient_id,
        "needs_adjudication": p.needs_adjudication,
        "rules": [rule.value for rule in p.rules],
        "adjudicated_reader": p.adjudicated_reader,
        "reads": [
            {
                "reader": r.reader,
                "best_overall_response": r.best_overall_response.value,
                "progression_date": _date(r.progression_date),
                "baseline_date": _date(r.baseline_date),
                "baseline_targets": sorted(r.baseline_targets),
                "baseline_sum_mm": r.baseline_sum_mm,
            }
            for r in p.reads
        ],
    }


def _pair_dict(pair: ReaderPairAgreement) -> dict[str, Any]:
    k, pd, ba = pair.kappa, pair.progression, pair.bland_altman
    return {
        "readers": [pair.first, pair.second],
        "patients": pair.patients,
        "best_response_kappa": {
            "kappa": k.kappa,
            "se": k.standard_error,
            "ci95": None if k.ci95 is None else list(k.ci95),
            "observed_agreement": k.observed,
            "expected_agreement": k.expected,
        },
        "progression": {
            "reference_reader": pair.first,
            "same": pd.same,
            "reference_later": pd.reference_later,
            "reference_earlier": pd.reference_earlier,
            "reference_only": pd.reference_only,
            "second_only": pd.second_only,
            "early_discrepancy_rate": pd.early_rate,
            "late_discrepancy_rate": pd.late_rate,
        },
        "baseline_sum_mm": {
            "pairs": 0 if ba is None else ba.n,
            "bias": None if ba is None else ba.bias,
            "sd": None if ba is None else ba.sd,
            "limits_of_agreement": None if ba is None else list(ba.limits),
            "icc_2_1": pair.icc,
        },
    }


def _rules(reads: Sequence[ReaderRead], window_days: int) -> tuple[AdjudicationRule, ...]:
    rules: list[AdjudicationRule] = []
    if len({r.best_overall_response for r in reads}) > 1:
        rules.append(AdjudicationRule.BEST_RESPONSE)
    dates = [r.progression_date for r in reads]
    called = [d for d in dates if d is not None]
    if called and (len(called) < len(dates) or (max(called) - min(called)).days > window_days):
        rules.append(AdjudicationRule.PROGRESSION_DATE)
    if len({r.baseline_targets for r in reads}) > 1:
        rules.append(AdjudicationRule.BASELINE_TARGETS)
    return tuple(rules)


def compare_readers(
    reads: Sequence[ReaderRead],
    *,
    pd_window_days: int = DEFAULT_PD_WINDOW_DAYS,
    adjudicated: Mapping[str, str] | None = None,
) -> ReaderComparison:
    """Compare every patient's reads and measure the readers' agreement, pair by pair.

    Parameters
    ----------
    reads
        One read per patient and reader.
    pd_window_days
        Progression dates more than this many days apart need adjudication (and count as
        discrepant in the early/late discrepancy rates).
    adjudicated
        Patient → the reader whose read an adjudicator accepted.

    Raises
    ------
    ValueError
        If ``pd_window_days`` is negative or a reader reads a patient twice.
    """
    if pd_window_days < 0:
        raise ValueError("the progression-date window must be 0 or more days")
    adjudicated = adjudicated or {}
    by_patient: dict[str, dict[str, ReaderRead]] = defaultdict(dict)
    for read in reads:
        if read.reader in by_patient[read.patient_id]:
            raise ValueError(f"reader {read.reader} reads patient {read.patient_id} twice")
        by_patient[read.patient_id][read.reader] = read
    patients = tuple(
        PatientReads(
            patient_id,
            tuple(by_reader[name] for name in sorted(by_reader)),
            _rules(list(by_reader.values()), pd_window_days) if len(by_reader) > 1 else (),
            adjudicated.get(patient_id),
        )
        for patient_id, by_reader in sorted(by_patient.items())
    )
    readers = tuple(sorted({r.reader for r in reads}))
    pairs = []
    for first, second in itertools.combinations(readers, 2):
        both = [
            (by_reader[first], by_reader[second])
            for by_reader in (by_patient[p.patient_id] for p in patients)
            if first in by_reader and second in by_reader
        ]
        if not both:
            continue
        sums = [
            (a.baseline_sum_mm, b.baseline_sum_mm)
            for a, b in both
            if a.baseline_sum_mm is not None and b.baseline_sum_mm is not None
        ]
        pairs.append(
            ReaderPairAgreement(
                first,
                second,
                len(both),
                cohen_kappa(
                    [a.best_overall_response.value for a, _ in both],
                    [b.best_overall_response.value for _, b in both],
                ),
                progression_discrepancy(
                    [a.progression_date for a, _ in both],
                    [b.progression_date for _, b in both],
                    pd_window_days,
                ),
                bland_altman([a for a, _ in sums], [b for _, b in sums]),
                icc_absolute_agreement([list(pair) for pair in sums]),
            )
        )
    multiple = [p for p in patients if len(p.reads) > 1]
    rate = exact_proportion(sum(1 for p in multiple if p.needs_adjudication), len(multiple))
    return ReaderComparison(readers, pd_window_days, patients, tuple(pairs), rate)
