"""Lifetime value (planlib.metrics.clv): the fits reproduce the published CDNOW results."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES

from planlib.metrics import clv

CDNOW = FIXTURES / "data" / "cdnow_summary.csv"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(CDNOW)


def within(value: float, published: float, tolerance: float = 0.01) -> bool:
    return abs(value - published) <= tolerance * abs(published)


def test_bgnbd_reproduces_fader_hardie_lee_2005(cdnow):
    assert len(cdnow) == 2357
    fit = clv.fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    for value, published in ((fit.r, 0.243), (fit.alpha, 4.414), (fit.a, 0.793), (fit.b, 2.426)):
        assert within(value, published), (value, published)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)
    # The paper's worked example: 2 repeat purchases, the last at week 30.43, T = 38.86 →
    # 1.226 purchases expected in the next 39 weeks.
    assert fit.expected_purchases(39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.001)


def test_gamma_gamma_reproduces_published_spend_parameters(cdnow):
    fit = clv.fit_gamma_gamma(cdnow["x"], cdnow["zbar"])
    for value, published in ((fit.p, 6.25), (fit.q, 3.74), (fit.gamma, 15.44)):
        assert within(value, published), (value, published)
    # Fader & Hardie's note: the population mean spend is p·γ/(q−1) ≈ 35.2 dollars.
    assert fit.population_mean == pytest.approx(35.2, abs=0.1)


def test_p_alive_and_expected_purchases_behave():
    model = clv.BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    alive = model.p_alive([0, 2, 2], [0, 30.43, 5.0], [38.86] * 3)
    assert alive[0] == 1.0  # BG/NBD: no repeat purchase, no chance to have dropped out
    assert 0 < alive[2] < alive[1] < 1  # a long silence since the last purchase lowers p_alive
    # The rewritten hypergeometric term stays finite for very frequent buyers.
    many = model.expected_purchases(39, np.array([50.0, 500.0]), np.array([38.0, 38.8]), np.array([38.86, 38.86]))
    assert np.isfinite(many).all() and many[1] > many[0] > 0


def test_weighted_fit_equals_fit_on_every_row(cdnow):
    once = clv.fit_bgnbd(cdnow["x"].to_numpy(), cdnow["t_x"].to_numpy(), cdnow["T"].to_numpy(),
                         np.ones(len(cdnow)))
    compressed = clv.fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert compressed.r == pytest.approx(once.r, rel=1e-4)
    assert compressed.b == pytest.approx(once.b, rel=1e-4)


def _transactions(rows):
    tx = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    return tx


def test_purchase_history_counts_days_not_orders_and_ignores_refunds():
    ids = pd.Index(["A", "B", "C"])
    tx = _transactions([
        ("A", "2024-01-01", 100.0), ("A", "2024-01-01", 50.0),  # one purchase day, 150
        ("A", "2024-01-11", 80.0), ("A", "2024-01-21", 40.0), ("A", "2024-01-22", -40.0),  # refund
        ("A", "2024-02-05", 999.0),  # after as_of
        ("B", "2024-01-30", 60.0),
    ])
    h = clv.purchase_history(ids, tx, date(2024, 1, 31))
    assert h.loc["A", ["x", "t_x", "T", "mean_spend"]].tolist() == [2, 20, 30, 60]
    assert h.loc["B", ["x", "t_x", "T"]].tolist() == [0, 0, 1] and np.isnan(h.loc["B", "mean_spend"])
    assert h.loc["C"].isna().all()


def test_predict_clv_on_a_simulated_base_and_without_enough_buyers():
    rng = np.random.default_rng(7)
    n = 600
    rows = []
    for i in range(n):
        rate = rng.gamma(0.8, 1 / 20)  # purchases per day
        spend = rng.gamma(4, 40)
        days = np.cumsum(rng.exponential(1 / rate, size=8)).astype(int)
        for d in days[days < 360]:
            rows.append((f"C{i}", pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(d)), spend * rng.gamma(6, 1 / 6)))
    tx = _transactions(rows)
    ids = pd.Index([f"C{i}" for i in range(n)] + ["never"])
    h = clv.purchase_history(ids, tx, date(2023, 12, 31))
    result = clv.predict_clv(h, horizon_days=180, annual_discount_percent=10)
    assert result.ok, result.problem
    f = result.frame
    assert f.loc["never"].isna().all() and f["clv"].isna().eq(h["x"].isna()).all()
    bought = f[h["x"].notna()]
    assert bought["p_alive"].between(0, 1).all() and (bought["clv"] > 0).all()
    longer = clv.predict_clv(h, horizon_days=360, annual_discount_percent=10).frame[h["x"].notna()]
    assert (longer["clv"] > bought["clv"]).all()
    assert list(clv.parameters_table(result)["parameter"]) == ["r", "α", "a", "b", "p", "q", "γ"]

    few = clv.predict_clv(h.iloc[:5], horizon_days=180, annual_discount_percent=10)
    assert not few.ok and "复购客户少于" in few.problem and few.frame["clv"].isna().all()


def test_monthly_discount():
    assert (1 + clv.monthly_discount(10)) ** 12 == pytest.approx(1.10)
