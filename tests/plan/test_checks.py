"""Cross-field checks on schema-valid plans, built by editing the small valid fixture."""

from __future__ import annotations

import copy
from datetime import date

import pytest
from conftest import FIXTURES

from planlib.plan.checks import check_plan
from planlib.plan.planfile import load_plan
from planlib.plan.schema import Plan
from planlib.plan.yamlread import parse_path

BASE = load_plan(FIXTURES / "plans" / "valid_base.yaml").data

TASK = {"phase": "前期准备", "name": "任务", "owner": "市场部", "start": date(2024, 4, 1), "end": date(2024, 4, 5)}


def plan_with(changes: dict) -> Plan:
    """The valid fixture plan with ``{"key.path[0]": value}`` changes applied."""
    data = copy.deepcopy(BASE)
    for where, value in changes.items():
        *parents, last = parse_path(where)
        target = data
        for seg in parents:
            target = target[seg]
        if isinstance(target, list) and last == len(target):
            target.append(value)
        else:
            target[last] = value
    return Plan.model_validate(data)


def only(changes: dict) -> tuple[str, str, str]:
    found = check_plan(plan_with(changes))
    assert len(found) == 1, found
    return found[0]


def test_valid_plans_have_no_problems(demo_plan_path):
    assert check_plan(plan_with({})) == []
    assert check_plan(load_plan(demo_plan_path).plan) == []


@pytest.mark.parametrize(
    ("changes", "where", "message"),
    [
        ({"meta.period.end": date(2024, 3, 1)}, "meta.period.end", "早于开始日期 2024-04-01"),
        ({"meta.phases[0].end": date(2024, 7, 1)}, "meta.phases[0].end", "不在计划周期 2024-04-01 至 2024-06-30 内"),
        ({"meta.phases[0].start": date(2024, 3, 31)}, "meta.phases[0].start", "不在计划周期"),
        ({"tasks[1].end": date(2024, 4, 5)}, "tasks[1].end", "任务 T2 的结束日期 2024-04-05 早于开始日期 2024-04-06"),
        ({"goals[0].deadline": date(2024, 7, 31)}, "goals[0].deadline", "目标 G1 的截止日期 2024-07-31 不在计划周期"),
    ],
)
def test_dates(changes, where, message):
    found = only(changes)
    assert found[0] == where and message in found[1] and found[2]


def test_a_reversed_period_is_reported_alone():
    found = only({"meta.period.start": date(2024, 7, 1)})
    assert found[0] == "meta.period.end" and found[2] == "检查 start 和 end 是否写反"


def test_task_phase_must_be_a_work_phase():
    where, message, hint = only({"tasks[1].phase": "中期执性"})
    assert where == "tasks[1].phase" and "中期执性" in message
    assert hint.startswith("是不是 中期执行?") and "meta.work_phases" in hint


@pytest.mark.parametrize(
    ("changes", "where", "message"),
    [
        ({"tasks[1].id": "T1", "tasks[1].depends_on": []}, "tasks[1]", "任务编号 T1 重复(与 tasks[0] 相同)"),
        ({"goals[1]": {**BASE["goals"][0]}}, "goals[1]", "目标编号 G1 重复"),
        ({"channels.catalogue[1]": {**BASE["channels"]["catalogue"][0]}}, "channels.catalogue[1]", "渠道代码 sms 重复"),
        ({"kpis[1]": {"kpi": "repurchase_30d", "target": 15}}, "kpis[1]", "指标 repurchase_30d 重复"),
        ({"segmentation.tiers[1]": {"name": "高价值客户"}}, "segmentation.tiers[1]", "层级名称 高价值客户 重复"),
    ],
)
def test_duplicates(changes, where, message):
    found = only(changes)
    assert found[0] == where and message in found[1] and found[2]


