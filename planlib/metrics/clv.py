"""Customer lifetime value for non-contractual customers: BG/NBD or MBG/NBD purchases × Gamma-Gamma spend.

The models are the published ones, fitted by maximum likelihood with ``scipy.optimize``:

* BG/NBD — Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to
  the Pareto/NBD model", Marketing Science 24(2). Per customer: ``x`` repeat purchases,
  ``t_x`` the time of the last one and ``T`` the time since the first purchase. Gives the
  probability the customer is still active (``p_alive``) and the expected purchases in a
  coming period. A customer can only drop out after a *repeat* purchase, so every one-time
  buyer has ``p_alive`` = 1 however long ago they bought.
* MBG/NBD — Batislam, Denizel & Filiztekin (2007), IJRM 24(3), with the correction of Wagner &
  Hoppe (2008), IJRM 25(3) (the formulas of lifetimes' ``ModifiedBetaGeoFitter``). The customer
  may drop out right after every purchase, the first included: Beta(a, b+x) becomes
  Beta(a, b+x+1) and the "dropped out after the last purchase" term exists for x = 0 too, so a
  one-time buyer's ``p_alive`` falls with the time since that purchase. In the code this is a
  shift ``s`` (0 = BG/NBD, 1 = MBG/NBD) in one set of formulas.
* Gamma-Gamma — Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer
  base analysis", JMR 42(4), and Fader & Hardie's note "The Gamma-Gamma model of monetary
  value" (2013). Fitted on repeat buyers' mean spend; gives each customer's expected spend
  per purchase, shrunk towards the population mean when they bought rarely.

Why our own code rather than a package: ``lifetimes`` is archived (its dataset loader imports
``pkg_resources``, gone from recent setuptools); ``btyd``, its announced successor, has only an
alpha (0.1a1, 2022) that pins ``pymc<5``/``aesara`` and would add ~40 packages, none working
with numpy 2; ``pymc-marketing`` is a Bayesian stack whose current versions need Python 3.12.
The log-likelihoods are a dozen lines each with closed-form gradients; ``tests/metrics/test_clv.py``
checks the fits against the published CDNOW parameters and lifetimes 0.11.3's fitted values.

Choices
-------
* **Purchases** are those of :mod:`planlib.metrics.purchases` (orders netted with their refunds;
  a fully refunded order is none). Time is counted in days; a purchase day is a day with at
  least one purchase (several on one day are one, as in the literature): ``x`` = purchase
  days − 1, ``t_x`` = days from the first to the last, ``T`` = days from the first to
  ``as_of``. All purchases up to ``as_of`` count, not only the RFM window.
* **Spend** per purchase day is the net amount of that day's purchases. Gamma-Gamma is fitted
  on customers with at least one repeat purchase day, on the mean spend of their repeat days
  (the first purchase is left out, as Fader et al. do).
* **Model choice** (``segmentation.clv.model``): ``bgnbd`` or ``mbgnbd`` as asked; ``auto``
  fits both and keeps the one with the higher likelihood (both have four parameters, so this is
  also the lower AIC/BIC), preferring a converged fit. Why: BG/NBD calls every one-time buyer
  alive whatever the silence since, so a one-time buyer silent for a year shows 0 % churn; MBG/NBD
  lets them leave. Where the data cannot tell the two apart the likelihoods are equal to the
  digits and BG/NBD, the published reference, is kept.
* **Convergence** is judged from the likelihood and its gradient, never from the optimiser's
  own flag: scipy's optimisers stop with "Linear search failed" / "precision loss" exactly
  when the log-likelihood of many customers is flat to the last float digits, i.e. at the
  optimum. A fit is converged when the LL is finite and ``rel_grad`` = max |∂LL/∂log θ| /
  max(1, |LL|) ≤ :data:`GTOL` (free of time and money units and of the number of customers);
  otherwise the next optimiser of :data:`METHODS` restarts from the best point so far; two
  successive optimisers ending at the same LL with ``rel_grad`` ≤ :data:`GTOL_LOOSE` also count.
* **Each model on its own.** The purchase model and Gamma-Gamma are fitted in separate tries:
  when only Gamma-Gamma fails, ``p_alive`` and ``expected_purchases`` are kept and only
  ``expected_spend`` and ``clv`` are NaN; :attr:`ClvResult.problems` says why.
* CLV = Σ over months of (expected purchases in that month × expected spend) discounted at the
  plan's annual rate, up to the plan's horizon. Customers who never bought have no CLV (NaN).
* The fit runs on distinct ``(x, t_x, T)`` rows (distinct ``(x, m)`` for Gamma-Gamma) weighted
  by their counts, sorted, so a per-customer fit and a fit on pre-counted rows return the same
  numbers; the gamma functions are evaluated per distinct ``x``. :func:`predict_clv` counts the
  rows first (:func:`fit_rows`), so every customer enters the fit however many there are; only
  when a model's distinct rows exceed :data:`MAX_FIT_ROWS` (a base of millions with spend in
  fen, say) does it fit a systematic sample of customers (:func:`fit_sample`). The cost of a fit
  follows the distinct rows, not the customers. Predictions are made for every customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd
from scipy import optimize, special

from planlib.metrics.purchases import PurchaseArrays, purchase_arrays

MIN_REPEAT_BUYERS = 20  # fewer repeat buyers than this cannot pin down four parameters
MAX_FIT_ROWS = 200_000  # distinct rows a fit takes whole; beyond, a sample of this many customers
MAX_FIT_CUSTOMERS = MAX_FIT_ROWS  # the sample's size; predictions are made for every customer
LL_TIE = 1e-6  # model "auto": a log-likelihood gain below this is a tie, kept by BG/NBD
GTOL = 1e-6  # converged: max |dLL/dlog θ| / max(1, |LL|) at most this
GTOL_LOOSE = 1e-4  # … or this, when two optimisers end at the same LL
FTOL_AGREE = 1e-10  # two LLs agree when they differ by at most this × max(1, |LL|)
METHODS = ("BFGS", "L-BFGS-B", "Nelder-Mead")
MODEL_NAMES = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD"}
_LOG_BOUND = 20.0  # log-parameters live in [-20, 20]
_DAYS_PER_MONTH = 30


class FitError(ValueError):
    """The data cannot support the model (too few repeat buyers, nothing to fit)."""


def _shift(model: str) -> int:
    if model not in MODEL_NAMES:
        raise ValueError(f"model must be 'bgnbd' or 'mbgnbd', not {model!r}")
    return 1 if model == "mbgnbd" else 0


@dataclass(frozen=True)
class PurchaseModel:
    """Fitted BG/NBD (``model='bgnbd'``) or MBG/NBD (``'mbgnbd'``); time unit as ``t_x``/``T`` were counted."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    model: str = "bgnbd"
    converged: bool = True
    method: str = ""  # the optimiser whose point was kept
    message: str = ""  # why converged (or not)
    rel_grad: float = float("nan")
    reason: str = ""  # why this model (Chinese, for the page)

    @property
    def name(self) -> str:
        return MODEL_NAMES[self.model]

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(still active | x, t_x, T) = 1 / (1 + d · a/(b+x+s−1) · ((α+T)/(α+t_x))^(r+x)).

        BG/NBD: s = 0, d = [x > 0] (1 for every one-time buyer); MBG/NBD: s = 1, d = 1.
        """
        s = _shift(self.model)
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
        second = (x > 0) if s == 0 else np.ones(x.shape, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (np.log(self.a) - np.log(np.where(second, self.b + x + s - 1, 1.0))
                        + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x)))
        return np.where(second, special.expit(-log_odds), 1.0)

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        """Expected purchases in the next ``t`` time units for a customer with history (x, t_x, T).

        P(alive) · (a+b+x+s−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x+s; a+b+x+s−1; z)],
        z = t/(α+T+t) (FHL 2005 eq. 10; Wagner & Hoppe 2008 for s = 1). The ₂F₁ term is rewritten
        with Euler's transformation, (1−z)^(r+x)·₂F₁(r+x, b+x+s; c; z) = (1−z)^(a−1)·₂F₁(a+b+s−1−r,
        a−1; c; z), whose parameters do not grow with ``x``; near the removable pole a = 1, or
        where it is still not finite, Gauss-Legendre quadrature over p is used.
        """
        s = _shift(self.model)
        x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
        alive = self.p_alive(x, t_x, T)
        if abs(self.a - 1) < 1e-6:
            return self._expected_by_quadrature(t, x, T) * alive
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        c = a + b + x + s - 1
        one_minus_z = (alpha + T) / (alpha + T + t)
        with np.errstate(all="ignore"):
            term = one_minus_z ** (a - 1) * special.hyp2f1(a + b + s - 1 - r, a - 1, c, 1 - one_minus_z)
            out = c / (a - 1) * (1 - term) * alive
        bad = ~np.isfinite(out) | (out < 0)
        if bad.any():
            out = np.where(bad, self._expected_by_quadrature(t, x, T) * alive, out)
        return out

    def _expected_by_quadrature(self, t, x, T, nodes: int = 64) -> np.ndarray:
        """E_p[(1 − ((α+T)/(α+T+p·t))^(r+x)) / p], p ~ Beta(a, b+x+s): the expectation given alive.

        Integrated on the Beta's quantile scale, so it works however concentrated the Beta is;
        agrees with the closed form to about 2e-6 relative.
        """
        s = _shift(self.model)
        u, w = np.polynomial.legendre.leggauss(nodes)
        u, w = (u + 1) / 2, w / 2
        x, T = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(T, dtype=float))
        distinct, which = np.unique(x, return_inverse=True)  # the Beta depends on x only
        p = special.betaincinv(self.a, self.b + distinct[:, None] + s, u)[which.reshape(x.shape)]
        g = -np.expm1(-(self.r + x[..., None]) * np.log1p(p * t / (self.alpha + T[..., None]))) / p
        return (g * w).sum(axis=-1)

    def population_expected_purchases(self, t) -> np.ndarray:
        """E[X(t)] for a newly acquired customer (FHL eq. 9; MBG/NBD: b/(a−1) instead of (a+b−1)/(a−1))."""
        s = _shift(self.model)
        t = np.asarray(t, dtype=float)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        lead = (a + b - 1) / (a - 1) if s == 0 else b / (a - 1)
        return lead * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b + s, a + b + s - 1, t / (alpha + t)))


@dataclass(frozen=True)
class GammaGamma:
    """Fitted Gamma-Gamma spend parameters (currency: whatever the spend was counted in)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")
    converged: bool = True
    method: str = ""
    message: str = ""
    rel_grad: float = float("nan")

    @property
    def population_mean(self) -> float:
        """Mean spend per purchase across customers, p·γ/(q−1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("nan")

    def expected_spend(self, x, mean_spend) -> np.ndarray:
        """E[spend per purchase | x repeat purchases of average ``mean_spend``]; x = 0 → population mean."""
        x = np.asarray(x, dtype=float)
        m = np.where(x > 0, np.nan_to_num(np.asarray(mean_spend, dtype=float)), 0.0)
        return (self.gamma + m * x) * self.p / (self.p * x + self.q - 1)


# ---------------------------------------------------------------------------------- data shaping
def compress(*columns, weights=None, return_inverse: bool = False):
    """Distinct rows of ``columns`` (sorted lexicographically) and their total weight (count by default).

    ``compress(x, t_x, T) -> ((x, t_x, T) distinct, weights)``; with ``return_inverse`` also each
    input row's index into the distinct rows. Sorting makes the fit on per-customer rows and the
    fit on pre-counted rows see the very same sums.
    """
    cols = [np.asarray(c, dtype=float).ravel() for c in columns]
    w = np.ones(len(cols[0])) if weights is None else np.asarray(weights, dtype=float).ravel()
    if len(cols[0]) == 0:
        out = (tuple(np.zeros(0) for _ in cols), np.zeros(0))
        return out + (np.zeros(0, dtype=np.int64),) if return_inverse else out
    uniq, inverse = np.unique(np.column_stack(cols), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    total = np.bincount(inverse, weights=w, minlength=len(uniq))
    out = (tuple(uniq[:, i].copy() for i in range(uniq.shape[1])), total)
    return out + (inverse,) if return_inverse else out


# ---------------------------------------------------------------------------------- likelihoods
# The special functions depend on x only, and a customer base has a few hundred distinct x: they
# are evaluated per distinct x and summed with the weight of each x.
def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b without BLAS: the machine's OpenBLAS takes ~9 ms for one 100k dot, numpy's sum 0.1 ms."""
    return float(np.sum(a * b))


