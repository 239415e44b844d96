"""The campaign funnel: 目标客户 → 触达 → 打开 → 互动 → 参与 → 复购, from the KPI values.

One definition of the steps, read by the review tables and by the diagnosis of a missed KPI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from planlib.metrics.measure import Frames, KpiValue, Window, compute_kpis, fmt
from planlib.plan.kpis import too_small
from planlib.plan.schema import Plan

Absent = Mapping[str, Iterable[str]]

# step -> (KPI whose counts give it, which count)
_STEP_COUNTS = {
    "目标客户": ("reach_rate", "treatment"), "触达": ("reach_rate", "numerator"),
    "打开": ("open_rate", "numerator"), "互动": ("engagement_rate", "numerator"),
    "参与": ("participation_rate", "numerator"), "复购": ("repurchase_30d", "numerator"),
}
FUNNEL_STEPS = tuple(_STEP_COUNTS)


def _count(kv: KpiValue | None, which: str) -> float | None:
    if kv is None:
        return None
    return kv.parts.get(which) if which == "treatment" else kv.numerator


def funnel_from_values(values: Mapping[str, KpiValue]) -> pd.DataFrame:
    """目标客户 → 触达 → 打开 → 互动 → 参与 → 复购 from already computed KPI values.

    Each step's count is the numerator of its KPI, so the funnel always agrees with the KPI
    table. Steps need not be nested (a phone participant may never "open" a message), so
    rate_of_previous can exceed 100 %. Unknown counts are NA, not 0; a rate whose base (the step
    before, or the target group) is below MIN_BASE customers is NaN: 样本不足, no rate to read.
    """
    counts = [_count(values.get(kpi), which) for kpi, which in _STEP_COUNTS.values()]
    customers = pd.Series([float("nan") if c is None else float(c) for c in counts])
    previous = customers.shift(1)
    frame = pd.DataFrame({"step": list(_STEP_COUNTS), "customers": customers.round().astype("Int64")})
    # a zero or small base gives no rate (NaN), never a division by zero nor a ratio of a handful
    usable = previous.where((previous > 0) & ~previous.map(too_small).astype(bool))
    frame["rate_of_previous"] = customers / usable * 100
    first = customers[0] if customers[0] > 0 and not too_small(customers[0]) else float("nan")
    frame["rate_of_target"] = customers / first * 100
    return frame


def funnel(plan: Plan, data: Frames, customers_result: pd.DataFrame, *,
           window: Window | None = None, absent: Absent | None = None) -> pd.DataFrame:
    """The campaign funnel of the treatment group (step, customers, rate_of_previous, rate_of_target)."""
    needed = {kpi for kpi, _ in _STEP_COUNTS.values()}
    return funnel_from_values(compute_kpis(plan, data, customers_result, window=window, kpis=needed, absent=absent))


def biggest_loss(steps: pd.DataFrame, until: str = "参与") -> dict | None:
    """The step up to ``until`` where most customers were lost: {step, previous, lost, customers, rate}.

    None if unknown. Steps are not nested (a phone participant never "clicks"), so only drops count
    as losses. Repurchase comes after ``until`` by default: it is the outcome, not a place to lose people.
    """
    if until in set(steps["step"]):
        steps = steps.iloc[: list(steps["step"]).index(until) + 1]
    counts = steps["customers"].astype("Float64")
    lost = (counts.shift(1) - counts).iloc[1:]
    # a step without a rate (unknown or too small a base) is no finding
    lost = lost[lost.notna() & (lost > 0) & steps["rate_of_previous"].iloc[1:].notna().to_numpy()]
    if lost.empty:
        return None
    i = int(lost.astype(float).idxmax())
    return {"step": steps["step"].iloc[i], "previous": steps["step"].iloc[i - 1], "lost": int(lost[i]),
            "customers": int(counts.iloc[i - 1]), "rate": float(steps["rate_of_previous"].iloc[i])}


def loss_sentence(steps: pd.DataFrame, who: str = "") -> str:
    """``流失最多的环节是 打开 → 互动:打开的 330 人中 90 人没有互动(转化率 72.7%)``."""
    loss = biggest_loss(steps)
    if loss is None:
        return f"{who}漏斗无数据或各步人数不足(样本不足),无法判断在哪一步流失。"
    return (f"{who}流失最多的环节是 {loss['previous']} → {loss['step']}:{loss['previous']}的 {loss['customers']} 人中"
            f" {loss['lost']} 人没有{loss['step']}(转化率 {fmt(loss['rate'], '%')})。")


def funnel_by(plan: Plan, data: Frames, customers_result: pd.DataFrame, *, by: str = "channel",
              window: Window | None = None, absent: Absent | None = None) -> pd.DataFrame:
    """The funnel per group: ``by`` is an interactions column (channel, variant) or a column of the
    customers result (tier). Per channel, the target is the whole treatment group and each later
    step counts only that channel's messages; per tier, every step is restricted to the tier.
    Columns: <by>, label (channel name for channels), step, customers, rate_of_previous, rate_of_target.
    """
    inter = data.get("interactions")
    frames = []
    if inter is not None and by in inter.columns:
        rows = inter[inter["campaign"] == plan.review.campaign]
        for group in sorted(rows[by].dropna().unique()):
            part = {**data, "interactions": rows[rows[by] == group]}
            frames.append(funnel(plan, part, customers_result, window=window, absent=absent).assign(**{by: group}))
    elif by in customers_result.columns:
        scope = customers_result["in_scope"].astype(bool)
        for group in sorted(customers_result.loc[scope, by].dropna().unique()):
            part = customers_result.assign(in_scope=scope & (customers_result[by] == group))
            frames.append(funnel(plan, data, part, window=window, absent=absent).assign(**{by: group}))
    elif inter is None and by in ("channel", "variant"):
        pass  # no interactions source: no groups, the page says 无数据 (planlib.data.contract)
    else:
        raise ValueError(f"无法按 {by!r} 分组: 互动记录和客户分层结果中都没有该列")
    if not frames:
        return pd.DataFrame(columns=[by, "label", "step", "customers", "rate_of_previous", "rate_of_target"])
    out = pd.concat(frames, ignore_index=True)
    names = {c.id: c.name for c in plan.channels.catalogue} if by == "channel" else {}
    out["label"] = out[by].map(lambda g: names.get(g, str(g)))
    return out[[by, "label", "step", "customers", "rate_of_previous", "rate_of_target"]]
