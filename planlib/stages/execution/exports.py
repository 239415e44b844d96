"""Stage 04's Excel export for owners: tasks with critical path and slack, the budget, the checkpoints."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from planlib.publish.xlsx import Sheet, write_workbook

TASK_SHEET_COLUMNS = ["task_id", "phase", "name", "owner", "start", "end", "duration_days", "depends_on",
                      "done_when", "resources", "done_on", "critical", "slack_days", "issues"]
BUDGET_SHEET_COLUMNS = ["category", "detail", "planned", "actual", "variance", "share", "note"]
CHECKPOINT_SHEET_COLUMNS = ["checkpoint", "due", "kpi_name", "threshold_text", "action", "respond_within_hours",
                            "act_by", "owner"]
SHEET_LABELS = {"name": "任务内容", "done_on": "实际完成", "checkpoint": "检查点", "due": "检查日期", "kpi_name": "指标",
                "threshold_text": "预警阈值", "action": "调整措施", "respond_within_hours": "启动调整时限(小时)",
                "act_by": "最迟启动调整", "share": "占比(%)"}


def execution_workbook(path: Path, tasks: pd.DataFrame, budget: pd.DataFrame, cpm: pd.DataFrame,
                       checkpoints: pd.DataFrame, *, title: str = "") -> Path:
    """The stage 04 export: 活动执行时间表 (with critical path and slack), 活动预算明细表, 检查点."""
    slack = cpm.set_index("task_id")[["critical", "slack_days"]]
    with_cpm = tasks.join(slack, on="task_id")
    sheets = [
        Sheet("活动执行时间表", with_cpm, TASK_SHEET_COLUMNS, SHEET_LABELS, {"duration_days": "int", "slack_days": "int"}),
        Sheet("活动预算明细表", budget, BUDGET_SHEET_COLUMNS, SHEET_LABELS,
              {"planned": "money", "actual": "money", "variance": "money", "share": "pct"},
              bold_rows=budget["is_total"].astype(bool).tolist() if "is_total" in budget else None),
        Sheet("检查点", checkpoints, CHECKPOINT_SHEET_COLUMNS, SHEET_LABELS, {"respond_within_hours": "int"}),
    ]
    return write_workbook(path, sheets, title=title)