def _by_x(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct x values, each row's index into them, and the total weight of each."""
    xs, xi = np.unique(x, return_inverse=True)
    return xs, xi, np.bincount(xi, weights=w, minlength=len(xs))


def _purchase_ll(theta: np.ndarray, x, t_x, T, w, s: int, by_x=None) -> tuple[float, np.ndarray]:
    """LL of BG/NBD (s = 0) or MBG/NBD (s = 1) and its gradient in log-parameters.

    Per customer: lnΓ(r+x) − lnΓ(r) + r ln α + ln B(a, b+x+s) − ln B(a, b)
    + ln[(α+T)^−(r+x) + d · a/(b+x+s−1) · (α+t_x)^−(r+x)], d = [x>0] for BG/NBD and 1 for MBG/NBD.
    """
    xs, xi, wx = by_x if by_x is not None else _by_x(x, w)
    r, alpha, a, b = np.exp(np.clip(theta, -_LOG_BOUND, _LOG_BOUND))
    bxs = b + xs + s
    g = (special.gammaln(r + xs) - special.gammaln(r) + r * np.log(alpha) + special.gammaln(a + b)
         + special.gammaln(bxs) - special.gammaln(b) - special.gammaln(a + b + xs + s))
    dg_r = special.digamma(r + xs) - special.digamma(r) + np.log(alpha)
    dab = special.digamma(a + b) - special.digamma(a + b + xs + s)
    dg_b = dab + special.digamma(bxs) - special.digamma(b)
    second_x = (xs > 0) if s == 0 else np.ones(len(xs), dtype=bool)
    log_bx1 = np.log(np.where(second_x, bxs - 1, 1.0))
    second = second_x[xi]
    rx = r + x
    l_T, l_t = np.log(alpha + T), np.log(alpha + t_x)
    a3 = -rx * l_T
    a4 = np.where(second, np.log(a) - log_bx1[xi] - rx * l_t, -np.inf)
    tail = np.logaddexp(a3, a4)
    w3 = np.exp(a3 - tail)
    w4 = np.where(second, 1 - w3, 0.0)
    ll = _dot(wx, g) + _dot(w, tail)
    d_r = _dot(wx, dg_r) - _dot(w, w3 * l_T + w4 * l_t)
    d_alpha = w.sum() * r / alpha - _dot(w, rx * (w3 / (alpha + T) + w4 / (alpha + t_x)))
    d_a = _dot(wx, dab) + _dot(w, w4) / a
    d_b = _dot(wx, dg_b) - _dot(w, w4 * np.exp(-log_bx1[xi]))
    return ll, np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])


