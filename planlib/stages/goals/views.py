"""Stage 01 tables: the plan's background, scope and phases, and the SMART findings."""

from __future__ import annotations

import pandas as pd

from planlib.plan.schema import Plan

# Which columns each table shows, in order (labels come from planlib.plan.labels).
GOAL_COLUMNS = ["goal_id", "name", "metric_name", "baseline", "baseline_source", "target", "unit", "deadline",
                "specific", "measurable", "achievable", "relevant", "time_bound", "smart_ok"]


def background(plan: Plan) -> dict[str, str]:
    b = plan.background
    return {"市场环境": b.market or "—", "竞争对手": b.competitors or "—", "内部原因": b.internal or "—"}


def scope(plan: Plan) -> dict[str, str]:
    meta = plan.meta
    return {
        "单位": f"{meta.unit_name}({meta.unit})",
        "计划周期": f"{meta.period.start} ~ {meta.period.end}",
        "目标客群": plan.scope.segment,
        "客群说明": plan.scope.description or "—",
        "负责人": meta.owner,
        "参与部门": "、".join(meta.departments) or "—",
        "预算上限": f"{plan.budget.limit:,.0f} 元",
    }


def phases(plan: Plan) -> pd.DataFrame:
    rows = [{"阶段": p.name, "开始": p.start, "结束": p.end, "天数": (p.end - p.start).days + 1}
            for p in plan.meta.phases]
    return pd.DataFrame(rows, columns=["阶段", "开始", "结束", "天数"])


def smart_findings(goal_checks: pd.DataFrame) -> list[str]:
    """One sentence per goal that fails SMART, naming the goal and why."""
    failed = goal_checks.loc[~goal_checks["smart_ok"].astype(bool)]
    return [f"目标 {row.goal_id}:{row.notes}" for row in failed.itertuples()]
