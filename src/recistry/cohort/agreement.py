"""Agreement between independent readers: Cohen's kappa, ICC, Bland–Altman, PD discrepancy rates.

Pure: numbers in, frozen values out. Each statistic names the formula it implements; the tests
compare them with statsmodels and with the worked examples of the papers cited.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from recistry.cohort.stats import CONFIDENCE

__all__ = [
    "BlandAltman",
    "Kappa",
    "ProgressionDiscrepancy",
    "bland_altman",
    "cohen_kappa",
    "icc_absolute_agreement",
    "progression_discrepancy",
]


@dataclass(frozen=True, slots=True)
class Kappa:
    """Cohen's kappa of two readers' categorical calls, with its 95% interval.

    Attributes
    ----------
    kappa
        (p_o − p_e) / (1 − p_e); ``None`` when p_e is 1 (both readers used one category only).
    standard_error
        Large-sample standard error of Fleiss, Cohen and Everitt (1969), the ``ASE`` of SAS
        ``PROC FREQ / AGREE`` and statsmodels' ``std_kappa``.
    ci95
        kappa ± z₀.₉₇₅ · standard_error (Wald interval), clipped to [−1, 1].
    observed, expected
        p_o (proportion of agreement) and p_e (agreement expected by chance).
    n
        Patients read by both readers.
    """

    kappa: float | None
    standard_error: float | None
    ci95: tuple[float, float] | None
    observed: float | None
    expected: float | None
    n: int


def cohen_kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> Kappa:
    """Cohen's kappa (Cohen 1960) with the asymptotic variance of Fleiss, Cohen & Everitt (1969).

    With p_ij the proportion of patients called i by the first and j by the second reader, p_i.
    and p_.j the margins, p_o = Σ p_ii, p_e = Σ p_i. p_.i and κ = (p_o − p_e) / (1 − p_e)::

        Var(κ) = [ Σ_i p_ii (1 − (p_i. + p_.i)(1 − κ))²
                 + (1 − κ)² Σ_{i≠j} p_ij (p_.i + p_j.)²
                 − (κ − p_e (1 − κ))² ] / (n (1 − p_e)²)

    (Fleiss JL, Cohen J, Everitt BS. Psychol Bull 1969;72:323–327; Fleiss, Levin & Paik,
    *Statistical Methods for Rates and Proportions*, 3rd ed., 2003, eq. 18.16.)

    Parameters
    ----------
    first, second
        The two readers' calls for the same patients, in the same order.

    Raises
    ------
    ValueError
        If the sequences differ in length.
    """
    if len(first) != len(second):
        raise ValueError("both readers must call the same patients")
    n = len(first)
    if n == 0:
        return Kappa(None, None, None, None, None, 0)
    categories = sorted(set(first) | set(second), key=str)
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    p = [[0.0] * k for _ in range(k)]
    for a, b in zip(first, second, strict=True):
        p[index[a]][index[b]] += 1.0 / n
    rows = [sum(p[i]) for i in range(k)]
    cols = [sum(p[i][j] for i in range(k)) for j in range(k)]
    observed = sum(p[i][i] for i in range(k))
    expected = sum(rows[i] * cols[i] for i in range(k))
    if expected >= 1.0 - 1e-12:
        return Kappa(None, None, None, observed, expected, n)
    kappa = (observed - expected) / (1.0 - expected)
    a_term = sum(p[i][i] * (1.0 - (rows[i] + cols[i]) * (1.0 - kappa)) ** 2 for i in range(k))
    b_term = (1.0 - kappa) ** 2 * sum(
        p[i][j] * (cols[i] + rows[j]) ** 2 for i in range(k) for j in range(k) if i != j
    )
    c_term = (kappa - expected * (1.0 - kappa)) ** 2
    variance = max(a_term + b_term - c_term, 0.0) / (n * (1.0 - expected) ** 2)
    se = math.sqrt(variance)
    z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)
    ci = (max(-1.0, kappa - z * se), min(1.0, kappa + z * se))
    return Kappa(kappa, se, ci, observed, expected, n)


def icc_absolute_agreement(ratings: Sequence[Sequence[float]]) -> float | None:
    """ICC(2,1): two-way random effects, absolute agreement, single rater.

    Shrout & Fleiss (Psychol Bull 1979;86:420–428) case 2, form 1; McGraw & Wong's ICC(A,1)
    (Psychol Methods 1996;1:30–46). With n subjects (rows) and k raters (columns)::

        ICC(2,1) = (BMS − EMS) / (BMS + (k − 1) EMS + k (JMS − EMS) / n)

    where BMS is the between-subjects, JMS the between-raters and EMS the residual mean square
    of the two-way ANOVA. ``None`` with fewer than 2 subjects or raters, or no variance at all.
    """
    n = len(ratings)
    k = len(ratings[0]) if n else 0
    if n < 2 or k < 2:
        return None
    if any(len(row) != k for row in ratings):
        raise ValueError("every subject needs one rating per rater")
    grand = sum(sum(row) for row in ratings) / (n * k)
    row_means = [sum(row) / k for row in ratings]
    col_means = [sum(row[j] for row in ratings) / n for j in range(k)]
    bms = k * sum((m - grand) ** 2 for m in row_means) / (n - 1)
    jms = n * sum((m - grand) ** 2 for m in col_means) / (k - 1)
    ems = sum(
        (ratings[i][j] - row_means[i] - col_means[j] + grand) ** 2
        for i in range(n)
        for j in range(k)
    ) / ((n - 1) * (k - 1))
    denominator = bms + (k - 1) * ems + k * (jms - ems) / n
    if denominator == 0:
        return None
    return (bms - ems) / denominator


@dataclass(frozen=True, slots=True)
class BlandAltman:
    """Bland–Altman agreement of two readers' measurements (second minus first).

    Attributes
    ----------
    n
        Pairs.
    bias
        Mean difference, in the unit of the measurements (mm for sums of diameters).
    sd
        Standard deviation of the differences (n − 1 denominator).
    limits
        95% limits of agreement, bias ± 1.96 sd (Bland & Altman, Lancet 1986;i:307–310).
    """

    n: int
    bias: float
    sd: float
    limits: tuple[float, float]


LIMITS_Z = 1.96
"""Bland & Altman's multiplier of the SD for the 95% limits of agreement."""


