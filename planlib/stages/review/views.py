"""Stage 05 tables: KPI targets and formulas, the funnel per group, the budget handed over by stage 04."""

from __future__ import annotations

import pandas as pd

from planlib.data.results import SPECS
from planlib.plan.kpis import CATALOGUE, SMALL_SAMPLE, too_small
from planlib.plan.schema import Plan
from planlib.publish import display as show
from planlib.stages.review import abtest, design

KPI_LABELS = {"name": "核心指标"}
BUDGET_COLUMNS = list(SPECS["budget"].columns)


def kpi_targets(plan: Plan) -> pd.DataFrame:
    rows = []
    for k in plan.kpis:
        entry = CATALOGUE[k.kpi]
        sign = {"higher": "≥", "lower": "≤"}.get(entry.direction, "")
        days = plan.review.attribution_days
        rows.append({"评估维度": k.dimension or entry.dimension, "核心指标": entry.label(days),
                     "目标值": f"{sign}{k.target:g}{entry.unit}", "计算方法": entry.formula_for(days)})
    return pd.DataFrame(rows, columns=["评估维度", "核心指标", "目标值", "计算方法"])


def funnel_wide(breakdown: pd.DataFrame, label: str = "渠道") -> pd.DataFrame:
    """The per-channel (or per-tier: ``label="层级"``) funnel as one row per group: customers at each
    step, with the step rate."""
    if breakdown.empty:
        return pd.DataFrame(columns=[label])
    steps = list(dict.fromkeys(breakdown["step"]))
    previous = breakdown.groupby("label", sort=False)["customers"].shift(1)

    def cell(row, prev) -> str:
        if pd.isna(row.customers):
            return "无数据"
        rate = row.rate_of_previous
        if pd.isna(rate) and too_small(prev):  # a rate of a handful is no rate: say why it is missing
            return f"{int(row.customers):,}({SMALL_SAMPLE})"
        return f"{int(row.customers):,}" + ("" if pd.isna(rate) else f"({rate:.0f}%)")

    cells = breakdown.assign(cell=[cell(r, p) for r, p in zip(breakdown.itertuples(), previous, strict=True)])
    wide = cells.pivot(index="label", columns="step", values="cell")[steps]
    return wide.rename_axis(index=label, columns=None).reset_index()


def show_abtests(abtests: pd.DataFrame, gap: str | None = None) -> None:
    """The A/B test table with its settings, or why there is nothing to test (``gap``: the data is missing)."""
    if gap:
        show.show_note(gap, "warn")
        return
    if abtests.empty:
        show.show_note("本活动的互动记录中没有 A/B 版本(「版本」列为空),无需检验。")
        return
    show.show_table(abtest.display_frame(abtests), title="A/B 测试结果")
    show.show_note(abtest.SETTINGS_TEXT)


def show_design_check(check: pd.DataFrame) -> None:
    """The outcome against the evaluation design registered before the quarter (the proposal's): control
    share, sample, power of the planned change and what the comparison means, in plain words."""
    if check.empty:
        show.show_note("计划中没有与对照组比较的目标(目标指标不是复购率或人均消费类),无需检查评估设计。")
        return
    show.show_table(design.display_frame(check), title="评估设计检查(计划 vs 实际)")
    show.show_findings(list(check["goal_id"] + " " + check["goal"] + ":" + check["conclusion"]), kind="info")
    show.show_note(design.SETTINGS_TEXT)