def _spend_ll(theta: np.ndarray, x, m, w, by_x=None) -> tuple[float, np.ndarray]:
    """Gamma-Gamma LL of mean spend ``m`` over ``x`` purchases and its gradient in log-parameters."""
    xs, xi, wx = by_x if by_x is not None else _by_x(x, w)
    p, q, g = np.exp(np.clip(theta, -_LOG_BOUND, _LOG_BOUND))
    pxs = p * xs
    per_x = special.gammaln(pxs + q) - special.gammaln(pxs) - special.gammaln(q) + q * np.log(g)
    d_per_x_p = xs * (special.digamma(pxs + q) - special.digamma(pxs))
    d_per_x_q = special.digamma(pxs + q) - special.digamma(q) + np.log(g)
    px = p * x
    log_m, log_x, log_gm = np.log(m), np.log(x), np.log(g + m * x)
    ll = _dot(wx, per_x) + _dot(w, (px - 1) * log_m + px * log_x - (px + q) * log_gm)
    d_p = _dot(wx, d_per_x_p) + _dot(w, x * (log_m + log_x - log_gm))
    d_q = _dot(wx, d_per_x_q) - _dot(w, log_gm)
    d_g = w.sum() * q / g - _dot(w, (px + q) / (g + m * x))
    return ll, np.array([d_p * p, d_q * q, d_g * g])


