"""recistry's Kaplan–Meier and exact intervals against golden values computed once in R.

The fixtures come from ``golden/make_golden.R`` (R survival 3.5-3 ``survfit(conf.type =
"log-log")``, ``quantile.survfit``, ``summary.survfit(times=, extend=TRUE)``; R stats
``binom.test``), committed as JSON so CI needs no R. Regenerate with
``Rscript tests/cohort/golden/make_golden.R tests/cohort/golden``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from recistry.cohort.stats import exact_proportion
from recistry.cohort.survival import kaplan_meier

GOLDEN = Path(__file__).resolve().parent / "golden"
KM_CASES: list[dict[str, Any]] = json.loads((GOLDEN / "km_golden.json").read_text())["cases"]
BINOM_CASES: list[dict[str, Any]] = json.loads((GOLDEN / "binom_golden.json").read_text())["cases"]


def _close(python: float | None, r: float | None) -> bool:
    if r is None or python is None:
        return python is None and r is None
    return python == pytest.approx(r, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("case", KM_CASES, ids=[c["name"] for c in KM_CASES])
def test_median_and_interval_match_r_quantile_survfit_loglog(case: dict[str, Any]) -> None:
    """Median and 95% CI equal R ``quantile(survfit(..., conf.type="log-log"), 0.5)``,
    including the midpoint rule on an exact-0.5 flat and NA (not reached / S = 0) limits."""
    fit = kaplan_meier(case["time"], case["event"])
    assert _close(fit.median, case["median"]), (fit.median, case["median"])
    assert _close(fit.median_ci95[0], case["median_lower"])
    assert _close(fit.median_ci95[1], case["median_upper"])


@pytest.mark.parametrize("case", KM_CASES, ids=[c["name"] for c in KM_CASES])
def test_survival_bands_and_at_risk_match_r_summary_survfit(case: dict[str, Any]) -> None:
    """S(t), log-log pointwise limits and n.risk = #{T >= t} at each tick equal R
    ``summary(fit, times=ticks, extend=TRUE)`` (cohort-stats.md §1.5)."""
    fit = kaplan_meier(case["time"], case["event"])
    assert list(fit.number_at_risk(case["ticks"])) == case["n_risk"]
    for tick, surv, lower, upper in zip(
        case["ticks"], case["surv"], case["lower"], case["upper"], strict=True
    ):
        s, lo, hi = fit.survival_at(tick)
        assert _close(s, surv), (tick, s, surv)
        assert _close(lo, lower), (tick, lo, lower)
        assert _close(hi, upper), (tick, hi, upper)


def test_golden_set_exercises_the_r_edge_cases() -> None:
    """The fixtures must contain the cases where lifelines alone differs from R (§1.3):
    a midpoint median, a not-reached median and an NA upper limit after S drops to 0."""
    medians = [c["median"] for c in KM_CASES]
    assert None in medians
    assert any(c["median_upper"] is None and c["median"] is not None for c in KM_CASES)
    assert any(m is not None and m != int(m) and m * 2 == int(m * 2) for m in medians[:1])


@pytest.mark.parametrize("case", BINOM_CASES, ids=[f"{c['k']}of{c['n']}" for c in BINOM_CASES])
def test_clopper_pearson_matches_r_binom_test(case: dict[str, Any]) -> None:
    """Exact interval equals R ``binom.test(k, n)$conf.int`` (Clopper & Pearson 1934)."""
    result = exact_proportion(case["k"], case["n"])
    assert result.ci95 is not None
    assert result.ci95[0] == pytest.approx(case["lower"], rel=1e-8, abs=1e-12)
    assert result.ci95[1] == pytest.approx(case["upper"], rel=1e-8, abs=1e-12)
