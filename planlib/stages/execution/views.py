"""Stage 04 tables: which columns the task, float, workload, checkpoint and budget tables show."""

from __future__ import annotations

TASK_COLUMNS = ["task_id", "phase", "name", "owner", "start", "end", "duration_days", "depends_on", "done_when",
                "resources", "issues", "done_on"]
CPM_COLUMNS = ["task_id", "name", "owner", "planned_start", "earliest_start", "latest_start", "slack_days",
               "delay_days", "critical"]
WORKLOAD_COLUMNS = ["owner", "week_start", "tasks", "task_ids", "peak_concurrent", "over_allocated"]
BUDGET_COLUMNS = ["category", "detail", "planned", "actual", "variance", "share", "note"]
CHECKPOINT_COLUMNS = ["checkpoint", "due", "kpi_name", "threshold_text", "action", "respond_within_hours", "act_by",
                      "owner"]