def log_likelihood(model: PurchaseModel | GammaGamma, *columns, weights=None) -> float:
    """Total (weighted) log-likelihood of fitted (or given) parameters: (x, t_x, T) or (x, m)."""
    cols = [np.asarray(c, dtype=float) for c in columns]
    w = np.ones(len(cols[0])) if weights is None else np.asarray(weights, dtype=float)
    if isinstance(model, GammaGamma):
        keep = (cols[0] > 0) & (cols[1] > 0)
        return _spend_ll(np.log([model.p, model.q, model.gamma]), cols[0][keep], cols[1][keep], w[keep])[0]
    theta = np.log([model.r, model.alpha, model.a, model.b])
    return _purchase_ll(theta, *cols, w, _shift(model.model))[0]


# ---------------------------------------------------------------------------------- optimiser chain
def rel_grad(grad, ll) -> float:
    """Scale-free gradient: max |∂LL/∂log θ| / max(1, |LL|)."""
    return float(np.max(np.abs(grad)) / max(1.0, abs(ll)))


@dataclass(frozen=True)
class _Maximum:
    theta: np.ndarray
    ll: float
    converged: bool
    method: str
    message: str
    rel_grad: float
    attempts: tuple  # (method, LL, rel_grad, optimiser's message)


_OPTIONS = {"BFGS": {"gtol": 1e-9, "maxiter": 1000},
            "L-BFGS-B": {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1000},
            "TNC": {"gtol": 1e-10, "maxfun": 2000},
            "Nelder-Mead": {"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000}}


def _maximise(loglik, start: np.ndarray, methods=METHODS, scale: float = 1.0) -> _Maximum:
    """Maximise ``loglik(θ) -> (ll, grad)`` over log-parameters with a fallback chain of optimisers.

    Named scipy methods minimise −LL/scale (scale = total weight, so their tolerances mean the
    same for 100 or 10⁶ customers); a callable in ``methods`` gets ``(neg_ll_and_grad, θ0)`` and
    returns an ``OptimizeResult`` (how tests inject optimisers that fail). The verdict is
    recomputed from the LL and gradient at each end point, never taken from the optimiser's flag.
    """
    ll0, _ = loglik(start)
    if not np.isfinite(ll0):
        raise FitError("起始点的似然值不是有限数,无法拟合")
    scale = max(1.0, float(scale))
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(start)

    def raw(theta):
        ll, grad = loglik(theta)
        if not (np.isfinite(ll) and np.all(np.isfinite(grad))):
            return 1e300, np.zeros_like(theta)
        return -ll, -grad

    def objective(theta):
        f, g = raw(theta)
        return f / scale, g / scale

    best_theta, best_ll, best_method = np.asarray(start, dtype=float), float(ll0), "start"
    attempts, previous_ll = [], None
    for method in methods:
        name = method if isinstance(method, str) else getattr(method, "__name__", "custom")
        try:
            with np.errstate(all="ignore"):
                if callable(method):
                    res = method(raw, best_theta)
                elif method == "Nelder-Mead":
                    res = optimize.minimize(lambda th: objective(th)[0], best_theta, method=method,
                                            options=_OPTIONS[method])
                else:
                    res = optimize.minimize(objective, best_theta, jac=True, method=method,
                                            bounds=bounds if method in ("L-BFGS-B", "TNC") else None,
                                            options=_OPTIONS.get(method, {}))
            theta, note = np.clip(res.x, -_LOG_BOUND, _LOG_BOUND), str(res.message)
        except Exception as exc:  # noqa: BLE001 — an optimiser crash is one failed attempt, not the end
            theta, note = best_theta, f"error: {exc}"
        ll, grad = loglik(theta)
        g = rel_grad(grad, ll) if np.isfinite(ll) else float("inf")
        attempts.append((name, float(ll), g, note))
        if np.isfinite(ll) and ll >= best_ll:
            best_theta, best_ll, best_method = theta, float(ll), name
        best_g = rel_grad(loglik(best_theta)[1], best_ll)
        if best_g <= GTOL:
            return _Maximum(best_theta, best_ll, True, best_method,
                            f"{best_method}: 相对梯度 {best_g:.1e} ≤ {GTOL:g}(优化器报告: {note})",
                            best_g, tuple(attempts))
        if (previous_ll is not None and np.isfinite(ll)
                and abs(ll - previous_ll) <= FTOL_AGREE * max(1.0, abs(ll)) and best_g <= GTOL_LOOSE):
            return _Maximum(best_theta, best_ll, True, best_method,
                            f"{best_method}: 两个优化器的对数似然一致({best_ll:.6f}),相对梯度 {best_g:.1e} ≤ {GTOL_LOOSE:g}",
                            best_g, tuple(attempts))
        previous_ll = float(ll) if np.isfinite(ll) else None
    best_g = rel_grad(loglik(best_theta)[1], best_ll)
    trail = ";".join(f"{m} 对数似然 {v:.4f}、相对梯度 {gr:.1e}({n})" for m, v, gr, n in attempts)
    return _Maximum(best_theta, best_ll, False, best_method, f"依次尝试 {trail},均未收敛", best_g, tuple(attempts))


# ---------------------------------------------------------------------------------- fitting
def fit_purchases(x, t_x, T, weights=None, model: str = "auto", methods=METHODS, reason: str = "") -> PurchaseModel:
    """Maximum-likelihood BG/NBD, MBG/NBD or (``'auto'``) the better of the two (:func:`_better_fit`).

    ``weights`` count customers per row. Raises FitError when fewer than MIN_REPEAT_BUYERS
    (weighted) have x > 0; an optimiser failure returns ``converged=False`` with the reason.
    """
    x, t_x, T = (np.asarray(v, dtype=float).ravel() for v in (x, t_x, T))
    keep = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T)
    if weights is not None:
        weights = np.asarray(weights, dtype=float).ravel()[keep]
    (x, t_x, T), w = compress(x[keep], t_x[keep], T[keep], weights=weights)
    if np.any((x < 0) | (t_x < 0) | (t_x > T)):
        raise ValueError("need x >= 0 and 0 <= t_x <= T")
    if model == "auto":
        return _better_fit(x, t_x, T, w, methods)
    s = _shift(model)
    if w[x > 0].sum() < MIN_REPEAT_BUYERS:
        raise FitError(f"复购客户少于 {MIN_REPEAT_BUYERS} 人,无法估计购买模型")
    by_x = _by_x(x, w)
    start = np.log([1.0, max(float(np.average(T, weights=w)), 1e-3) / 4, 1.0, 1.0])
    best = _maximise(lambda th: _purchase_ll(th, x, t_x, T, w, s, by_x), start, methods, w.sum())
    r, alpha, a, b = (float(v) for v in np.exp(best.theta))
    return PurchaseModel(r, alpha, a, b, best.ll, model, best.converged, best.method, best.message,
                         best.rel_grad, reason)


def _better_fit(x, t_x, T, w, methods) -> PurchaseModel:
    """Both models on the same (compressed) data; the higher likelihood wins, a converged fit first."""
    fits = {m: fit_purchases(x, t_x, T, weights=w, model=m, methods=methods) for m in ("bgnbd", "mbgnbd")}
    bg, mbg = fits["bgnbd"], fits["mbgnbd"]
    if mbg.converged != bg.converged:
        chosen = mbg if mbg.converged else bg
        why = f"只有 {MODEL_NAMES[chosen.model]} 收敛,自动选用它"
    else:
        chosen = mbg if mbg.log_likelihood > bg.log_likelihood + LL_TIE else bg
        why = (f"对数似然 MBG/NBD {mbg.log_likelihood:,.1f},BG/NBD {bg.log_likelihood:,.1f}(参数个数相同),"
               f"自动选用似然更高的 {MODEL_NAMES[chosen.model]}")
    return replace(chosen, reason=why)


def fit_gamma_gamma(x, mean_spend, weights=None, methods=METHODS) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma from repeat buyers (x ≥ 1, mean spend > 0); others are dropped.

    ``converged`` is also False when q ≤ 1: the population mean spend p·γ/(q−1), which customers
    without repeat purchases get, would not exist.
    """
    x, m = np.asarray(x, dtype=float).ravel(), np.asarray(mean_spend, dtype=float).ravel()
    keep = (x > 0) & (m > 0) & np.isfinite(x) & np.isfinite(m)
    if weights is not None:
        weights = np.asarray(weights, dtype=float).ravel()[keep]
    (x, m), w = compress(x[keep], m[keep], weights=weights)
    if w.sum() < MIN_REPEAT_BUYERS:
        raise FitError(f"复购客户少于 {MIN_REPEAT_BUYERS} 人,无法估计客单价模型")
    by_x = _by_x(x, w)
    start = np.log([1.0, 2.0, max(float(np.average(m, weights=w)), 1e-3)])
    best = _maximise(lambda th: _spend_ll(th, x, m, w, by_x), start, methods, w.sum())
    p, q, g = (float(v) for v in np.exp(best.theta))
    ok, message = best.converged, best.message
    if ok and q <= 1:
        ok, message = False, f"参数 q = {q:.3g} ≤ 1,平均客单价无定义;请加长数据时间范围"
    return GammaGamma(p, q, g, best.ll, ok, best.method, message, best.rel_grad)


# ---------------------------------------------------------------------------------- from transactions
def purchase_history(customer_ids: pd.Index, transactions: pd.DataFrame, as_of: date,
                     positions: np.ndarray | None = None, bought: PurchaseArrays | None = None) -> pd.DataFrame:
    """Per customer of ``customer_ids``: x, t_x, T (days), repeat mean spend; NaN if never bought.

    Purchases as :mod:`planlib.metrics.purchases` defines them; ``positions`` (each
    transaction's position in ``customer_ids``, −1 if unknown) and ``bought`` (the purchases as
    of ``as_of`` on those positions) may be passed when known.
    """
    n = len(customer_ids)
    if bought is None:
        if positions is None:
            positions = customer_ids.get_indexer(transactions["customer_id"])
        bought = purchase_arrays(transactions, positions, as_of)
    pos, day = bought.pos, bought.day
    # in whole cents (exact in a float64), so the sums and the mean below are the very numbers the
    # per-customer path computes in the database (planlib.data.aggregate: cents summed, / 100, / x)
    amount = np.rint(bought.amount * 100)
    today = np.datetime64(as_of, "D").astype(np.int64)
    # one entry per (customer, purchase day) with that day's net spend
    low = day.min() if len(day) else 0
    span = np.int64(day.max() - low + 1) if len(day) else np.int64(1)
    codes, keys = pd.factorize(pos * span + (day - low))
    day_spend = np.bincount(codes, weights=amount, minlength=len(keys))
    day_pos = keys // span
    day_day = keys % span + low
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
        mean_repeat = np.where(x > 0, (total - first_spend) / 100 / x, np.nan)
    return pd.DataFrame({
        "x": x,
        "t_x": np.where(has, last - first, np.nan).astype(float),
        "T": np.where(has, today - first, np.nan).astype(float),
        "mean_spend": mean_repeat,
    }, index=customer_ids)


def history_from_purchases(customer_ids: pd.Index, purchases: pd.DataFrame) -> pd.DataFrame:
    """:func:`purchase_history`'s frame from per-customer figures computed underneath.

    ``purchases`` is :func:`planlib.data.aggregate.customer_figures`' frame (x, t_x, T in days
    and ``mean_spend`` by the same purchase definition); customers without a row get NaN, rows of
    customers not in ``customer_ids`` are ignored.
    """
    per = purchases.set_index("customer_id").reindex(customer_ids)
    return pd.DataFrame({c: per[c].to_numpy(dtype=float) for c in ("x", "t_x", "T", "mean_spend")},
                        index=customer_ids)


@dataclass
class ClvResult:
    """Per-customer predictions, what was fitted, and why a model could not be used."""

    frame: pd.DataFrame  # index customer ids; p_alive, expected_purchases, expected_spend, clv
    purchases: PurchaseModel | None = None
    spend: GammaGamma | None = None
    problems: dict = field(default_factory=dict)  # "purchases" / "spend" → why unusable (Chinese)
    notes: dict = field(default_factory=dict)

    @property
    def purchases_ok(self) -> bool:
        return self.purchases is not None and self.purchases.converged and "purchases" not in self.problems

    @property
    def spend_ok(self) -> bool:
        return self.spend is not None and self.spend.converged and "spend" not in self.problems

    @property
    def ok(self) -> bool:
        """Both models usable: every buyer has a CLV."""
        return self.purchases_ok and self.spend_ok

    @property
    def problem(self) -> str:
        return ";".join(self.problems[k] for k in ("purchases", "spend") if k in self.problems)


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


def fit_rows(history: pd.DataFrame, columns: tuple[str, ...], *, repeat_only: bool = False,
             limit: int | None = None) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The distinct rows of ``history[columns]`` and how many customers each holds (``repeat_only``:
    customers with a repeat purchase day and positive mean spend, Gamma-Gamma's).

    Every customer counts, compressed; only when the distinct rows exceed ``limit`` are they taken
    from a systematic sample of ``limit`` customers (:func:`fit_sample`) instead.
    """
    def counted(part: pd.DataFrame):
        if repeat_only:
            part = part[(part["x"] > 0) & (part["mean_spend"] > 0)]
        return compress(*(part[c].to_numpy(dtype=float) for c in columns))

    limit = MAX_FIT_ROWS if limit is None else limit
    cols, weights = counted(history)
    if len(weights) > limit:
        cols, weights = counted(fit_sample(history, limit))
    return cols, weights


