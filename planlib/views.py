"""Plan sections as display-ready tables and mappings with Chinese labels.

Workbooks show the plan the planner wrote next to the figures computed from data; these
functions turn schema objects into the frames and mappings that :mod:`planlib.display` shows,
so no workbook builds a table by hand.
"""

from __future__ import annotations

import pandas as pd

from .kpis import CATALOGUE
from .schema import Plan
from .segment import describe_rule


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
