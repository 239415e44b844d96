"""The KPI engine (planlib.metrics.measure): purchases counted the way RFM counts them (an order ID when
the export has one, otherwise a customer's buying day; refunds netted) and N-day windows of exactly N days."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from conftest import ROOT, demo_plan
from stages.review.test_analysis import CAMP

from planlib.data.load import load_source
from planlib.metrics.measure import _purchases, compute_kpis, within_days
from planlib.plan.planfile import load_plan
from planlib.plan.schema import DataSource

WINDOW = (date(2024, 4, 1), date(2024, 6, 30))


@pytest.fixture(scope="module")
def plan():
    return load_plan(ROOT / "parameters" / "demo" / "2024Q2.yaml").plan


def _everyone_in_scope(ids):
    return pd.DataFrame({"customer_id": pd.Series(ids, dtype="str"), "in_scope": True, "control": False,
                         "tier": "中价值客户"})


def test_repurchase_rate_without_an_order_number_column(tmp_path, plan):
    # 客户 A buys on two days; B twice on one day (one purchase); C buys and is fully refunded the same
    # day, then buys once more; D buys once and has a bought-and-refunded second day.
    (tmp_path / "orders.csv").write_text(
        "客户编号,下单日期,消费金额\n"
        "A,2024-04-02,100\nA,2024-05-03,80\n"
        "B,2024-04-10,50\nB,2024-04-10,60\n"
        "C,2024-04-05,300\nC,2024-04-05,-300\nC,2024-05-20,40\n"
        "D,2024-04-07,70\nD,2024-06-01,90\nD,2024-06-01,-90\n",
        encoding="utf-8")
    tx = load_source("transactions", DataSource(path="orders.csv"), tmp_path).frame
    assert tx["order_id"].isna().all()  # the export has no order numbers
    values = compute_kpis(plan, {"transactions": tx}, _everyone_in_scope(list("ABCD")), window=WINDOW,
                          kpis=["repurchase_rate"])
    kv = values["repurchase_rate"]
    assert (kv.numerator, kv.denominator) == (1, 4)  # only A bought twice; before: 0/4 (distinct order_id of NA)
    assert kv.value == pytest.approx(25.0)


def test_a_fully_refunded_order_is_not_a_purchase_and_refunds_reduce_spend():
    tx = pd.DataFrame({
        "order_id": ["O1", "O1", "O2", "O3", "O3"],
        "customer_id": ["A", "A", "A", "B", "B"],
        "order_date": pd.to_datetime(["2024-04-01", "2024-04-09", "2024-04-02", "2024-04-03", "2024-04-20"]),
        "amount": [100.0, -100.0, 60.0, 200.0, -50.0],
    })
    got = _purchases(tx).set_index("customer_id")
    assert list(got.index) == ["A", "B"]  # O1 was refunded in full: A has one purchase, O2
    assert got.loc["A", "amount"] == 60.0
    assert got.loc["B", "amount"] == 150.0  # partly refunded: net spend
    assert got.loc["B", "order_date"] == pd.Timestamp("2024-04-03")  # dated by the sale, not the refund


def test_order_ids_win_over_days_when_present():
    tx = pd.DataFrame({"order_id": ["O1", "O2", None], "customer_id": ["A", "A", "A"],
                       "order_date": pd.to_datetime(["2024-04-01", "2024-04-01", "2024-04-01"]),
                       "amount": [10.0, 20.0, 30.0]})
    # two numbered orders on one day are two purchases; the row without a number is its day's purchase
    assert len(_purchases(tx)) == 3


def test_within_days_counts_exactly_n_days_from_the_first_day():
    first = pd.Timestamp("2024-04-10")
    days = pd.Series(pd.to_datetime(["2024-04-09 23:59", "2024-04-10 00:00", "2024-05-09 23:59", "2024-05-10 00:00"]))
    assert within_days(days, first, 30).tolist() == [False, True, True, False]  # 04-10 … 05-09 = 30 days


def test_a_30_day_attribution_window_does_not_take_in_a_31st_day():
    # one participant who first responded on 04-10; orders on day 30 (05-09) and day 31 (05-10)
    cr = pd.DataFrame({"customer_id": ["P", "Q"], "in_scope": True, "control": False})
    inter = pd.DataFrame({"customer_id": ["P", "Q"], "campaign": CAMP, "channel": "sms", "variant": "",
                          "sent_at": pd.Timestamp("2024-04-01"), "opened_at": pd.NaT, "clicked_at": pd.NaT,
                          "responded_at": pd.to_datetime(["2024-04-10 18:00", "2024-04-10 18:00"])})
    tx = pd.DataFrame({"order_id": ["O1", "O2"], "customer_id": ["P", "Q"],
                       "order_date": pd.to_datetime(["2024-05-09 20:00", "2024-05-10 08:00"]), "amount": [100.0, 50.0]})
    plan = demo_plan(budget={"limit": 1000, "lines": [{"category": "物料费", "planned": 100, "actual": 100}]})
    values = compute_kpis(plan, {"interactions": inter, "transactions": tx}, cr, kpis=["repurchase_30d", "roi"])
    assert plan.review.attribution_days == 30
    assert (values["repurchase_30d"].numerator, values["repurchase_30d"].denominator) == (1, 2)  # P, not Q
    assert values["roi"].parts["revenue"] == 100.0
