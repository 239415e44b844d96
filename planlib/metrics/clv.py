"""Customer lifetime value for non-contractual customers: BG/NBD purchases × Gamma-Gamma spend.

The models are the published ones, fitted by maximum likelihood with ``scipy.optimize``:

* BG/NBD — Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to
  the Pareto/NBD model", Marketing Science 24(2). Per customer: ``x`` repeat purchases,
  ``t_x`` the time of the last one and ``T`` the time since the first purchase. Gives the
  probability the customer is still active (``p_alive``) and the expected purchases in a
  coming period.
* Gamma-Gamma — Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer
  base analysis", JMR 42(4), and Fader & Hardie's note "The Gamma-Gamma model of monetary
  value" (2013). Fitted on repeat buyers' mean spend; gives each customer's expected spend
  per purchase, shrunk towards the population mean when they bought rarely.

Why our own code rather than a package: ``lifetimes`` is archived (its dataset loader imports
``pkg_resources``, gone from recent setuptools); ``btyd``, its announced successor, has only an
alpha (0.1a1, 2022) on the index we use, which pins ``pymc<5``/``aesara`` and ``autograd==1.4``
and would add ~40 packages, none of them working with numpy 2; ``pymc-marketing`` is a Bayesian
stack (PyMC, PyTensor) whose current versions need Python 3.12. The two log-likelihoods are a
dozen lines each, their gradients are closed-form, and ``tests/test_clv.py`` checks that the fit
reproduces the published CDNOW parameters, so the only new dependency is scipy (already
installed with statsmodels/seaborn's stack).

Choices
-------
* Time is counted in days. A purchase day is a day with a positive amount (several orders on
  one day are one purchase, as in the literature); ``x`` = purchase days − 1, ``t_x`` = days
  from the first to the last purchase day, ``T`` = days from the first purchase to ``as_of``.
  All purchases up to ``as_of`` count, not only the RFM window.
* Spend per purchase is the day's total of positive amounts; refunds do not enter the spend
  model (they are in ``monetary`` of the RFM table). Gamma-Gamma is fitted on customers with at
  least one repeat purchase day, on the mean spend of their repeat days (the first purchase is
  left out, as Fader et al. do).
* Known property of BG/NBD: a customer can only drop out after a repeat purchase, so a
  one-time buyer has ``p_alive`` = 1 however long ago they bought. Risk rules for one-time
  buyers should use recency (``R>90天, F=1`` in the seed's tier table); ``p_alive`` and the churn
  probability are informative for repeat buyers.
* CLV = Σ over months of (expected purchases in that month × expected spend) discounted at the
  plan's annual rate, up to the plan's horizon. Customers who never bought have no CLV (NaN).
* The fit runs on distinct ``(x, t_x, T)`` triples with counts as weights, with the gamma
  functions evaluated per distinct ``x``; above 200,000 customers it runs on a systematic sample
  of 200,000 (:func:`fit_sample`). Predictions are made for every customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from scipy import optimize, special

MIN_REPEAT_BUYERS = 20  # fewer repeat buyers than this cannot pin down four parameters
MAX_FIT_CUSTOMERS = 200_000  # the fit's sample size; predictions are made for every customer
_DAYS_PER_MONTH = 30


class FitError(ValueError):
    """The data cannot support the model (too few repeat buyers, no convergence)."""


@dataclass(frozen=True)
class BgNbd:
    """Fitted BG/NBD parameters (time unit: whatever ``t_x``/``T`` were counted in)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(still active | x, t_x, T) = 1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        repeat = x > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (np.log(self.a) - np.log(np.where(repeat, self.b + x - 1, 1.0))
                        + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x)))
        return np.where(repeat, special.expit(-log_odds), 1.0)

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        """Expected purchases in the next ``t`` time units for a customer with history (x, t_x, T).

        Fader, Hardie & Lee (2005) eq. (10); the Gaussian hypergeometric term is rewritten with
        Euler's transformation, (1−z)^(r+x)·₂F₁(r+x, b+x; c; z) = (1−z)^(a−1)·₂F₁(a+b−1−r, a−1; c; z),
        whose parameters do not grow with ``x`` — the direct form overflows for frequent buyers.
        """
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        r, alpha, b = self.r, self.alpha, self.b
        a = self.a if abs(self.a - 1) > 1e-9 else 1 + 1e-9  # the formula has a removable pole at a = 1
        c = a + b + x - 1
        one_minus_z = (alpha + T) / (alpha + T + t)
        with np.errstate(all="ignore"):
            term = one_minus_z ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, c, 1 - one_minus_z)
            out = c / (a - 1) * (1 - term) * self.p_alive(x, t_x, T)
        bad = ~np.isfinite(out)
        if bad.any():  # a, b in the thousands (almost no spread in drop-out): ₂F₁ overflows
            out = np.where(bad, self._expected_by_quadrature(t, x, t_x, T), out)
        return out

    def _expected_by_quadrature(self, t, x, t_x, T, nodes: int = 40) -> np.ndarray:
        """The same expectation as P(alive) · E_p[(1 − ((α+T)/(α+T+p·t))^(r+x)) / p], p ~ Beta(a, b+x).

        Given alive, λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x) independently; the integral over
        p is taken on the Beta quantile scale, so it works however concentrated the Beta is.
        Agrees with the closed form to about 1e-5.
        """
        u, w = np.polynomial.legendre.leggauss(nodes)
        u, w = (u + 1) / 2, w / 2
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
        distinct, which = np.unique(x, return_inverse=True)  # the Beta depends on x only
        p = special.betaincinv(self.a, self.b + distinct[:, None], u)[which.reshape(x.shape)]
        g = -np.expm1(-(self.r + x[..., None]) * np.log1p(p * t / (self.alpha + T[..., None]))) / p
        return self.p_alive(x, t_x, T) * (g * w).sum(axis=-1)


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma spend parameters (currency: whatever the spend was counted in)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")

    @property
    def population_mean(self) -> float:
        """Mean spend per purchase across customers, p·γ/(q−1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("nan")

    def expected_spend(self, x, mean_spend) -> np.ndarray:
        """E[spend per purchase | x repeat purchases of average ``mean_spend``]; x = 0 → population mean."""
        x = np.asarray(x, dtype=float)
        m = np.where(x > 0, np.asarray(mean_spend, dtype=float), 0.0)
        return (self.gamma + m * x) * self.p / (self.p * x + self.q - 1)


# ---------------------------------------------------------------------------------- likelihoods
# The special functions depend on x only, and a customer base has a few hundred distinct x: they
# are evaluated per distinct x and summed with the weight of each x, so one evaluation costs a
# handful of array operations per history instead of a dozen gamma/digamma calls.
def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b without BLAS: the machine's OpenBLAS takes ~9 ms for one 100k dot, numpy's sum 0.1 ms."""
    return float(np.sum(a * b))


