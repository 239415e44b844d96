"""``planlib new``: next quarter's plan file from this quarter's plan and its published run."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

from planlib.cli import main
from planlib.data import results
from planlib.errors import PlanError
from planlib.plan.planfile import load_plan
from planlib.quarters.nextquarter import TODO_ACTION, TODO_TARGET, new_plan, retitle, shift_months


@pytest.mark.parametrize("day,months,expected", [
    (date(2024, 4, 1), 3, date(2024, 7, 1)), (date(2024, 6, 30), 3, date(2024, 9, 30)),
    (date(2024, 4, 30), 3, date(2024, 7, 31)), (date(2024, 5, 31), 3, date(2024, 8, 31)),
    (date(2024, 11, 30), 3, date(2025, 2, 28)), (date(2024, 12, 15), 6, date(2025, 6, 15)),
    (date(2024, 1, 29), 1, date(2024, 2, 29)),
])
def test_shift_months_keeps_month_ends(day, months, expected):
    assert shift_months(day, months) == expected


def test_retitle_names_the_new_quarter_in_every_spelling():
    assert retitle("2024年Q2 沉睡客户激活计划", (2024, 2), (2024, 3)) == "2024年Q3 沉睡客户激活计划"
    assert retitle("2024Q2-reactivation", (2024, 2), (2024, 3)) == "2024Q3-reactivation"
    assert retitle("演示零售事业部 2024年第四季度", (2024, 4), (2025, 1)) == "演示零售事业部 2025年第一季度"
    assert retitle("竞品在Q1推出会员日", (2024, 2), (2024, 3)) == "竞品在Q1推出会员日"


@pytest.fixture
def unit(tmp_path) -> Path:
    """The demo plan in tmp_path/parameters/demo, with a fake published 2024Q2 run in tmp_path/outputs."""
    folder = tmp_path / "parameters" / "demo"
    folder.mkdir(parents=True)
    for name in ("base.yaml", "2024Q2.yaml"):
        shutil.copy(ROOT / "parameters" / "demo" / name, folder / name)
    plan = folder / "2024Q2.yaml"
    text = plan.read_text(encoding="utf-8")
    text = text.replace("expected: 参与率提升至70%以上}", "expected: 参与率提升至70%以上}\n"
                        "    - {problem: 礼品库存盘点, measure: 盘点剩余马克杯, owner: 设计专员, due: 2024-06-20, status: done}")
    plan.write_text(text, encoding="utf-8")
    return plan


def _publish_run(root: Path) -> Path:
    run = root / "demo" / "2024Q2"
    kpis = pd.DataFrame({
        "kpi": ["participation_rate", "repurchase_30d", "csat", "cost_per_participant", "response_sla_rate", "nps"],
        "name": ["目标客户参与率", "活动后30天复购率", "满意度平均评分(5分制)", "单客户成本", "响应及时率", "NPS 净推荐值"],
        "dimension": "", "unit": ["%", "%", "分", "元/人", "%", ""], "direction": "higher",
        "target": [70.0, 12.0, 4.5, 50.0, 95.0, 50.0], "actual": [64.7059, 15.9091, 4.2286, 44.09, 96.3, 32.0],
        "status": ["未达成", "超达成", "未达成", "超达成", "达成", "未达成"], "suggestion": ""})
    results.save(run, "kpis", kpis)
    actions = pd.DataFrame({
        "problem": ["目标客户参与率未达70%", "满意度平均评分(5分制)未达成(实际 4.2分,目标 ≥4.5分)"],
        "measure": ["社群通知之外增加短信提醒", "调研客户对礼品/权益的偏好,按偏好更换礼品"], "owner": ["客服专员", "待指定"],
        "due": pd.to_datetime(["2024-07-15", None]), "expected": ["参与率提升至70%以上", "满意度达到 ≥4.5分"],
        "status": ["open", "suggested"], "origin": ["plan", "review"], "kpi": ["", "csat"]})
    results.save(run, "actions", actions)
    (run / "manifest.json").write_text(json.dumps({"status": "ok"}), encoding="utf-8")
    return run


def test_new_plan_shifts_dates_updates_baselines_and_carries_actions(unit, tmp_path):
    _publish_run(tmp_path / "outputs")
    result = new_plan(unit, "2024Q3", output_root=tmp_path / "outputs")
    assert result.ok, result.problems
    assert result.path == unit.with_name("2024Q3.yaml")
    plan = load_plan(result.path).plan  # it validates
    assert plan.meta.quarter == "2024Q3" and plan.meta.title == "2024年Q3 沉睡中价值客户激活计划"
    assert (plan.meta.period.start, plan.meta.period.end) == (date(2024, 7, 1), date(2024, 9, 30))
    assert [(p.start, p.end) for p in plan.meta.phases][-1] == (date(2024, 9, 16), date(2024, 9, 30))
    assert plan.tasks[0].start == date(2024, 7, 1) and plan.goals[1].deadline == date(2024, 9, 15)
    goals = {g.id: g for g in plan.goals}
    assert (goals["G1"].baseline, goals["G2"].baseline, goals["G3"].baseline) == (15.91, 64.71, 4.23)
    assert goals["G1"].name.startswith("2024年Q3激活")
    assert [k.target for k in plan.kpis] == [70, 12, 4.5, 50, 95, 50]  # placeholders, marked below
    assert all(line.actual is None and line.note == "" for line in plan.budget.lines)
    assert plan.review.campaign == "2024Q3-reactivation"
    owners = [(a.problem, a.owner, a.due) for a in plan.review.actions]
    assert owners[0] == ("目标客户参与率未达70%", "客服专员", date(2024, 7, 15))  # carried as it was
    assert owners[1][1] == "待指定" and owners[1][2] == date(2024, 7, 15)  # the review's suggestion: first phase end
    assert not any("礼品库存盘点" in a.problem for a in plan.review.actions)  # done: not carried

    text = result.path.read_text(encoding="utf-8")
    assert text.startswith("# 客户互动管理策划书 — 演示零售事业部 2024年第三季度\n")
    assert "extends: base.yaml" in text and "# 自上而下" not in text  # the base stays shared, untouched
    assert "baseline: 15.91  # 基线 = 2024Q2 实际值" in text
    assert f"{TODO_TARGET}(上季 2024Q2 目标 70%,实际 64.7%,未达成)" in text
    assert text.count(TODO_TARGET) == 6 + 3  # six KPI targets, three goal targets
    assert TODO_ACTION in text and "&id" not in text
    assert "# 往季沉睡中价值客户30天内自然回购" not in text  # the baseline's old comment went with its value
    assert "relevance: 中价值客户贡献约四成营收" in text  # everything else kept as written
    assert any("延续 1 条未完成的行动" in n and "略去 1 条已完成的" in n for n in result.notes)


def test_without_a_run_baselines_stay_and_the_note_says_so(unit, tmp_path):
    result = new_plan(unit, "2024Q3", output_root=tmp_path / "nowhere")
    assert result.ok
    assert any(n.startswith("没有找到 2024Q2 的已发布运行结果") for n in result.notes)
    goals = {g.id: g for g in load_plan(result.path).plan.goals}
    assert goals["G1"].baseline == 5 and goals["G3"].baseline is None


def test_refuses_to_overwrite_unless_forced_and_to_go_back(unit, tmp_path):
    new_plan(unit, "2024Q3", output_root=tmp_path)
    target = unit.with_name("2024Q3.yaml")
    target.write_text("# 规划人员已经改过\n" + target.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(PlanError, match="文件已存在,未覆盖"):
        new_plan(unit, "2024Q3", output_root=tmp_path)
    assert target.read_text(encoding="utf-8").startswith("# 规划人员已经改过")
    new_plan(unit, "2024Q3", output_root=tmp_path, force=True)
    assert not target.read_text(encoding="utf-8").startswith("# 规划人员已经改过")
    with pytest.raises(PlanError, match="必须晚于"):
        new_plan(unit, "2024Q1", output_root=tmp_path)
    with pytest.raises(PlanError, match="格式不对"):
        new_plan(unit, "2024-Q3", output_root=tmp_path)


def test_a_later_year_moves_everything_by_whole_quarters(unit, tmp_path):
    plan = load_plan(new_plan(unit, "2025Q1", output_root=tmp_path).path).plan
    assert (plan.meta.period.start, plan.meta.period.end) == (date(2025, 1, 1), date(2025, 3, 31))
    assert plan.meta.title == "2025年Q1 沉睡中价值客户激活计划"


def test_cli_new_prints_what_it_did(unit, tmp_path, capsys):
    _publish_run(tmp_path / "outputs")
    code = main(["new", str(unit), "--quarter", "2024Q3", "--output-root", str(tmp_path / "outputs")])
    out = capsys.readouterr()
    assert code == 0 and "校验通过" in out.out and "延续 1 条未完成的行动" in out.out
    assert main(["new", str(unit), "--quarter", "2024Q3"]) == 1
    assert "文件已存在" in capsys.readouterr().err


def test_the_approval_is_not_carried_into_the_next_quarter(unit, tmp_path):
    text = unit.read_text(encoding="utf-8")
    unit.write_text(text + "\napproval: {reviewer: 王总, role: 客户互动委员会主任, decision: 通过, date: 2024-03-25}\n",
                    encoding="utf-8")
    assert load_plan(unit).plan.approval.decision == "通过"
    result = new_plan(unit, "2024Q3", output_root=tmp_path / "nowhere")
    assert result.ok and load_plan(result.path).plan.approval is None
    assert "approval" not in result.path.read_text(encoding="utf-8")
    assert any("重新报批" in n for n in result.notes)
