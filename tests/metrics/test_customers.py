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
from planlib.metrics.segment import rfm_as_of
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


# ------------------------------------------------------------------------------ the per-customer path
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The small demo company's plan, customers, orders and tickets as the loader reads them."""
    from conftest import make_small_demo

    from planlib.data.demo import ensure_demo_data
    from planlib.data.load import load_source
    from planlib.plan.planfile import load_plan

    loaded = load_plan(make_small_demo(tmp_path_factory.mktemp("demo")))
    ensure_demo_data(loaded.plan.data, loaded.base_dir)
    frames = {name: load_source(name, getattr(loaded.plan.data, name), loaded.base_dir).frame
              for name in ("customers", "transactions", "tickets")}
    return loaded, frames


def _assert_same_analysis(got: needs.NeedsAnalysis, expected: needs.NeedsAnalysis) -> None:
    pd.testing.assert_frame_equal(got.customers, expected.customers, check_exact=True)
    pd.testing.assert_frame_equal(got.coverage, expected.coverage)
    assert got.lifetime.purchases == expected.lifetime.purchases
    assert got.lifetime.spend == expected.lifetime.spend


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_the_demo_gives_identical_tiers_rfm_and_clv_on_both_paths(demo, kind, tmp_path):
    """Stage 02 with the engine forced both ways on the demo: the per-customer path (DuckDB over the
    file) and the pandas path give the very same customers result — tiers, R/F/M, p_alive, CLV —
    and the same row coverage; the small file on "auto" keeps today's pandas path."""
    from planlib.plan.schema import DataSource

    loaded, frames = demo
    plan = loaded.plan
    expected = needs.analyse(frames["customers"], frames["transactions"], plan, frames["tickets"])
    if kind == "csv":
        source, base_dir = plan.data.transactions, loaded.base_dir
    else:
        frames["transactions"].to_parquet(tmp_path / "tx.parquet")
        source, base_dir = DataSource(path="tx.parquet"), tmp_path
    got = needs.analyse_source(frames["customers"], source, base_dir, plan, frames["tickets"], engine="duckdb")
    assert got.engine == "duckdb"
    _assert_same_analysis(got, expected)
    assert expected.lifetime.ok and expected.customers["tier"].nunique() >= 4  # a real test of the tiers
    assert expected.coverage.set_index("item").loc["基准日之后", "rows"] > 0
    assert needs.engine_for(plan, loaded.base_dir) == "pandas"  # small files: today's path
    assert needs.sources_underneath(plan, loaded.base_dir) == ()
    assert needs.sources_underneath(plan, loaded.base_dir, "duckdb") == ("transactions",)


def test_unknown_customers_refunds_and_late_orders_count_the_same_on_both_paths(tmp_path):
    """The hand-made base has an order of a customer the table lacks, a refund and a row after as_of."""
    from planlib.plan.schema import DataSource

    customers, tx = base()
    plan = rfm_plan(tiers=[{"name": "高价值", "clv": ">=1500"}, {"name": "活跃", "frequency": ">=1"}])
    tx.to_parquet(tmp_path / "tx.parquet")
    expected = needs.analyse(customers, tx, plan)
    got = needs.analyse_source(customers, DataSource(path="tx.parquet"), tmp_path, plan, engine="duckdb")
    _assert_same_analysis(got, expected)
    unknown = got.coverage.set_index("item").loc["客户表中没有的客户"]
    assert unknown["rows"] == 1 and "ghost" in unknown["note"]


def test_without_a_customer_table_the_list_is_the_order_ids(demo):
    """A plan without data.customers on the per-customer path: one row per customer ID of the orders
    (no names: they are not read), tiers as the pandas path gives them for the same list."""
    from planlib.data.load import customers_from_transactions, load_source

    loaded, frames = demo
    plan = loaded.plan
    derived = customers_from_transactions(load_source("transactions", plan.data.transactions, loaded.base_dir))
    expected = needs.analyse(derived.frame, frames["transactions"], plan)
    data = {}
    got = needs.analyse_data(data, plan, loaded.base_dir, engine="duckdb")
    assert got.engine == "duckdb" and got.source_note["rows"] == len(frames["transactions"])
    assert list(data["customers"]["customer_id"]) == sorted(derived.frame["customer_id"])
    assert data["customers"]["name"].isna().all()
    order = got.customers.set_index("customer_id").index
    pd.testing.assert_frame_equal(got.customers.set_index("customer_id"),
                                  expected.customers.set_index("customer_id").loc[order], check_exact=True)


def test_the_id_check_stops_on_the_per_customer_path_too(demo):
    """Orders whose customer IDs lost their leading zeros: one clear stop naming the files, as on the pandas path."""
    from planlib.errors import DataError

    loaded, frames = demo
    customers = frames["customers"].assign(customer_id="X" + frames["customers"]["customer_id"])
    with pytest.raises(DataError) as pandas_path:
        needs.analyse(customers, frames["transactions"], loaded.plan)
    with pytest.raises(DataError) as per_customer:
        needs.analyse_source(customers, loaded.plan.data.transactions, loaded.base_dir, loaded.plan, engine="duckdb")
    text = str(per_customer.value)
    assert f"{len(frames['transactions']):,} / {len(frames['transactions']):,} 行交易" in text
    assert text.split("例如")[0] == str(pandas_path.value).split("例如")[0]


def test_the_lifetime_models_are_fitted_on_counted_rows_on_both_paths(demo, monkeypatch):
    """Both paths hand BG/NBD and Gamma-Gamma the distinct rows with their counts, never one row per customer."""
    loaded, frames = demo
    seen = []
    fit_purchases, fit_gamma_gamma = clv.fit_purchases, clv.fit_gamma_gamma

    def spy_purchases(x, t_x, T, weights=None, **kw):
        seen.append(("purchases", len(x), None if weights is None else float(np.sum(weights))))
        return fit_purchases(x, t_x, T, weights=weights, **kw)

    def spy_spend(x, m, weights=None, **kw):
        seen.append(("spend", len(x), None if weights is None else float(np.sum(weights))))
        return fit_gamma_gamma(x, m, weights=weights, **kw)

    monkeypatch.setattr(clv, "fit_purchases", spy_purchases)
    monkeypatch.setattr(clv, "fit_gamma_gamma", spy_spend)
    paths = {"pandas": needs.analyse(frames["customers"], frames["transactions"], loaded.plan),
             "duckdb": needs.analyse_source(frames["customers"], loaded.plan.data.transactions, loaded.base_dir,
                                            loaded.plan, engine="duckdb")}
    ids = pd.Index(frames["customers"]["customer_id"])
    history = clv.purchase_history(ids, frames["transactions"], rfm_as_of(loaded.plan))
    buyers = int(history["x"].notna().sum())
    repeat = int(((history["x"] > 0) & (history["mean_spend"] > 0)).sum())
    assert paths["pandas"].customers["p_alive"].notna().sum() == buyers
    # model "auto": the purchase fit, then BG/NBD and MBG/NBD inside it; then Gamma-Gamma — on each path
    assert [kind for kind, _, _ in seen] == ["purchases"] * 3 + ["spend"] + ["purchases"] * 3 + ["spend"]
    assert seen[:4] == seen[4:]
    for kind, rows, total in seen:
        assert total == (buyers if kind == "purchases" else repeat), kind  # every customer, counted
        assert kind == "spend" or rows < total  # distinct (x, t_x, T) rows: fewer than the customers
