"""Did the campaign cause it? Treatment vs control on repurchase and on spend.

The control group (:mod:`planlib.data.holdout`) receives no campaign message, so the gap between the
treatment group and the control group estimates the campaign's effect (intent to treat, ITT).
Participants vs control is reported too, but participants select themselves, so that gap
overstates the effect; the ``note`` column says so. Two outcomes over the same attribution
window: repurchase (share of customers with an order, difference of proportions) and spend
(net amount per customer, refunds included, difference of means with Welch's interval).
"""

from __future__ import annotations

import pandas as pd

from planlib.metrics.measure import Frames, Window, fmt, period_window, window_label
from planlib.metrics.orders import orders_of
from planlib.plan.kpis import MIN_BASE, SMALL_SAMPLE, too_small
from planlib.plan.schema import Plan
from planlib.stages.review.stats import compare_proportions, diff_proportions, welch

__all__ = ["COLUMNS", "ITT", "PARTICIPANTS", "diff_proportions", "display_frame", "effect_of", "interval_text",
           "small_sample", "uplift", "verdict"]

SMALL_CELL = 5  # the usual rule of thumb for the normal approximation to a proportion
ITT, PARTICIPANTS = "实验组 vs 对照组", "参与客户 vs 对照组"
METRICS = {"repurchase": ("复购率", "%", "百分点"), "spend": ("人均消费", "元", "元")}
COLUMNS = ["metric", "outcome", "comparison", "group_customers", "group_buyers", "group_value",
           "control_customers", "control_buyers", "control_value", "uplift", "ci_low", "ci_high", "p_value",
           "significant", "unit", "note"]


def _groups(plan: Plan, data: Frames, customers_result: pd.DataFrame, window: Window) -> dict:
    lo, hi = pd.Timestamp(window[0]), pd.Timestamp(window[1]) + pd.Timedelta(days=1)
    ids = customers_result["customer_id"].astype(str)
    scope, control = customers_result["in_scope"].astype(bool), customers_result["control"].astype(bool)
    out = {"treatment": pd.Index(ids[scope & ~control].unique()), "control": pd.Index(ids[scope & control].unique()),
           "participants": None, "anchor": lo}
    inter = data.get("interactions")
    if inter is not None:
        rows = inter[inter["campaign"] == plan.review.campaign]
        sent = rows["sent_at"][(rows["sent_at"] >= lo) & (rows["sent_at"] < hi)]
        out["anchor"] = sent.min().normalize() if not sent.empty else lo
        responded = (rows["responded_at"] >= lo) & (rows["responded_at"] < hi)
        out["participants"] = out["treatment"].intersection(pd.Index(rows.loc[responded, "customer_id"].unique()))
    return out


