"""Stage 02 logic: RFM, tie-safe scores, first-match tiers, segments and the template 1 tables."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import rfm_plan

from planlib.data import holdout
from planlib.data.results import SPECS
from planlib.errors import PlanError
from planlib.metrics import segment
from planlib.metrics.customers import customers_result
from planlib.plan.schema import Segment, Segmentation

AS_OF = date(2024, 3, 31)


def frames(rows: list[tuple[str, str, str, float]], ids=("A", "B", "C")):
    customers = pd.DataFrame({"customer_id": pd.Series(list(ids), dtype=str),
                              "name": [f"客户{i}" for i in ids]})
    tx = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_date", "amount"])
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    return customers, tx


def rfm(customers, tx, window_days=90, levels=3):
    return segment.rfm_table(customers, tx, as_of=AS_OF, window_days=window_days,
                             levels=levels).set_index("customer_id")


# ---------------------------------------------------------------------------------- RFM
def test_rfm_counts_refunds_window_and_ignores_later_purchases():
    customers, tx = frames([
        ("o1", "A", "2024-03-01", 100.0),
        ("o2", "A", "2024-03-21", 30.0),
        ("o2", "A", "2024-03-21", 20.0),  # second line of the same order
        ("o2", "A", "2024-03-25", -30.0),  # refund of o2: lowers its amount, is not a purchase
        ("o3", "A", "2024-04-05", 500.0),  # after as_of: ignored
        ("o4", "B", "2023-06-01", 200.0),  # before the window: recency only
        ("o5", "B", "2024-01-01", 10.0),  # 90 days before as_of: just outside the window
        ("o6", "B", "2024-01-02", 10.0),  # first day of the window (2024-01-02 … 03-31)
        ("o7", "Z", "2024-03-30", 999.0),  # unknown customer: ignored
    ])
    r = rfm(customers, tx)
    assert list(r.index) == ["A", "B", "C"]
    assert r.loc["A", ["recency_days", "frequency", "monetary"]].tolist() == [10, 2, 120]
    assert r.loc["B", ["recency_days", "frequency", "monetary"]].tolist() == [89, 1, 10]
    assert r.loc["A", "last_purchase"] == pd.Timestamp("2024-03-21")
    # never bought: no recency, nothing in the window, worst R score
    assert np.isnan(r.loc["C", "recency_days"])
    assert r.loc["C", ["frequency", "monetary", "r_score"]].tolist() == [0, 0, 1]


def test_fully_refunded_order_is_no_purchase_in_recency_frequency_or_monetary():
    customers, tx = frames([
        ("o1", "A", "2024-01-10", 80.0),
        ("o2", "A", "2024-03-20", 50.0),
        ("o2", "A", "2024-03-28", -50.0),  # o2 refunded in full: A's last purchase is o1
        ("o3", "B", "2023-01-01", 50.0),
        ("o3", "B", "2024-03-30", -20.0),  # refund of an order before the window: M unchanged
        ("r9", "B", "2024-03-30", -40.0),  # a refund whose order is not in the export: ignored
        ("o4", "C", "2024-03-30", 70.0),
        ("o4", "C", "2024-04-02", -70.0),  # refunded after as_of: still a purchase on as_of
    ])
    r = rfm(customers, tx)
    assert r.loc["A", ["recency_days", "frequency", "monetary"]].tolist() == [81, 1, 80]
    assert r.loc["A", "last_purchase"] == pd.Timestamp("2024-01-10")
    assert r.loc["B", ["recency_days", "frequency", "monetary"]].tolist() == [(AS_OF - date(2023, 1, 1)).days, 0, 0]
    assert r.loc["C", ["recency_days", "frequency", "monetary"]].tolist() == [1, 1, 70]


def test_without_order_ids_a_purchase_is_a_customer_day():
    customers, tx = frames([
        ("", "A", "2024-03-01", 100.0),
        ("", "A", "2024-03-01", 50.0),  # same day: one purchase of 150
        ("", "A", "2024-03-01", -150.0),  # … refunded the same day: gone
        ("", "A", "2024-03-10", 40.0),
        ("", "A", "2024-03-12", -40.0),  # another day: cannot be matched without order ids
        ("", "B", "2024-03-05", 20.0),
        ("", "B", "2024-03-06", 30.0),
    ])
    for table in (tx, tx.drop(columns="order_id")):
        r = rfm(customers, table)
        assert r.loc["A", ["recency_days", "frequency", "monetary"]].tolist() == [21, 1, 40]
        assert r.loc["B", ["frequency", "monetary"]].tolist() == [2, 50]


def test_scores_are_quantile_bins_with_recency_reversed():
    ids = list("ABCDE")
    rows = [(f"o{i}", c, f"2024-03-{31 - 5 * i:02d}", 10.0 * (i + 1)) for i, c in enumerate(ids)]
    customers, tx = frames(rows, ids=ids)
    r = rfm(customers, tx, levels=5)
    assert r["m_score"].tolist() == [1, 2, 3, 4, 5]  # 10 … 50 against cuts 18, 26, 34, 42
    assert r["r_score"].tolist() == [5, 4, 3, 2, 1]  # A bought most recently
    assert r.loc["E", "rfm_score"] == "115"
    assert r.loc["E", "rfm_total"] == 7


def test_quantile_scores_give_ties_one_score():
    scores = segment.quantile_scores(np.array([1, 1, 1, 1, 2, np.nan]), 5)
    assert scores.tolist() == [1, 1, 1, 1, 5, 1]


def test_never_bought_counts_as_worst_recency_in_the_distribution():
    customers, tx = frames([("o1", "A", "2024-03-01", 5.0)], ids=("A", "B"))
    r = rfm(customers, tx, levels=2)
    assert r["r_score"].tolist() == [2, 1]


def test_rfm_score_is_readable_with_ten_levels():
    ids = [f"C{i:02d}" for i in range(1, 11)]
    rows = [(f"{c}-{j}", c, f"2024-03-{21 + i:02d}", 1.0) for i, c in enumerate(ids, 1) for j in range(i)]
    customers, tx = frames(rows, ids=ids)
    r = rfm(customers, tx, levels=10)
    assert r.loc["C10", "rfm_score"] == "10-10-10"
    assert r.loc["C01", "rfm_score"] == "1-1-1"


def test_scores_do_not_depend_on_row_order():
    rng = np.random.default_rng(7)
    n = 300
    ids = [f"C{i:03d}" for i in range(n)]
    # half the customers bought exactly once for the same amount: massive ties
    rows = []
    for i, c in enumerate(ids):
        k = 1 if i % 2 else int(rng.integers(0, 6))
        for j in range(k):
            rows.append((f"{c}-{j}", c, "2024-03-15" if i % 2 else f"2024-0{1 + j % 3}-1{j}",
                         100.0 if i % 2 else float(rng.integers(1, 50)) / 10))
    customers, tx = frames(rows, ids=ids)
    cols = ["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_score"]
    base = rfm(customers, tx)[cols]
    for seed in range(5):
        shuffled = rfm(customers.sample(frac=1, random_state=seed),
                       tx.sample(frac=1, random_state=seed + 100))[cols].loc[base.index]
        pd.testing.assert_frame_equal(shuffled, base)
    once = base.loc[ids[1::2]]
    assert once.drop_duplicates().shape[0] == 1  # identical customers, identical scores


def test_identical_customers_get_identical_money_whatever_summation_order():
    amounts = [0.1, 0.2, 0.3, 1e6, 0.7]
    rows = [(f"a{i}", "A", "2024-03-10", x) for i, x in enumerate(amounts)]
    rows += [(f"b{i}", "B", "2024-03-10", x) for i, x in enumerate(reversed(amounts))]
    customers, tx = frames(rows, ids=("A", "B"))
    r = rfm(customers, tx)
    assert r.loc["A"].drop("last_purchase").tolist() == r.loc["B"].drop("last_purchase").tolist()


# ---------------------------------------------------------------------------------- tiers
def rfm_frame():
    return pd.DataFrame({
        "customer_id": ["A", "B", "C", "D"],
        "recency_days": [5.0, 40.0, np.nan, 25.0],
        "frequency": [3, 1, 0, 2],
        "monetary": [300.0, 50.0, 0.0, 80.0],
    })


def test_tiers_first_match_wins_and_default_catches_the_rest():
    plan = rfm_plan()
    out = segment.assign_tiers(rfm_frame(), plan.segmentation)
    # A and D match both 高价值 and 活跃: the first rule wins
    assert out["tier"].tolist() == ["高价值", "活跃", "一般", "高价值"]
    assert out["tier_rule"].tolist() == ["R<30天, F≥2", "F≥1", "未命中规则", "R<30天, F≥2"]


def test_describe_rule_formats_ranges_and_operators():
    seg = Segmentation.model_validate({"tiers": [
        {"name": "潜力", "recency_days": "<30", "frequency": "2-4", "monetary": "2000-5000"},
        {"name": "新", "recency_days": "<=7", "frequency": "=1", "monetary": ">1500.5"},
        {"name": "全部"}]})
    assert [segment.describe_rule(r) for r in seg.tiers] == [
        "R<30天, F=2–4, M=2000–5000元", "R≤7天, F=1, M>1500.5元", "无条件"]


def test_segment_mask_combines_tiers_and_conditions():
    tiered = segment.assign_tiers(rfm_frame(), rfm_plan().segmentation)
    seg = Segment(name="x", tiers=["活跃", "一般"], recency_days=">=20")
    assert segment.segment_mask(tiered, seg).tolist() == [False, True, False, False]  # C has no recency
    assert segment.segment_mask(tiered, Segment(name="all")).all()
    assert segment.segment_mask(tiered, Segment(name="f", frequency="2-3")).tolist() == [True, False, False, True]


def test_find_segment_accepts_tier_names_and_rejects_unknown():
    seg = rfm_plan().segmentation
    assert segment.find_segment(seg, "高价值").tiers == ["高价值"]
    with pytest.raises(PlanError, match="既不是"):
        segment.find_segment(seg, "不存在的客群")


# ---------------------------------------------------------------------------------- results
@pytest.fixture
def result():
    rows = []
    ids = [f"C{i:02d}" for i in range(40)]
    for i, c in enumerate(ids):
        if i < 10:  # 高价值: recent and frequent
            rows += [(f"{c}a", c, "2024-03-25", 100.0 * (i + 1)), (f"{c}b", c, "2024-03-20", 100.0)]
        elif i < 30:  # 活跃: one purchase, 25 days ago or (for i >= 20) 60 days ago
            rows.append((f"{c}a", c, "2024-03-06" if i < 20 else "2024-01-31", 50.0))
    customers, tx = frames(rows, ids=ids)
    plan = rfm_plan()
    return plan, customers, customers_result(customers, tx, plan)


def test_customers_result_has_scope_and_deterministic_control(result):
    plan, _, res = result
    assert set(SPECS["customers"].columns) <= set(res.columns)
    assert res["tier"].value_counts().to_dict() == {"高价值": 10, "活跃": 20, "一般": 10}
    assert res["in_scope"].sum() == 20  # every 活跃 customer is ≥ 20 days silent
    expected = holdout.control_mask(res.loc[res["in_scope"], "customer_id"], "camp", 50.0)
    assert res.loc[res["in_scope"], "control"].tolist() == expected.tolist()
    assert not (res["control"] & ~res["in_scope"]).any()


def test_tier_summary_in_rule_order_with_empty_tier_and_default_last(result):
    plan, _, res = result
    ts = segment.tier_summary(res, plan.segmentation)
    assert set(SPECS["tier_summary"].columns) <= set(ts.columns)
    assert ts["tier"].tolist() == ["高价值", "活跃", "空层", "一般"]
    assert ts["customers"].tolist() == [10, 20, 0, 10]
    assert ts["share"].tolist() == [25.0, 50.0, 0.0, 25.0]
    high = sum(100.0 * (i + 1) + 100 for i in range(10))
    assert ts.loc[0, "avg_monetary"] == pytest.approx(high / 10)
    assert ts.loc[0, "monetary_share"] == pytest.approx(high / (high + 1000) * 100)
    assert ts.loc[3, "rule"] == "未命中规则"
    assert ts.loc[0, "strategy"] == "每月关怀"


def test_segments_table_splits_scope_into_treatment_and_control(result):
    plan, _, res = result
    st = segment.segments_table(res, plan).set_index("segment")
    assert set(SPECS["segments"].columns) <= set(st.reset_index().columns)
    row = st.loc["沉睡活跃"]
    assert row["customers"] == 20
    assert row["treatment"] + row["control"] == 20
    assert row["control"] == res["control"].sum()


def test_needs_table_lists_top_spenders_per_tier(result):
    plan, customers, res = result
    nt = segment.needs_table(res, customers, plan.segmentation, n=2)
    assert list(nt.columns) == ["客户编号", "客户名称", "所属层级", "分层依据", "核心需求", "维护策略建议"]
    assert nt["所属层级"].tolist() == ["高价值", "高价值", "活跃", "活跃", "一般", "一般"]
    assert nt["客户编号"].tolist()[:2] == ["C09", "C08"]  # largest spend first
    assert nt.loc[0, "客户名称"] == "客户C09"
    assert "1100元" in nt.loc[0, "分层依据"] and "R<30天, F≥2" in nt.loc[0, "分层依据"]
    assert "无消费记录" in nt.loc[4, "分层依据"]


# ---------------------------------------------------------------------------------- value and risk rules
def test_rules_over_clv_churn_and_complaints_record_the_rule():
    plan = rfm_plan(tiers=[
        {"name": "投诉客户", "complaints": ">=1"},
        {"name": "高价值", "clv": ">=1000", "p_alive": ">=50"},
        {"name": "流失预警", "churn_probability": ">=60"},
    ])
    df = pd.DataFrame({"customer_id": list("ABCDE"), "recency_days": [1.0] * 5, "frequency": [2] * 5,
                       "monetary": [10.0] * 5, "clv": [5000, 5000, 20, 20, np.nan],
                       "p_alive": [0.9, 0.3, 0.3, 0.9, np.nan], "complaints": [0, 0, 0, 0, 2]})
    tiered = segment.assign_tiers(df, plan.segmentation).set_index("customer_id")
    assert tiered["tier"].tolist() == ["高价值", "流失预警", "流失预警", "一般", "投诉客户"]
    assert tiered.loc["A", "tier_rule"] == "CLV≥1000元, 存活概率≥50%"
    assert tiered.loc["B", "tier_rule"] == "流失概率≥60%"
    assert tiered.loc["E", "tier_rule"] == "投诉≥1次"
    assert segment.rule_fields(plan.segmentation.tiers) == {"complaints", "clv", "p_alive", "churn_probability"}


def test_customers_result_carries_lifetime_columns(result):
    _, _, res = result
    assert {"p_alive", "expected_purchases", "clv", "complaints", "churn_probability"} <= set(res.columns)
    # 10 repeat buyers are too few to fit the lifetime models: the columns are there, empty
    assert res["clv"].isna().all() and res["complaints"].isna().all()
