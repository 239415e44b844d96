"""metrics.orders: the three questions the figures ask of the orders, answered from loaded orders
(FrameOrders) and where the orders are (SourceOrders: DuckDB here; PostgreSQL in tests/data/test_sql.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from planlib.data.demo import ensure_demo_data
from planlib.data.load import load_all
from planlib.metrics import customers as customer_table
from planlib.metrics import measure
from planlib.metrics.orders import FrameOrders, SourceOrders, orders_of
from planlib.plan.planfile import load_plan
from planlib.plan.schema import DataSource
from planlib.stages.goals import smart
from planlib.stages.review import analysis as review
from planlib.stages.review import diagnose

ROOT = Path(__file__).resolve().parents[2]
Q2 = (date(2024, 4, 1), date(2024, 6, 30))
Q1 = (date(2024, 1, 1), date(2024, 3, 31))


def _tx() -> pd.DataFrame:
    rows = [  # customer, order, day, amount
        ("a", "o1", "2024-04-03 10:00", 100.0),
        ("a", "o1", "2024-07-20 09:00", -40.0),  # refund after the window: nets o1, dated on its own day
        ("a", "o2", "2024-02-01 12:00", 50.0),
        ("b", None, "2024-04-05 08:00", 30.0),  # no order id: the customer's day is the purchase
        ("b", None, "2024-04-05 18:00", -30.0),  # refunded the same day: no purchase that day
        ("b", "", "2024-05-01 11:00", 25.0),  # a blank order id is no order id
        ("c", "o3", "2024-05-02 10:00", 80.0),
        ("c", "o3", "2024-05-09 10:00", -80.0),  # fully refunded: not a purchase
        ("c", "o4", "2024-06-30 23:59", 10.0),  # the window's last minute is inside it
        ("d", "o5", "2024-03-31 23:00", 60.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "order_date", "amount"])
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    return frame


def _csv(frame: pd.DataFrame, folder: Path) -> DataSource:
    path = folder / "orders.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return DataSource(path=path.name)


@pytest.fixture(params=["loaded", "duckdb"])
def orders(request, tmp_path):
    frame = _tx()
    if request.param == "loaded":
        return lambda until=None: FrameOrders(frame, until)
    source = _csv(frame, tmp_path)
    return lambda until=None: SourceOrders(source, tmp_path, until=until, engine="duckdb")


def _by_id(frame: pd.DataFrame) -> dict:
    return {r["customer_id"]: {k: v for k, v in r.items() if k != "customer_id"} for r in frame.to_dict("records")}


def test_purchases_in_nets_refunds_whatever_their_day_and_counts_each_window(orders):
    found = _by_id(orders().purchases_in({"q2": Q2, "q1": Q1}))
    assert found["a"] == {"n_q2": 1, "amount_q2": pytest.approx(60.0), "n_q1": 1, "amount_q1": pytest.approx(50.0)}
    assert found["b"] == {"n_q2": 1, "amount_q2": pytest.approx(25.0), "n_q1": 0, "amount_q1": 0.0}
    assert found["c"] == {"n_q2": 1, "amount_q2": pytest.approx(10.0), "n_q1": 0, "amount_q1": 0.0}
    assert found["d"]["n_q2"] == 0 and found["d"]["n_q1"] == 1


def test_until_forgets_later_rows_refunds_included(orders):
    found = _by_id(orders(until=date(2024, 6, 30)).purchases_in({"q2": Q2}))
    assert found["a"]["amount_q2"] == pytest.approx(100.0)  # the July refund is not known on June 30
    early = _by_id(orders(until=date(2024, 4, 4)).purchases_in({"q2": Q2}))
    assert "c" not in early and early["a"]["n_q2"] == 1  # c had bought nothing yet


def test_row_sums_count_a_refund_on_its_own_day(orders):
    found = _by_id(orders().row_sums(*Q2))
    assert found["a"] == {"spend": pytest.approx(100.0), "bought": True}
    assert found["b"] == {"spend": pytest.approx(25.0), "bought": True}
    assert found["c"] == {"spend": pytest.approx(10.0), "bought": True}
    assert "d" not in found
    july = _by_id(orders().row_sums(date(2024, 7, 1), date(2024, 7, 31)))
    assert july == {"a": {"spend": pytest.approx(-40.0), "bought": False}}


def test_rows_of_gives_the_rows_of_those_customers_in_the_window(orders):
    rows = orders().rows_of(["a", "zz"], date(2024, 4, 1), date(2024, 7, 31))
    assert list(rows.columns) == ["customer_id", "order_id", "order_date", "amount"]
    assert sorted(rows["amount"].tolist()) == [-40.0, 100.0]
    assert orders().rows_of([], *Q2).empty


def test_the_wrapper_of_one_frame_is_reused():
    frame = _tx()
    first = orders_of({"transactions": frame})
    assert orders_of({"transactions": frame}) is first
    assert orders_of({"transactions": _tx()}) is not first
    assert orders_of({}) is None


# ------------------------------------------------------------------ the stages' figures, both ways
@pytest.fixture(scope="module")
def demo():
    loaded = load_plan(ROOT / "parameters" / "demo" / "2024Q2.yaml")
    ensure_demo_data(loaded.plan.data, loaded.base_dir)
    frames = {name: r.frame for name, r in load_all(loaded.plan.data, loaded.base_dir).items()}
    customers = customer_table.analyse(frames["customers"], frames["transactions"], loaded.plan,
                                       frames.get("tickets")).customers
    return loaded.plan, frames, customers


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_stage_05_and_the_baselines_from_orders_underneath_equal_those_from_loaded_orders(demo, tmp_path, kind):
    """Every figure of stage 05 (KPIs overall / per tier / per channel, funnels, uplift, A/B tests,
    template 4, diagnoses) and stage 01's baselines: the same from DuckDB as from the loaded orders —
    and DuckDB answered them (the orders were never loaded)."""
    plan, frames, customers = demo
    tx = frames["transactions"]
    if kind == "parquet":
        tx.to_parquet(tmp_path / "orders.parquet", index=False)
        source = DataSource(path="orders.parquet")
    else:
        source = _csv(tx, tmp_path)
    underneath = SourceOrders(source, tmp_path, engine="duckdb")
    results = []
    for orders in (FrameOrders(tx), underneath):
        data = {**frames, "transactions": orders}
        results.append((review.analyse(plan, data, customers), smart.smart_check(plan, data, customers)))
    assert underneath._loaded is None, "the fast path declined: the orders were loaded"
    (loaded_review, loaded_goals), (under_review, under_goals) = results
    for name in ("kpi_values", "funnel", "by_channel", "by_tier", "uplift", "abtests", "table", "design", "actions"):
        pd.testing.assert_frame_equal(getattr(under_review, name), getattr(loaded_review, name), obj=name)
    assert under_review.summary == loaded_review.summary
    pd.testing.assert_frame_equal(under_goals, loaded_goals)
    assert loaded_goals["baseline_source"].str.startswith("数据测算").any()  # baselines were measured
    values = loaded_review.values
    for kpi in ("repurchase_rate", "churn_rate", "repurchase_30d", "roi"):
        assert values[kpi].value is not None, kpi  # the demo exercises every question
    # the plan's dormant segment bought nothing the quarter before (order value is 无数据 for it):
    # every customer in scope asks purchases_in for both windows with purchases in them
    everyone = customers.assign(in_scope=True)
    both = [measure.compute_kpis(plan, {**frames, "transactions": o}, everyone) for o in (FrameOrders(tx), underneath)]
    assert both[0]["aov_uplift"].value is not None
    assert {k: (v.value, v.explanation) for k, v in both[1].items()} == {
        k: (v.value, v.explanation) for k, v in both[0].items()}
    evidence = [diagnose.collect_evidence(plan, {**frames, "transactions": o}, customers)
                for o in (FrameOrders(tx), underneath)]
    pd.testing.assert_frame_equal(evidence[1].exposure, evidence[0].exposure)


def test_one_pass_serves_every_window_the_baselines_ask_for(demo, tmp_path, monkeypatch):
    from planlib.data import windows

    plan, frames, customers = demo
    frames["transactions"].to_parquet(tmp_path / "orders.parquet", index=False)
    calls = []
    real = windows.purchases_in

    def counted(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(windows, "purchases_in", counted)
    data = {**frames, "transactions": SourceOrders(DataSource(path="orders.parquet"), tmp_path, engine="duckdb")}
    # goals measured on purchases, baselines left to the data (the demo's goals are campaign KPIs)
    metrics = ("repurchase_rate", "churn_rate", "aov_uplift")
    plan = plan.model_copy(update={"goals": [g.model_copy(update={"metric": m, "baseline": None, "segment": plan.scope.segment})
                                             for g, m in zip(plan.goals, metrics, strict=False)]})
    checks = smart.smart_check(plan, data, customers.assign(in_scope=True))
    assert checks["baseline_source"].str.startswith("数据测算").all(), checks["baseline_source"].tolist()
    history = [measure.previous_window(measure.period_window(plan), n) for n in range(1, smart.HISTORY_WINDOWS + 1)]
    assert len(calls) == 1  # every window, its predecessor and its churn lookback in one pass
    assert set(calls[0].values()) == {w for window in history for w in measure.windows_read(window)}


def test_the_rows_of_a_subset_come_from_the_last_pass(tmp_path, monkeypatch):
    """Stage 05 asks for all participants' rows, then for each tier's and channel's: one pass."""
    from planlib.data import windows

    calls = []
    real = windows.rows_of
    monkeypatch.setattr(windows, "rows_of", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    orders = SourceOrders(_csv(_tx(), tmp_path), tmp_path, engine="duckdb")
    everyone = orders.rows_of(["a", "b", "c"], date(2024, 4, 1), date(2024, 7, 31))
    part = orders.rows_of(["a"], date(2024, 4, 1), date(2024, 6, 30))
    assert len(calls) == 1
    pd.testing.assert_frame_equal(part, FrameOrders(_tx()).rows_of(["a"], date(2024, 4, 1), date(2024, 6, 30))
                                  .assign(order_date=lambda f: f["order_date"].dt.normalize()), check_dtype=False)
    assert len(everyone) > len(part)
    orders.rows_of(["a", "d"], date(2024, 4, 1), date(2024, 6, 30))  # d was not asked for: a new pass
    assert len(calls) == 2
