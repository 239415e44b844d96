"""Did the campaign cause the repurchases? Treatment vs control on N-day repurchase.

The control group (:mod:`planlib.holdout`) receives no campaign message, so the gap between the
treatment group's and the control group's repurchase rate estimates the campaign's effect
(intent to treat). Participants vs control is reported too, but participants select themselves,
so that gap overstates the effect; the ``note`` column says so.
"""

from __future__ import annotations

from math import sqrt
from statistics import NormalDist

import pandas as pd

from .measure import Frames, Window, period_window, window_label
from .schema import Plan

SMALL_CELL = 5  # the usual rule of thumb for the normal approximation to a proportion
COLUMNS = ["comparison", "group_customers", "group_buyers", "group_rate", "control_customers",
           "control_buyers", "control_rate", "uplift_pp", "ci_low", "ci_high", "significant", "note"]


def diff_proportions(x1: int, n1: int, x0: int, n0: int,
                     confidence: float = 0.95) -> tuple[float, float, float] | None:
    """p1 − p0 and its confidence interval, in percentage points (None if a group is empty).

    Normal approximation with the unpooled (Wald) standard error
    sqrt(p1(1−p1)/n1 + p0(1−p0)/n0) — the textbook interval for a difference of proportions.
    """
    if n1 == 0 or n0 == 0:
        return None
    p1, p0 = x1 / n1, x0 / n0
    se = sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    diff = p1 - p0
    return diff * 100, (diff - z * se) * 100, (diff + z * se) * 100


def uplift(plan: Plan, data: Frames, customers_result: pd.DataFrame, *, window: Window | None = None,
           confidence: float = 0.95) -> pd.DataFrame:
    """Repurchase uplift of treatment (and of participants) over control, one row per comparison.

    Outcome: an order with amount > 0 dated from the campaign's launch day (its first message sent
    in the window; the window start if none) to review.attribution_days after it. Every group uses
    the same launch-day anchor: control customers have no response date of their own, and a
    shared anchor keeps the comparison fair. Rates and the uplift are in % / percentage points.
    """
    start, end = window or period_window(plan)
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    ids = customers_result["customer_id"].astype(str)
    scope, control = customers_result["in_scope"].astype(bool), customers_result["control"].astype(bool)
    groups = {"treatment": set(ids[scope & ~control]), "control": set(ids[scope & control])}

    inter, anchor, participants = data.get("interactions"), lo, None
    if inter is not None:
        rows = inter[inter["campaign"] == plan.review.campaign]
        sent = rows["sent_at"][(rows["sent_at"] >= lo) & (rows["sent_at"] < hi)]
        anchor = sent.min().normalize() if not sent.empty else lo
        responded = (rows["responded_at"] >= lo) & (rows["responded_at"] < hi)
        participants = set(rows.loc[responded, "customer_id"]) & groups["treatment"]

    days = plan.review.attribution_days
    span = f"{anchor:%Y-%m-%d} 起 {days} 天内有消费(窗口 {window_label((start, end))})"
    tx = data.get("transactions")
    buyers: set[str] | None = None
    if tx is not None:
        day = tx["order_date"].dt.normalize()
        hit = (tx["amount"] > 0) & (day >= anchor) & (day <= anchor + pd.Timedelta(days=days))
        buyers = set(tx.loc[hit, "customer_id"])

    def row(label: str, group: set[str] | None, note: str) -> dict:
        out = dict.fromkeys(COLUMNS)
        out.update(comparison=label, note=note, control_customers=len(groups["control"]))
        if group is None or buyers is None:
            out["note"] = f"无数据: 缺少{'交易表' if buyers is None else '互动记录'};{note}"
            return out
        x1, x0 = len(group & buyers), len(groups["control"] & buyers)
        out.update(group_customers=len(group), group_buyers=x1, control_buyers=x0,
                   group_rate=x1 / len(group) * 100 if group else None,
                   control_rate=x0 / len(groups["control"]) * 100 if groups["control"] else None)
        n1, n0 = len(group), len(groups["control"])
        result = diff_proportions(x1, n1, x0, n0, confidence)
        if result is not None:
            d, a, b = result
            # a difference of shares cannot leave ±100 points, whatever the approximation says
            a, b = max(a, -100.0), min(b, 100.0)
            out.update(uplift_pp=d, ci_low=a, ci_high=b, significant=bool(a > 0 or b < 0))
            if min(x1, n1 - x1, x0, n0 - x0) < SMALL_CELL:
                out["note"] = f"样本过小(某组购买或未购买人数不足 {SMALL_CELL}),正态近似的置信区间不可靠;{note}"
        return out

    frame = pd.DataFrame([
        row("实验组 vs 对照组", groups["treatment"], f"意向处理(ITT)比较;结果 = {span}"),
        row("参与客户 vs 对照组", participants, f"参与客户为自选择群体,差异会高估活动效果;结果 = {span}"),
    ], columns=COLUMNS)
    for col in ("group_rate", "control_rate", "uplift_pp", "ci_low", "ci_high"):
        frame[col] = frame[col].astype("float64")
    for col in ("group_customers", "group_buyers", "control_customers", "control_buyers"):
        frame[col] = frame[col].astype("Int64")
    frame["significant"] = frame["significant"].astype("boolean")
    return frame
