"""Stage 03 logic: channel cost arithmetic, expected responses, budget fit and contact caps."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import build_plan, demo_plan, goal

from planlib.data.results import SPECS
from planlib.errors import PlanError
from planlib.plan.schema import Plan
from planlib.stages.channels import plan as channels


def make_plan(plan_rows=None, caps=None, lines=None, limit=10000.0) -> Plan:
    rows = plan_rows if plan_rows is not None else [
        {"audience": "高价值", "channel": "offline", "contacts_per_customer": 1.0, "coverage": 50.0},
        {"audience": "潜力", "channel": "offline", "contacts_per_customer": 2.0},
        {"audience": "潜力", "channel": "sms", "contacts_per_customer": 4.0},
    ]
    return build_plan(
        scope={"segment": "潜力"},
        goals=[goal(metric="participation_rate", segment="潜力", target=70.0)],
        segmentation={
            "tiers": [{"name": "高价值", "frequency": ">=5", "goal": "深度绑定", "strategy": "每月关怀"},
                      {"name": "潜力", "frequency": ">=2"}],
            "segments": [{"name": "混合", "frequency": ">=1", "description": "买过的客户"}],
        },
        channels={
            "catalogue": [
                {"id": "sms", "name": "短信", "cost_per_contact": 0.1, "reach_rate": 80.0, "open_rate": 50.0,
                 "response_rate": 10.0},
                {"id": "offline", "name": "线下沙龙", "cost_per_contact": 10.0, "fixed_cost": 1000.0,
                 "reach_rate": 100.0, "open_rate": 100.0, "response_rate": 50.0},
            ],
            "plan": rows,
            "contact_caps": caps if caps is not None else {"高价值": 40.0},
        },
        budget={"limit": limit, "lines": lines if lines is not None else [
            {"category": "推广费", "detail": "短信", "planned": 100.0, "channel": "sms"},
            {"category": "推广费", "detail": "沙龙场地", "planned": 5000.0},
            {"category": "物料费", "detail": "海报", "planned": 1000.0},
        ]},
    )


SIZES = {"高价值": 100, "潜力": 200}


def test_channel_plan_arithmetic_counts_fixed_cost_once():
    t = channels.channel_plan_table(make_plan(), SIZES)
    assert set(SPECS["channel_plan"].columns) <= set(t.columns)
    assert t["customers_contacted"].tolist() == [50, 200, 200]
    assert t["contacts"].tolist() == [50, 400, 800]
    assert t["fixed_cost"].tolist() == [1000, 0, 0]  # offline's fixed cost booked on its first row only
    assert t["cost"].tolist() == pytest.approx([50 * 10 + 1000, 400 * 10, 800 * 0.1])
    assert t["expected_reached"].tolist() == pytest.approx([50, 200, 160])
    # at least one response over n contacts: reached × (1 − (1 − open × response) ** n)
    assert t["expected_responses"].tolist() == pytest.approx([25, 200 * 0.75, 160 * (1 - 0.95**4)])
    assert t.loc[0, "channel_name"] == "线下沙龙"


def test_summary_budget_fit_and_promotion_lines():
    plan = make_plan()
    t = channels.channel_plan_table(plan, SIZES)
    s = channels.channel_summary(plan, t, {"高价值": 100, "潜力": 200})
    assert s["channel_cost"] == pytest.approx(5580)
    assert s["fixed_cost"] == 1000
    assert s["promotion_budget"] == 5100  # the channel line plus the un-earmarked 推广费
    assert s["other_planned"] == 1000
    assert s["fits_budget"] is True  # 5580 + 1000 ≤ 10000
    assert s["within_promotion_budget"] is False
    assert any("超出推广费预算" in w for w in s["warnings"])
    sms = next(c for c in s["by_channel"] if c["channel"] == "sms")
    assert (sms["cost"], sms["budget"]) == (pytest.approx(80), 100)
    potential = next(a for a in s["audiences"] if a["audience"] == "潜力")
    p = 1 - (1 - 150 / 200) * (1 - 160 * (1 - 0.95**4) / 200)
    assert potential["expected_participation"] == pytest.approx(p * 100)
    assert s["expected_responses"] == pytest.approx(t["expected_responses"].sum())


def test_summary_flags_budget_overrun():
    plan = make_plan(limit=6000.0)
    s = channels.channel_summary(plan, channels.channel_plan_table(plan, SIZES), SIZES)
    assert s["fits_budget"] is False
    assert any("超出预算上限" in w for w in s["warnings"])


def test_contact_cap_violation():
    plan = make_plan()
    s = channels.channel_summary(plan, channels.channel_plan_table(plan, SIZES), SIZES)
    cap = s["caps"][0]
    assert (cap["tier"], cap["contacted"], cap["share"], cap["ok"]) == ("高价值", 50, 50, False)
    assert s["caps_ok"] is False
    assert any("高价值" in w and "40%" in w for w in s["warnings"])


def test_contact_cap_counts_segments_through_their_tier_composition():
    rows = [{"audience": "混合", "channel": "sms", "contacts_per_customer": 1.0, "coverage": 100.0},
            {"audience": "混合", "channel": "offline", "contacts_per_customer": 1.0, "coverage": 60.0}]
    plan = make_plan(plan_rows=rows, caps={"高价值": 35.0})
    t = channels.channel_plan_table(plan, {"混合": 100})
    s = channels.channel_summary(plan, t, {"高价值": 100, "潜力": 200}, {"混合": {"高价值": 30, "潜力": 70}})
    # rows of one audience contact nested groups: the largest coverage (100 %) of its 30 high-value
    assert s["caps"][0]["contacted"] == 30 and s["caps"][0]["ok"]
    s = channels.channel_summary(plan, t, {"高价值": 100})
    assert any("无法核对" in w for w in s["warnings"])


def test_unknown_channel_or_audience_is_a_user_error():
    plan = make_plan(plan_rows=[{"audience": "高价值", "channel": "fax", "contacts_per_customer": 1.0}])
    with pytest.raises(PlanError, match="fax"):
        channels.channel_plan_table(plan, SIZES)
    with pytest.raises(PlanError, match="没有客户数"):
        channels.channel_plan_table(make_plan(), {"高价值": 10})


def test_audience_sizes_exclude_the_control_group():
    customers = pd.DataFrame({
        "customer_id": ["A", "B", "C", "D"], "tier": ["高价值", "潜力", "潜力", "一般客户"],
        "recency_days": [1.0, 2.0, 3.0, 4.0], "frequency": [6, 3, 2, 1], "monetary": [1.0, 1.0, 1.0, 1.0],
        "control": [False, True, False, False],
    })
    plan = make_plan(plan_rows=[{"audience": "混合", "channel": "sms", "contacts_per_customer": 1.0},
                                {"audience": "潜力", "channel": "sms", "contacts_per_customer": 1.0}])
    assert channels.audience_sizes(customers, plan) == {"混合": 3, "潜力": 1}
    assert channels.audience_tiers(customers, plan)["混合"] == {"高价值": 1, "潜力": 1, "一般客户": 1}
    assert channels.tier_sizes(customers) == {"潜力": 2, "高价值": 1, "一般客户": 1}


def test_per_tier_channels_shows_every_tier_and_gaps():
    view = channels.per_tier_channels(make_plan()).set_index("audience")
    assert list(view.index) == ["高价值", "潜力", "一般客户"]
    assert view.loc["潜力", "channels"] == "线下沙龙、短信"
    assert view.loc["潜力", "contacts_per_customer"] == 6
    assert view.loc["高价值", "goal"] == "深度绑定"
    assert not view.loc["一般客户", "planned"]


def test_demo_plan_channel_cost_reconciles_with_its_promotion_line():
    plan = demo_plan()
    t = channels.channel_plan_table(plan, {"沉睡中价值客户": 320})
    # per customer: 企业微信 8 × 0.5 + 电话 1 × 1.5 + 短信 4 × 0.05 = 5.7 元
    assert t["cost"].sum() == pytest.approx(320 * 5.7)
    s = channels.channel_summary(plan, t, {"中价值客户": 2000, "高价值客户": 500},
                                 {"沉睡中价值客户": {"中价值客户": 320}})
    assert s["promotion_budget"] == 2000
    assert s["caps_ok"] and s["caps"][0]["contacted"] == 0
    assert s["fits_budget"] is True  # 1824 + 8000 other lines <= 10000
    # a larger audience no longer fits: 400 × 5.7 = 2280 + 8000 > 10000
    big = channels.channel_plan_table(plan, {"沉睡中价值客户": 400})
    s = channels.channel_summary(plan, big, {"中价值客户": 2000}, {"沉睡中价值客户": {"中价值客户": 400}})
    assert s["fits_budget"] is False and s["warnings"]
