"""Kaplan–Meier estimates with medians and intervals that match R ``survival``.

The survival curve comes from lifelines' :class:`~lifelines.KaplanMeierFitter` (product-limit
estimate, Kaplan & Meier, JASA 1958). Pointwise 95% bands use Greenwood's variance on the
log(−log) scale, which is lifelines' band and R ``survfit(..., conf.type = "log-log")``'s
(Kalbfleisch & Prentice 2002, §1.3). The median and its interval follow R's
``quantile.survfit`` (``survival:::findq``, Brookmeyer & Crowley, Biometrics 1982): a horizontal
line at S = 0.5 through the curve and through each band, the midpoint of a flat stretch lying
exactly at 0.5, and "not reached" (``None``) where a line never crosses. Two places where
lifelines alone differs from R are handled here: the exact-0.5 flat (lifelines takes one end
depending on rounding) and a band where S = 0 (R reports NA, lifelines the last event time).
See ``docs/cohort.md`` and /shared/reference/cohort-stats.md §1.3–1.5.

Pure: sequences in, frozen values out; time units are whatever the caller passes (recistry
passes months = days / 30.4375).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# The standard normal quantile (what scipy.stats.norm.ppf evaluates, bit for bit), without
# importing scipy.stats, which costs every rescore about 0.7 s.
from scipy.special import ndtri

from recistry.cohort.stats import CONFIDENCE

_TOLERANCE = math.sqrt(np.finfo(float).eps)
"""R's ``sqrt(.Machine$double.eps)``: how close to 0.5 a flat must lie to be "at" 0.5."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SurvivalTable:
    """The Kaplan–Meier step function at every distinct observed time (events and censorings).

    ``at_risk[i]`` is #{T ≥ time[i]}; ``survival[i]`` is S just after ``time[i]``; ``lower`` and
    ``upper`` are the log(−log) pointwise limits, ``None`` where R survival 3.5-3 reports NA
    (S = 0 or S = 1).
    """

    time: tuple[float, ...]
    at_risk: tuple[int, ...]
    events: tuple[int, ...]
    censored: tuple[int, ...]
    survival: tuple[float, ...]
    lower: tuple[float | None, ...]
    upper: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class KaplanMeier:
    """A fitted Kaplan–Meier curve with its R-compatible median.

    Attributes
    ----------
    n, events
        Patients and observed events.
    table
        The step function and its pointwise bands.
    median
        Median survival time (caller's units), ``None`` when not reached.
    median_ci95
        (lower, upper) limits of the median, each ``None`` when not reached / not estimable.
    """

    n: int
    events: int
    table: SurvivalTable
    median: float | None
    median_ci95: tuple[float | None, float | None]

    def survival_at(self, t: float) -> tuple[float, float | None, float | None]:
        """S(t) with its pointwise 95% limits (right-continuous step function).

        Beyond the last observed time the last value is carried, as R ``summary(extend=TRUE)``
        does for S (the limits stay those of the last step).
        """
        i = int(np.searchsorted(np.asarray(self.table.time), t, side="right")) - 1
        if i < 0:
            return 1.0, 1.0, 1.0
        return self.table.survival[i], self.table.lower[i], self.table.upper[i]

    def number_at_risk(self, ticks: Sequence[float]) -> tuple[int, ...]:
        """#{T ≥ t} at each tick, as R ``summary(fit, times=)$n.risk`` and survminer report.

        lifelines' ``add_at_risk_counts`` differs when events fall on a tick (cohort-stats.md
        §1.5), hence this direct count.
        """
        times = np.asarray(self.table.time)
        out = []
        for t in ticks:
            i = int(np.searchsorted(times, t, side="left"))
            out.append(self.table.at_risk[i] if i < len(times) else 0)
        return tuple(out)

    def cumulative_counts(self, ticks: Sequence[float]) -> tuple[tuple[int, int], ...]:
        """(cumulative events, cumulative censored) with T ≤ t at each tick (KMunicate rows)."""
        times = np.asarray(self.table.time)
        ev = np.cumsum(self.table.events)
        ce = np.cumsum(self.table.censored)
        out = []
        for t in ticks:
            i = int(np.searchsorted(times, t, side="right")) - 1
            out.append((0, 0) if i < 0 else (int(ev[i]), int(ce[i])))
        return tuple(out)


def _approx_constant_right(v: FloatArray, p: float) -> int | None:
    """Index that R ``approx(v, seq_along(v), p, method="constant", f=1)`` returns.

    NaN points are dropped, the rest ordered by value (which is why R picks the smallest value
    above p rather than the earliest time); ``None`` outside the range (``rule = 1``).
    """
    idx = np.flatnonzero(~np.isnan(v))
    if idx.size == 0:
        return None
    order = idx[np.argsort(v[idx], kind="stable")]
    values = v[order]
    if p < values[0] or p > values[-1]:
        return None
    j = int(np.searchsorted(values, p, side="right")) - 1
    if values[j] == p:
        return int(order[j])
    return int(order[j + 1])