def _by_x(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct x values, each history's index into them, and the total weight of each."""
    xs, xi = np.unique(x, return_inverse=True)
    return xs, xi, np.bincount(xi, weights=w, minlength=len(xs))


def _bgnbd_negll(log_params: np.ndarray, x, t_x, T, w, xs, xi, wx) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of BG/NBD and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    # terms of x alone (per distinct x, weighted by the customers having it)
    g = (special.gammaln(r + xs) - special.gammaln(r) + r * np.log(alpha) + special.gammaln(a + b)
         + special.gammaln(b + xs) - special.gammaln(b) - special.gammaln(a + b + xs))
    dg_r = special.digamma(r + xs) - special.digamma(r) + np.log(alpha)
    dg_a = special.digamma(a + b) - special.digamma(a + b + xs)
    dg_b = dg_a + special.digamma(b + xs) - special.digamma(b)
    log_bx1 = np.log(np.where(xs > 0, b + xs - 1, 1.0))
    # the two-part tail, per history
    rx = r + x
    l_T, l_t = np.log(alpha + T), np.log(alpha + t_x)
    a3 = -rx * l_T
    a4 = np.where(x > 0, np.log(a) - log_bx1[xi] - rx * l_t, -np.inf)
    tail = np.logaddexp(a3, a4)
    w3 = np.exp(a3 - tail)
    w4 = np.where(x > 0, 1 - w3, 0.0)
    ll = _dot(wx, g) + _dot(w, tail)
    d_r = _dot(wx, dg_r) - _dot(w, (w3 * l_T + w4 * l_t))
    d_alpha = wx.sum() * r / alpha - _dot(w, rx * (w3 / (alpha + T) + w4 / (alpha + t_x)))
    d_a = _dot(wx, dg_a) + (_dot(w, w4)) / a
    d_b = _dot(wx, dg_b) - _dot(w, (w4 * np.exp(-log_bx1[xi])))
    grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return -float(ll), -grad


def _gg_negll(log_params: np.ndarray, x, m, w, xs, wx, log_m, log_x) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of Gamma-Gamma (mean spend ``m`` over ``x`` purchases) and its gradient."""
    p, q, g = np.exp(log_params)
    pxs = p * xs
    per_x = special.gammaln(pxs + q) - special.gammaln(pxs) - special.gammaln(q) + q * np.log(g)
    d_per_x_p = xs * (special.digamma(pxs + q) - special.digamma(pxs))
    d_per_x_q = special.digamma(pxs + q) - special.digamma(q) + np.log(g)
    px = p * x
    log_gm = np.log(g + m * x)
    ll = _dot(wx, per_x) + _dot(w, ((px - 1) * log_m + px * log_x - (px + q) * log_gm))
    d_p = _dot(wx, d_per_x_p) + _dot(w, (x * (log_m + log_x - log_gm)))
    d_q = _dot(wx, d_per_x_q) - _dot(w, log_gm)
    d_g = (w.sum() * q / g) - _dot(w, ((px + q) / (g + m * x)))
    grad = np.array([d_p * p, d_q * q, d_g * g])
    return -float(ll), -grad


def _minimise(fun, start: np.ndarray, args: tuple, what: str) -> tuple[np.ndarray, float]:
    # TNC rather than L-BFGS-B: same answers here, but L-BFGS-B's Fortran core spends ~9 ms per
    # step in this machine's OpenBLAS, more than the likelihood itself.
    result = optimize.minimize(fun, start, args=args, jac=True, method="TNC",
                               bounds=[(-15, 15)] * len(start), options={"maxfun": 2000})
    if not np.isfinite(result.fun) or (not result.success and np.abs(result.jac).max() > 1e-3):
        raise FitError(f"{what} 模型拟合未收敛({result.message})")
    return np.exp(result.x), -float(result.fun)


def _compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Distinct rows of the given columns, their counts, and each input row's distinct row."""
    columns = [np.asarray(c, dtype=float) for c in columns]
    if all(len(c) and (c == np.round(c)).all() and c.min() >= 0 and c.max() < 2**20 for c in columns):
        key = np.zeros(len(columns[0]), dtype=np.int64)  # whole days: one int64 key, a fast hash
        for c in columns:
            key = key * (1 << 20) + c.astype(np.int64)
        codes, uniques = pd.factorize(key)
        values = []
        for _ in columns:
            values.insert(0, (uniques % (1 << 20)).astype(float))
            uniques = uniques // (1 << 20)
    else:
        frame = pd.DataFrame({i: c for i, c in enumerate(columns)})
        codes, index = pd.MultiIndex.from_frame(frame).factorize()
        values = [index.get_level_values(i).to_numpy(dtype=float) for i in range(len(columns))]
    counts = np.bincount(codes, minlength=len(values[0])).astype(float)
    return values, counts, codes


def fit_bgnbd(x, t_x, T, weights=None) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters for customers with history (x, t_x, T)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if weights is None:
        (x, t_x, T), weights, _ = _compress(x, t_x, T)
    if np.count_nonzero(x) < MIN_REPEAT_BUYERS and weights[x > 0].sum() < MIN_REPEAT_BUYERS:
        raise FitError(f"复购客户少于 {MIN_REPEAT_BUYERS} 人,无法估计购买模型")
    start = np.log([1.0, max(float(np.average(T, weights=weights)), 1.0) / 4, 1.0, 1.0])
    (r, alpha, a, b), ll = _minimise(_bgnbd_negll, start, (x, t_x, T, weights, *_by_x(x, weights)), "BG/NBD")
    return BgNbd(float(r), float(alpha), float(a), float(b), ll)


def fit_gamma_gamma(x, mean_spend, weights=None) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters from repeat buyers (x ≥ 1, mean spend > 0)."""
    x, m = np.asarray(x, dtype=float), np.asarray(mean_spend, dtype=float)
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    x, m = x[keep], m[keep]
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)[keep]
    if w.sum() < MIN_REPEAT_BUYERS:
        raise FitError(f"复购客户少于 {MIN_REPEAT_BUYERS} 人,无法估计客单价模型")
    start = np.log([1.0, 2.0, max(float(np.average(m, weights=w)), 1.0)])
    xs, _, wx = _by_x(x, w)
    args = (x, m, w, xs, wx, np.log(m), np.log(x))
    (p, q, g), ll = _minimise(_gg_negll, start, args, "Gamma-Gamma")
    if q <= 1:
        raise FitError("客单价模型的参数 q ≤ 1,平均客单价无定义;请加长数据时间范围")
    return GammaGamma(float(p), float(q), float(g), ll)


# ---------------------------------------------------------------------------------- from transactions
def purchase_history(customer_ids: pd.Index, transactions: pd.DataFrame, as_of: date,
                     positions: np.ndarray | None = None) -> pd.DataFrame:
    """Per customer of ``customer_ids``: x, t_x, T (days), repeat mean spend; NaN if never bought.

    ``positions`` (each transaction's position in ``customer_ids``, −1 if unknown) may be passed
    when the caller computed it already.
    """
    n = len(customer_ids)
    if positions is None:
        positions = customer_ids.get_indexer(transactions["customer_id"])
    days = pd.to_datetime(transactions["order_date"]).to_numpy().astype("datetime64[D]")
    dated = ~np.isnat(days)
    day = days.astype(np.int64)
    amount = transactions["amount"].to_numpy(dtype=float, na_value=np.nan)
    today = np.datetime64(as_of, "D").astype(np.int64)
    bought = (positions >= 0) & dated & (day <= today) & (amount > 0)
    pos, day, amount = positions[bought], day[bought], amount[bought]
    # one entry per (customer, purchase day) with that day's spend: a hash of int64 keys, no sort
    span = np.int64(day.max() - day.min() + 1) if len(day) else np.int64(1)
    codes, keys = pd.factorize(pos * span + (day - (day.min() if len(day) else 0)))
    day_spend = np.bincount(codes, weights=amount, minlength=len(keys))
    day_pos = keys // span
    day_day = keys % span + (day.min() if len(day) else 0)
    purchase_days = np.bincount(day_pos, minlength=n)
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, day_pos, day_day)
    np.maximum.at(last, day_pos, day_day)
    total = np.bincount(day_pos, weights=day_spend, minlength=n)
    first_day = day_day == first[day_pos]
    first_spend = np.zeros(n)
    first_spend[day_pos[first_day]] = day_spend[first_day]
    has = purchase_days > 0
    x = np.where(has, purchase_days - 1, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_repeat = np.where(x > 0, (total - first_spend) / x, np.nan)
    return pd.DataFrame({
        "x": x,
        "t_x": np.where(has, last - first, np.nan).astype(float),
        "T": np.where(has, today - first, np.nan).astype(float),
        "mean_spend": mean_repeat,
    }, index=customer_ids)


@dataclass
class ClvResult:
    """Per-customer predictions and what was fitted (or why nothing could be)."""

    frame: pd.DataFrame  # index customer ids; p_alive, expected_purchases, expected_spend, clv
    purchases: BgNbd | None = None
    spend: GammaGamma | None = None
    problem: str = ""  # why the models could not be fitted; empty when they were
    notes: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problem


def fit_sample(history: pd.DataFrame, limit: int = MAX_FIT_CUSTOMERS) -> pd.DataFrame:
    """At most ``limit`` customers to fit on: every k-th after sorting by their figures.

    Four (or three) parameters are pinned down long before a million customers; the sample is
    systematic over the sorted histories, so it keeps the shape of the base and does not depend
    on the order of the rows.
    """
    if len(history) <= limit:
        return history
    order = np.lexsort([history[c].fillna(-1).to_numpy() for c in ("mean_spend", "T", "t_x", "x")])
    step = len(history) / limit
    return history.iloc[order[(np.arange(limit) * step).astype(np.int64)]]


def monthly_discount(annual_percent: float) -> float:
    """Monthly rate equivalent to an annual discount rate in percent (10 → ≈0.797 %)."""
    return (1 + annual_percent / 100) ** (1 / 12) - 1


def predict_clv(history: pd.DataFrame, *, horizon_days: int, annual_discount_percent: float) -> ClvResult:
    """Fit both models on ``history`` (see :func:`purchase_history`) and predict per customer."""
    empty = pd.DataFrame(np.nan, index=history.index,
                         columns=["p_alive", "expected_purchases", "expected_spend", "clv"])
    known = history["x"].notna().to_numpy()
    h = history[known]
    if not len(h):
        return ClvResult(empty, problem="没有任何客户有消费记录")
    (x, t_x, T), counts, codes = _compress(*(h[c].to_numpy(dtype=float) for c in ("x", "t_x", "T")))
    sample = fit_sample(h)
    try:
        purchases = fit_bgnbd(*(sample[c].to_numpy(dtype=float) for c in ("x", "t_x", "T")))
        spend = fit_gamma_gamma(sample["x"].to_numpy(), sample["mean_spend"].to_numpy())
    except FitError as exc:
        return ClvResult(empty, problem=str(exc))
    steps = np.arange(_DAYS_PER_MONTH, horizon_days + _DAYS_PER_MONTH, _DAYS_PER_MONTH).clip(max=horizon_days)
    steps = np.unique(steps)
    cumulative = np.column_stack([purchases.expected_purchases(t, x, t_x, T) for t in steps])
    per_step = np.diff(cumulative, axis=1, prepend=0.0)
    discount = (1 + monthly_discount(annual_discount_percent)) ** -np.arange(1, len(steps) + 1)
    discounted_purchases = (per_step * discount).sum(axis=1)
    expected_spend = spend.expected_spend(h["x"].to_numpy(), h["mean_spend"].fillna(0).to_numpy())
    out = empty.copy()
    out.loc[known, "p_alive"] = purchases.p_alive(x, t_x, T)[codes]
    out.loc[known, "expected_purchases"] = cumulative[:, -1][codes]
    out.loc[known, "expected_spend"] = expected_spend
    out.loc[known, "clv"] = discounted_purchases[codes] * expected_spend
    repeat = (h["x"] > 0) & (h["mean_spend"] > 0)
    corr = float(np.corrcoef(h.loc[repeat, "x"], h.loc[repeat, "mean_spend"])[0, 1]) if repeat.sum() > 2 else np.nan
    notes = {"customers_fitted": int(len(h)), "repeat_buyers": int(repeat.sum()),
             "frequency_spend_correlation": corr}
    return ClvResult(out, purchases, spend, notes=notes)


def parameters_table(result: ClvResult) -> pd.DataFrame:
    """The fitted parameters with their meaning, for the workbook."""
    if not result.ok:
        return pd.DataFrame(columns=["model", "parameter", "value", "meaning"])
    p, s = result.purchases, result.spend
    rows = [
        ("BG/NBD", "r", p.r, "购买率异质性(形状)"),
        ("BG/NBD", "α", p.alpha, "购买率异质性(尺度,天)"),
        ("BG/NBD", "a", p.a, "流失概率 Beta 分布参数 a"),
        ("BG/NBD", "b", p.b, "流失概率 Beta 分布参数 b"),
        ("Gamma-Gamma", "p", s.p, "单次消费金额形状"),
        ("Gamma-Gamma", "q", s.q, "客户间客单价异质性(形状)"),
        ("Gamma-Gamma", "γ", s.gamma, "客户间客单价异质性(尺度)"),
    ]
    return pd.DataFrame(rows, columns=["model", "parameter", "value", "meaning"])
