"""Stages 03 and 04 end to end: the optimised mix, an infeasible variant, a wrong task, the exports.

Runs on the small demo of the session fixture; the variants (tests/fixtures/plans/channels_* and
exec_*) extend the demo plan and are re-run for their own stage on a copy of its published run.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import icalendar
import nbformat
import pytest
from conftest import FIXTURES
from openpyxl import load_workbook

from planlib.data import results
from planlib.run.runner import run_plan

FIXTURES = FIXTURES / "plans"
pytestmark = pytest.mark.slow


def outputs_text(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(str(o.get("data", {}).get("text/html", "")) + str(o.get("text", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def run_variant(demo_run, tmp_path: Path, fixture: str, unit: str, stage: str):
    """Copy the demo run, put the fixture where its relative paths expect the demo, and run the variant.

    All stages run: ``--stage`` alone is refused when the earlier stages read another plan file.
    """
    _, folder, _ = demo_run
    work = tmp_path / "w"
    shutil.copytree(folder, work)
    target = work / "tests" / "fixtures" / "plans"
    target.mkdir(parents=True)
    shutil.copy(FIXTURES / fixture, target / fixture)
    shutil.copytree(work / "outputs" / "demo" / "2024Q2", work / "outputs" / unit / "2024Q2")
    result = run_plan(target / fixture, output_root=work / "outputs", log=lambda _: None)
    assert result.ok, [s.__dict__ for s in result.stages]
    assert stage in [s.stage for s in result.stages if s.status == "ok"]
    return result


def test_channel_stage_shows_the_optimised_mix_beside_the_manual_one(demo_run):
    result, _, _ = demo_run
    summary = results.load(result.folder, "channel_summary")
    opt = summary["optimizer"]
    assert opt["status"] == "optimal" and opt["gain"] > 0
    assert opt["optimised"]["cost"] <= opt["budget"] + 1e-6
    text = outputs_text(result.folder / "03_channels.ipynb")
    assert "手工方案与优化方案" in text and "预计多出" in text and "约束与影子价格" in text
    assert re.search(r"再增加 [0-9,]+ 元渠道预算", text) and "各对象的渠道效果参数" in text
    assert "数据·对象 n=" in text  # newsletter data before the period feeds the wechat_oa rates
    html = result.report.read_text(encoding="utf-8")
    assert "客户旅程与接触点" in html


def test_execution_stage_shows_critical_path_reconciliation_and_exports(demo_run):
    result, _, _ = demo_run
    text = outputs_text(result.folder / "04_execution.ipynb")
    assert "关键路径:T3 → T4 → T5 → T6" in text
    assert "渠道计划成本与推广费预算对账" in text and "没有单列的推广费明细" in text
    assert "检查点" in text and "首轮活动后参与率" in text
    summary = results.load(result.folder, "execution_summary")
    assert summary["reconciled"] is False and summary["checkpoint_count"] == 3
    exports = result.folder / "exports"
    wb = load_workbook(exports / "execution_plan.xlsx")
    assert wb.sheetnames == ["活动执行时间表", "活动预算明细表", "检查点"]
    cal = icalendar.Calendar.from_ical((exports / "tasks.ics").read_bytes())
    assert len([e for e in cal.walk("VEVENT") if str(e["SUMMARY"]).startswith("T")]) == 6


def test_wrong_task_variant_is_refused_before_any_stage_runs(demo_run, tmp_path):
    """A task starting before its dependency ends is a plan problem (issue 14): `planlib run`
    refuses it with the task's line and the fix, instead of running stage 04 to warn about it."""
    from planlib.errors import PlanValidationError

    _, folder, _ = demo_run
    shutil.copytree(folder, tmp_path / "w")
    target = tmp_path / "w" / "tests" / "fixtures" / "plans"
    target.mkdir(parents=True)
    shutil.copy(FIXTURES / "exec_wrong_task.yaml", target / "exec_wrong_task.yaml")
    with pytest.raises(PlanValidationError) as refused:
        run_plan(target / "exec_wrong_task.yaml", output_root=tmp_path / "outputs", log=lambda _: None)
    text = str(refused.value)
    assert "任务 T5 于 2024-04-28 开始,但前置任务 T4 到 2024-04-30 才结束" in text
    assert "把开始日期推迟到 2024-05-01 或之后" in text
    assert not (tmp_path / "outputs" / "demo-wrong-task").exists()


def test_infeasible_variant_explains_which_constraint_fails(demo_run, tmp_path):
    result = run_variant(demo_run, tmp_path, "channels_infeasible.yaml", "demo-infeasible", "03_channels")
    opt = results.load(result.folder, "channel_summary")["optimizer"]
    assert opt["status"] == "infeasible"
    text = outputs_text(result.folder / "03_channels.ipynb")
    assert "渠道组合无解" in text and "pl-note-error" in text
    assert "只允许使用 线下活动/沙龙" in text and "至少需要" in text and "差" in text
