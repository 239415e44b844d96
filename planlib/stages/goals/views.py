"""Plan sections as display-ready tables and mappings with Chinese labels.

Workbooks show the plan the planner wrote next to the figures computed from data; these
functions turn schema objects into the frames and mappings that :mod:`planlib.publish.display` shows,
so no workbook builds a table by hand.
"""

from __future__ import annotations

import pandas as pd

from planlib.metrics.segment import describe_rule
from planlib.plan.kpis import CATALOGUE
from planlib.plan.schema import Plan


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


def goals(plan: Plan) -> pd.DataFrame:
    rows = [{"编号": g.id, "目标描述": g.name, "衡量指标": CATALOGUE[g.metric].name, "目标客群": g.segment,
             "基线值": g.baseline, "目标值": g.target, "单位": g.unit or CATALOGUE[g.metric].unit,
             "截止日期": g.deadline} for g in plan.goals]
    return pd.DataFrame(rows)


def tier_rules(plan: Plan) -> pd.DataFrame:
    seg = plan.segmentation
    rows = [{"层级": t.name, "分层规则": describe_rule(t), "互动目标": t.goal, "核心需求": t.needs,
             "维护策略建议": t.strategy} for t in seg.tiers]
    d = seg.default_tier
    rows.append({"层级": d.name, "分层规则": "未命中以上规则", "互动目标": d.goal, "核心需求": d.needs,
                 "维护策略建议": d.strategy})
    return pd.DataFrame(rows)


def segments(plan: Plan) -> pd.DataFrame:
    rows = [{"客群": s.name, "所属层级": "、".join(s.tiers) or "不限", "条件": describe_rule(s) or "—",
             "说明": s.description} for s in plan.segmentation.segments]
    return pd.DataFrame(rows, columns=["客群", "所属层级", "条件", "说明"])


def channel_catalogue(plan: Plan) -> pd.DataFrame:
    rows = [{"渠道": c.name, "代码": c.id, "单次成本(元)": c.cost_per_contact, "固定成本(元)": c.fixed_cost,
             "触达率(%)": c.reach_rate, "打开率(%)": c.open_rate, "响应率(%)": c.response_rate}
            for c in plan.channels.catalogue]
    return pd.DataFrame(rows)


def kpi_targets(plan: Plan) -> pd.DataFrame:
    rows = []
    for k in plan.kpis:
        entry = CATALOGUE[k.kpi]
        sign = {"higher": "≥", "lower": "≤"}.get(entry.direction, "")
        rows.append({"评估维度": k.dimension or entry.dimension, "核心指标": entry.name,
                     "目标值": f"{sign}{k.target:g}{entry.unit}", "计算方法": entry.formula})
    return pd.DataFrame(rows, columns=["评估维度", "核心指标", "目标值", "计算方法"])


def actions(plan: Plan) -> pd.DataFrame:
    rows = [{"问题目标": a.problem, "优化措施": a.measure, "责任人": a.owner, "完成时间": a.due,
             "预期效果": a.expected, "状态": "进行中" if a.status == "open" else "已完成"}
            for a in plan.review.actions]
    return pd.DataFrame(rows, columns=["问题目标", "优化措施", "责任人", "完成时间", "预期效果", "状态"])


def rfm_settings(plan: Plan) -> dict[str, str]:
    from planlib.metrics.segment import rfm_as_of

    rfm = plan.segmentation.rfm
    return {"计算基准日": str(rfm_as_of(plan)), "统计窗口": f"{rfm.window_days} 天", "评分等级": f"1–{rfm.levels} 分"}


def milestones(plan: Plan) -> list[tuple[str, object]]:
    """Phase starts as milestones for the Gantt chart."""
    return [(f"{p.name}开始", p.start) for p in plan.meta.phases]


def smart_findings(goal_checks: pd.DataFrame) -> list[str]:
    """One sentence per goal that fails SMART, naming the goal and why."""
    failed = goal_checks.loc[~goal_checks["smart_ok"].astype(bool)]
    return [f"目标 {row.goal_id}:{row.notes}" for row in failed.itertuples()]