def test_depends_on_unknown_task_suggests_a_close_one():
    found = only({"tasks[1].depends_on": ["t1"]})
    assert found[0] == "tasks[1].depends_on[0]" and "前置任务 t1 不存在" in found[1]
    assert found[2].startswith("是不是 T1?")


def test_task_depending_on_itself():
    assert only({"tasks[1].depends_on": ["T2"]})[:2] == ("tasks[1].depends_on[0]", "任务 T2 依赖它自己")


def test_dependency_cycles_are_named():
    tasks = [{**TASK, "id": "T1", "depends_on": ["T3"]}, {**TASK, "id": "T2", "depends_on": ["T1"]},
             {**TASK, "id": "T3", "depends_on": ["T2"]}, {**TASK, "id": "T4", "depends_on": ["T3"]}]
    where, message, hint = only({"tasks": tasks})
    assert where == "tasks[0].depends_on"
    assert message.endswith("T1 → T3 → T2 → T1")
    assert hint


def test_segments_may_name_a_segment_or_any_tier():
    assert check_plan(plan_with({"goals[0].segment": "高价值客户", "scope.segment": "一般客户"})) == []


@pytest.mark.parametrize(
    ("changes", "where", "hint"),
    [
        ({"scope.segment": "沉睡的客户"}, "scope.segment", "是不是 沉睡客户?"),
        ({"goals[0].segment": "沉睡客戶"}, "goals[0].segment", "是不是 沉睡客户?"),
        ({"segmentation.segments[0].tiers": ["高价值"]}, "segmentation.segments[0].tiers[0]", "是不是 高价值客户?"),
        ({"channels.plan[0].channel": "sns"}, "channels.plan[0].channel", "是不是 sms?"),
        ({"channels.plan[0].audience": "沉睡"}, "channels.plan[0].audience", "可选: 高价值客户、一般客户、沉睡客户"),
        ({"channels.contact_caps": {"高价值": 70}}, "channels.contact_caps.高价值", "是不是 高价值客户?"),
        ({"budget.lines[0].channel": "sns"}, "budget.lines[0].channel", "是不是 sms?"),
    ],
)
def test_names_must_exist(changes, where, hint):
    found = only(changes)
    assert found[0] == where and hint in found[2]


def test_goal_unit_must_match_the_kpi_catalogue():
    where, message, hint = only({"goals[0].metric": "csat", "goals[0].target": 4.5, "goals[0].unit": "%"})
    assert where == "goals[0].unit" and "'%'" in message and "'分'" in message
    assert hint == "改成 unit: '分'"
    # no unit written means the catalogue's unit
    assert check_plan(plan_with({"goals[0].metric": "csat", "goals[0].target": 4.5, "goals[0].unit": None})) == []
    # NPS has no unit in the catalogue, so any unit is accepted
    assert check_plan(plan_with({"goals[0].metric": "nps", "goals[0].unit": "分"})) == []


def test_budget_lines_must_fit_the_limit():
    lines = [{"category": "推广费", "planned": 700, "channel": "sms"}, {"category": "礼品费", "planned": 500.5}]
    where, message, hint = only({"budget.lines": lines})
    assert where == "budget.lines"
    assert message == "预算明细合计 1,200.50 元,超过预算上限 1,000 元"
    assert "200.50" in hint and "budget.limit" in hint
    assert check_plan(plan_with({"budget.lines[0].planned": 1000})) == []


def test_a_goal_and_its_kpi_row_must_agree_on_the_target():
    data = copy.deepcopy(BASE)
    metric = data["goals"][0]["metric"]
    data["scope"]["segment"] = data["goals"][0]["segment"]
    data["kpis"] = [{"kpi": metric, "target": data["goals"][0]["target"] + 3}]
    found = check_plan(Plan.model_validate(data))
    assert [where for where, message, _hint in found if "不一致" in message] == ["goals[0].target"]
    data["kpis"][0]["target"] = data["goals"][0]["target"]
    assert not [f for f in check_plan(Plan.model_validate(data)) if "不一致" in f[1]]