def uplift(plan: Plan, data: Frames, customers_result: pd.DataFrame, *, window: Window | None = None,
           confidence: float = 0.95) -> pd.DataFrame:
    """Result "uplift": treatment (and participants) vs control on repurchase and spend.

    Outcome window: from the campaign's launch day (its first message sent in the window; the
    window start if none) on, review.attribution_days days (launch day included). Every group uses the same anchor:
    control customers have no response date of their own, and a shared anchor keeps the
    comparison fair. Repurchase = an order with amount > 0 in the outcome window (rates and the
    uplift in % / percentage points); spend = net amount per customer in yuan, 0 for non-buyers.
    ``significant`` means the 95 % interval excludes zero; it is NA (no verdict: 样本不足) when a
    group has fewer than MIN_BASE customers (:func:`planlib.plan.kpis.too_small`).
    """
    window = window or period_window(plan)
    g = _groups(plan, data, customers_result, window)
    days = plan.review.attribution_days
    span = f"{g['anchor']:%Y-%m-%d} 起 {days} 天(窗口 {window_label(window)})"
    tx = orders_of(data)
    if tx is not None:  # net spend per customer (orders minus refunds) in the days days from the anchor on
        sums = tx.row_sums(g["anchor"].date(), (g["anchor"] + pd.Timedelta(days=days - 1)).date())
        spend = sums.set_index("customer_id")["spend"]
        buyers = pd.Index(sums.loc[sums["bought"], "customer_id"])
    control = g["control"]
    rows = []
    for metric, (outcome, unit, _) in METRICS.items():
        for label, group, note in ((ITT, g["treatment"], "意向处理(ITT)比较,衡量活动的真实效果"),
                                   (PARTICIPANTS, g["participants"], "参与客户为自选择群体,差异会高估活动效果")):
            row = dict.fromkeys(COLUMNS)
            row.update(metric=metric, outcome=outcome, comparison=label, unit=unit,
                       control_customers=len(control), note=f"{note};结果窗口 {span}")
            if group is None or tx is None:
                row["note"] = f"无数据: 缺少{'交易表' if tx is None else '互动记录'};{note}"
                rows.append(row)
                continue
            row["group_customers"] = len(group)
            if metric == "repurchase":
                x1, x0 = len(group.intersection(buyers)), len(control.intersection(buyers))
                n1, n0 = len(group), len(control)
                row.update(group_buyers=x1, control_buyers=x0,
                           group_value=x1 / n1 * 100 if n1 else None, control_value=x0 / n0 * 100 if n0 else None)
                est = compare_proportions(x1, n1, x0, n0, confidence)
                small = min(x1, n1 - x1, x0, n0 - x0) < SMALL_CELL
                warn = f"样本过小(某组购买或未购买人数不足 {SMALL_CELL}),正态近似的置信区间不可靠"
            else:
                a = spend.reindex(group, fill_value=0.0).to_numpy()
                b = spend.reindex(control, fill_value=0.0).to_numpy()
                row.update(group_value=float(a.mean()) if len(a) else None,
                           control_value=float(b.mean()) if len(b) else None)
                est = welch(a, b, confidence)
                small, warn = False, ""
            if est is not None:
                row.update(uplift=est.diff, ci_low=est.low, ci_high=est.high, p_value=est.p_value,
                           significant=est.significant)
                if too_small(min(len(group), len(control))):  # the one rule: no verdict on a handful
                    row["significant"] = None
                    small, warn = True, f"{SMALL_SAMPLE}(某组不足 {MIN_BASE} 人),不下结论"
                if small:
                    row["note"] = f"{warn};{row['note']}"
            rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("group_value", "control_value", "uplift", "ci_low", "ci_high", "p_value"):
        frame[col] = frame[col].astype("float64")
    for col in ("group_customers", "group_buyers", "control_customers", "control_buyers"):
        frame[col] = frame[col].astype("Int64")
    frame["significant"] = frame["significant"].astype("boolean")
    return frame


def effect_of(frame: pd.DataFrame, metric: str) -> pd.Series | None:
    """The intent-to-treat row of ``metric`` ("repurchase" / "spend"), the one that judges an effect."""
    rows = frame[(frame["metric"] == metric) & (frame["comparison"] == ITT)]
    return None if rows.empty else rows.iloc[0]


def interval_text(row: pd.Series) -> str:
    """``+4.3 百分点 [−2.0, +10.5]`` for an uplift row (``无数据`` without an estimate)."""
    if row is None or pd.isna(row["uplift"]):
        return "无数据"
    unit = METRICS[row["metric"]][2]
    return f"{row['uplift']:+.1f} {unit} [{row['ci_low']:+.1f}, {row['ci_high']:+.1f}]"


def small_sample(row: pd.Series | None) -> bool:
    """An estimate on a group of fewer than MIN_BASE customers (also for results stored before the rule)."""
    if row is None or pd.isna(row.get("uplift")):
        return False
    sizes = [row.get(c) for c in ("group_customers", "control_customers")]
    return any(s is not None and not pd.isna(s) and too_small(float(s)) for s in sizes)


def verdict(row: pd.Series) -> str:
    if small_sample(row):
        return SMALL_SAMPLE
    if row is None or pd.isna(row["significant"]):
        return "无法判断"
    if not row["significant"]:
        return "与0无显著差异"
    return "显著提升" if row["uplift"] > 0 else "显著下降"


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The uplift table as reviewers read it: values with units, interval, p-value and verdict."""
    def value(v: float, unit: str) -> str:
        return fmt(None if pd.isna(v) else float(v), unit)

    return pd.DataFrame({
        "指标": frame["outcome"], "比较": frame["comparison"], "组人数": frame["group_customers"],
        "组": [value(v, u) for v, u in zip(frame["group_value"], frame["unit"], strict=True)],
        "对照组人数": frame["control_customers"],
        "对照组": [value(v, u) for v, u in zip(frame["control_value"], frame["unit"], strict=True)],
        "提升 [95%置信区间]": [interval_text(r) for _, r in frame.iterrows()],
        "p值": [("—" if pd.isna(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")) for p in frame["p_value"]],
        "结论": [verdict(r) for _, r in frame.iterrows()], "说明": frame["note"],
    })
