"""The review's statistics against hand-computed cases and against statsmodels and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from planlib.stages.review.stats import (
    compare_proportions,
    diff_proportions,
    mde_proportions,
    two_proportion_test,
    welch,
)


def test_two_proportion_test_by_hand():
    # 45/100 vs 20/100: pooled p = .325, se = sqrt(.325·.675·(1/100 + 1/100)) = .0662382
    # z = .25 / .0662382 = 3.77426; two-sided p = 2·(1 − Φ(3.77426)) = .000160
    z, p = two_proportion_test(45, 100, 20, 100)
    assert z == pytest.approx(3.77426, abs=1e-4)
    assert p == pytest.approx(0.000160, abs=2e-6)


@pytest.mark.parametrize("counts", [(45, 100, 20, 100), (12, 170, 43, 170), (3, 19, 1, 7), (220, 340, 50, 79)])
def test_two_proportion_test_matches_statsmodels(counts):
    x1, n1, x0, n0 = counts
    z_ref, p_ref = proportions_ztest([x1, x0], [n1, n0])
    z, p = two_proportion_test(x1, n1, x0, n0)
    assert (z, p) == pytest.approx((z_ref, p_ref))
    low, high = confint_proportions_2indep(x1, n1, x0, n0, method="wald", compare="diff")
    _, ours_low, ours_high = diff_proportions(x1, n1, x0, n0)
    assert (ours_low, ours_high) == pytest.approx((low * 100, high * 100))


def test_degenerate_proportions():
    assert two_proportion_test(0, 10, 0, 10) is None  # nobody did it: nothing to test
    assert two_proportion_test(1, 0, 1, 5) is None
    assert compare_proportions(1, 0, 1, 5) is None
    d = compare_proportions(10, 10, 0, 10)  # 100 % vs 0 %: the Wald interval collapses, stays within ±100
    assert (d.diff, d.low, d.high) == (100.0, 100.0, 100.0) and d.significant


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
