"""The review's statistics against hand-computed cases and against statsmodels and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp
from statsmodels.stats import proportion as smp
from statsmodels.stats.power import NormalIndPower

from planlib.stages.review.stats import (
    compare_proportions,
    diff_proportions,
    mde_proportions,
    two_proportion_test,
    welch,
)


def test_two_proportion_test_by_hand():
    # 45/100 vs 20/100: unpooled se = sqrt(.45·.55/100 + .2·.8/100) = sqrt(.004075) = .0638357
    # z = .25 / .0638357 = 3.91630; two-sided p = 2·(1 − Φ(3.91630)) = .0000899
    z, p = two_proportion_test(45, 100, 20, 100)
    assert z == pytest.approx(3.91630, abs=1e-4)
    assert p == pytest.approx(0.0000899, abs=2e-6)


@pytest.mark.parametrize("counts", [(45, 100, 20, 100), (12, 170, 43, 170), (3, 19, 1, 7), (220, 340, 50, 79)])
def test_two_proportion_test_matches_statsmodels(counts):
    x1, n1, x0, n0 = counts
    ref = smp.test_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
    z_ref, p_ref = ref.statistic, ref.pvalue
    z, p = two_proportion_test(x1, n1, x0, n0)
    assert (z, p) == pytest.approx((z_ref, p_ref))
    low, high = smp.confint_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
    _, ours_low, ours_high = diff_proportions(x1, n1, x0, n0)
    assert (ours_low, ours_high) == pytest.approx((low * 100, high * 100))


def test_the_verdict_and_the_p_value_beside_it_come_from_one_test():
    # a pooled p-value beside an unpooled interval disagreed near the edge, e.g. 27/40 vs 21/45: the
    # interval [+0.3, +41.4] excludes 0 (显著) while the pooled test gave p = .053 beside it;
    # one test for both means p < .05 exactly when the interval excludes 0
    for x1 in range(0, 41):
        for x0 in range(0, 46, 3):
            d = compare_proportions(x1, 40, x0, 45)
            if d is not None and 0 < x1 + x0 < 85:
                assert d.significant == (d.p_value < 0.05), (x1, x0, d)


def test_degenerate_proportions():
    assert two_proportion_test(0, 10, 0, 10) is None  # nobody did it: nothing to test
    assert two_proportion_test(1, 0, 1, 5) is None
    assert compare_proportions(1, 0, 1, 5) is None
    d = compare_proportions(10, 10, 0, 10)  # 100 % vs 0 %: the Wald interval collapses, stays within ±100
    assert (d.diff, d.low, d.high) == (100.0, 100.0, 100.0) and d.significant and d.p_value == 0.0


def test_welch_by_hand():
    # a = 1,2,3,4: mean 2.5, s² = 1.6667; b = 2,4,6,8,10: mean 6, s² = 10
    # se² = 1.6667/4 + 10/5 = 2.41667; t = −3.5/1.55456 = −2.25145
    # df = 2.41667² / ((.41667²)/3 + 2²/4) = 5.84028 / 1.05787 = 5.52081
    d = welch(np.array([1, 2, 3, 4]), np.array([2, 4, 6, 8, 10]))
    assert d.diff == pytest.approx(-3.5)
    half = sp.t.ppf(0.975, 5.52081) * math.sqrt(2.41667)
    assert (d.low, d.high) == pytest.approx((-3.5 - half, -3.5 + half), abs=1e-3)
    assert d.p_value == pytest.approx(2 * sp.t.sf(2.25145, 5.52081), abs=1e-4)
    assert not d.significant


def test_welch_matches_scipy_on_skewed_spend():
    rng = np.random.default_rng(7)
    a = np.where(rng.random(300) < 0.15, rng.lognormal(6, 0.5, 300), 0.0)  # most customers spend nothing
    b = np.where(rng.random(80) < 0.06, rng.lognormal(6, 0.5, 80), 0.0)
    ref = sp.ttest_ind(a, b, equal_var=False)
    low, high = ref.confidence_interval(0.95)
    d = welch(a, b)
    assert (d.diff, d.low, d.high, d.p_value) == pytest.approx((a.mean() - b.mean(), low, high, ref.pvalue))


def test_welch_needs_two_per_group_and_handles_no_variance():
    assert welch(np.array([1.0]), np.array([1.0, 2.0])) is None
    d = welch(np.zeros(5), np.zeros(4))
    assert (d.diff, d.p_value, d.significant) == (0.0, 1.0, False)


def test_mde_by_hand():
    # p0 = .2, 170 per group: (1.959964 + 0.841621) · sqrt(.16 · 2/170) = 2.801585 · .0433861 = .121549
    assert mde_proportions(0.2, 170, 170) == pytest.approx(12.1549, abs=1e-3)
    assert mde_proportions(0.0, 170, 170) is None and mde_proportions(0.2, 0, 10) is None


@pytest.mark.parametrize("p0,n1,n0", [(0.2, 170, 170), (0.5, 1000, 250), (0.071, 92, 94)])
def test_mde_matches_statsmodels_power(p0, n1, n0):
    # statsmodels solves for the standardised effect d at 80 % power; the MDE is d · sd(p0)
    d = NormalIndPower().solve_power(effect_size=None, nobs1=n1, alpha=0.05, power=0.8, ratio=n0 / n1)
    assert mde_proportions(p0, n1, n0) == pytest.approx(d * math.sqrt(p0 * (1 - p0)) * 100, rel=1e-4)
