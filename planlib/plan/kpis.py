"""The KPI catalogue: every metric a plan may set a goal or target on, defined once.

Values are kept in the unit a planner writes and reads: rates in percent (``70`` means 70 %),
scores on their own scale, money in yuan. The computation of each KPI from data lives in
:mod:`planlib.metrics.measure`; this module only says what each KPI is, what it needs and how it is
broken down and tested against the control group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Direction = Literal["higher", "lower", "info"]


@dataclass(frozen=True)
class Kpi:
    id: str
    name: str  # Chinese label shown in tables
    formula: str  # how it is computed, in words
    direction: Direction
    unit: str  # display unit: "%", "分", "元/人", "元", "" …
    needs: tuple[str, ...]  # canonical data sources the computation reads
    dimension: str  # template 4's 评估维度
    # optional canonical columns ("source.column") without which the figure would be a silent zero
    columns: tuple[str, ...] = ()
    # breakdowns that make sense: "tier" (per customer tier in scope), "channel" (per campaign channel)
    breakdowns: tuple[str, ...] = ()
    # the control-group comparison that tells whether the campaign caused the figure (planlib.stages.review.uplift)
    effect: str | None = None
    # name and formula with ``{days}`` for a KPI measured over the plan's review.attribution_days
    # (``name``/``formula`` above are the text for the default 30 days)
    name_days: str | None = None
    formula_days: str | None = None

    def label(self, days: int = 30) -> str:
        """The Chinese name as the plan reads it: 活动后14天复购率 for a 14-day attribution window."""
        return self.name_days.format(days=days) if self.name_days else self.name

    def formula_for(self, days: int = 30) -> str:
        return self.formula_days.format(days=days) if self.formula_days else self.formula


_TC = ("tier", "channel")
CATALOGUE: dict[str, Kpi] = {
    k.id: k
    for k in [
        Kpi("participation_rate", "目标客户参与率", "参与客户数 / 目标客户数", "higher", "%",
            ("customers", "interactions"), "客户参与", columns=("interactions.responded_at",), breakdowns=_TC),
        Kpi("reach_rate", "互动触达率", "收到内容的客户数 / 目标客户数", "higher", "%",
            ("customers", "interactions"), "客户参与", breakdowns=_TC),
        Kpi("open_rate", "内容打开率", "打开的客户数 / 收到的客户数", "higher", "%",
            ("interactions",), "客户参与", columns=("interactions.opened_at",), breakdowns=_TC),
        Kpi("engagement_rate", "互动参与度", "点赞/评论/转发的客户数 / 打开的客户数", "higher", "%",
            ("interactions",), "客户参与", columns=("interactions.opened_at", "interactions.clicked_at"),
            breakdowns=_TC),
        Kpi("response_sla_rate", "响应及时率",
            "目标客群的工单中 SLA 内首次响应的工单数 / 目标客群在期内的全部工单数(不含其他客户的工单)",
            "higher", "%", ("customers", "tickets"), "服务质量", columns=("tickets.first_response_at",)),
        Kpi("repurchase_30d", "活动后30天复购率", "首次参与当天起 30 天内再次购买的参与客户 / 参与客户", "higher",
            "%", ("customers", "interactions", "transactions"), "转化效果", columns=("interactions.responded_at",),
            breakdowns=_TC, effect="repurchase", name_days="活动后{days}天复购率",
            formula_days="首次参与当天起 {days} 天内再次购买的参与客户 / 参与客户"),
        Kpi("repurchase_rate", "客户复购率", "期内再次购买的客户 / 期内购买的客户", "higher", "%",
            ("transactions",), "转化效果", breakdowns=("tier",)),
        Kpi("aov_uplift", "客单价提升率", "(活动后客单价 − 活动前客单价) / 活动前客单价", "higher", "%",
            ("transactions",), "转化效果", breakdowns=("tier",), effect="spend"),
        Kpi("csat", "满意度平均评分(5分制)", "CSAT 问卷平均分", "higher", "分", ("surveys",), "客户反馈",
            columns=("surveys.csat",), breakdowns=("tier",)),
        Kpi("nps", "NPS 净推荐值", "推荐者(9–10)占比 − 贬损者(0–6)占比", "higher", "",
            ("surveys",), "客户反馈", columns=("surveys.nps",), breakdowns=("tier",)),
        Kpi("churn_rate", "客户流失率", "期内流失客户 / 期初客户", "lower", "%",
            ("transactions",), "客户留存", breakdowns=("tier",)),
        Kpi("complaint_rate", "投诉率", "有投诉的客户 / 客户数", "lower", "%",
            ("customers", "tickets"), "服务质量", columns=("tickets.is_complaint",), breakdowns=("tier",)),
        Kpi("cost_per_participant", "单客户成本", "实际总支出 / 参与客户数", "lower", "元/人",
            ("interactions",), "成本控制", columns=("interactions.responded_at",)),
        Kpi("roi", "ROI 投资回报率",
            "(参与客户归因收入 − 实际成本) / 实际成本(毛收入口径;对比对照组的增量 ROI 见「成本与回报」)", "higher", "%",
            ("interactions", "transactions"), "成本控制", columns=("interactions.responded_at",), effect="spend"),
        Kpi("budget_variance", "预算差异", "实际支出 − 计划预算", "info", "元", (), "成本控制"),
    ]
}


# ------------------------------------------------------------------ the one small-sample rule
MIN_BASE = 30
"""Fewer units than this under a figure (customers, orders, scores, tickets — its base) and the
figure gets no verdict and is no headline: its status is :data:`SMALL_SAMPLE`, diagnoses, summaries,
charts and comparison pages say 样本不足 instead of a ratio. Read it through :func:`too_small`."""
SMALL_SAMPLE = "样本不足"


def too_small(base: object) -> bool:
    """The base of a figure is known (not None, NaN or NA) and below :data:`MIN_BASE`."""
    try:
        n = float(base)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return not math.isnan(n) and n < MIN_BASE


def small_sample_text(base: float) -> str:
    """``样本不足(n=15,少于 30)``."""
    return f"{SMALL_SAMPLE}(n={base:,.0f},少于 {MIN_BASE})"


def get(kpi_id: str) -> Kpi:
    """Return the catalogue entry for ``kpi_id`` (KeyError if unknown; the schema checks first)."""
    return CATALOGUE[kpi_id]


def status(kpi_id: str, target: float | None, actual: float | None, base: float | None = None) -> str:
    """Template 4's 达成情况 with the KPI's direction applied.

    超达成 when the target is beaten by more than 10 % of its size, 达成 when met, 未达成 when
    missed, 无数据 when there is no actual (never a silent zero), 样本不足 when the figure rests on
    fewer than :data:`MIN_BASE` units (``base``; None for a manual actual or a figure without one).
    """
    if actual is None or target is None:
        return "无数据"
    direction = CATALOGUE[kpi_id].direction
    if direction == "info":
        return "—"
    if too_small(base):
        return SMALL_SAMPLE
    margin = abs(target) * 0.10
    if direction == "higher":
        if actual > target + margin:
            return "超达成"
        return "达成" if actual >= target else "未达成"
    if actual < target - margin:
        return "超达成"
    return "达成" if actual <= target else "未达成"
