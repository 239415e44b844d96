"""Evaluation-design statistics for a campaign against a random control group.

Used by ``planlib proposal`` for the evaluation design (评估与反馈机制) and by stage 05, which checks
the outcome against that design (was the planned effect detectable at the sample achieved).

Conventions follow statsmodels so results agree with it:

* proportions: Cohen's h, ``h = 2*asin(sqrt(p1)) - 2*asin(sqrt(p0))``
  (``statsmodels.stats.proportion.proportion_effectsize(p1, p0)``);
* power: ``NormalIndPower`` — normal approximation, two-sided by default,
  ``nobs1`` = treated arm, ``ratio = nobs2 / nobs1`` (control / treated),
  effective size ``1 / (1/n1 + 1/n2)``;
* means: Cohen's d = delta / sd with ``NormalIndPower`` (``test="z"``) or
  ``TTestIndPower`` (``test="t"``, non-central t, df = n1 + n2 - 2).

Only scipy and numpy are used here; statsmodels is a test dependency.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from scipy import optimize, stats

__all__ = [
    "cohens_h",
    "normal_ind_power",
    "ttest_ind_power",
    "solve_effect_size",
    "solve_nobs1",
    "rate_from_h",
    "mde_proportion",
    "mde_mean",
    "sample_size_proportions",
    "sample_size_means",
    "pooled_z_power",
    "simulate_pooled_z_power",
    "ProportionGoalDesign",
    "design_proportion_goal",
    "power_for",
    "split_audience",
]

ALPHA = 0.05
POWER = 0.80
Alternative = Literal["two-sided", "larger", "smaller"]


# --------------------------------------------------------------------------
# core power functions (same formulas as statsmodels.stats.power)
# --------------------------------------------------------------------------
def cohens_h(p1: float, p0: float) -> float:
    """Cohen's h effect size for two proportions (same as proportion_effectsize)."""
    _check_rate(p1, "p1")
    _check_rate(p0, "p0")
    return 2.0 * math.asin(math.sqrt(p1)) - 2.0 * math.asin(math.sqrt(p0))


def _effective_nobs(nobs1: float, ratio: float) -> float:
    if nobs1 <= 0:
        raise ValueError("nobs1 must be positive")
    if ratio < 0:
        raise ValueError("ratio must be >= 0")
    if ratio == 0:  # statsmodels: ratio=0 means the second sample is known (one-sample)
        return float(nobs1)
    nobs2 = nobs1 * ratio
    return 1.0 / (1.0 / nobs1 + 1.0 / nobs2)


def normal_ind_power(effect_size: float, nobs1: float, ratio: float = 1.0,
                     alpha: float = ALPHA, alternative: Alternative = "two-sided") -> float:
    """Power of a two-sample z test (statsmodels NormalIndPower().power)."""
    nobs = _effective_nobs(nobs1, ratio)
    shift = effect_size * math.sqrt(nobs)
    if alternative == "two-sided":
        a = alpha / 2.0
        crit = stats.norm.isf(a)
        return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))
    if alternative == "larger":
        return float(stats.norm.sf(stats.norm.isf(alpha) - shift))
    if alternative == "smaller":
        return float(stats.norm.cdf(stats.norm.ppf(alpha) - shift))
    raise ValueError(f"unknown alternative {alternative!r}")


def ttest_ind_power(effect_size: float, nobs1: float, ratio: float = 1.0,
                    alpha: float = ALPHA, alternative: Alternative = "two-sided") -> float:
    """Power of a two-sample t test (statsmodels TTestIndPower().power)."""
    nobs = _effective_nobs(nobs1, ratio)
    df = nobs1 * (1.0 + ratio) - 2.0 if ratio > 0 else nobs1 - 1.0
    if df <= 0:
        raise ValueError("not enough observations for a t test")
    nc = effect_size * math.sqrt(nobs)
    if alternative == "two-sided":
        a = alpha / 2.0
        return _nct_sf(stats.t.isf(a, df), df, nc) + _nct_sf(stats.t.isf(a, df), df, -nc)
    if alternative == "larger":
        return _nct_sf(stats.t.isf(alpha, df), df, nc)
    if alternative == "smaller":
        return _nct_sf(stats.t.isf(alpha, df), df, -nc)  # P(T < -c | nc) = P(T > c | -nc)
    raise ValueError(f"unknown alternative {alternative!r}")


