"""Lifetime value (planlib.metrics.clv): published CDNOW fits, lifetimes' fitted values, convergence, MBG/NBD."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES
from scipy import optimize

from planlib.metrics import clv

CDNOW = FIXTURES / "data" / "cdnow_summary.csv"

# lifetimes 0.11.3 (BetaGeoFitter, ModifiedBetaGeoFitter, GammaGammaFitter with default settings)
# fitted on the same CDNOW summary in a separate environment; LLs are its own likelihood at these
# parameters, in weeks. P(alive) and E[Y(39)] are its predictions for the PROBE histories.
ORACLE_BGNBD = dict(r=0.2425929282798216, alpha=4.4135322652718125, a=0.7928859664406493, b=2.42575238262571)
ORACLE_BGNBD_LL = -9582.425560567366
ORACLE_MBGNBD = dict(r=0.5248377255676407, alpha=6.182988479133824, a=0.8913562809311867, b=1.6140000256723184)
ORACLE_MBGNBD_LL = -9582.132684899922
ORACLE_GG = dict(p=6.248802496079201, q=3.74458846092242, gamma=15.447748064915702)
PROBE = dict(x=np.array([0, 0, 1, 2, 2, 7, 20.0]), t_x=np.array([0, 0, 1.71, 30.43, 5.0, 35.0, 38.0]),
             T=np.array([38.86, 10.0, 38.86, 38.86, 38.86, 38.86, 38.86]))
ORACLE_MBGNBD_P_ALIVE = [0.38971644205, 0.52217279288, 0.170819630092, 0.706126258715, 0.107375186892,
                         0.831210980102, 0.942279246157]
ORACLE_MBGNBD_E39 = [0.153953644367, 0.48251579518, 0.188789240371, 1.262670778714, 0.192004629731,
                     4.227625573078, 12.732788242135]
ORACLE_MBGNBD_POP = [1.182283795288, 1.803636193292]  # E[X(t)], t = 39, 78


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(CDNOW)


def _xtT(d):
    return d["x"].to_numpy(float), d["t_x"].to_numpy(float), d["T"].to_numpy(float)


def within(value: float, published: float, tolerance: float = 0.01) -> bool:
    return abs(value - published) <= tolerance * abs(published)


# ------------------------------------------------------------------------------ published figures, oracle
def test_bgnbd_reproduces_fader_hardie_lee_2005(cdnow):
    assert len(cdnow) == 2357
    fit = clv.fit_purchases(*_xtT(cdnow), model="bgnbd")
    assert fit.converged and fit.model == "bgnbd", fit.message
    for value, published in ((fit.r, 0.243), (fit.alpha, 4.414), (fit.a, 0.793), (fit.b, 2.426)):
        assert within(value, published), (value, published)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    for name, value in ORACLE_BGNBD.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-4), name
    # The paper's worked example: 2 repeat purchases, the last at week 30.43, T = 38.86 →
    # 1.226 purchases expected in the next 39 weeks.
    assert fit.expected_purchases(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


def test_mbgnbd_matches_lifetimes(cdnow):
    x, t_x, T = _xtT(cdnow)
    fit = clv.fit_purchases(x, t_x, T, model="mbgnbd")
    assert fit.converged and fit.model == "mbgnbd" and fit.name == "MBG/NBD", fit.message
    for name, value in ORACLE_MBGNBD.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-4), name
    assert fit.log_likelihood == pytest.approx(ORACLE_MBGNBD_LL, abs=1e-5)  # no worse than lifetimes' optimum
    at_oracle = clv.PurchaseModel(**ORACLE_MBGNBD, model="mbgnbd")
    assert clv.log_likelihood(at_oracle, x, t_x, T) == pytest.approx(ORACLE_MBGNBD_LL, abs=1e-8)
    # the formulas (not the fit) agree with lifetimes' predictions at its parameters
    h = PROBE
    np.testing.assert_allclose(at_oracle.p_alive(h["x"], h["t_x"], h["T"]), ORACLE_MBGNBD_P_ALIVE, rtol=1e-9)
    np.testing.assert_allclose(at_oracle.expected_purchases(39, h["x"], h["t_x"], h["T"]), ORACLE_MBGNBD_E39,
                               rtol=1e-9)
    np.testing.assert_allclose(at_oracle.population_expected_purchases([39.0, 78.0]), ORACLE_MBGNBD_POP, rtol=1e-9)


def test_gamma_gamma_reproduces_published_spend_parameters(cdnow):
    fit = clv.fit_gamma_gamma(cdnow["x"], cdnow["zbar"])
    assert fit.converged, fit.message
    for value, published in ((fit.p, 6.25), (fit.q, 3.74), (fit.gamma, 15.44)):
        assert within(value, published, 0.02), (value, published)
    for name, value in ORACLE_GG.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-5), name
    # Fader & Hardie's note: the population mean spend is p·γ/(q−1) ≈ 35.2 dollars.
    assert fit.population_mean == pytest.approx(35.2, abs=0.1)


def test_gradients_match_finite_differences(cdnow):
    x, t_x, T = _xtT(cdnow)
    (ux, ut, uT), w = clv.compress(x, t_x, T)
    theta = np.log([0.4, 5.0, 0.9, 2.0])
    for s in (0, 1):
        _, grad = clv._purchase_ll(theta, ux, ut, uT, w, s)
        num = optimize.approx_fprime(theta, lambda th, s=s: clv._purchase_ll(th, ux, ut, uT, w, s)[0], 1e-6)
        np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-3)
    keep = x > 0
    xm, mm = x[keep], cdnow["zbar"].to_numpy(float)[keep]
    theta = np.log([5.0, 3.0, 12.0])
    _, grad = clv._spend_ll(theta, xm, mm, np.ones(len(xm)))
    num = optimize.approx_fprime(theta, lambda th: clv._spend_ll(th, xm, mm, np.ones(len(xm)))[0], 1e-6)
    np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-3)


# ------------------------------------------------------------------------------ one-time buyers, model choice
def test_one_time_buyers_are_not_certainly_alive_under_mbgnbd(cdnow):
    x, t_x, T = _xtT(cdnow)
    once = x == 0
    bg = clv.fit_purchases(x, t_x, T, model="bgnbd")
    mbg = clv.fit_purchases(x, t_x, T, model="mbgnbd")
    assert np.all(bg.p_alive(x[once], t_x[once], T[once]) == 1.0)
    alive = mbg.p_alive(x[once], t_x[once], T[once])
    assert np.all((alive > 0) & (alive < 1)) and alive.max() < 0.75
    longer = mbg.p_alive([0, 0, 0], [0, 0, 0], [5.0, 20.0, 39.0])  # the longer since the purchase, the lower
    assert longer[0] > longer[1] > longer[2]
    assert mbg.expected_purchases(39, 0, 0, 38.86) < bg.expected_purchases(39, 0, 0, 38.86)


def test_auto_keeps_the_model_with_the_higher_likelihood(cdnow):
    x, t_x, T = _xtT(cdnow)
    bg = clv.fit_purchases(x, t_x, T, model="bgnbd")
    mbg = clv.fit_purchases(x, t_x, T, model="mbgnbd")
    auto = clv.fit_purchases(x, t_x, T, model="auto")
    assert mbg.log_likelihood > bg.log_likelihood  # CDNOW: −9582.13 against −9582.43
    assert auto.model == "mbgnbd" and auto.log_likelihood == mbg.log_likelihood
    assert "自动选用似然更高的 MBG/NBD" in auto.reason
    with pytest.raises(ValueError):
        clv.fit_purchases(x, t_x, T, model="pareto")


def test_auto_prefers_the_fit_that_converged(monkeypatch):
    fake = {"bgnbd": clv.PurchaseModel(1, 1, 1, 1, log_likelihood=-10.0, model="bgnbd", converged=True),
            "mbgnbd": clv.PurchaseModel(1, 1, 1, 1, log_likelihood=-5.0, model="mbgnbd", converged=False)}
    monkeypatch.setattr(clv, "fit_purchases", lambda *a, model, **k: fake[model])
    chosen = clv._better_fit(None, None, None, None, clv.METHODS)
    assert chosen.model == "bgnbd" and "只有 BG/NBD 收敛" in chosen.reason


def test_auto_keeps_bgnbd_on_a_tie(monkeypatch):
    fake = {m: clv.PurchaseModel(1, 1, 1, 1, log_likelihood=-10.0, model=m) for m in ("bgnbd", "mbgnbd")}
    monkeypatch.setattr(clv, "fit_purchases", lambda *a, model, **k: fake[model])
    assert clv._better_fit(None, None, None, None, clv.METHODS).model == "bgnbd"


# ------------------------------------------------------------------------------ compressed rows
@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_fit_on_counted_distinct_rows_is_identical(cdnow, model):
    x, t_x, T = _xtT(cdnow)
    (ux, ut, uT), w = clv.compress(x, t_x, T)
    assert len(ux) == len(cdnow[["x", "t_x", "T"]].drop_duplicates()) == 1016  # of 2357 customers
    assert w.sum() == len(x)
    per_customer = clv.fit_purchases(x, t_x, T, model=model)
    weighted = clv.fit_purchases(ux, ut, uT, weights=w, model=model)
    assert (weighted.r, weighted.alpha, weighted.a, weighted.b, weighted.log_likelihood) == (
        per_customer.r, per_customer.alpha, per_customer.a, per_customer.b, per_customer.log_likelihood)
    shuffled = np.random.default_rng(0).permutation(len(x))
    again = clv.fit_purchases(x[shuffled], t_x[shuffled], T[shuffled], model=model)
    assert again.r == per_customer.r and again.b == per_customer.b
    (gx, gm), gw = clv.compress(cdnow["x"], cdnow["zbar"])
    gg, gg_w = clv.fit_gamma_gamma(cdnow["x"], cdnow["zbar"]), clv.fit_gamma_gamma(gx, gm, weights=gw)
    assert (gg.p, gg.q, gg.gamma) == (gg_w.p, gg_w.q, gg_w.gamma)


def test_a_base_beyond_the_sample_size_is_fitted_whole_on_its_counted_rows(cdnow, monkeypatch):
    """With more customers than the sample size (here 2,000; 200,000 in use) but few distinct
    histories (CDNOW: 1,016 of 2,357), predict_clv fits every customer through the counted rows —
    the very fit of the distinct rows weighted by their counts — where a sample would drop some."""
    monkeypatch.setattr(clv, "MAX_FIT_ROWS", 2000)
    history = pd.DataFrame({"x": cdnow["x"], "t_x": cdnow["t_x"], "T": cdnow["T"],
                            "mean_spend": cdnow["zbar"].where(cdnow["x"] > 0)}, dtype=float)
    (ux, ut, uT), w = clv.fit_rows(history, ("x", "t_x", "T"))
    assert len(ux) == 1016 and w.sum() == len(history) > clv.MAX_FIT_ROWS
    (gx, gm), gw = clv.fit_rows(history, ("x", "mean_spend"), repeat_only=True)
    assert gw.sum() == int((cdnow["x"] > 0).sum())
    result = clv.predict_clv(history, horizon_days=365, annual_discount_percent=10, model="bgnbd")
    whole = clv.fit_purchases(ux, ut, uT, weights=w, model="bgnbd")
    assert (result.purchases.r, result.purchases.alpha, result.purchases.a, result.purchases.b) == (
        whole.r, whole.alpha, whole.a, whole.b)
    sampled = clv.fit_purchases(*_xtT(clv.fit_sample(history, 2000)), model="bgnbd")
    assert abs(sampled.r - whole.r) > 1e-6 * whole.r  # the sample is a different fit: this test can tell
    spend = clv.fit_gamma_gamma(gx, gm, weights=gw)
    assert (result.spend.p, result.spend.q, result.spend.gamma) == (spend.p, spend.q, spend.gamma)
    # more distinct rows than the limit: a systematic sample of customers, counted
    _, few = clv.fit_rows(history, ("x", "t_x", "T"), limit=500)
    assert few.sum() == 500


# ------------------------------------------------------------------------------ convergence
def _bfgs_saying_it_failed(neg_ll, theta0):
    """Reaches the optimum but reports failure — what TNC/BFGS do when the LL is flat to the last digits."""
    res = optimize.minimize(neg_ll, theta0, jac=True, method="BFGS")
    res.success, res.message = False, "Linear search failed"
    return res


def _gives_up(neg_ll, theta0):
    return optimize.OptimizeResult(x=np.asarray(theta0), success=False, message="Linear search failed")


def test_not_converged_flag_at_the_optimum_counts_as_converged(cdnow):
    x, t_x, T = _xtT(cdnow)
    fit = clv.fit_purchases(x, t_x, T, model="bgnbd", methods=(_bfgs_saying_it_failed, "Nelder-Mead"))
    assert fit.converged and fit.method == "_bfgs_saying_it_failed", fit.message
    assert "Linear search failed" in fit.message and fit.rel_grad <= clv.GTOL
    assert fit.log_likelihood == pytest.approx(ORACLE_BGNBD_LL, abs=1e-5)
    # scipy's own BFGS ends with success=False ("precision loss") at CDNOW's optimum: still converged
    direct = optimize.minimize(lambda th: tuple(-v for v in clv._purchase_ll(th, x, t_x, T, np.ones(len(x)), 0)),
                               np.log([0.24, 4.4, 0.79, 2.4]), jac=True, method="BFGS", options={"gtol": 1e-12})
    default = clv.fit_purchases(x, t_x, T, model="bgnbd")
    assert default.converged and default.method == "BFGS"
    assert default.log_likelihood >= -direct.fun - 1e-6


def test_fallback_chain_and_honest_failure(cdnow):
    x, t_x, T = _xtT(cdnow)
    fit = clv.fit_purchases(x, t_x, T, model="mbgnbd", methods=(_gives_up, "BFGS"))
    assert fit.converged and fit.method == "BFGS"
    assert fit.log_likelihood == pytest.approx(ORACLE_MBGNBD_LL, abs=1e-5)
    stuck = clv.fit_purchases(x, t_x, T, model="bgnbd", methods=(_gives_up,))
    assert not stuck.converged and "未收敛" in stuck.message


# ------------------------------------------------------------------------------ from transactions
def _transactions(rows):
    tx = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_date", "amount"])
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    return tx


def test_purchase_history_counts_purchase_days_of_real_purchases():
    ids = pd.Index(["A", "B", "C", "D"])
    tx = _transactions([
        ("o1", "A", "2024-01-01", 100.0), ("o2", "A", "2024-01-01", 50.0),  # one purchase day, 150
        ("o3", "A", "2024-01-11", 80.0),
        ("o4", "A", "2024-01-21", 40.0), ("o4", "A", "2024-01-22", -10.0),  # partly refunded: 30
        ("o5", "A", "2024-01-25", 70.0), ("o5", "A", "2024-01-27", -70.0),  # fully refunded: no purchase
        ("o6", "A", "2024-02-05", 999.0),  # after as_of
        ("o7", "B", "2024-01-30", 60.0),
        ("o8", "D", "2024-01-02", 60.0), ("o9", "D", "2024-01-20", 25.0), ("o9", "D", "2024-01-20", -25.0),
    ])
    h = clv.purchase_history(ids, tx, date(2024, 1, 31))
    assert h.loc["A", ["x", "t_x", "T", "mean_spend"]].tolist() == [2, 20, 30, 55]
    assert h.loc["B", ["x", "t_x", "T"]].tolist() == [0, 0, 1] and np.isnan(h.loc["B", "mean_spend"])
    assert h.loc["C"].isna().all()
    assert h.loc["D", ["x", "t_x", "T"]].tolist() == [0, 0, 29]  # its repeat order was refunded in full
    # without order ids the same rows are customer-days: o4's refund (another day) cannot be matched
    by_day = clv.purchase_history(ids, tx.drop(columns="order_id"), date(2024, 1, 31))
    assert by_day.loc["A", ["x", "t_x", "mean_spend"]].tolist() == [3, 24, (80 + 40 + 70) / 3]


def _simulated_history(n=600, seed=7):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rate = rng.gamma(0.8, 1 / 20)  # purchases per day
        spend = rng.gamma(4, 40)
        days = np.cumsum(rng.exponential(1 / rate, size=8)).astype(int)
        for k, d in enumerate(days[days < 360]):
            rows.append((f"C{i}-{k}", f"C{i}", pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(d)),
                         spend * rng.gamma(6, 1 / 6)))
    ids = pd.Index([f"C{i}" for i in range(n)] + ["never"])
    return clv.purchase_history(ids, _transactions(rows), date(2023, 12, 31))


def test_predict_clv_on_a_simulated_base_and_without_enough_buyers():
    h = _simulated_history()
    result = clv.predict_clv(h, horizon_days=180, annual_discount_percent=10, model="bgnbd")
    assert result.ok, result.problem
    f = result.frame
    assert f.loc["never"].isna().all() and f["clv"].isna().eq(h["x"].isna()).all()
    bought = f[h["x"].notna()]
    assert bought["p_alive"].between(0, 1).all() and (bought["clv"] > 0).all()
    longer = clv.predict_clv(h, horizon_days=360, annual_discount_percent=10, model="bgnbd").frame[h["x"].notna()]
    assert (longer["clv"] > bought["clv"]).all()
    table = clv.parameters_table(result)
    assert list(table["parameter"]) == ["r", "α", "a", "b", "p", "q", "γ"]
    assert list(table["model"])[:4] == ["BG/NBD"] * 4
    forced = clv.predict_clv(h, horizon_days=180, annual_discount_percent=10, model="mbgnbd")
    assert forced.purchases.model == "mbgnbd" and "segmentation.clv.model" in forced.purchases.reason
    assert list(clv.parameters_table(forced)["model"])[:4] == ["MBG/NBD"] * 4
    once = h["x"] == 0
    assert (forced.frame.loc[once[once].index, "p_alive"] < 1).all()
    assert (result.frame.loc[once[once].index, "p_alive"] == 1).all()

    few = clv.predict_clv(h.iloc[:5], horizon_days=180, annual_discount_percent=10)
    assert not few.ok and "复购客户少于" in few.problem and few.frame["clv"].isna().all()
    assert few.frame["p_alive"].isna().all()


def test_a_failed_spend_model_keeps_p_alive_and_expected_purchases(monkeypatch):
    h = _simulated_history()
    real = clv.fit_gamma_gamma

    def not_converged(*args, **kwargs):
        f = real(*args, **kwargs)
        return clv.GammaGamma(f.p, f.q, f.gamma, f.log_likelihood, False, f.method, "Linear search failed (forced)")

    monkeypatch.setattr(clv, "fit_gamma_gamma", not_converged)
    result = clv.predict_clv(h, horizon_days=180, annual_discount_percent=10)
    assert result.purchases_ok and not result.spend_ok and not result.ok
    assert "forced" in result.problems["spend"] and "purchases" not in result.problems
    bought = result.frame[h["x"].notna()]
    assert bought["p_alive"].notna().all() and bought["expected_purchases"].notna().all()
    assert result.frame["clv"].isna().all() and result.frame["expected_spend"].isna().all()
    assert list(clv.parameters_table(result)["parameter"]) == ["r", "α", "a", "b"]
    monkeypatch.undo()
    # no repeat spend at all (FitError from Gamma-Gamma): the same
    no_spend = clv.predict_clv(h.assign(mean_spend=np.nan), horizon_days=180, annual_discount_percent=10)
    assert no_spend.purchases_ok and no_spend.spend is None and "客单价模型" in no_spend.problems["spend"]
    assert no_spend.frame.loc[h["x"].notna(), "p_alive"].notna().all() and no_spend.frame["clv"].isna().all()


def test_monthly_discount():
    assert (1 + clv.monthly_discount(10)) ** 12 == pytest.approx(1.10)
