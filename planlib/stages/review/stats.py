"""The statistics behind "did it really work": differences of proportions and of means with
confidence intervals, the two-proportion test and the minimum detectable effect.

Pure functions of counts and samples, so that tests can check them against hand-computed
cases and against statsmodels/scipy. Proportions go in as counts and come out in percentage
points; means come out in the unit of the samples (yuan).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import copysign, inf, sqrt
from statistics import NormalDist

import numpy as np

_NORMAL = NormalDist()
ALPHA = 0.05
POWER = 0.80


def z_quantile(confidence: float) -> float:
    """The two-sided critical value: 1.96 for 95 %."""
    return _NORMAL.inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True)
class Difference:
    """An estimated difference (group − reference) with its confidence interval and p-value."""

    diff: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        """The interval excludes zero: the difference is distinguishable from no effect."""
        return self.low > 0 or self.high < 0


def diff_proportions(x1: int, n1: int, x0: int, n0: int,
                     confidence: float = 0.95) -> tuple[float, float, float] | None:
    """p1 − p0 and its confidence interval, in percentage points (None if a group is empty).

    Normal approximation with the unpooled (Wald) standard error
    sqrt(p1(1−p1)/n1 + p0(1−p0)/n0) — the textbook interval for a difference of proportions.
    """
    if n1 == 0 or n0 == 0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    se = sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    z = z_quantile(confidence)
    diff = p1 - p0
    return diff * 100, (diff - z * se) * 100, (diff + z * se) * 100


def two_proportion_test(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float] | None:
    """(z, two-sided p) of H0: p1 = p0 with the unpooled (Wald) standard error; None when undefined.

    The same standard error as :func:`diff_proportions`' interval, so that the verdict read off the
    interval (excludes 0) and the p-value shown beside it come from one test: p < α exactly when
    the (1 − α) interval excludes zero. Undefined when a group is empty or nobody (or everybody)
    in both groups has the outcome: then there is no variation to test. Both groups at opposite
    certainties (0 % vs 100 %) have no sampling error: p = 0.
    """
    if n1 == 0 or n0 == 0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    se = sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    if se == 0:
        return None if p1 == p0 else (copysign(inf, p1 - p0), 0.0)
    z = (p1 - p0) / se
    return z, 2 * (1 - _NORMAL.cdf(abs(z)))


def compare_proportions(x1: int, n1: int, x0: int, n0: int, confidence: float = 0.95) -> Difference | None:
    """Difference of proportions in percentage points: Wald interval and the Wald z-test's p-value."""
    ci, test = diff_proportions(x1, n1, x0, n0, confidence), two_proportion_test(x1, n1, x0, n0)
    if ci is None:
        return None
    diff, low, high = ci
    # a difference of shares cannot leave ±100 points, whatever the approximation says
    return Difference(diff, max(low, -100.0), min(high, 100.0), 1.0 if test is None else test[1])


def welch(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> Difference | None:
    """mean(a) − mean(b) with Welch's t interval and test (unequal variances); None if n < 2.

    Spend per customer is skewed (most spend nothing), so the interval relies on the central
    limit theorem: trustworthy with dozens of customers per group, not with a handful.
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(a.mean() - b.mean())
    se = sqrt(va + vb)
    if se == 0:
        return Difference(diff, diff, diff, 1.0 if diff == 0 else 0.0)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = diff / se
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return Difference(diff, diff - half, diff + half, float(2 * stats.t.sf(abs(t), df)))


def mde_proportions(p0: float, n1: int, n0: int, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """Minimum detectable effect in percentage points for a two-sided two-proportion test.

    The smallest true difference from the reference rate ``p0`` (a fraction) that samples of
    ``n1`` and ``n0`` detect with probability ``power`` at level ``alpha``:
    (z_{1−α/2} + z_{power}) · sqrt(p0(1−p0)(1/n1 + 1/n0)). A difference smaller than this is
    noise as far as these samples can tell, so nobody should declare a winner on it.
    """
    if n1 == 0 or n0 == 0 or not 0 < p0 < 1:
        return None
    z = _NORMAL.inv_cdf(1 - alpha / 2) + _NORMAL.inv_cdf(power)
    return z * sqrt(p0 * (1 - p0) * (1 / n1 + 1 / n0)) * 100