def channel_summary(summary: dict) -> dict[str, str]:
    yes_no = {True: "是", False: "否"}
    participation = "; ".join(
        f"{a['audience']} 约 {a['expected_participation']:.1f}%" for a in summary["audiences"]
        if a.get("expected_participation") is not None)
    return {
        "渠道成本合计": f"{summary['channel_cost']:,.0f} 元(其中固定成本 {summary['fixed_cost']:,.0f} 元)",
        "推广费预算": f"{summary['promotion_budget']:,.0f} 元",
        "渠道成本在推广费预算内": yes_no[bool(summary["within_promotion_budget"])],
        "渠道成本 + 其他预算": f"{summary['planned_total']:,.0f} 元 / 上限 {summary['budget_limit']:,.0f} 元",
        "整体在预算内": yes_no[bool(summary["fits_budget"])],
        "触达上限全部满足": yes_no[bool(summary["caps_ok"])],
        "预计参与率": participation or "—",
    }


def kpi_display(table: pd.DataFrame) -> pd.DataFrame:
    """Template 4 as reviewers read it: targets and actuals with their units."""
    from planlib.metrics.measure import fmt

    out = table.copy()
    out["actual_text"] = [fmt(None if pd.isna(a) else float(a), u) for a, u in zip(out["actual"], out["unit"],
                                                                                   strict=True)]
    return out


def funnel_wide(breakdown: pd.DataFrame, label: str = "渠道") -> pd.DataFrame:
    """The per-channel (or per-tier: ``label="层级"``) funnel as one row per group: customers at each
    step, with the step rate."""
    if breakdown.empty:
        return pd.DataFrame(columns=[label])
    steps = list(dict.fromkeys(breakdown["step"]))

    def cell(row) -> str:
        if pd.isna(row.customers):
            return "无数据"
        rate = row.rate_of_previous
        return f"{int(row.customers):,}" + ("" if pd.isna(rate) else f"({rate:.0f}%)")

    cells = breakdown.assign(cell=[cell(r) for r in breakdown.itertuples()])
    wide = cells.pivot(index="label", columns="step", values="cell")[steps]
    return wide.rename_axis(index=label, columns=None).reset_index()


# Per-table header overrides where a column means something else than in planlib.plan.labels.
CHANNEL_LABELS = {"frequency": "频次", "content": "内容"}
KPI_LABELS = {"name": "核心指标"}
CHANNEL_FORMATS = {"expected_reached": "int", "expected_responses": "int", "customers_contacted": "int",
                   "contacts": "int"}

# Which columns each table shows, in order (labels come from planlib.plan.labels).
GOAL_COLUMNS = ["goal_id", "name", "metric_name", "baseline", "baseline_source", "target", "unit", "deadline",
                "specific", "measurable", "achievable", "relevant", "time_bound", "smart_ok"]
TIER_COLUMNS = ["tier", "rule", "customers", "share", "avg_monetary", "avg_frequency", "avg_recency_days",
                "monetary_share"]
PER_TIER_COLUMNS = ["audience", "goal", "strategy", "channels", "content", "frequency"]
CHANNEL_PLAN_COLUMNS = ["audience", "channel_name", "content", "frequency", "audience_size",
                        "customers_contacted", "contacts", "cost", "expected_reached", "expected_responses",
                        "cost_per_response"]
TASK_COLUMNS = ["task_id", "phase", "name", "owner", "start", "end", "duration_days", "depends_on", "done_when",
                "resources", "issues"]
CPM_COLUMNS = ["task_id", "name", "owner", "planned_start", "earliest_start", "latest_start", "slack_days",
               "delay_days", "critical"]
WORKLOAD_COLUMNS = ["owner", "week_start", "tasks", "task_ids", "peak_concurrent", "over_allocated"]
BUDGET_COLUMNS = ["category", "detail", "planned", "actual", "variance", "share", "note"]
KPI_COLUMNS = ["dimension", "name", "target_text", "actual_text", "status", "suggestion"]
UPLIFT_COLUMNS = ["comparison", "group_customers", "group_rate", "control_customers", "control_rate", "uplift_pp",
                  "ci_low", "ci_high", "significant", "note"]
