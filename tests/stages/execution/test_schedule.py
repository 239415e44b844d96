"""Stage 04 logic: task checks, cycles, critical path, owner workload and the budget table."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest
from conftest import ROOT, build_plan, demo_plan

from planlib.data.results import SPECS
from planlib.plan.planfile import load_plan
from planlib.plan.schema import Plan
from planlib.stages.execution import budget, schedule


def task(id, start, end, deps=(), owner="甲", phase="前期准备", done_on=None):
    out = {"id": id, "phase": phase, "name": f"任务{id}", "owner": owner,
           "start": date.fromisoformat(start), "end": date.fromisoformat(end), "depends_on": list(deps)}
    if done_on:
        out["done_on"] = date.fromisoformat(done_on)
    return out


def make_plan(tasks, lines=(), limit=10000.0, phases=(), work_phases=None, **sections) -> Plan:
    meta = {"phases": list(phases), **({"work_phases": work_phases} if work_phases else {})}
    return build_plan(**sections, meta=meta, tasks=tasks, budget={"limit": limit, "lines": list(lines)})


DIAMOND = [
    task("A", "2024-04-01", "2024-04-02"),
    task("B", "2024-04-03", "2024-04-06", ["A"]),
    task("C", "2024-04-03", "2024-04-04", ["A"]),
    task("D", "2024-04-07", "2024-04-08", ["B", "C"]),
]


def kinds(plan):
    return {(c["task_id"], c["kind"]) for c in schedule.schedule_checks(plan)}


# ---------------------------------------------------------------------------------- tasks
def test_tasks_table_columns_durations_and_dependencies():
    t = schedule.tasks_table(make_plan(DIAMOND))
    assert set(SPECS["tasks"].columns) <= set(t.columns)
    assert t["duration_days"].tolist() == [2, 4, 2, 2]  # both ends inclusive
    assert t["depends_on"].tolist() == ["", "A", "A", "B,C"]
    assert t["issues"].tolist() == ["", "", "", ""]
    assert t["start"].iloc[0] == pd.Timestamp("2024-04-01")


def test_checks_report_each_scheduling_problem():
    plan = make_plan([
        task("A", "2024-04-01", "2024-04-05"),
        task("B", "2024-04-05", "2024-04-08", ["A"]),  # starts on the day A ends
        task("C", "2024-04-10", "2024-04-09", ["X"]),  # ends before it starts, unknown dependency
        task("D", "2024-06-25", "2024-07-03", phase="别的阶段"),  # past the period, unknown phase
    ])
    assert kinds(plan) == {("B", "starts_before_dependency"), ("C", "end_before_start"),
                           ("C", "unknown_dependency"), ("D", "outside_period"), ("D", "unknown_phase")}
    table = schedule.tasks_table(plan).set_index("task_id")
    assert "2024-04-06" in table.loc["B", "issues"]  # says when it could start
    assert table.loc["A", "issues"] == ""
    assert "X" in table.loc["C", "issues"] and "早于" in table.loc["C", "issues"]


def test_dependency_cycle_is_detected_with_its_path():
    plan = make_plan([
        task("T1", "2024-04-01", "2024-04-02", ["T3"]),
        task("T2", "2024-04-03", "2024-04-04", ["T1"]),
        task("T3", "2024-04-05", "2024-04-06", ["T2"]),
        task("T4", "2024-04-07", "2024-04-08", ["T3"]),  # downstream of the cycle, not in it
        task("T5", "2024-04-09", "2024-04-10", ["T5"]),  # depends on itself
    ])
    cycles = [c for c in schedule.schedule_checks(plan) if c["kind"] == "cycle"]
    assert [c["task_id"] for c in cycles] == ["T1", "T2", "T3", "T5"]
    assert "T1 → T2 → T3 → T1" in cycles[0]["message"]
    assert "T5 → T5" in cycles[3]["message"]
    path, slack = schedule.critical_path(plan)  # still computes, ignoring the cycle's edges
    assert len(slack) == 5


def test_duplicate_task_ids_are_reported():
    plan = make_plan([task("A", "2024-04-01", "2024-04-02"), task("A", "2024-04-03", "2024-04-04")])
    assert ("A", "duplicate_id") in kinds(plan)


# ---------------------------------------------------------------------------------- CPM
def test_critical_path_on_a_diamond():
    path, cpm = schedule.critical_path(make_plan(DIAMOND))
    assert path == ["A", "B", "D"]
    slack = dict(zip(cpm["task_id"], cpm["slack_days"], strict=True))
    assert slack == {"A": 0, "B": 0, "C": 2, "D": 0}
    c = cpm.set_index("task_id").loc["C"]
    assert (c["latest_start"], c["latest_finish"]) == (pd.Timestamp("2024-04-05"), pd.Timestamp("2024-04-06"))


def test_planned_gap_becomes_slack_upstream():
    tasks = [*DIAMOND[:3], task("D", "2024-04-10", "2024-04-11", ["B", "C"])]
    path, cpm = schedule.critical_path(make_plan(tasks))
    assert path == ["D"]
    assert dict(zip(cpm["task_id"], cpm["slack_days"], strict=True)) == {"A": 3, "B": 3, "C": 5, "D": 0}


def test_task_planned_before_its_dependency_ends_is_delayed_and_critical():
    tasks = [task("A", "2024-04-01", "2024-04-05"), task("B", "2024-04-03", "2024-04-04", ["A"])]
    path, cpm = schedule.critical_path(make_plan(tasks))
    b = cpm.set_index("task_id").loc["B"]
    assert b["earliest_start"] == pd.Timestamp("2024-04-06")
    assert (b["delay_days"], b["slack_days"]) == (3, 0)
    assert path == ["A", "B"]


def test_demo_plan_critical_path():
    path, cpm = schedule.critical_path(demo_plan())
    # T3 cannot start before 04-11, so T1 and T2 may slip five days without moving the end
    assert path == ["T3", "T4", "T5", "T6"]
    assert cpm.set_index("task_id").loc[["T1", "T2"], "slack_days"].tolist() == [5, 5]


# ---------------------------------------------------------------------------------- workload
def test_owner_over_allocated_when_more_than_n_tasks_overlap():
    tasks = [task("A", "2024-04-01", "2024-04-05"), task("B", "2024-04-03", "2024-04-04"),
             task("C", "2024-04-03", "2024-04-10"), task("D", "2024-04-02", "2024-04-02", owner="乙")]
    load = schedule.owner_workload(make_plan(tasks), max_tasks=2)
    assert list(load.columns[:2]) == ["owner", "week_start"]
    first = load[(load["owner"] == "甲") & (load["week_start"] == pd.Timestamp("2024-04-01"))].iloc[0]
    assert (first["tasks"], first["task_days"], first["peak_concurrent"]) == (3, 5 + 2 + 5, 3)
    assert first["over_allocated"]
    assert (first["peak_day"], first["peak_task_ids"]) == (pd.Timestamp("2024-04-03"), "A,B,C")
    second = load[(load["owner"] == "甲") & (load["week_start"] == pd.Timestamp("2024-04-08"))].iloc[0]
    assert (second["task_ids"], second["task_days"], bool(second["over_allocated"])) == ("C", 3, False)
    assert not load.loc[load["owner"] == "乙", "over_allocated"].any()
    assert not schedule.owner_workload(make_plan(tasks), max_tasks=3)["over_allocated"].any()


def test_back_to_back_tasks_in_one_week_are_not_a_conflict():
    tasks = [task("A", "2024-04-01", "2024-04-02"), task("B", "2024-04-03", "2024-04-04"),
             task("C", "2024-04-05", "2024-04-05")]
    load = schedule.owner_workload(make_plan(tasks), max_tasks=1)
    assert load["tasks"].tolist() == [3] and load["peak_concurrent"].tolist() == [1]
    assert not load["over_allocated"].any()


# ---------------------------------------------------------------------------------- budget
LINES = [
    {"category": "物料费", "detail": "海报", "planned": 1000.0, "actual": 900.0},
    {"category": "礼品费", "detail": "U盘", "planned": 3000.0, "actual": 3300.0, "note": "加购"},
    {"category": "物料费", "detail": "手册", "planned": 1000.0},  # not spent yet
]


def test_budget_table_variance_share_and_total():
    b = budget.budget_table(make_plan([], LINES))
    assert set(SPECS["budget"].columns) <= set(b.columns)
    assert b["category"].tolist() == ["物料费", "礼品费", "物料费", "合计"]
    assert b["variance"].iloc[:2].tolist() == [-100, 300]
    assert math.isnan(b["variance"].iloc[2]) and math.isnan(b["actual"].iloc[2])
    total = b.iloc[-1]
    assert (total["planned"], total["actual"], total["variance"], total["share"]) == (5000, 4200, 200, 100)
    assert b["share"].iloc[:3].tolist() == [20, 60, 20]
    assert b["is_total"].tolist() == [False, False, False, True]


def test_budget_by_category():
    c = budget.budget_by_category(make_plan([], LINES)).set_index("category")
    assert c.loc["物料费", ["lines", "planned", "actual", "variance", "share"]].tolist() == [2, 2000, 900, -100, 40]


def test_demo_budget_totals():
    total = budget.budget_table(demo_plan()).iloc[-1]
    assert (total["planned"], total["actual"], total["variance"]) == (10000, 9700, -300)


# ---------------------------------------------------------------------------------- summary
def test_execution_summary():
    tasks = [*DIAMOND, task("E", "2024-04-03", "2024-04-03"), task("F", "2024-04-03", "2024-04-03")]
    s = schedule.execution_summary(make_plan(tasks, LINES, limit=4000.0))
    assert s["task_count"] == 6
    assert s["critical_path"] == ["A", "B", "D"]
    assert s["project_days"] == 8
    assert s["budget_planned"] == 5000 and s["budget_actual"] == 4200 and s["budget_variance"] == 200
    assert s["budget_within_limit"] is False
    assert s["over_allocated_owners"] == ["甲"]  # B, C, E and F all run on 04-03
    assert s["warnings_count"] == len(s["warnings"]) == 3  # over the limit twice, one overload
    assert "B,C,E,F" in s["warnings"][-1]  # the tasks of the peak day, not the whole week


@pytest.mark.parametrize("tasks", [[], DIAMOND])
def test_empty_or_clean_plans_have_no_checks(tasks):
    assert schedule.schedule_checks(make_plan(tasks)) == []
    assert schedule.execution_summary(make_plan(tasks))["warnings_count"] == 0


# ---------------------------------------------------------------------------------- phases, checkpoints, status
def test_task_outside_its_dated_phase_is_a_warning():
    phases = [{"name": "预热期", "start": date(2024, 4, 1), "end": date(2024, 4, 15)},
              {"name": "执行期", "start": date(2024, 4, 16), "end": date(2024, 6, 15)}]
    plan = make_plan([task("A", "2024-04-10", "2024-04-20", phase="预热期"),
                      task("B", "2024-04-16", "2024-04-20", phase="执行期")],
                     phases=phases, work_phases=["预热期", "执行期"])
    assert kinds(plan) == {("A", "outside_phase")}
    assert "超出所属阶段 预热期(2024-04-01…2024-04-15)" in schedule.schedule_checks(plan)[0]["message"]
    # work phases without dates (前期准备 …) are not checked against the campaign phases
    assert kinds(make_plan([task("A", "2024-04-10", "2024-04-20")], phases=phases)) == set()


def test_milestones_merge_phase_starts_and_plan_milestones_in_date_order():
    phases = [{"name": "预热期", "start": date(2024, 4, 1), "end": date(2024, 4, 15)}]
    plan = make_plan([], phases=phases, milestones=[{"name": "物料定稿", "due": date(2024, 4, 10)},
                                                    {"name": "开营", "due": date(2024, 4, 2)}])
    assert schedule.milestones(plan) == [("预热期开始", date(2024, 4, 1)), ("开营", date(2024, 4, 2)),
                                          ("物料定稿", date(2024, 4, 10))]


def test_checkpoints_table_carries_direction_and_deadline():
    plan = make_plan([], checkpoints=[
        {"name": "参与率", "due": date(2024, 5, 1), "kpi": "participation_rate", "threshold": 60.0,
         "action": "加发短信", "owner": "客服"},
        {"name": "投诉", "due": date(2024, 5, 2), "kpi": "complaint_rate", "threshold": 2.0, "action": "回访",
         "respond_within_hours": 12}])
    t = schedule.checkpoints_table(plan)
    assert t["threshold_text"].tolist() == ["≥60%", "≤2%"]
    assert t["act_by"].tolist() == [pd.Timestamp("2024-05-03"), pd.Timestamp("2024-05-02 12:00")]
    assert t["owner"].tolist() == ["客服", ""]


def test_task_status_marks_overdue_only_after_the_planned_end():
    plan = make_plan([task("A", "2024-04-01", "2024-04-05", done_on="2024-04-05"),
                      task("B", "2024-04-06", "2024-04-10", done_on="2024-04-13"),
                      task("C", "2024-04-11", "2024-04-20"), task("D", "2024-04-21", "2024-04-30")])
    s = schedule.task_status(plan, date(2024, 4, 12)).set_index("task_id")
    assert s["state"].to_dict() == {"A": "已完成", "B": "逾期未完成", "C": "进行中", "D": "未开始"}
    assert s.loc["B", "overdue_days"] == 2
    later = schedule.task_status(plan, date(2024, 4, 13)).set_index("task_id")
    assert later.loc["B", "state"] == "已完成"  # done on the 13th counts on the 13th
    t = schedule.tasks_table(plan).set_index("task_id")
    assert t.loc["B", "finish_delay_days"] == 3 and math.isnan(t.loc["C", "finish_delay_days"])


def test_wrong_task_is_refused_by_validation_and_named_by_the_stage_checks(tmp_path):
    # the fixture extends the demo; validation refuses it at the task's line (issue 14: the form and
    # `planlib validate` see what stage 04 would), and the stage's own checks name it the same way
    from planlib.errors import PlanValidationError
    from planlib.plan.planfile import _read_with_bases, project_folder

    path = ROOT / "tests" / "fixtures" / "plans" / "exec_wrong_task.yaml"
    with pytest.raises(PlanValidationError) as refused:
        load_plan(path)
    assert [(p.where, p.line) for p in refused.value.problems] == [("tasks[4].start", 22)]
    assert "前置任务 T4 到 2024-04-30 才结束" in refused.value.problems[0].message
    source = _read_with_bases(path.resolve(), [], (), project_folder(path))
    plan = Plan.model_validate(source.data)
    found = [c for c in schedule.schedule_checks(plan) if c["kind"] == "starts_before_dependency"]
    assert [c["task_id"] for c in found] == ["T5"]
    assert "前置任务 T4 到 2024-04-30 才结束" in found[0]["message"]
    assert found[0]["message"] in schedule.execution_summary(plan)["warnings"]


def test_execution_summary_reconciles_with_the_channel_plan():
    lines = [{"category": "推广费", "detail": "短信", "planned": 100.0, "channel": "sms"}]
    plan = make_plan([], lines)
    ok = pd.DataFrame({"channel": ["sms"], "cost": [100.4]})
    assert schedule.execution_summary(plan, channel_plan=ok)["reconciled"] is True
    off = pd.DataFrame({"channel": ["sms"], "cost": [130.0]})
    s = schedule.execution_summary(plan, channel_plan=off)
    assert s["reconciled"] is False and any("高于预算明细 100 元" in w for w in s["warnings"])
    assert schedule.execution_summary(plan)["reconciled"] is None


def test_plan_checks_catch_checkpoints_outside_the_period_or_without_direction():
    from planlib.plan.checks import check_plan

    plan = make_plan([], checkpoints=[
        {"name": "太晚", "due": date(2024, 7, 2), "kpi": "participation_rate", "threshold": 60.0, "action": "x"},
        {"name": "无方向", "due": date(2024, 5, 1), "kpi": "budget_variance", "threshold": 0.0, "action": "x"}],
        milestones=[{"name": "太早", "due": date(2024, 3, 1)}])
    found = {where: message for where, message, _ in check_plan(plan)}
    assert "检查点 太晚 的日期 2024-07-02 不在计划周期" in found["checkpoints[0].due"]
    assert "没有好坏方向" in found["checkpoints[1].kpi"]
    assert "里程碑 太早" in found["milestones[0].due"]
