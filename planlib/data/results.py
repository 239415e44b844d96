"""Typed results that stages hand to each other through the run folder.

Each result is declared once here: which stage writes it, its file and its columns. A stage
writes with :func:`save` and a later stage reads with :func:`load`; both check the columns, so
a stage that changed its output breaks loudly at the hand-over, not three stages later.

Tables are Parquet (types survive, unlike CSV); small summaries are JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planlib.errors import ResultMissingError

if TYPE_CHECKING:  # pandas is imported where a table is read: the runner needs only the names
    import pandas as pd

STAGES = ("01_goals", "02_needs", "03_channels", "04_execution", "05_review")
STAGE_TITLES = {
    "01_goals": "项目背景与目标",
    "02_needs": "客户分层与需求分析",
    "03_channels": "互动渠道选择",
    "04_execution": "实施计划",
    "05_review": "效果评估与复盘",
}


@dataclass(frozen=True)
class ResultSpec:
    name: str
    stage: str
    columns: tuple[str, ...] = ()  # required columns for tables; empty for JSON
    kind: str = "table"  # "table" (Parquet) or "json"

    @property
    def filename(self) -> str:
        return f"{self.name}.parquet" if self.kind == "table" else f"{self.name}.json"


SPECS: dict[str, ResultSpec] = {
    s.name: s
    for s in [
        ResultSpec("goals", "01_goals", (
            "goal_id", "name", "metric", "segment", "baseline", "baseline_source", "target",
            "direction", "unit", "deadline", "specific", "measurable", "achievable", "relevant",
            "time_bound", "smart_ok", "notes")),
        ResultSpec("customers", "02_needs", (
            "customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score",
            "m_score", "rfm_score", "tier", "tier_rule", "in_scope", "control", "p_alive",
            "expected_purchases", "clv")),
        ResultSpec("tier_summary", "02_needs", (
            "tier", "customers", "share", "avg_monetary", "monetary_share", "goal", "needs",
            "strategy")),
        ResultSpec("segments", "02_needs", ("segment", "customers", "treatment", "control")),
        ResultSpec("channel_plan", "03_channels", (
            "audience", "channel", "channel_name", "audience_size", "customers_contacted",
            "contacts", "cost", "expected_reached", "expected_responses")),
        ResultSpec("channel_summary", "03_channels", kind="json"),
        ResultSpec("tasks", "04_execution", (
            "task_id", "phase", "name", "owner", "start", "end", "duration_days", "depends_on",
            "issues")),
        ResultSpec("budget", "04_execution", (
            "category", "detail", "planned", "actual", "variance", "share", "note")),
        ResultSpec("execution_summary", "04_execution", kind="json"),
        ResultSpec("kpis", "05_review", (
            "kpi", "name", "dimension", "unit", "direction", "target", "actual", "status",
            "suggestion")),
        ResultSpec("review_summary", "05_review", kind="json"),
        ResultSpec("kpi_values", "05_review", (
            "by", "group", "kpi", "name", "unit", "direction", "value", "numerator", "denominator",
            "explanation")),
        ResultSpec("funnel", "05_review", ("by", "group", "step", "customers", "rate_of_previous", "rate_of_target")),
        ResultSpec("uplift", "05_review", (
            "metric", "comparison", "group_customers", "group_value", "control_customers", "control_value",
            "uplift", "ci_low", "ci_high", "p_value", "significant")),
        ResultSpec("abtests", "05_review", (
            "channel", "metric", "variant", "reference", "customers", "hits", "rate", "diff", "ci_low",
            "ci_high", "p_value", "mde", "significant", "verdict")),
        ResultSpec("actions", "05_review", ("problem", "measure", "owner", "due", "expected", "status", "origin")),
    ]
}


def results_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "results"


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a JSON result")


def save(run_dir: Path, name: str, value: pd.DataFrame | dict) -> Path:
    """Write result ``name`` into the run folder after checking it matches its spec."""
    spec = SPECS[name]
    folder = results_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / spec.filename
    tmp = path.with_name(path.name + ".tmp")
    if spec.kind == "table":
        missing = [c for c in spec.columns if c not in value.columns]
        if missing:
            raise ValueError(f"result {name!r} lacks columns {missing}")  # a bug, not a user error
        value.to_parquet(tmp, index=False)
    else:
        tmp.write_text(json.dumps(value, ensure_ascii=False, indent=2, default=_json_default),
                       encoding="utf-8")
    os.replace(tmp, path)
    return path


def load(run_dir: Path, name: str) -> Any:
    """Read result ``name`` written by an earlier stage of the same run."""
    spec = SPECS[name]
    path = results_dir(run_dir) / spec.filename
    if not path.exists():
        raise ResultMissingError(
            f"{path}: 缺少阶段 {spec.stage} 的结果 {name!r} — 请先运行该阶段"
            f"(planlib run PLAN.yaml,或 planlib run PLAN.yaml --stage {spec.stage[:2]})"
        )
    if spec.kind == "table":
        import pandas as pd

        return pd.read_parquet(path)
    return json.loads(path.read_text(encoding="utf-8"))