def _nct_sf(x: float, df: float, nc: float) -> float:
    """Upper tail of the non-central t; scipy's far tail can be NaN (scipy 1.17:
    nct.cdf(-1.96, 998, 9.49) is nan) — there the tail is ~0 (or ~1)."""
    v = float(stats.nct.sf(x, df, nc))
    if math.isnan(v):
        v = float(stats.norm.sf(x - nc))  # normal limit; only hit for |x - nc| large
    return v


def _power_fn(test: str):
    if test == "z":
        return normal_ind_power
    if test == "t":
        return ttest_ind_power
    raise ValueError("test must be 'z' or 't'")


def solve_effect_size(nobs1: float, ratio: float = 1.0, alpha: float = ALPHA,
                      power: float = POWER, alternative: Alternative = "two-sided",
                      test: str = "z") -> float:
    """Smallest positive standardized effect with the requested power.

    For ``alternative="smaller"`` the returned value is negative (as statsmodels).
    """
    _check_power_alpha(power, alpha)
    fn = _power_fn(test)
    sign = -1.0 if alternative == "smaller" else 1.0

    def f(d):
        return fn(sign * d, nobs1, ratio, alpha, alternative) - power

    hi = 1.0
    while f(hi) < 0:
        hi *= 2.0
        if hi > 1e6:
            raise ValueError("no effect size reaches the requested power")
    d = optimize.brentq(f, 1e-12, hi, xtol=1e-12, rtol=1e-12)
    return sign * d


def solve_nobs1(effect_size: float, ratio: float = 1.0, alpha: float = ALPHA,
                power: float = POWER, alternative: Alternative = "two-sided",
                test: str = "z") -> float:
    """Treated-arm size (float, like statsmodels) reaching ``power`` for ``effect_size``."""
    _check_power_alpha(power, alpha)
    if effect_size == 0:
        raise ValueError("effect_size must be non-zero")
    fn = _power_fn(test)

    def f(n):
        return fn(effect_size, n, ratio, alpha, alternative) - power

    lo = 2.0 + 1e-9 if test == "t" else 1e-9
    if test == "t" and ratio > 0:
        lo = max(lo, 2.0 / (1.0 + ratio) + 1.0)  # df > 0
    if f(lo) >= 0:
        return lo
    hi = 10.0
    while f(hi) < 0:
        hi *= 2.0
        if hi > 1e13:
            raise ValueError("effect too small or wrong sign for this alternative")
    return optimize.brentq(f, lo, hi, xtol=1e-10, rtol=1e-12)


def rate_from_h(p0: float, h: float) -> float | None:
    """Rate p1 with cohens_h(p1, p0) == h, or None if outside [0, 1]."""
    _check_rate(p0, "p0")
    phi = math.asin(math.sqrt(p0)) + h / 2.0
    if phi < 0 or phi > math.pi / 2:
        return None
    return math.sin(phi) ** 2


# --------------------------------------------------------------------------
# planner-facing helpers
# --------------------------------------------------------------------------
def mde_proportion(p0: float, n1: float, n2: float, direction: str = "increase",
                   alpha: float = ALPHA, power: float = POWER) -> float | None:
    """Minimum detectable effect, absolute (rate units: 0.07 = 7 pp), two-sided.

    n1 = treated arm, n2 = control arm, p0 = baseline rate (control).
    Returns None when no rate inside [0, 1] is detectable in that direction.
    """
    h = solve_effect_size(n1, n2 / n1, alpha, power, "two-sided")
    p1 = rate_from_h(p0, h if direction == "increase" else -h)
    if p1 is None:
        return None
    return abs(p1 - p0)