def _r_quantile(times: FloatArray, surv: FloatArray, p: float = 0.5) -> float | None:
    """R ``survival:::findq`` (survival 3.5-3) for one curve or band; ``None`` = R's NA.

    A line at ``1 − p`` crosses the step function; on a flat lying within R's tolerance of it the
    midpoint of the flat is taken, and a flat running to the end of follow-up is closed at the
    last time (censored ones included). NaN entries are R's NA and are treated as R treats them.
    """
    if times.size == 0:
        return None
    x = np.concatenate(([0.0], times))
    y = np.concatenate(([0.0], 1.0 - surv))
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return None
    xmax = float(x[-1])
    # duplicated(y): later repeats of a value go, NA counting as one value.
    seen: set[float] = set()
    keep = []
    for value in y.tolist():
        key = math.inf if math.isnan(value) else value
        keep.append(key not in seen)
        seen.add(key)
    x, y = x[np.asarray(keep)], y[np.asarray(keep)]
    i1 = _approx_constant_right(y + _TOLERANCE, p)
    i2 = _approx_constant_right(y - _TOLERANCE, p)
    last = float(y[-1])
    if not math.isnan(last) and abs(p - last) < _TOLERANCE:
        return None if i1 is None else (float(x[i1]) + xmax) / 2
    if i1 is None or i2 is None:
        return None
    return (float(x[i1]) + float(x[i2])) / 2


def _optional(values: FloatArray) -> tuple[float | None, ...]:
    return tuple(None if math.isnan(v) else float(v) for v in values.tolist())


def kaplan_meier(
    durations: Sequence[float] | FloatArray,
    events: Sequence[bool] | npt.NDArray[np.bool_],
    confidence: float = CONFIDENCE,
) -> KaplanMeier:
    """Fit a Kaplan–Meier curve and its R-compatible median with interval.

    Parameters
    ----------
    durations
        Time from origin to event or censoring, ≥ 0, any unit (recistry uses months).
    events
        True for an observed event (progression or death), False for censored.
    confidence
        Two-sided level of the pointwise bands and the median interval.

    Returns
    -------
    KaplanMeier
        Equal to R ``survfit(Surv(t, e) ~ 1, conf.type = "log-log")`` and
        ``quantile(fit, 0.5)``, with ``None`` where R prints NA.

    Raises
    ------
    ValueError
        If lengths differ or a duration is negative or not finite.
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    if t.shape != e.shape or t.ndim != 1:
        raise ValueError(f"durations and events must be 1-D of one length: {t.shape}, {e.shape}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("durations must be finite and >= 0")
    if t.size == 0:
        empty = SurvivalTable((), (), (), (), (), (), ())
        return KaplanMeier(n=0, events=0, table=empty, median=None, median_ci95=(None, None))

    # Imported here: lifelines pulls in pandas and autograd, which the CLI loads lazily.
    from lifelines import KaplanMeierFitter

    fit = KaplanMeierFitter().fit(t, event_observed=e)
    table = fit.event_table
    time = table.index.to_numpy(dtype=float)
    n_risk = table["at_risk"].to_numpy(dtype=float)
    n_event = table["observed"].to_numpy(dtype=float)
    n_cens = table["censored"].to_numpy(dtype=float)
    # lifelines adds a row at t = 0 for entry; drop it unless something happened at 0.
    if time[0] == 0.0 and n_event[0] == 0 and n_cens[0] == 0:
        time, n_risk, n_event, n_cens = time[1:], n_risk[1:], n_event[1:], n_cens[1:]
    # R multiplies (1 − d/n) where lifelines sums logs; the product keeps an exact 0.5 exact,
    # which decides R's midpoint rule (cohort-stats.md §1.3 row 2).
    surv = np.cumprod(1.0 - n_event / n_risk)

    z = float(ndtri(1 - (1 - confidence) / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        # Greenwood: var(log S) = Σ d / (n (n − d)); undefined once everyone at risk has failed.
        greenwood = np.where(n_risk > n_event, n_event / (n_risk * (n_risk - n_event)), np.nan)
        se = np.sqrt(np.cumsum(greenwood))
        log_s = np.log(surv)
        loglog = np.log(-log_s)
        lower = np.exp(-np.exp(loglog - z * se / log_s))
        upper = np.exp(-np.exp(loglog + z * se / log_s))
    # R survfit_confint (log-log): NA where S is 0 or 1. lifelines would give 0 at S = 0 and so
    # a finite upper median limit that R does not report.
    undefined = (surv == 0) | (surv == 1)
    lower[undefined] = np.nan
    upper[undefined] = np.nan

    survival_table = SurvivalTable(
        time=tuple(time.tolist()),
        at_risk=tuple(int(v) for v in n_risk),
        events=tuple(int(v) for v in n_event),
        censored=tuple(int(v) for v in n_cens),
        survival=tuple(surv.tolist()),
        lower=_optional(lower),
        upper=_optional(upper),
    )
    return KaplanMeier(
        n=int(t.size),
        events=int(e.sum()),
        table=survival_table,
        median=_r_quantile(time, surv),
        median_ci95=(_r_quantile(time, lower), _r_quantile(time, upper)),
    )


def median_followup(
    durations: Sequence[float] | FloatArray, events: Sequence[bool] | npt.NDArray[np.bool_]
) -> KaplanMeier:
    """Reverse Kaplan–Meier (Schemper & Smith, Control Clin Trials 1996): censoring as the event.

    Its ``median`` is the median follow-up, which makes a "not reached" median interpretable.
    """
    return kaplan_meier(durations, ~np.asarray(events, dtype=bool))
