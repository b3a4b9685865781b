"""Exact binomial proportions for response rates (ORR, DCR and their subgroups).

Pure: numbers in, frozen values out. The interval is Clopper–Pearson's "exact" interval
(Clopper & Pearson, Biometrika 1934; 26:404–413), the one R's ``binom.test`` and SAS
``PROC FREQ / BINOMIAL(EXACT)`` report, computed from beta quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# The beta quantile function itself (what scipy.stats.beta.ppf computes, bit for bit): importing
# scipy.special takes a third of the time of scipy.stats, which recistry readers would pay.
from scipy.special import betaincinv

CONFIDENCE = 0.95
"""Two-sided confidence level of every interval recistry reports."""


def fixed(value: float, decimals: int = 1) -> str:
    """``value`` with a fixed number of decimals, halves rounded up as journals do (12.5 → 13).

    Python's own formatting rounds halves to even (``f"{12.5:.0f}"`` is ``"12"``).
    """
    quantum = Decimal(1).scaleb(-decimals)
    return str(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Proportion:
    """k of n with its exact two-sided interval.

    Attributes
    ----------
    successes
        Number of patients meeting the criterion (k).
    n
        Denominator (patients evaluated).
    rate
        k / n as a fraction in [0, 1]; ``None`` when n is 0.
    ci95
        Clopper–Pearson interval (lower, upper) as fractions; ``None`` when n is 0.
    """

    successes: int
    n: int
    rate: float | None
    ci95: tuple[float, float] | None

    def as_dict(self) -> dict[str, object]:
        """The JSON form ``{"responders", "n", "rate", "ci95"}`` used by rescore and report."""
        return {
            "responders": self.successes,
            "n": self.n,
            "rate": self.rate,
            "ci95": None if self.ci95 is None else [self.ci95[0], self.ci95[1]],
        }

    def label(self, decimals: int = 1) -> str:
        """``k/n (xx.x%, 95% CI lo–hi)``: always with k/n, so small subgroups read as such."""
        if self.rate is None or self.ci95 is None:
            return f"{self.successes}/{self.n} (–)"
        pct, lo, hi = (fixed(100.0 * x, decimals) for x in (self.rate, *self.ci95))
        return f"{self.successes}/{self.n} ({pct}%, 95% CI {lo}–{hi})"


def exact_proportion(successes: int, n: int, confidence: float = CONFIDENCE) -> Proportion:
    """Proportion k/n with its Clopper–Pearson exact confidence interval.

    Parameters
    ----------
    successes
        k, with 0 ≤ k ≤ n.
    n
        Denominator, ≥ 0. With n = 0 the rate and interval are ``None``.
    confidence
        Two-sided level, 0.95 by default.

    Returns
    -------
    Proportion
        Lower limit ``Beta(α/2; k, n−k+1)`` (0 when k = 0), upper limit
        ``Beta(1−α/2; k+1, n−k)`` (1 when k = n).

    Raises
    ------
    ValueError
        If k or n is negative or k > n.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return Proportion(successes=0, n=0, rate=None, ci95=None)
    alpha = 1.0 - confidence
    lower = 0.0 if successes == 0 else float(betaincinv(successes, n - successes + 1, alpha / 2))
    upper = (
        1.0 if successes == n else float(betaincinv(successes + 1, n - successes, 1 - alpha / 2))
    )
    return Proportion(successes=successes, n=n, rate=successes / n, ci95=(lower, upper))
