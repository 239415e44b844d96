"""The plan's channel mix against the optimised one: problem building, comparison, summary, journey."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import build_plan, goal

from planlib.plan.schema import Plan
from planlib.stages.channels import mix as channel_mix
from planlib.stages.channels import plan as channels
from planlib.stages.channels import rates


def make_plan(rules=None, plan_rows=None, budget_lines=None, limit=1100.0, optimizer=None, caps=None) -> Plan:
    return build_plan(
        scope={"segment": "沉睡"},
        goals=[goal(metric="participation_rate", segment="沉睡", target=70.0)],
        segmentation={"tiers": [{"name": "高价值", "frequency": ">=5"}, {"name": "普通"}],
                      "segments": [{"name": "沉睡", "recency_days": ">=180"}]},
        channels={
            # sms: reach 100 %, p = 50 % × 20 % = 10 % per contact; phone: reach 50 %, p = 100 % × 40 %
            "catalogue": [
                {"id": "sms", "name": "短信", "cost_per_contact": 0.1, "reach_rate": 100.0, "open_rate": 50.0,
                 "response_rate": 20.0, "journey": ["购买", "复购"]},
                {"id": "phone", "name": "电话回访", "cost_per_contact": 2.0, "reach_rate": 50.0, "open_rate": 100.0,
                 "response_rate": 40.0, "journey": ["兴趣"]},
                {"id": "salon", "name": "沙龙", "cost_per_contact": 10.0, "fixed_cost": 500.0, "reach_rate": 100.0,
                 "open_rate": 100.0, "response_rate": 60.0},
            ],
            "plan": plan_rows if plan_rows is not None else [
                {"audience": "沉睡", "channel": "phone", "contacts_per_customer": 1.0, "content": "电话邀约",
                 "journey": ["兴趣", "推荐"]},
                {"audience": "沉睡", "channel": "sms", "contacts_per_customer": 3.0},
            ],
            "rules": rules if rules is not None else [],
            "contact_caps": caps or {},
            "optimizer": optimizer or {"frequency_levels": [1, 2]},
        },
        budget={"limit": limit, "lines": budget_lines if budget_lines is not None else [
            {"category": "推广费", "detail": "短信与电话", "planned": 500.0},
            {"category": "物料费", "detail": "海报", "planned": 600.0},
        ]},
    )


def customers(clv: bool = False) -> pd.DataFrame:
    # 100 dormant customers: 60 in 普通, 40 in 高价值 (none in control)
    df = pd.DataFrame({
        "customer_id": [f"C{i:03d}" for i in range(120)],
        "recency_days": [200] * 100 + [10] * 20, "frequency": [1] * 60 + [6] * 40 + [6] * 20,
        "monetary": 100.0, "tier": ["普通"] * 60 + ["高价值"] * 60, "in_scope": [True] * 100 + [False] * 20,
        "control": False,
    })
    if clv:
        df["clv"] = [1000.0] * 60 + [4000.0] * 60
    return df


def setup(plan: Plan, clv: bool = False):
    cr = customers(clv)
    comp = channels.audience_tiers(cr, plan)
    effect = rates.estimate_rates(plan, cr, None, composition=comp)
    sizes = {a: sum(t.values()) for a, t in comp.items()}
    manual = channels.channel_plan_table(plan, sizes, effect)
    return cr, comp, effect, manual


def test_channel_budget_is_limit_minus_other_lines_unless_set():
    assert channel_mix.channel_budget(make_plan()) == 500.0  # 1,100 − 600 of 物料费
    assert channel_mix.channel_budget(make_plan(optimizer={"budget": 250.0})) == 250.0
    assert channel_mix.channel_budget(make_plan(limit=500.0, budget_lines=[
        {"category": "物料费", "detail": "海报", "planned": 600.0}])) == 0.0  # never negative


def test_problem_follows_rules_levels_and_caps():
    plan = make_plan(rules=[{"audience": "沉睡", "allowed": ["sms", "phone"], "preferred": ["phone"],
                             "min_coverage": 80.0, "max_contacts": 4.0}], caps={"高价值": 50.0})
    cr, comp, effect, _ = setup(plan)
    p = channel_mix.mix_problem(plan, effect, {"沉睡": 100}, comp, channels.tier_sizes(cr))
    levels = sorted({(o.channel, o.contacts) for o in p.options})
    assert ("sms", 3.0) in levels and ("sms", 1.0) in levels and ("sms", 2.0) in levels  # manual k=3 joins 1, 2
    assert {o.channel for o in p.options if not o.allowed} == {"salon"}
    assert {o.channel for o in p.options if o.preferred} == {"phone"}
    assert p.min_coverage == {"沉睡": 0.8} and p.max_contacts == {"沉睡": 4.0}
    # the cap counts the segment's 40 high-value members of 100; the tier has 60 customers → 30 allowed
    assert p.caps == {"高价值": (30.0, {"沉睡": 0.4})}
    sms1 = next(o for o in p.options if o.channel == "sms" and o.contacts == 1)
    assert (sms1.responses, sms1.cost) == (pytest.approx(0.1), pytest.approx(0.1))
    sms3 = next(o for o in p.options if o.channel == "sms" and o.contacts == 3)
    assert sms3.responses == pytest.approx(1 - 0.9 ** 3)  # the plan table's "at least once" model


def test_optimised_mix_beats_a_feasible_manual_mix_under_the_same_rates():
    plan = make_plan(optimizer={"frequency_levels": [1, 2], "extra_budget": 1000.0})
    cr, comp, effect, manual = setup(plan)
    result, summary = channel_mix.run(plan, effect, cr, manual, comp)
    assert result.ok and summary["status"] == "optimal" and summary["objective"] == "responses"
    # manual: phone 100 × 0.2 = 20, sms 100 × 0.271 = 27.1 → 47.1 for 200 + 30 = 230 元
    assert summary["manual"]["responses"] == pytest.approx(20 + 27.1)
    assert summary["manual"]["cost"] == pytest.approx(230)
    assert summary["manual_violations"] == []
    # the most each customer can get without the salon (its 500 元 fixed cost would eat the budget):
    # sms 3 times (0.3 元, 0.271) and phone twice (4 元, 0.5 × (1 − 0.6²) = 0.32) → 59.1 for 430 元;
    # the budget does not bind, the audience's size does
    assert summary["optimised"]["responses"] == pytest.approx(27.1 + 32)
    assert summary["optimised"]["cost"] == pytest.approx(430)
    assert summary["gain"] == pytest.approx(59.1 - 47.1)
    assert summary["binding"] == ["沉睡 人数(可触达客户)"]
    # 1,000 元 more opens the salon: 1,500 − 430 − 500 fixed = 570 元 → 57 customers × 0.6 = 34.2
    assert summary["extra_budget"]["gain"] == pytest.approx(34.2)
    assert summary["extra_budget"]["spent_on"] == ["沉睡·沙龙 +1,070 元"]
    lines = channel_mix.findings(summary)
    assert lines[0].startswith("优化组合预计响应约") and any("再增加 1,000 元" in x for x in lines)
    table = channel_mix.comparison(manual, result.mix)
    assert set(table["channel_name"]) >= {"短信", "电话回访"}
    shown = channel_mix.comparison_display(table)
    assert "audience" not in shown.columns and shown.set_index("channel_name").loc["短信", "manual_plan"] == "100人×3次"


def test_value_objective_weights_responses_by_clv_share():
    plan = make_plan(optimizer={"frequency_levels": [1, 2], "value_share": 10.0})
    cr, comp, effect, manual = setup(plan, clv=True)
    assert channel_mix.objective(plan, cr) == "value"
    assert channel_mix.objective(plan, customers(False)) == "responses"
    assert channel_mix.objective(make_plan(optimizer={"objective": "responses"}), cr) == "responses"
    weights = channel_mix.audience_weights(plan, cr, "value")
    assert weights == {"沉睡": pytest.approx((60 * 1000 + 40 * 4000) / 100 * 0.10)}
    _, summary = channel_mix.run(plan, effect, cr, manual, comp)
    assert summary["objective"] == "value" and summary["value_share"] == 10.0
    assert summary["manual"]["value"] == pytest.approx(summary["manual"]["responses"] * weights["沉睡"])
    assert "CLV 的 10% 计" in channel_mix.findings(summary)[0]


def test_manual_violations_name_each_broken_rule():
    plan = make_plan(rules=[{"audience": "沉睡", "allowed": ["sms"], "min_coverage": 90.0, "max_contacts": 2.0}],
                     plan_rows=[{"audience": "沉睡", "channel": "phone", "contacts_per_customer": 1.0, "coverage": 50.0},
                                {"audience": "沉睡", "channel": "sms", "contacts_per_customer": 3.0, "coverage": 50.0}])
    cr, comp, effect, manual = setup(plan)
    p = channel_mix.mix_problem(plan, effect, {"沉睡": 100}, comp, channels.tier_sizes(cr))
    found = channel_mix.manual_violations(p, manual)
    assert any("不在可用渠道中的 电话回访" in f for f in found)
    assert any("只覆盖 50.0%,低于最低覆盖 90%" in f for f in found)
    assert any("每位客户最多触达 4 次,超过上限 2 次" in f for f in found)  # 1 by phone + 3 by SMS


def test_infeasible_plan_explains_itself_through_run():
    plan = make_plan(rules=[{"audience": "沉睡", "allowed": ["salon"], "min_coverage": 100.0}])
    cr, comp, effect, manual = setup(plan)
    result, summary = channel_mix.run(plan, effect, cr, manual, comp)
    assert not result.ok and summary["status"] == "infeasible"
    text = "\n".join(summary["infeasible"])
    assert "至少需要 1,500 元" in text  # 500 fixed + 100 × 10
    assert "只允许使用 沙龙" in text
    assert channel_mix.findings(summary) == []


def test_rules_table_lists_goals_and_limits():
    plan = make_plan(rules=[{"audience": "沉睡", "allowed": ["sms"], "min_coverage": 90.0}], caps={"高价值": 70.0})
    table = channel_mix.rules_table(plan).set_index("audience")
    assert table.loc["沉睡", "goals"] == "G1" and table.loc["沉睡", "allowed"] == "短信"
    assert table.loc["沉睡", "min_coverage"] == 90.0 and pd.isna(table.loc["沉睡", "max_contacts"])


def test_plan_table_uses_estimated_rates_and_says_where_they_come_from():
    plan = make_plan()
    cr, comp, effect, _ = setup(plan)
    effect.loc[effect["channel"] == "phone", ["open_rate", "open_source", "open_n"]] = [50.0, rates.SOURCE_AUDIENCE, 321]
    table = channels.channel_plan_table(plan, {"沉睡": 100}, effect).set_index("channel")
    assert table.loc["phone", "expected_responses"] == pytest.approx(100 * 0.5 * 0.5 * 0.4)
    assert table.loc["phone", "rate_source"] == "打开率 数据·对象(n=321);其余 计划"
    assert table.loc["sms", "rate_source"] == "计划"


def test_journey_touchpoints_prefer_the_rows_own_stages():
    plan = make_plan(plan_rows=[
        {"audience": "沉睡", "channel": "phone", "contacts_per_customer": 1.0, "journey": ["兴趣", "推荐"]},
        {"audience": "沉睡", "channel": "sms", "contacts_per_customer": 3.0},
        {"audience": "沉睡", "channel": "salon", "contacts_per_customer": 1.0, "coverage": 10.0},
    ])
    table = channels.channel_plan_table(plan, {"沉睡": 100})
    tp = channels.journey_touchpoints(plan, table)
    stages = tp.groupby("channel")["stage"].apply(list).to_dict()
    assert stages == {"phone": ["兴趣", "推荐"], "sms": ["购买", "复购"], "salon": ["未标注"]}
    assert tp.loc[tp["channel"] == "salon", "customers_contacted"].item() == 10


def test_plan_checks_catch_rules_that_name_unknown_things():
    from planlib.plan.checks import check_plan

    plan = make_plan(rules=[{"audience": "沉睡", "allowed": ["sns"], "preferred": ["phone"]},
                            {"audience": "沉睡"}, {"audience": "无名", "preferred": ["smss"]}])
    plan.channels.catalogue[0].tier_rates = {"高价值": {"open_rate": 60.0}, "VIP": {"open_rate": 70.0}}
    found = {where: (message, hint) for where, message, hint in check_plan(plan)}
    assert found["channels.rules[0].allowed[0]"][0] == "渠道 sns 不在渠道目录中"
    assert "是不是 sms?" in found["channels.rules[0].allowed[0]"][1]
    assert "重复" in found["channels.rules[1]"][0]
    assert "既不是层级也不是目标客群" in found["channels.rules[2].audience"][0]
    assert "channels.rules[2].preferred[0]" in found
    assert "VIP 不是层级名称" in found["channels.catalogue[0].tier_rates.VIP"][0]
    assert not any("高价值" in where for where in found)
