"""KPI engine, funnel, template 4, suggestions, summary, uplift and action plan on hand-made frames.

The scenario (demo plan, period 2024-04-01~2024-06-30, campaign 2024Q2-reactivation):
12 in-scope customers C01–C12, C11/C12 held out as control, so 10 treatment customers;
C13 is out of scope. Every expected figure below is worked out by hand in the comments.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import demo_plan

from planlib.data import results
from planlib.metrics.measure import KpiValue, compute_kpis
from planlib.plan.schema import Plan
from planlib.stages.review.analysis import action_plan, kpi_table, review_summary, suggestion
from planlib.stages.review.funnel import funnel, funnel_by, funnel_from_values
from planlib.stages.review.uplift import diff_proportions, uplift

CAMP = "2024Q2-reactivation"
NaT = pd.NaT


def ts(text: str | None) -> pd.Timestamp:
    return NaT if text is None else pd.Timestamp(text)


def customers_result() -> pd.DataFrame:
    ids = [f"C{i:02d}" for i in range(1, 16)]
    return pd.DataFrame({
        "customer_id": ids,
        "tier": ["中价值客户"] * 6 + ["潜力客户"] * 9,
        "in_scope": [i <= 12 for i in range(1, 16)],
        "control": [i in (11, 12) for i in range(1, 16)],
    })


def frames() -> dict[str, pd.DataFrame]:
    inter = [  # customer, campaign, channel, sent, opened, clicked, responded
        ("C01", CAMP, "sms", "2024-04-10 09:00", "2024-04-10 10:00", "2024-04-10 10:05", "2024-04-20 12:00"),
        ("C01", CAMP, "wecom", "2024-04-25 09:00", "2024-04-25 09:30", "2024-04-25 09:40", "2024-05-01 08:00"),
        ("C02", CAMP, "wecom", "2024-04-12 09:00", "2024-04-12 09:10", "2024-04-12 09:20", "2024-05-10 15:00"),
        ("C03", CAMP, "sms", "2024-04-15 09:00", "2024-04-15 11:00", "2024-04-15 11:10", "2024-06-25 09:00"),
        ("C04", CAMP, "sms", "2024-04-15 09:00", "2024-04-15 12:00", "2024-04-15 12:30", None),
        ("C05", CAMP, "sms", "2024-04-15 09:00", "2024-04-16 08:00", None, None),
        ("C06", CAMP, "sms", "2024-04-15 09:00", None, None, None),
        ("C07", CAMP, "wecom", "2024-04-16 09:00", None, None, None),
        ("C08", CAMP, "sms", "2024-06-30 23:00", None, None, None),  # last day of the window: inside
        ("C09", CAMP, "sms", "2024-03-20 09:00", "2024-03-20 10:00", None, "2024-03-21 10:00"),  # before
        ("C10", "OTHER", "sms", "2024-04-20 09:00", "2024-04-20 10:00", None, "2024-04-21 10:00"),
    ]
    interactions = pd.DataFrame(
        [(c, k, ch, "", ts(s), ts(o), ts(cl), ts(r)) for c, k, ch, s, o, cl, r in inter],
        columns=["customer_id", "campaign", "channel", "variant", "sent_at", "opened_at", "clicked_at",
                 "responded_at"])
    orders = [
        ("C01", "2024-05-10", 300), ("C01", "2024-05-15", -100), ("C02", "2024-06-15", 200),
        ("C03", "2024-06-25", 150), ("C04", "2024-04-05", 100), ("C04", "2024-04-10", 100),
        ("C11", "2024-05-01", 150), ("C05", "2024-01-15", 250), ("C08", "2024-02-10", 50),
        ("C06", "2023-12-01", 400), ("C04", "2023-06-01", 80), ("C01", "2023-10-10", 90),
        ("C07", "2023-03-01", 60), ("C13", "2024-05-05", 10000),
    ]
    transactions = pd.DataFrame({
        "order_id": [f"O{i}" for i in range(1, len(orders) + 1)],
        "customer_id": [o[0] for o in orders],
        "order_date": pd.to_datetime([o[1] for o in orders]),
        "amount": [float(o[2]) for o in orders],
    })
    surveys = pd.DataFrame({
        "customer_id": ["C01", "C02", "C03", "C11", "C05", "C13", "C04"],
        "survey_date": pd.to_datetime(["2024-05-20", "2024-05-21", "2024-06-26", "2024-05-02", "2024-05-03",
                                       "2024-05-04", "2024-03-30"]),
        "nps": pd.array([10, 9, 6, 8, 7, 0, 2], dtype="Int64"),
        "csat": pd.array([5, 4, 3, 4, None, 1, 2], dtype="Int64"),
        "comment": [""] * 7,
    })
    tickets = pd.DataFrame({
        "ticket_id": ["T1", "T2", "T3", "T4", "T5", "T6"],
        "customer_id": ["C01", "C13", "C02", "C03", "C04", "C02"],
        "created_at": pd.to_datetime(["2024-04-02 10:00", "2024-04-03 10:00", "2024-04-04 10:00",
                                      "2024-04-05 10:00", "2024-03-31 23:00", "2024-05-01 09:00"]),
        "first_response_at": [ts("2024-04-02 10:03"), ts("2024-04-03 10:05"), ts("2024-04-04 10:10"), NaT,
                              ts("2024-03-31 23:01"), ts("2024-05-01 09:01")],
        "resolved_at": [NaT] * 6,
        "is_complaint": [False, True, True, True, True, True],
    })
    customers = pd.DataFrame({"customer_id": customers_result()["customer_id"], "name": "", "phone": "",
                              "region": "", "join_date": pd.Timestamp("2020-01-01")})
    return {"customers": customers, "transactions": transactions, "interactions": interactions,
            "surveys": surveys, "tickets": tickets}


@pytest.fixture(autouse=True)
def judge_small_samples(monkeypatch):
    """The hand-made scenario has 10 treatment customers, far below the minimum base (MIN_BASE = 30):
    these tests check the rules and figures themselves, so they judge any base; the minimum base
    is tested on its own in test_small_samples.py."""
    from planlib.plan import kpis

    monkeypatch.setattr(kpis, "MIN_BASE", 1)


@pytest.fixture
def plan() -> Plan:
    return demo_plan()


@pytest.fixture
def values(plan):
    return compute_kpis(plan, frames(), customers_result())


# ------------------------------------------------------------------ compute_kpis
EXPECTED = {
    "reach_rate": (80.0, 8, 10),            # C01–C08 sent in the window; C09 before it, C10 other campaign
    "open_rate": (62.5, 5, 8),              # C01–C05 opened
    "engagement_rate": (80.0, 4, 5),        # C01–C04 clicked
    "participation_rate": (30.0, 3, 10),    # C01, C02, C03 responded in the window
    "repurchase_30d": (200 / 3, 2, 3),      # C01 (20 days after), C03 (same day); C02 36 days after
    "repurchase_rate": (20.0, 1, 5),        # buyers C01 C02 C03 C04 C11; C04 twice; refund not an order
    "churn_rate": (60.0, 3, 5),             # active C01 C04 C05 C06 C08 (C07 > 365 days); C05 C06 C08 lost
    "aov_uplift": ((1000 / 6 - 150) / 150 * 100, 1000 / 6, 150.0),
    "csat": (4.0, 16.0, 4),                 # 5 4 3 4; C13 out of scope, C04 before the window, C05 NA
    "nps": (20.0, 1, 5),                    # 10 9 6 8 7: 2 promoters, 1 detractor
    # the target group's tickets: T1 3 min, T6 1 min; T3 late, T4 never (T2 is out-of-scope C13's, T5 before)
    "response_sla_rate": (50.0, 2, 4),
    "complaint_rate": (200 / 12, 2, 12),    # C02, C03; C13 out of scope, T5 before the window
    "cost_per_participant": (9700 / 3, 9700.0, 3),
    "roi": ((350 - 9700) / 9700 * 100, 350 - 9700, 9700.0),  # C01 300 − 100 refund, C03 150
    "budget_variance": (-300.0, 9700.0, 10000.0),
}


@pytest.mark.parametrize("kpi", list(EXPECTED))
def test_each_kpi_matches_the_hand_computation(values, kpi):
    value, num, den = EXPECTED[kpi]
    kv = values[kpi]
    assert kv.value == pytest.approx(value)
    assert kv.numerator == pytest.approx(num)
    assert kv.denominator == pytest.approx(den)
    assert kv.explanation and not kv.explanation.startswith("无数据")


def test_values_carry_group_sizes(values):
    assert {k: values["csat"].parts[k] for k in ("in_scope", "treatment", "control")} == {
        "in_scope": 12, "treatment": 10, "control": 2}


def test_missing_sources_give_none_with_the_reason(plan):
    data = frames()
    for name in ("interactions", "surveys", "tickets"):
        del data[name]
    values = compute_kpis(plan, data, customers_result())
    for kpi in ("reach_rate", "open_rate", "engagement_rate", "participation_rate", "repurchase_30d",
                "cost_per_participant", "roi"):
        assert values[kpi].value is None
        assert "互动记录" in values[kpi].explanation
    assert values["csat"].value is None and "问卷" in values["csat"].explanation
    assert values["nps"].value is None
    assert values["response_sla_rate"].value is None and "服务工单" in values["response_sla_rate"].explanation
    assert values["repurchase_rate"].value == pytest.approx(20.0)  # transactions alone still suffice


def test_unknown_campaign_is_no_data_not_zero(plan):
    plan.review.campaign = "2024Q2-typo"
    values = compute_kpis(plan, frames(), customers_result())
    assert values["reach_rate"].value is None
    assert "没有活动 2024Q2-typo" in values["reach_rate"].explanation


def test_zero_denominators_are_none(plan):
    everyone_held_out = customers_result().assign(control=True)
    values = compute_kpis(plan, frames(), everyone_held_out)
    assert values["participation_rate"].value is None
    assert values["participation_rate"].explanation == "无数据: 实验组人数为0"
    assert values["reach_rate"].parts["control_contacted"] == 8
    assert "对照组" in compute_kpis(plan, frames(), customers_result().assign(
        control=lambda d: d["customer_id"] == "C01"))["reach_rate"].explanation


def test_window_restricts_every_count(plan):
    values = compute_kpis(plan, frames(), customers_result(), window=(pd.Timestamp("2024-04-01").date(),
                                                                      pd.Timestamp("2024-04-30").date()))
    assert values["participation_rate"].numerator == 1   # only C01 responded in April
    assert values["reach_rate"].numerator == 7           # C08 was sent on 06-30


def test_cost_is_none_without_actuals():
    lines = [{"category": "物料费", "planned": 1000}, {"category": "礼品费", "planned": 2000}]
    plan = demo_plan(budget={"limit": 10000, "lines": lines})
    values = compute_kpis(plan, frames(), customers_result())
    assert values["cost_per_participant"].value is None
    assert values["roi"].value is None
    assert values["budget_variance"].value is None


# ------------------------------------------------------------------ funnel
def test_funnel_counts_and_rates(plan):
    f = funnel(plan, frames(), customers_result())
    assert f["step"].tolist() == ["目标客户", "触达", "打开", "互动", "参与", "复购"]
    assert f["customers"].tolist() == [10, 8, 5, 4, 3, 2]
    assert math.isnan(f["rate_of_previous"].iloc[0])
    assert f["rate_of_previous"].iloc[1:].tolist() == pytest.approx([80, 62.5, 80, 75, 200 / 3])
    assert f["rate_of_target"].tolist() == pytest.approx([100, 80, 50, 40, 30, 20])


def test_funnel_without_interactions_is_unknown_not_zero(plan):
    data = frames()
    del data["interactions"]
    f = funnel(plan, data, customers_result())
    assert f["customers"].iloc[0] == 10
    assert f["customers"].iloc[1:].isna().all()


def test_funnel_by_channel(plan):
    f = funnel_by(plan, frames(), customers_result(), by="channel")
    sms = f[f["channel"] == "sms"].set_index("step")["customers"].tolist()
    wecom = f[f["channel"] == "wecom"].set_index("step")["customers"].tolist()
    assert sms == [10, 6, 4, 3, 2, 2]
    assert wecom == [10, 3, 2, 2, 2, 1]  # C01's first wecom response is 05-01: order 05-10 counts
    assert set(f["label"]) == {"短信", "企业微信/社群"}


def test_funnel_by_tier(plan):
    f = funnel_by(plan, frames(), customers_result(), by="tier")
    low = f[f["tier"] == "潜力客户"].set_index("step")
    assert low.loc["目标客户", "customers"] == 4     # C07–C10 (C11, C12 are control)
    assert low.loc["打开", "rate_of_previous"] == 0  # C07, C08 reached, nobody opened


# ------------------------------------------------------------------ template 4 and suggestions
def test_kpi_table_statuses_and_suggestions(plan, values):
    table = kpi_table(plan, values).set_index("kpi")
    assert table.loc["participation_rate", "status"] == "未达成"
    assert table.loc["repurchase_30d", "status"] == "超达成"
    assert table.loc["participation_rate", "suggestion"].startswith("打开率仅 62.5%(触达 8 人中打开 5 人)")
    # the channels to add are the plan's own with the best open rate, not words of the demo
    assert "并用打开率更高的渠道(电话回访、线下活动/沙龙)提醒" in table.loc["participation_rate", "suggestion"]
    assert "回访低分客户了解原因" in table.loc["csat", "suggestion"]
    assert "1 份评分≤3分" in table.loc["csat", "suggestion"]
    # 9,700 元 for 3 participants: too few people, not the +200 overspend, explains 3,233 元/人
    assert "需要至少 200 位参与客户,实际只有 3 人" in table.loc["cost_per_participant", "suggestion"]
    assert "2 张工单超过 5 分钟" in table.loc["response_sla_rate", "suggestion"]
    assert table.loc["repurchase_30d", "suggestion"] == ""
    assert table.loc["participation_rate", "target_text"] == "≥70%"
    assert table.loc["cost_per_participant", "target_text"] == "≤50元/人"


def test_status_follows_the_direction():
    kpis = [{"kpi": "complaint_rate", "target": 17}, {"kpi": "cost_per_participant", "target": 5000},
            {"kpi": "churn_rate", "target": 50}, {"kpi": "open_rate", "target": 60}]
    plan = demo_plan(kpis=kpis)
    table = kpi_table(plan, compute_kpis(plan, frames(), customers_result())).set_index("kpi")
    assert table.loc["complaint_rate", "status"] == "达成"          # 16.7 ≤ 17, not below 15.3
    assert table.loc["cost_per_participant", "status"] == "超达成"  # 3233 < 4500
    assert table.loc["churn_rate", "status"] == "未达成"            # 60 > 50, lower is better
    assert table.loc["open_rate", "status"] == "达成"               # 62.5 ≥ 60, not above 66


def test_manual_actual_overrides_and_says_so():
    plan = demo_plan(kpis=[{"kpi": "csat", "target": 4.5, "actual": 4.6}])
    row = kpi_table(plan, compute_kpis(plan, frames(), customers_result())).iloc[0]
    assert row["actual"] == 4.6 and row["status"] == "达成"  # 4.6 ≥ 4.5 but not above 4.95
    assert row["source"] == "手工填写" and "4分" in row["explanation"]


def test_no_data_row_explains_why(plan):
    data = frames()
    del data["surveys"]
    row = kpi_table(plan, compute_kpis(plan, data, customers_result())).set_index("kpi").loc["csat"]
    assert row["status"] == "无数据" and math.isnan(row["actual"])
    assert row["suggestion"].startswith("无法评估: 缺少问卷")


def test_suggestion_names_the_weakest_tier(plan, values):
    breakdown = funnel_by(plan, frames(), customers_result(), by="tier")
    text = suggestion("participation_rate", 70, values["participation_rate"].value, values, plan, breakdown)
    assert "其中潜力客户最低(0%);建议" in text


def test_suggestion_ignores_a_group_that_skips_the_step(plan, values):
    # participation's weakest step overall is 打开 (62.5 %); phone "opens" nobody but still has
    # participants, so it does not use the step and sms (50 %) is the one to name
    rows = [("phone", "电话回访", [10, 5, 0, 0, 3, 1]), ("sms", "短信", [10, 6, 3, 3, 2, 1]),
            ("wecom", "企业微信/社群", [10, 3, 2, 2, 1, 1])]
    breakdown = pd.concat([funnel_from_values({
        "reach_rate": KpiValue("reach_rate", None, c[1], parts={"treatment": c[0]}),
        "open_rate": KpiValue("open_rate", None, c[2]), "engagement_rate": KpiValue("engagement_rate", None, c[3]),
        "participation_rate": KpiValue("participation_rate", None, c[4]),
        "repurchase_30d": KpiValue("repurchase_30d", None, c[5])}).assign(channel=ch, label=label)
        for ch, label, c in rows])[["channel", "label", "step", "customers", "rate_of_previous", "rate_of_target"]]
    text = suggestion("participation_rate", 70, 30.0, values, plan, breakdown)
    assert text.startswith("打开率仅 62.5%") and "其中短信最低(50%);建议" in text


def test_suggestion_rules_for_other_kpis(plan, values):
    assert suggestion("nps", 50, 20.0, values, plan).startswith("NPS 为 20,低于目标 ≥50(贬损者 1 人、推荐者 2 人)")
    assert suggestion("churn_rate", 30, 60.0, values, plan).startswith("流失率 60%(期初活跃 5 人中 3 人")
    assert suggestion("reach_rate", 90, 80.0, values, plan).startswith("触达率仅 80%")
    assert suggestion("repurchase_30d", 80, 200 / 3, values, plan).startswith(
        "参与客户30天复购率仅 66.7%(参与 3 人中复购 2 人)")
    assert "归因收入 350 元" in suggestion("roi", 0, values["roi"].value, values, plan)
    fallback = suggestion("budget_variance", 0, -300.0, values, plan)
    assert fallback == ""  # informational KPI: no status, no advice
    generic = suggestion("engagement_rate", 90, 80.0, {}, plan)
    assert generic.startswith("互动参与度 实际 80%,未达目标 ≥90%")


# ------------------------------------------------------------------ summary and action plan
def test_review_summary(plan, values):
    table = kpi_table(plan, values)
    summary = review_summary(plan, values, table)
    assert summary["status_counts"] == {"超达成": 1, "达成": 0, "未达成": 5, "样本不足": 0, "无数据": 0}
    assert (summary["in_scope"], summary["treatment"], summary["control"], summary["participants"]) == (12, 10, 2, 3)
    assert summary["headlines"][1] == "目标客群 12 人,其中实验组 10 人、对照组 2 人;参与 3 人,参与率 30%。"
    assert "满意度平均评分(5分制) 实际 4分(目标 ≥4.5分)" in summary["headlines"][2]


def test_action_plan_adds_suggested_rows_for_uncovered_misses(plan, values):
    actions = action_plan(plan, kpi_table(plan, values))
    assert list(actions.columns) == ["问题目标", "优化措施", "责任人", "完成时间", "预期效果", "状态"]
    assert actions.iloc[0]["状态"] == "待完成" and actions.iloc[0]["责任人"] == "客服专员"
    suggested = actions[actions["状态"] == "建议"]
    # participation is covered by the plan's action; csat, cost, SLA and NPS are not
    assert len(suggested) == 4
    assert (suggested["责任人"] == "待指定").all() and suggested["完成时间"].isna().all()
    assert not suggested["问题目标"].str.contains("目标客户参与率").any()


def test_results_pass_the_stage_handover(plan, values, tmp_path):
    table = kpi_table(plan, values)
    results.save(tmp_path, "kpis", table)
    results.save(tmp_path, "review_summary", review_summary(plan, values, table))
    assert results.load(tmp_path, "kpis")["status"].tolist() == table["status"].tolist()
    assert results.load(tmp_path, "review_summary")["participants"] == 3


# ------------------------------------------------------------------ uplift
def test_diff_proportions_matches_hand_computation():
    # p1 = 30/100, p0 = 10/50; se = sqrt(.3·.7/100 + .2·.8/50) = sqrt(.0053) = .0728011; z = 1.959964
    diff, low, high = diff_proportions(30, 100, 10, 50)
    assert diff == pytest.approx(10.0)
    assert low == pytest.approx(-4.2687, abs=1e-3)
    assert high == pytest.approx(24.2687, abs=1e-3)
    assert diff_proportions(1, 0, 1, 5) is None


def _uplift_case():
    """100 treatment customers (20 participants), 50 control; buyers and spend chosen per group."""
    treat = [f"T{i:03d}" for i in range(100)]
    ctrl = [f"K{i:03d}" for i in range(50)]
    cr = pd.DataFrame({"customer_id": treat + ctrl, "in_scope": True, "control": [False] * 100 + [True] * 50})
    inter = pd.DataFrame({
        "customer_id": treat, "campaign": CAMP, "channel": "sms", "variant": "",
        "sent_at": pd.Timestamp("2024-04-10 09:00"), "opened_at": NaT, "clicked_at": NaT,
        "responded_at": [pd.Timestamp("2024-04-12") if i < 20 else NaT for i in range(100)],
    })
    # buyers on 04-20 (10 days after the 04-10 launch): T000–T009 (participants), T020–T039, K000–K009
    buyers = treat[:10] + treat[20:40] + ctrl[:10]
    late = treat[40:60]  # 05-20 is 40 days after launch: outside the 30-day outcome window
    amounts = [100.0 + i for i in range(len(buyers))]
    tx = pd.DataFrame({"order_id": [f"O{i}" for i in range(len(buyers) + len(late) + 1)],
                       "customer_id": buyers + late + ["T000"],
                       "order_date": [pd.Timestamp("2024-04-20")] * len(buyers) + [pd.Timestamp("2024-05-20")] * 20
                       + [pd.Timestamp("2024-04-25")],
                       "amount": amounts + [500.0] * 20 + [-50.0]})  # T000 returns part of its order
    return cr, {"interactions": inter, "transactions": tx}, treat, ctrl, buyers, amounts


def test_uplift_treatment_and_participants_vs_control(plan):
    cr, data, *_ = _uplift_case()
    out = uplift(plan, data, cr).set_index(["metric", "comparison"])
    itt = out.loc[("repurchase", "实验组 vs 对照组")]
    assert (itt["group_buyers"], itt["group_customers"], itt["control_buyers"], itt["control_customers"]) == (
        30, 100, 10, 50)
    assert itt["uplift"] == pytest.approx(10.0)
    assert (itt["ci_low"], itt["ci_high"]) == pytest.approx((-4.2687, 24.2687), abs=1e-3)
    assert not itt["significant"]
    part = out.loc[("repurchase", "参与客户 vs 对照组")]
    # 10/20 vs 10/50: se = sqrt(.25/20 + .16/50) = sqrt(.0157) = .1253; ±1.959964·.1253 = ±.245585
    assert part["group_value"] == pytest.approx(50.0) and part["uplift"] == pytest.approx(30.0)
    assert (part["ci_low"], part["ci_high"]) == pytest.approx((5.4415, 54.5585), abs=1e-3)
    assert part["significant"] and "自选择" in part["note"]


def test_spend_uplift_is_welch_on_net_spend_per_customer(plan):
    from scipy import stats

    cr, data, treat, ctrl, buyers, amounts = _uplift_case()
    spend = dict(zip(buyers, amounts, strict=True))
    spend["T000"] -= 50.0  # the refund counts against its buyer
    a = [spend.get(c, 0.0) for c in treat]  # non-buyers and late buyers spent 0 in the window
    b = [spend.get(c, 0.0) for c in ctrl]
    row = uplift(plan, data, cr).set_index(["metric", "comparison"]).loc[("spend", "实验组 vs 对照组")]
    ref = stats.ttest_ind(a, b, equal_var=False)
    low, high = ref.confidence_interval(0.95)
    assert row["group_value"] == pytest.approx(sum(a) / 100) and row["control_value"] == pytest.approx(sum(b) / 50)
    assert row["uplift"] == pytest.approx(sum(a) / 100 - sum(b) / 50)
    assert (row["ci_low"], row["ci_high"], row["p_value"]) == pytest.approx((low, high, ref.pvalue))
    assert row["unit"] == "元"


def test_uplift_without_transactions_is_no_data(plan):
    cr, data, *_ = _uplift_case()
    out = uplift(plan, {"interactions": data["interactions"]}, cr)
    assert out["uplift"].isna().all() and out["note"].str.startswith("无数据: 缺少交易表").all()


def test_uplift_warns_on_small_samples_and_stays_within_100_points(plan):
    row = uplift(plan, frames(), customers_result()).iloc[0]
    # 1/10 treatment vs 1/2 control buyers in the 30 days 04-10…05-09 from the launch: C04; C11
    # (C01's order of 05-10 is on day 31, outside the window)
    assert (row["group_buyers"], row["control_buyers"]) == (1, 1)
    assert row["ci_low"] == -100.0 and row["note"].startswith("样本过小")


def test_roi_from_the_incremental_spend_against_control_beside_the_gross_figure(plan):
    from planlib.stages.review.analysis import budget_figures, incremental_roi

    cr, data, *_ = _uplift_case()
    values = compute_kpis(plan, data, cr)
    effects = uplift(plan, data, cr)
    spend = effects.set_index(["metric", "comparison"]).loc[("spend", "实验组 vs 对照组")]
    inc = incremental_roi(values, effects)
    cost = values["roi"].parts["cost"]  # the demo plan's actuals: 9,700 元
    # 100 treatment customers × the ITT spend uplift per customer, not the participants' whole spend
    assert inc["revenue"] == pytest.approx(spend["uplift"] * 100)
    assert (inc["revenue_low"], inc["revenue_high"]) == pytest.approx((spend["ci_low"] * 100, spend["ci_high"] * 100))
    assert inc["roi"] == pytest.approx((spend["uplift"] * 100 - cost) / cost * 100)
    assert inc["roi"] < values["roi"].value  # the gross figure counts spending that would have happened anyway
    shown = budget_figures(values, effects)
    assert shown["ROI(毛收入:参与客户归因收入)"] == f"{values['roi'].value:,.1f}%".replace(".0%", "%")
    assert shown["ROI(增量:对比对照组)"].startswith(f"{inc['roi']:,.1f}%(95%置信区间")
    assert "实验组 100 人 × 人均消费提升" in shown["增量收入(对比对照组)"]
    assert incremental_roi(values, None) is None and "ROI(增量:对比对照组)" not in budget_figures(values)


def test_uplift_agrees_with_statsmodels():
    import statsmodels.stats.proportion as sm

    low, high = sm.confint_proportions_2indep(30, 100, 10, 50, method="wald", compare="diff")
    _, ours_low, ours_high = diff_proportions(30, 100, 10, 50)
    assert (ours_low, ours_high) == pytest.approx((low * 100, high * 100))


# ------------------------------------------------------------------ absent columns, breakdowns, flags, actions
def test_absent_complaint_column_is_no_data_not_zero(plan):
    # the loader fills a missing 是否投诉 column with False and records it as absent
    data = frames()
    data["tickets"] = data["tickets"].assign(is_complaint=False)
    values = compute_kpis(plan, data, customers_result(), absent={"tickets": ("is_complaint",)})
    assert values["complaint_rate"].value is None
    assert "服务工单缺少「是否投诉」列" in values["complaint_rate"].explanation
    assert values["response_sla_rate"].value == pytest.approx(50.0)  # the other ticket KPI still works


def test_absent_columns_from_load_notes():
    from types import SimpleNamespace

    from planlib.metrics.measure import absent_columns

    notes = {"tickets": SimpleNamespace(absent=("is_complaint",)), "surveys": SimpleNamespace(absent=())}
    assert absent_columns(notes) == {"tickets": ("is_complaint",)}


def test_kpis_by_tier_and_channel(plan):
    from planlib.metrics.measure import breakdown_wide, kpis_by

    tiers = kpis_by(plan, frames(), customers_result(), "tier").set_index(["group", "kpi"])
    # 中价值客户 C01–C06 are all treatment: C01 C02 C03 took part; 潜力客户 C07–C10 (+ C11 C12 control) none
    assert tiers.loc[("中价值客户", "participation_rate"), "value"] == pytest.approx(50.0)
    assert tiers.loc[("潜力客户", "participation_rate"), "value"] == pytest.approx(0.0)
    assert ("中价值客户", "cost_per_participant") not in tiers.index  # budget is not split by tier
    channels = kpis_by(plan, frames(), customers_result(), "channel").set_index(["group", "kpi"])
    assert channels.loc[("短信", "reach_rate"), "numerator"] == 6
    assert ("短信", "csat") not in channels.index  # surveys are not per channel
    wide = breakdown_wide(kpis_by(plan, frames(), customers_result(), "tier"), "tier")
    assert list(wide.columns) == ["指标", "中价值客户", "潜力客户"]


def test_kpi_table_flags_achieved_but_not_significant(plan, values):
    from planlib.stages.review.analysis import NOT_PROVEN

    cr, data, *_ = _uplift_case()
    effects = uplift(plan, data, cr)  # +10 points [−4.3, +24.3]: not significant
    table = kpi_table(plan, values, effects=effects).set_index("kpi")
    row = table.loc["repurchase_30d"]
    assert row["status"] == "超达成" and row["flag"] == NOT_PROVEN
    assert row["effect_text"] == "+10.0 百分点 [-4.3, +24.3]" and row["effect_significant"] == False  # noqa: E712
    assert row["suggestion"].startswith("已超达成,但与对照组相比复购率提升 +10.0 百分点")
    assert table.loc["csat", "effect_text"] == "" and table.loc["csat", "flag"] == ""  # no control comparison


def test_actions_add_suggestions_for_misses_and_unproven_kpis(plan, values):
    from planlib.stages.review.analysis import actions

    cr, data, *_ = _uplift_case()
    table = kpi_table(plan, values, effects=uplift(plan, data, cr))
    out = actions(plan, table)
    assert out.iloc[0]["origin"] == "plan" and out.iloc[0]["owner"] == "客服专员"
    suggested = out[out["status"] == "suggested"]
    assert set(suggested["kpi"]) == {"repurchase_30d", "csat", "cost_per_participant", "response_sla_rate", "nps"}
    assert (suggested["owner"] == "待指定").all()


def test_biggest_loss_stops_before_the_outcome():
    from planlib.stages.review.funnel import biggest_loss, loss_sentence

    steps = funnel_from_values({
        "reach_rate": KpiValue("reach_rate", None, 90, parts={"treatment": 100}),
        "open_rate": KpiValue("open_rate", None, 40), "engagement_rate": KpiValue("engagement_rate", None, 30),
        "participation_rate": KpiValue("participation_rate", None, 25),
        "repurchase_30d": KpiValue("repurchase_30d", None, 2)})
    assert biggest_loss(steps) == {"step": "打开", "previous": "触达", "lost": 50, "customers": 90,
                                   "rate": pytest.approx(40 / 90 * 100)}
    assert loss_sentence(steps).startswith("流失最多的环节是 触达 → 打开:触达的 90 人中 50 人没有打开")


def test_analyse_bundles_every_result(plan, tmp_path):
    from planlib.stages.review.analysis import analyse

    r = analyse(plan, frames(), customers_result())
    for name, value in (("kpis", r.table), ("review_summary", r.summary), ("kpi_values", r.kpi_values),
                        ("funnel", r.funnel_result()), ("uplift", r.uplift), ("abtests", r.abtests),
                        ("actions", r.actions)):
        results.save(tmp_path, name, value)
    assert set(results.load(tmp_path, "funnel")["by"]) == {"overall", "channel", "tier"}
    assert results.load(tmp_path, "review_summary")["quarter"] == "2024Q2"


def test_tickets_export_without_complaint_column_loads_as_no_data(plan, tmp_path):
    from planlib.data.load import load_source
    from planlib.metrics.measure import absent_columns
    from planlib.plan.schema import DataSource

    (tmp_path / "tickets.csv").write_text(
        "工单编号,客户编号,创建时间,首次响应时间\nT1,C01,2024-04-02 10:00,2024-04-02 10:03\n"
        "T2,C02,2024-04-04 10:00,2024-04-04 10:10\n", encoding="utf-8")
    loaded = load_source("tickets", DataSource(path="tickets.csv"), tmp_path)
    assert not loaded.frame["is_complaint"].any()  # the loader's filler: False for everyone
    data = {**frames(), "tickets": loaded.frame}
    values = compute_kpis(plan, data, customers_result(), absent=absent_columns({"tickets": loaded}))
    assert values["complaint_rate"].value is None and "是否投诉" in values["complaint_rate"].explanation
    assert values["response_sla_rate"].value == pytest.approx(50.0)
