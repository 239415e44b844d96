"""Stage 02 as one call (planlib.metrics.customers): coverage of every transaction row, complaints, lifetime value."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import rfm_plan

from planlib.errors import PlanError
from planlib.metrics import clv
from planlib.metrics import customers as needs
from planlib.stages.needs import views


def base(n: int = 300, seed: int = 3):
    """A small retail base: repeat buyers with varied rhythm and spend, some who stopped."""
    rng = np.random.default_rng(seed)
    ids = [f"C{i:04d}" for i in range(n)]
    rows = []
    for c in ids:
        gap, spend = rng.uniform(10, 120), rng.gamma(3, 100)
        stop = rng.uniform(60, 900)
        day = rng.uniform(0, 200)
        k = 0
        while day < min(stop, 820):
            rows.append((f"{c}-{k}", c, pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(day)),
                         round(spend * rng.gamma(5, 0.2), 2)))
            day += rng.exponential(gap)
            k += 1
    rows += [("X1", "ghost", pd.Timestamp("2024-03-01"), 10.0),  # not in the customer table
             ("X2", ids[0], pd.Timestamp("2024-05-01"), 10.0),  # after as_of
             ("X3", ids[0], pd.Timestamp("2024-03-02"), -5.0)]  # a refund
    customers = pd.DataFrame({"customer_id": pd.Series(ids + ["never"], dtype=str), "name": "客户"})
    tx = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_date", "amount"])
    return customers, tx


def tickets(ids):
    return pd.DataFrame({"customer_id": ids, "created_at": pd.to_datetime(["2024-03-01", "2024-03-05", "2022-01-01"]),
                         "is_complaint": [True, True, True]})


def test_analyse_adds_lifetime_value_and_counts_every_row():
    customers, tx = base()
    plan = rfm_plan(tiers=[{"name": "高价值", "clv": ">=1500"}, {"name": "投诉", "complaints": ">=1"},
                            {"name": "活跃", "frequency": ">=1"}])
    out = needs.analyse(customers, tx, plan, tickets(["C0001", "C0001", "C0002"]))
    assert out.lifetime.ok, out.clv_problem
    c = out.customers.set_index("customer_id")
    assert c.loc["never", ["p_alive", "clv", "expected_purchases"]].isna().all()
    bought = c[c["recency_days"].notna()]
    assert c["p_alive"].notna().eq(c["recency_days"].notna()).all()
    assert bought["p_alive"].between(0, 1).all() and (bought["clv"] > 0).all()
    assert (c["churn_probability"] + c["p_alive"]).dropna().round(12).eq(1).all()
    assert c.loc["C0001", "complaints"] == 2 and c.loc["C0002", "complaints"] == 0  # 2022: outside the window
    assert (c.loc[c["clv"] >= 1500, "tier"] == "高价值").all()
    coverage = out.coverage.set_index("item")["rows"]
    assert coverage["交易记录"] == len(tx)
    assert coverage["基准日之后"] == 1 and coverage["客户表中没有的客户"] == 1 and coverage["统计窗口内的退款"] == 1
    assert "ghost" in out.coverage.set_index("item").loc["客户表中没有的客户", "note"]
    values = views.tier_values(out.customers, ["高价值", "投诉", "活跃", "空层", "一般"])
    assert values["clv_share"].sum() == pytest.approx(100)
    assert values.set_index("tier").loc["空层", "customers"] == 0
    notes = views.clv_notes(out, plan)
    assert notes[0].startswith(f"购买模型:{out.lifetime.purchases.name}")
    assert any("一次的客户存活概率恒为 100%" in n for n in notes) == (out.lifetime.purchases.model == "bgnbd")


def test_complaint_rules_need_a_tickets_source():
    customers, tx = base(30)
    plan = rfm_plan(tiers=[{"name": "投诉", "complaints": ">=1"}])
    with pytest.raises(PlanError, match="data.tickets"):
        needs.analyse(customers, tx, plan)


def test_without_enough_buyers_the_page_says_why_and_rules_match_nobody():
    customers, tx = base(12)
    plan = rfm_plan(tiers=[{"name": "高价值", "clv": ">=1"}])
    out = needs.analyse(customers, tx, plan)
    assert not out.lifetime.ok and (out.customers["tier"] != "高价值").all()
    assert "clv 条件不会命中任何客户" in views.clv_notes(out, plan)[0]


def test_model_setting_and_notes_name_the_model_used():
    customers, tx = base()
    tiers = [{"name": "风险", "churn_probability": ">=50"}, {"name": "活跃", "frequency": ">=1"}]
    auto = needs.analyse(customers, tx, rfm_plan(tiers=tiers))
    assert "自动选用似然更高的" in views.clv_notes(auto, rfm_plan(tiers=tiers))[0]
    auto = needs.analyse(customers, tx, rfm_plan(tiers=tiers, clv={"model": "bgnbd"}))
    plan = rfm_plan(tiers=tiers, clv={"model": "mbgnbd"})
    forced = needs.analyse(customers, tx, plan)
    notes = views.clv_notes(forced, plan)
    assert forced.lifetime.purchases.model == "mbgnbd" and notes[0].startswith("购买模型:MBG/NBD(计划指定")
    assert not any("恒为 100%" in n for n in notes)
    c = forced.customers.set_index("customer_id")
    history = clv.purchase_history(pd.Index(c.index), tx, date(2024, 3, 31))
    once = history.index[history["x"] == 0]
    assert len(once) and (c.loc[once, "p_alive"] < 1).all()
    assert (auto.customers.set_index("customer_id").loc[once, "p_alive"] == 1).all()
    assert list(clv.parameters_table(forced.lifetime)["model"])[:1] == ["MBG/NBD"]


def test_a_failed_spend_model_is_explained_and_keeps_churn(monkeypatch):
    def failing(*args, **kwargs):
        raise clv.FitError("复购客户少于 20 人,无法估计客单价模型")

    monkeypatch.setattr(clv, "fit_gamma_gamma", failing)
    customers, tx = base()
    plan = rfm_plan(tiers=[{"name": "高价值", "clv": ">=1"}, {"name": "风险", "churn_probability": ">=50"}])
    out = needs.analyse(customers, tx, plan)
    c = out.customers
    assert c["clv"].isna().all() and c.loc[c["recency_days"].notna(), "churn_probability"].notna().all()
    assert (c["tier"] != "高价值").all() and (c["tier"] == "风险").any()
    notes = views.clv_notes(out, plan)
    assert any("客单价模型(Gamma-Gamma)未能拟合" in n and "CLV 条件(clv)不会命中任何客户" in n for n in notes)


def test_complaint_counts_window():
    ids = pd.Index(["A", "B"])
    t = pd.DataFrame({"customer_id": ["A", "A", "B", "Z"], "is_complaint": [True, False, True, True],
                      "created_at": pd.to_datetime(["2024-03-31 23:00", "2024-03-01", "2023-04-01", "2024-01-01"],
                                                 format="ISO8601")})
    assert needs.complaint_counts(ids, t, date(2024, 3, 31), 365).tolist() == [1, 0]  # 2023-04-01 is outside