def mde_mean(sd: float, n1: float, n2: float, alpha: float = ALPHA,
             power: float = POWER, test: str = "z") -> float:
    """Minimum detectable difference of means (same unit as sd), two-sided."""
    if sd <= 0:
        raise ValueError("sd must be positive")
    return sd * solve_effect_size(n1, n2 / n1, alpha, power, "two-sided", test)


def sample_size_proportions(p0: float, mde: float, ratio: float = 1.0,
                            alpha: float = ALPHA, power: float = POWER) -> tuple[int, int]:
    """(n_treated, n_control) for an A/B test of two proportions, p0 -> p0 + mde.

    ``mde`` is absolute (0.02 = 2 pp); negative for a decrease. ratio = n2/n1.
    Sizes are rounded up (statsmodels returns the float before rounding).
    """
    p1 = p0 + mde
    _check_rate(p1, "p0 + mde")
    h = cohens_h(p1, p0)
    n1 = solve_nobs1(h, ratio, alpha, power)
    return _ceil(n1), _ceil(n1 * ratio)


def sample_size_means(mde: float, sd: float, ratio: float = 1.0, alpha: float = ALPHA,
                      power: float = POWER, test: str = "z") -> tuple[int, int]:
    """(n_treated, n_control) to detect a mean difference ``mde`` with std ``sd``."""
    if sd <= 0:
        raise ValueError("sd must be positive")
    n1 = solve_nobs1(mde / sd, ratio, alpha, power, test=test)
    return _ceil(n1), _ceil(n1 * ratio)


def _ceil(x: float) -> int:
    # guard against 100.00000000001 -> 101
    return int(math.ceil(x - 1e-9))


# --------------------------------------------------------------------------
# cross-checks against the test the analysis will actually run
# --------------------------------------------------------------------------
def pooled_z_power(p1: float, p0: float, n1: float, n2: float, alpha: float = ALPHA) -> float:
    """Approximate power of the pooled two-proportion z test (Fleiss formula).

    Null variance pooled, alternative variance unpooled. Unlike Cohen's h this
    follows the skew at small rates with unequal arms, where the h-based MDE is
    a little optimistic (e.g. p0=5%, 1800/200: 0.745 instead of 0.80).
    """
    pbar = (n1 * p1 + n2 * p0) / (n1 + n2)
    z = stats.norm.isf(alpha / 2)
    s0 = math.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
    s1 = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n2)
    if s1 == 0:
        return float(abs(p1 - p0) > z * s0)
    d = abs(p1 - p0)
    return float(stats.norm.sf((z * s0 - d) / s1) + stats.norm.cdf((-z * s0 - d) / s1))