def _fit_both(history: pd.DataFrame, model: str, methods) -> tuple[PurchaseModel | None, GammaGamma | None, dict]:
    """Both fits on counted distinct rows, each in its own try: a failed spend model spoils only the CLV."""
    problems, purchases, spend = {}, None, None
    reason = "" if model == "auto" else f"计划指定 segmentation.clv.model: {model}"
    try:
        (x, t_x, T), w = fit_rows(history, ("x", "t_x", "T"))
        purchases = fit_purchases(x, t_x, T, weights=w, model=model, methods=methods, reason=reason)
        if not purchases.converged:
            problems["purchases"] = f"{purchases.name} 购买模型拟合未收敛:{purchases.message}"
    except FitError as exc:
        problems["purchases"] = str(exc)
    try:
        (x, m), w = fit_rows(history, ("x", "mean_spend"), repeat_only=True)
        spend = fit_gamma_gamma(x, m, weights=w, methods=methods)
        if not spend.converged:
            problems["spend"] = f"Gamma-Gamma 客单价模型拟合未收敛:{spend.message}"
    except FitError as exc:
        problems["spend"] = str(exc)
    return purchases, spend, problems


def predict_clv(history: pd.DataFrame, *, horizon_days: int, annual_discount_percent: float,
                model: str = "auto", methods=METHODS) -> ClvResult:
    """Fit both models on ``history`` (see :func:`purchase_history`) and predict per customer.

    ``model``: ``'auto'``, ``'bgnbd'`` or ``'mbgnbd'`` (``segmentation.clv.model``). Columns of a
    model that could not be used are NaN: p_alive and expected_purchases survive a failed
    Gamma-Gamma, expected_spend and clv need both.
    """
    columns = ["p_alive", "expected_purchases", "expected_spend", "clv"]
    out = pd.DataFrame(np.nan, index=history.index, columns=columns)
    known = history["x"].notna().to_numpy()
    h = history[known]
    if not len(h):
        return ClvResult(out, problems={"purchases": "没有任何客户有消费记录"})
    purchases, spend, problems = _fit_both(h, model, methods)
    result = ClvResult(out, purchases, spend, problems)
    discounted = None
    if result.purchases_ok:
        (x, t_x, T), _, codes = compress(*(h[c].to_numpy(dtype=float) for c in ("x", "t_x", "T")),
                                         return_inverse=True)
        steps = np.unique(np.arange(_DAYS_PER_MONTH, horizon_days + _DAYS_PER_MONTH, _DAYS_PER_MONTH)
                          .clip(max=horizon_days))
        cumulative = np.column_stack([purchases.expected_purchases(t, x, t_x, T) for t in steps])
        per_step = np.diff(cumulative, axis=1, prepend=0.0)
        discount = (1 + monthly_discount(annual_discount_percent)) ** -np.arange(1, len(steps) + 1)
        discounted = (per_step * discount).sum(axis=1)[codes]
        out.loc[known, "p_alive"] = purchases.p_alive(x, t_x, T)[codes]
        out.loc[known, "expected_purchases"] = cumulative[:, -1][codes]
    if result.spend_ok:
        expected_spend = spend.expected_spend(h["x"].to_numpy(), h["mean_spend"].to_numpy())
        out.loc[known, "expected_spend"] = expected_spend
        if discounted is not None:
            out.loc[known, "clv"] = discounted * expected_spend
    repeat = (h["x"] > 0) & (h["mean_spend"] > 0)
    corr = np.nan
    if repeat.sum() > 2 and h.loc[repeat, "x"].std() > 0 and h.loc[repeat, "mean_spend"].std() > 0:
        corr = float(np.corrcoef(h.loc[repeat, "x"], h.loc[repeat, "mean_spend"])[0, 1])
    result.notes = {"customers_fitted": int(len(h)), "repeat_buyers": int(repeat.sum()),
                    "one_time_buyers": int((h["x"] == 0).sum()), "frequency_spend_correlation": corr}
    return result


def parameters_table(result: ClvResult) -> pd.DataFrame:
    """The fitted parameters of the models in use, with their meaning, for the workbook."""
    rows = []
    p, s = result.purchases, result.spend
    if result.purchases_ok:
        rows += [
            (p.name, "r", p.r, "购买率异质性(形状)"),
            (p.name, "α", p.alpha, "购买率异质性(尺度,天)"),
            (p.name, "a", p.a, "流失概率 Beta 分布参数 a"),
            (p.name, "b", p.b, "流失概率 Beta 分布参数 b"),
        ]
    if result.spend_ok:
        rows += [
            ("Gamma-Gamma", "p", s.p, "单次消费金额形状"),
            ("Gamma-Gamma", "q", s.q, "客户间客单价异质性(形状)"),
            ("Gamma-Gamma", "γ", s.gamma, "客户间客单价异质性(尺度)"),
        ]
    return pd.DataFrame(rows, columns=["model", "parameter", "value", "meaning"])
