"""Stage 04 — the budget (template 3) and its reconciliation with the channel plan.

Template 3 lists each line with planned and actual spend; this module adds the variance, each
line's share, the per-category view, and checks that what stage 03 expects the channels to cost
matches the promotion lines (推广费, or lines naming a channel) the budget sets aside for them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planlib.plan.budget_lines import is_promotion
from planlib.plan.schema import Plan

TOTAL = "合计"
TOLERANCE = 1.0  # yuan: rounding in a planner's spreadsheet is not a mismatch
RECONCILE_COLUMNS = ["channel", "channel_name", "channel_cost", "budget_planned", "difference", "state"]


def budget_table(plan: Plan) -> pd.DataFrame:
    """The ``budget`` result (template 3) with a final 合计 row.

    variance = actual − planned where the actual is known (NaN otherwise); share = planned /
    total planned in %. The 合计 row sums planned, the known actuals and the known variances,
    so its variance covers only lines that already have an actual. Extra columns: channel,
    is_total.
    """
    lines = plan.budget.lines
    df = pd.DataFrame({
        "category": [x.category for x in lines], "detail": [x.detail for x in lines],
        "planned": [float(x.planned) for x in lines],
        "actual": [np.nan if x.actual is None else float(x.actual) for x in lines],
        "note": [x.note for x in lines], "channel": [x.channel or "" for x in lines],
    }).astype({"planned": float, "actual": float})
    df["variance"] = df["actual"] - df["planned"]
    total = pd.DataFrame([{
        "category": TOTAL, "detail": "", "planned": df["planned"].sum(),
        "actual": df["actual"].sum(min_count=1), "note": "", "channel": "",
        "variance": df["variance"].sum(min_count=1),
    }])
    df = pd.concat([df.assign(is_total=False), total.assign(is_total=True)], ignore_index=True)
    planned_total = df["planned"].iloc[-1]
    df["share"] = df["planned"] / planned_total * 100 if planned_total else np.nan
    return df[["category", "detail", "planned", "actual", "variance", "share", "note", "channel",
               "is_total"]]


def budget_by_category(plan: Plan) -> pd.DataFrame:
    """Budget per category in order of first appearance: lines, planned, actual, variance, share."""
    lines = budget_table(plan)
    lines = lines[~lines["is_total"]]
    out = lines.groupby("category", sort=False).agg(
        lines=("detail", "size"), planned=("planned", "sum"),
        actual=("actual", lambda s: s.sum(min_count=1)),
        variance=("variance", lambda s: s.sum(min_count=1))).reset_index()
    total = out["planned"].sum()
    out["share"] = out["planned"] / total * 100 if total else np.nan
    return out



def reconcile(plan: Plan, channel_plan: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The channel plan's cost per channel beside the budget's promotion lines, and the mismatches.

    One row per channel that costs something or has its own budget line, then one for promotion
    lines that name no channel (they can cover channels without a line of their own), then 合计.
    ``difference`` = budget − cost; ``state``: 一致 / 预算有余 / 预算不足 / 预算未单列.
    Returns the table and one Chinese sentence per mismatch (empty when everything reconciles).
    """
    names = {c.id: c.name for c in plan.channels.catalogue}
    cost = channel_plan.groupby("channel", sort=False)["cost"].sum() if len(channel_plan) else pd.Series(dtype=float)
    lines = [ln for ln in plan.budget.lines if is_promotion(ln, plan.budget)]
    by_channel: dict[str, float] = {}
    for ln in lines:
        if ln.channel is not None:
            by_channel[ln.channel] = by_channel.get(ln.channel, 0.0) + float(ln.planned)
    unassigned = float(sum(ln.planned for ln in lines if ln.channel is None))
    rows, warnings = [], []
    for ch in dict.fromkeys([*cost.index, *by_channel]):
        spent, planned = float(cost.get(ch, 0.0)), by_channel.get(ch)
        rows.append(_row(ch, names.get(ch, ch), spent, planned))
        label = names.get(ch, ch)
        if planned is None and spent > TOLERANCE:
            warnings.append(f"渠道计划中{label}的成本 {spent:,.0f} 元在预算中没有单列的推广费明细"
                            + ("(由未指定渠道的推广费承担)。" if unassigned else "。"))
        elif planned is not None and abs(planned - spent) > TOLERANCE:
            side = "高于" if spent > planned else "低于"
            warnings.append(f"{label}的渠道成本 {spent:,.0f} 元{side}预算明细 {planned:,.0f} 元"
                            f"(差 {abs(planned - spent):,.0f} 元)。")
    if unassigned:
        rows.append(_row("", "未指定渠道的推广费", 0.0, unassigned))
    total_cost, total_budget = float(cost.sum()), float(sum(ln.planned for ln in lines))
    rows.append(_row("", TOTAL, total_cost, total_budget))
    if abs(total_budget - total_cost) > TOLERANCE:
        side = "超出" if total_cost > total_budget else "低于"
        warnings.append(f"渠道计划成本合计 {total_cost:,.0f} 元{side}推广费预算 {total_budget:,.0f} 元"
                        f"(差 {abs(total_budget - total_cost):,.0f} 元);请调整渠道计划或预算明细,使两者一致。")
    return pd.DataFrame(rows, columns=RECONCILE_COLUMNS), warnings


def _row(channel: str, name: str, spent: float, planned: float | None) -> dict:
    if planned is None:
        status, diff = "预算未单列", np.nan
    else:
        diff = planned - spent
        status = "一致" if abs(diff) <= TOLERANCE else ("预算有余" if diff > 0 else "预算不足")
    return {"channel": channel, "channel_name": name, "channel_cost": spent,
            "budget_planned": np.nan if planned is None else planned, "difference": diff, "state": status}
