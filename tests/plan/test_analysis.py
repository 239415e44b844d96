"""Analysis-level checks (planlib/plan/analysis.py): what stages 03 and 04 used to find only after a run."""

from __future__ import annotations

from datetime import date

import pandas as pd
from conftest import demo_plan

from planlib.plan.analysis import (
    AudienceData,
    budget_lines_vs_cost,
    channel_costs,
    check_with_data,
    contact_caps,
    contacts_per_customer,
    dependency_order,
)
from planlib.plan.planfile import check_data
from planlib.stages.channels.plan import channel_plan_table, channel_summary

SEGMENT = "沉睡中价值客户"
SIZES = AudienceData(sizes={SEGMENT: 341}, composition={SEGMENT: {"中价值客户": 300, "流失风险客户": 41}},
                     tier_sizes={"中价值客户": 1000, "流失风险客户": 500, "高价值客户": 200})


def _tasks_with(i: int, **fields) -> list[dict]:
    tasks = [t.model_dump(exclude_defaults=True) for t in demo_plan().tasks]
    tasks[i].update(fields)
    return tasks


def test_the_demo_plan_passes_every_analysis_check():
    plan = demo_plan()
    assert dependency_order(plan) == [] and contacts_per_customer(plan) == []
    assert check_with_data(plan, SIZES) == []


def test_a_task_starting_before_its_dependency_ends_is_named_at_its_start():
    # T5 depends on T4, which ends 2024-04-30
    plan = demo_plan(tasks=_tasks_with(4, start=date(2024, 4, 28)))
    [(where, message, hint)] = dependency_order(plan)
    assert where == "tasks[4].start"
    assert message == "任务 T5 于 2024-04-28 开始,但前置任务 T4 到 2024-04-30 才结束"
    assert "2024-05-01" in hint
    # the day after is fine (finish-to-start)
    assert dependency_order(demo_plan(tasks=_tasks_with(4, start=date(2024, 5, 1)))) == []


def test_contacts_per_customer_of_an_audience_add_up_against_its_rule():
    plan = demo_plan()
    rows = [r.model_dump() for r in plan.channels.plan]
    rows[0]["contacts_per_customer"] = 12  # 12 + 1 + 4 = 17 > max_contacts 16
    [(where, message, _hint)] = contacts_per_customer(demo_plan(channels={"plan": rows}))
    assert where == "channels.plan[2].contacts_per_customer"
    assert "17 次" in message and "上限 16 次" in message


def test_channel_costs_are_the_stage_03_table_costs():
    plan = demo_plan()
    table = channel_plan_table(plan, SIZES.sizes)
    expected = table.groupby("channel")["cost"].sum().to_dict()
    got = channel_costs(plan, SIZES.sizes)
    assert got.keys() == expected.keys()
    assert all(abs(got[k] - expected[k]) < 1e-9 for k in got)


def test_a_channel_over_its_own_budget_line_and_over_all_promotion_lines():
    plan = demo_plan()
    # wecom: 341 × 8 × 0.5 = 1,364 ≤ its line 2,000; at 2,400 it is over
    found = budget_lines_vs_cost(plan, {"wecom": 2400.0, "phone": 100.0})
    assert [w for w, _m, _h in found] == ["channels.plan[0].contacts_per_customer"] * 2
    assert "企业微信/社群的渠道成本约 2,400 元,超出对应的预算明细 2,000 元" in found[0][1]
    assert "超出推广费预算 2,000 元" in found[1][1]
    assert budget_lines_vs_cost(plan, {"wecom": 2000.5}) == []  # within a yuan of rounding


def test_stage_03_warns_with_the_same_comparison():
    plan = demo_plan()
    table = pd.DataFrame({"channel": ["wecom"], "cost": [2400.0], "audience": [SEGMENT], "audience_size": [400],
                          "coverage": [100.0], "contacts": [3200.0], "fixed_cost": [0.0], "expected_responses": [10.0]})
    warnings = channel_summary(plan, table, SIZES.tier_sizes, SIZES.composition)["warnings"]
    assert any("超出对应的预算明细 2,000 元" in w for w in warnings)


def test_contact_caps_use_the_audience_composition():
    plan = demo_plan(channels={"contact_caps": {"中价值客户": 20}})
    [(where, message, _hint)] = contact_caps(plan, SIZES)  # 300 of 1,000 contacted = 30 % > 20 %
    assert where == "channels.contact_caps.中价值客户" and "30.0%" in message


def test_stage_03_caps_and_the_check_are_one_formula():
    """Stage 03's caps table and the form/validate check come from cap_shares: same shares, same verdict."""
    plan = demo_plan(channels={"contact_caps": {"中价值客户": 20, "流失风险客户": 90}})
    table = channel_plan_table(plan, SIZES.sizes)
    caps = {c["tier"]: c for c in channel_summary(plan, table, SIZES.tier_sizes, SIZES.composition)["caps"]}
    flagged = {where.rsplit(".", 1)[1] for where, _m, _h in contact_caps(plan, SIZES)}
    assert flagged == {tier for tier, c in caps.items() if not c["ok"]} == {"中价值客户"}
    assert caps["中价值客户"]["share"] == 30.0 and caps["流失风险客户"]["share"] == 41 / 500 * 100


def test_check_data_runs_the_data_checks_or_says_why_not():
    data = demo_plan().model_dump(exclude_defaults=True)
    data["channels"]["plan"][0]["contacts_per_customer"] = 12
    notes: list[str] = []
    _plan, found = check_data(data, lambda _p: SIZES, notes)
    assert ("channels", "plan", 0, "contacts_per_customer") in [p for p, _m, _h in found] and notes == []
    _plan, found = check_data(data, lambda _p: "渠道成本未核对:读取客户数据失败(x)", notes)
    assert not any("预算明细" in m for _p, m, _h in found)
    assert notes == ["渠道成本未核对:读取客户数据失败(x)"]
