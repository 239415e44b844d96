"""planlib.metrics.power against statsmodels (within 1 %, in fact 1e-4) and against simulation."""
import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from planlib.metrics import power as P

NIP = NormalIndPower()
TIP = TTestIndPower()

NOBS = [20, 50, 200, 1000, 10_000]
RATIOS = [0.05, 0.11, 0.25, 0.5, 1.0, 2.0]
ALTS = ["two-sided", "larger", "smaller"]


# ---------------------------------------------------------------- vs statsmodels
def test_cohens_h_matches_statsmodels():
    for p1 in [0.01, 0.05, 0.12, 0.5, 0.93]:
        for p0 in [0.02, 0.05, 0.3, 0.99]:
            assert P.cohens_h(p1, p0) == pytest.approx(proportion_effectsize(p1, p0), rel=1e-12)


@pytest.mark.parametrize("alt", ALTS)
def test_power_grid_normal(alt):
    for n in NOBS:
        for r in RATIOS:
            for d in [0.02, 0.1, 0.3, -0.2]:
                ours = P.normal_ind_power(d, n, r, 0.05, alt)
                ref = NIP.power(effect_size=d, nobs1=n, alpha=0.05, ratio=r, alternative=alt)
                assert ours == pytest.approx(ref, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("alt", ALTS)
def test_power_grid_ttest(alt):
    for n in [10, 50, 500]:
        for r in [0.25, 1.0, 2.0]:
            for d in [0.1, 0.5, -0.3]:
                ours = P.ttest_ind_power(d, n, r, 0.05, alt)
                ref = TIP.power(effect_size=d, nobs1=n, alpha=0.05, ratio=r, alternative=alt)
                assert ours == pytest.approx(ref, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("alt", ALTS)
def test_solve_effect_size_grid(alt):
    for n in NOBS:
        for r in RATIOS:
            ours = P.solve_effect_size(n, r, 0.05, 0.8, alt)
            ref = NIP.solve_power(effect_size=None, nobs1=n, alpha=0.05, power=0.8,
                                  ratio=r, alternative=alt)
            assert ours == pytest.approx(float(ref), rel=0.01)  # brief: within 1%
            assert ours == pytest.approx(float(ref), rel=1e-4)  # statsmodels' own solver tol ~1e-5


def test_solve_nobs_grid_proportions():
    for p0 in [0.02, 0.05, 0.2, 0.5]:
        for mde in [0.01, 0.02, 0.05, 0.1]:
            for r in [0.11, 0.25, 1.0]:
                n1_ours = P.solve_nobs1(P.cohens_h(p0 + mde, p0), r)
                ref = NIP.solve_power(effect_size=proportion_effectsize(p0 + mde, p0),
                                      nobs1=None, alpha=0.05, power=0.8, ratio=r)
                assert n1_ours == pytest.approx(float(ref), rel=1e-4)
                n1, n2 = P.sample_size_proportions(p0, mde, ratio=r)
                assert n1 == math.ceil(float(ref) - 1e-9)
                assert n2 >= n1 * r - 1e-9


def test_sample_size_ab_known_value():
    # 5% -> 7%, equal arms: statsmodels gives 2198.49 per arm
    assert P.sample_size_proportions(0.05, 0.02) == (2199, 2199)
    # decrease direction works (negative mde)
    n1, n2 = P.sample_size_proportions(0.20, -0.05)
    ref = NIP.solve_power(effect_size=proportion_effectsize(0.15, 0.20), power=0.8, alpha=0.05, ratio=1)
    assert n1 == math.ceil(ref)


@pytest.mark.parametrize("test,ref", [("z", NIP), ("t", TIP)])
def test_means_vs_statsmodels(test, ref):
    sd = 320.0  # spend per customer, 元
    for n1, n2 in [(900, 100), (500, 500), (60, 30)]:
        mde = P.mde_mean(sd, n1, n2, test=test)
        d = ref.solve_power(effect_size=None, nobs1=n1, ratio=n2 / n1, alpha=0.05, power=0.8)
        assert mde == pytest.approx(sd * float(d), rel=1e-4)
    for delta in [20.0, 50.0, 150.0]:
        n1, n2 = P.sample_size_means(delta, sd, ratio=0.25, test=test)
        r = ref.solve_power(effect_size=delta / sd, nobs1=None, alpha=0.05, power=0.8, ratio=0.25)
        assert n1 == math.ceil(float(r) - 1e-9)


def test_mde_proportion_consistent_with_solve():
    # plugging the MDE back in gives exactly 80% power
    for p0, n1, n2, direction in [(0.05, 1600, 400, "increase"), (0.3, 900, 100, "decrease")]:
        m = P.mde_proportion(p0, n1, n2, direction)
        p1 = p0 + m if direction == "increase" else p0 - m
        pw = NIP.power(proportion_effectsize(p1, p0), nobs1=n1, alpha=0.05, ratio=n2 / n1)
        assert pw == pytest.approx(0.8, abs=1e-6)


def test_mde_none_when_out_of_range():
    # tiny arms near a boundary: nothing below 0 is a rate
    assert P.mde_proportion(0.02, 10, 5, "decrease") is None


# ---------------------------------------------------------------- Monte Carlo
BALANCED_CASES = [  # (p0, n1, n2, direction) where the arcsine approximation holds
    (0.20, 500, 500, "increase"),
    (0.05, 5000, 5000, "increase"),
    (0.50, 100, 100, "increase"),
    (0.10, 2000, 500, "decrease"),
    (0.30, 900, 100, "decrease"),
    (0.05, 1600, 400, "increase"),
]


@pytest.mark.parametrize("p0,n1,n2,direction", BALANCED_CASES)
def test_monte_carlo_power_at_mde(p0, n1, n2, direction):
    m = P.mde_proportion(p0, n1, n2, direction)
    p1 = p0 + m if direction == "increase" else p0 - m
    sim = P.simulate_pooled_z_power(p1, p0, n1, n2, trials=4000, seed=20240401)
    assert sim == pytest.approx(0.80, abs=0.03)


@pytest.mark.parametrize("p0,n1,n2", [(0.05, 1800, 200), (0.02, 10_000, 2000), (0.05, 160, 40)])
def test_monte_carlo_small_rate_unequal_arms_is_lower(p0, n1, n2):
    """Documented limitation: with a low baseline and a small control arm the
    Cohen's-h MDE (statsmodels convention) is optimistic for the pooled z test
    (simulated power ~0.74-0.78). The Fleiss cross-check tracks the simulation."""
    m = P.mde_proportion(p0, n1, n2, "increase")
    sim = P.simulate_pooled_z_power(p0 + m, p0, n1, n2, trials=4000, seed=7)
    assert 0.70 < sim < 0.79
    assert P.pooled_z_power(p0 + m, p0, n1, n2) == pytest.approx(sim, abs=0.04)


def test_monte_carlo_mean_kpi():
    rng = np.random.default_rng(11)
    sd, n1, n2, trials = 300.0, 900, 100, 4000
    delta = P.mde_mean(sd, n1, n2, test="t")
    a = rng.normal(500 + delta, sd, (trials, n1))
    b = rng.normal(500, sd, (trials, n2))
    sp = np.sqrt(((n1 - 1) * a.var(1, ddof=1) + (n2 - 1) * b.var(1, ddof=1)) / (n1 + n2 - 2))
    t = (a.mean(1) - b.mean(1)) / (sp * np.sqrt(1 / n1 + 1 / n2))
    from scipy import stats
    crit = stats.t.isf(0.025, n1 + n2 - 2)
    assert np.mean(np.abs(t) > crit) == pytest.approx(0.80, abs=0.03)


# ---------------------------------------------------------------- goal design
def test_goal_seed_scope_cannot_within_audience():
    d = P.design_proportion_goal(0.05, 0.12, audience=200, control_share=0.2)
    assert (d.n_treated, d.n_control) == (160, 40)
    assert d.status == "cannot_within_audience" and not d.detectable
    assert d.mde_pp == pytest.approx(15.76, abs=0.05)
    assert d.power_at_target < d.power_at_half < 0.8
    assert "english" not in d.summary("en") and "Cannot be detected" in d.summary("en")
    # audience numbers are real minimums
    for N, s in [(d.audience_needed, 0.2), (d.audience_needed_at_half, 0.5)]:
        h = abs(P.cohens_h(0.12, 0.05))
        assert P.power_for(N, s, h, 0.05) >= 0.8
        assert P.power_for(N - 1, s, h, 0.05) < 0.8
    assert "无法可靠检测" in d.summary("zh")


def test_goal_detectable():
    d = P.design_proportion_goal(0.05, 0.12, audience=2000, control_share=0.1)
    assert d.status == "detectable" and d.detectable
    assert d.mde_pp < d.target_change_pp
    assert d.pooled_z_power_at_target > 0.8


def test_goal_raise_control_share():
    d = P.design_proportion_goal(0.05, 0.12, audience=700, control_share=0.05)
    assert d.status == "raise_control_share"
    s = d.min_control_share
    assert 0.05 < s <= 0.5
    h = abs(P.cohens_h(0.12, 0.05))
    assert P.power_for(700, s, h, 0.05) >= 0.8
    assert P.power_for(700, s - 1 / 700, h, 0.05) < 0.8
    # and the MDE at that share is within the target change
    n1, n2 = P.split_audience(700, s)
    assert P.mde_proportion(0.05, n1, n2) * 100 <= d.target_change_pp + 1e-9


def test_goal_decrease_direction():
    d = P.design_proportion_goal(0.10, 0.08, audience=5000, control_share=0.2)  # 投诉率 降低20%
    assert d.direction == "decrease"
    assert d.target_change_pp == pytest.approx(2.0)
    ref_h = NIP.solve_power(nobs1=4000, ratio=0.25, alpha=0.05, power=0.8)
    p1 = math.sin(math.asin(math.sqrt(0.10)) - ref_h / 2) ** 2
    assert d.mde_pp == pytest.approx((0.10 - p1) * 100, rel=0.01)


def test_goal_invalid_inputs():
    assert P.design_proportion_goal(0.05, 0.05, 1000).status == "invalid"
    with pytest.raises(ValueError):
        P.design_proportion_goal(5, 12, 1000)  # percent, not rate
    with pytest.raises(ValueError):
        P.design_proportion_goal(0.05, 0.12, 1000, control_share=0.6)