def simulate_pooled_z_power(p1: float, p0: float, n1: int, n2: int, trials: int = 4000,
                            alpha: float = ALPHA, seed: int = 0) -> float:
    """Monte-Carlo power of the pooled two-proportion z test (vectorised numpy)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x1 = rng.binomial(n1, p1, trials)
    x2 = rng.binomial(n2, p0, trials)
    pp = (x1 + x2) / (n1 + n2)
    se = np.sqrt(pp * (1 - pp) * (1 / n1 + 1 / n2))
    diff = x1 / n1 - x2 / n2
    z = np.divide(diff, se, out=np.zeros_like(diff), where=se > 0)
    return float(np.mean(np.abs(z) > stats.norm.isf(alpha / 2)))


# --------------------------------------------------------------------------
# goal-level design: is the targeted change detectable with this audience?
# --------------------------------------------------------------------------
@dataclass
class ProportionGoalDesign:
    baseline: float
    target: float
    audience: int
    control_share: float
    n_treated: int
    n_control: int
    direction: str
    target_change_pp: float          # |target - baseline| in percentage points
    mde_pp: float | None          # None: nothing inside [0,1] is detectable
    power_at_target: float           # at the planned share
    detectable: bool
    status: str                      # detectable | raise_control_share | cannot_within_audience | invalid
    min_control_share: float | None = None      # smallest s in (0, 0.5] that works
    audience_needed: int | None = None          # at the planned share
    audience_needed_at_half: int | None = None  # at s = 0.5 (smallest possible)
    alpha: float = ALPHA
    power: float = POWER
    power_at_half: float | None = None             # at s = 0.5, the best split
    pooled_z_power_at_target: float | None = None  # cross-check (Fleiss formula)
    notes: list[str] = field(default_factory=list)

    def summary(self, lang: str = "zh") -> str:
        pp = lambda v: "—" if v is None else f"{v:.1f}"  # noqa: E731
        if lang == "zh":
            head = (f"基线 {self.baseline:.1%} → 目标 {self.target:.1%}(变化 {self.target_change_pp:.1f} 个百分点);"
                    f"受众 {self.audience} 人,对照组 {self.control_share:.0%}"
                    f"(干预 {self.n_treated} / 对照 {self.n_control});"
                    f"最小可检测效应 {pp(self.mde_pp)} 个百分点"
                    f"(检验功效 {self.power:.0%},双侧 α={self.alpha:g})。")
            if self.status == "detectable":
                return (head + f"目标变化可检测(达到目标时的功效 {self.power_at_target:.0%})。"
                        + "".join(n + "。" for n in self.notes))
            if self.status == "raise_control_share":
                return head + (f"按当前对照比例无法可靠检测;将对照组比例提高到 "
                               f"{self.min_control_share:.0%} 即可(或按当前比例把受众扩大到 "
                               f"{self.audience_needed} 人)。")
            if self.status == "cannot_within_audience":
                return head + (f"在该受众规模内无法可靠检测目标变化(当前功效 {self.power_at_target:.0%},"
                               f"即使对照组占 50% 也仅 {self.power_at_half:.0%});按当前比例需要约 {self.audience_needed} 人,"
                               f"对照组 50% 时需要约 {self.audience_needed_at_half} 人。"
                               "可改为观察趋势,或延长周期/合并批次后再评估。")
            return head + ";".join(self.notes)
        head = (f"baseline {self.baseline:.1%} -> target {self.target:.1%} "
                f"({self.target_change_pp:.1f} pp); audience {self.audience}, control share "
                f"{self.control_share:.0%} (treated {self.n_treated} / control {self.n_control}); "
                f"MDE {pp(self.mde_pp)} pp at {self.power:.0%} power, two-sided alpha={self.alpha:g}. ")
        if self.status == "detectable":
            return head + f"Target change is detectable (power {self.power_at_target:.0%})."
        if self.status == "raise_control_share":
            return head + (f"Not detectable at this share; a control share of "
                           f"{self.min_control_share:.0%} makes it detectable (or audience "
                           f"{self.audience_needed} at the planned share).")
        if self.status == "cannot_within_audience":
            return head + (f"Cannot be detected within this audience (power {self.power_at_target:.0%}, "
                           f"{self.power_at_half:.0%} even at a 50% control share); needs ~{self.audience_needed} at the planned "
                           f"share or ~{self.audience_needed_at_half} at 50%.")
        return head + "; ".join(self.notes)


def split_audience(audience: int, control_share: float) -> tuple[int, int]:
    """(n_treated, n_control) with n_control = round(N*s)."""
    n2 = int(round(audience * control_share))
    return audience - n2, n2


def power_for(audience: int, s: float, h: float, alpha: float = ALPHA) -> float:
    """Power for effect ``h`` when ``audience`` customers are split with control share ``s``."""
    n1, n2 = split_audience(audience, s)
    if n1 < 1 or n2 < 1:
        return 0.0
    return normal_ind_power(h, n1, n2 / n1, alpha)


def design_proportion_goal(baseline: float, target: float, audience: int,
                           control_share: float = 0.2, alpha: float = ALPHA,
                           power: float = POWER) -> ProportionGoalDesign:
    """Evaluate a goal on a proportion KPI against a random control group.

    baseline, target: rates in [0, 1] (e.g. 0.05 -> 0.12); the direction follows
    from their order. audience N is split into treated N(1-s) and control N*s.
    """
    _check_rate(baseline, "baseline")
    _check_rate(target, "target")
    if not (0 < control_share <= 0.5):
        raise ValueError("control_share must be in (0, 0.5]")
    if audience < 2:
        raise ValueError("audience must be >= 2")
    direction = "increase" if target >= baseline else "decrease"
    n1, n2 = split_audience(audience, control_share)
    change_pp = abs(target - baseline) * 100
    h_target = abs(cohens_h(target, baseline))

    d = ProportionGoalDesign(baseline=baseline, target=target, audience=audience,
                             control_share=control_share, n_treated=n1, n_control=n2,
                             direction=direction, target_change_pp=change_pp, mde_pp=None,
                             power_at_target=0.0, detectable=False, status="invalid",
                             alpha=alpha, power=power)
    if h_target == 0:
        d.notes.append("目标值等于基线,没有要检测的变化 / target equals baseline")
        return d
    if n2 < 1 or n1 < 1:
        d.notes.append("对照组或干预组为空 / an arm is empty")
        return d

    mde = mde_proportion(baseline, n1, n2, direction, alpha, power)
    d.mde_pp = None if mde is None else mde * 100
    d.power_at_target = power_for(audience, control_share, h_target, alpha)
    d.detectable = d.power_at_target >= power
    d.pooled_z_power_at_target = pooled_z_power(target, baseline, n1, n2, alpha)
    if d.detectable and d.pooled_z_power_at_target < power - 0.03:
        d.notes.append(f"按合并方差 z 检验估计功效约 {d.pooled_z_power_at_target:.0%},略低于 "
                       f"{power:.0%}(基线低且两组规模悬殊时 Cohen's h 偏乐观)")

    # audience needed: at planned share and at s = 0.5 (smallest total)
    d.audience_needed = _audience_needed(h_target, control_share, alpha, power)
    d.audience_needed_at_half = _audience_needed(h_target, 0.5, alpha, power)

    if d.detectable:
        d.status = "detectable"
        return d
    # power grows with s on (0, 0.5] (effective n = N s (1-s)); check the best case
    d.power_at_half = power_for(audience, 0.5, h_target, alpha)
    if d.power_at_half < power:
        d.status = "cannot_within_audience"
        return d
    d.status = "raise_control_share"
    d.min_control_share = _min_share(audience, h_target, alpha, power, control_share)
    return d


def _min_share(audience: int, h: float, alpha: float, power: float, s_lo: float) -> float:
    """Smallest share (in whole customers) with power >= target, searched in (s_lo, 0.5]."""
    lo = max(1, int(round(audience * s_lo)))  # known failing control size
    hi = audience // 2                        # known to work (checked by caller)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if power_for(audience, mid / audience, h, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return hi / audience


def _audience_needed(h: float, s: float, alpha: float, power: float) -> int:
    ratio = s / (1 - s)
    n1 = solve_nobs1(h, ratio, alpha, power)
    total = _ceil(n1 / (1 - s))
    # integer split by round() can lose a little: step up until it really works
    while power_for(total, s, h, alpha) < power:
        total += 1
    return total


def _check_rate(p: float, name: str) -> None:
    if not (0.0 <= p <= 1.0) or math.isnan(p):
        raise ValueError(f"{name} must be a rate in [0, 1], got {p!r}")


def _check_power_alpha(power: float, alpha: float) -> None:
    if not (0 < alpha < 1):
        raise ValueError("alpha must be in (0, 1)")
    if not (alpha < power < 1):
        raise ValueError("power must be in (alpha, 1)")