def bland_altman(first: Sequence[float], second: Sequence[float]) -> BlandAltman | None:
    """Bias and 95% limits of agreement of ``second − first``; ``None`` with fewer than 2 pairs."""
    if len(first) != len(second):
        raise ValueError("both readers must measure the same patients")
    n = len(first)
    if n < 2:
        return None
    diffs = [b - a for a, b in zip(first, second, strict=True)]
    bias = sum(diffs) / n
    sd = math.sqrt(sum((d - bias) ** 2 for d in diffs) / (n - 1))
    return BlandAltman(n, bias, sd, (bias - LIMITS_Z * sd, bias + LIMITS_Z * sd))


@dataclass(frozen=True, slots=True)
class ProgressionDiscrepancy:
    """Early and late discrepancy rates of progression between a reference and a second reader.

    The FDA's audit measures of local (investigator) against central (BICR) progression (Amit O,
    Mannino F, Stone AM, et al. Eur J Cancer 2011;47:1772–1778; Zhang JJ et al., FDA, Ther Innov
    Regul Sci 2013;47:167–174), with ``reference`` in the investigator's place:

    * ``same`` (a1): both call PD within the window of each other; ``reference_later`` (a2),
      ``reference_earlier`` (a3): both call PD, further apart;
    * ``reference_only`` (b): PD by the reference reader only; ``second_only`` (c): by the
      second reader only.

    EDR = (a3 + b) / (a1 + a2 + a3 + b): early calls among the reference reader's progressions.
    LDR = (a2 + c) / (a2 + a3 + b + c): late calls among all discrepancies. ``None`` when the
    denominator is 0.
    """

    same: int
    reference_later: int
    reference_earlier: int
    reference_only: int
    second_only: int

    @property
    def early_rate(self) -> float | None:
        denominator = (
            self.same + self.reference_later + self.reference_earlier + self.reference_only
        )
        return (
            None
            if denominator == 0
            else (self.reference_earlier + self.reference_only) / denominator
        )

    @property
    def late_rate(self) -> float | None:
        denominator = (
            self.reference_later + self.reference_earlier + self.reference_only + self.second_only
        )
        return None if denominator == 0 else (self.reference_later + self.second_only) / denominator


def progression_discrepancy(
    reference: Sequence[dt.date | None], second: Sequence[dt.date | None], window_days: int
) -> ProgressionDiscrepancy:
    """Count the five cases of :class:`ProgressionDiscrepancy` over paired progression dates.

    ``None`` is no progression. Two dates at most ``window_days`` apart are the same call.
    """
    if len(reference) != len(second):
        raise ValueError("both readers must read the same patients")
    counts = [0, 0, 0, 0, 0]
    for r, s in zip(reference, second, strict=True):
        if r is None and s is None:
            continue
        if s is None:
            counts[3] += 1
        elif r is None:
            counts[4] += 1
        elif abs((r - s).days) <= window_days:
            counts[0] += 1
        elif r > s:
            counts[1] += 1
        else:
            counts[2] += 1
    return ProgressionDiscrepancy(*counts)
