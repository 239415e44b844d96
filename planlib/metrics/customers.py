"""Stage 02 as one call: RFM, complaints, lifetime value, tiers and scope for every customer.

:func:`analyse` joins the pieces that live in their own modules — RFM scores and tier rules
(:mod:`planlib.metrics.segment`), BG/NBD or MBG/NBD + Gamma-Gamma (:mod:`planlib.metrics.clv`) — into the ``customers``
result, and says what it did with every transaction row (:func:`transaction_coverage`), so
nothing is dropped without a count on the page.

Columns added to the RFM table: ``complaints`` (complaint tickets created in the RFM window;
NaN without a tickets source), ``p_alive`` (0–1), ``churn_probability`` (1 − p_alive),
``expected_purchases`` (purchase days expected within ``segmentation.clv.horizon_days``),
``expected_spend`` (per purchase, yuan) and ``clv`` (discounted value over the horizon, yuan).
Customers who never bought have NaN in all of them and match no condition on them; when only
the spend model failed, p_alive/churn_probability/expected_purchases are kept and
expected_spend/clv are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from planlib.data.ids import check_ids_match
from planlib.errors import PlanError
from planlib.metrics import clv as lifetime
from planlib.metrics.purchases import purchase_arrays
from planlib.metrics.segment import _positions, assign_tiers, mark_scope, rfm_as_of, rfm_table, rule_fields
from planlib.plan.schema import Plan

_CLV_FIELDS = {"clv", "p_alive", "churn_probability"}


@dataclass
class NeedsAnalysis:
    """What stage 02 computed: the customers result and how the lifetime model went."""

    customers: pd.DataFrame
    lifetime: lifetime.ClvResult
    coverage: pd.DataFrame  # item, rows, note — what happened to each transaction row

    @property
    def clv_problem(self) -> str:
        return self.lifetime.problem


def analyse(customers: pd.DataFrame, transactions: pd.DataFrame, plan: Plan,
            tickets: pd.DataFrame | None = None) -> NeedsAnalysis:
    """The ``customers`` result with RFM, complaints, p_alive, CLV, tier, scope and control."""
    seg = plan.segmentation
    used = rule_fields(seg.tiers)
    if "complaints" in used and tickets is None:
        raise PlanError("segmentation.tiers: 分层规则用到投诉次数(complaints),但计划没有配置 data.tickets"
                        " — 在 data: 下添加 tickets,或删除 complaints 条件")
    check_ids_match(customers, transactions)  # one clear stop instead of silently dropped orders
    as_of = rfm_as_of(plan)
    ids = pd.Index(customers["customer_id"].drop_duplicates())
    positions = _positions(ids, transactions["customer_id"])
    bought = purchase_arrays(transactions, positions, as_of)  # one purchase definition for RFM and CLV
    table = rfm_table(customers, transactions, as_of=as_of, window_days=seg.rfm.window_days,
                      levels=seg.rfm.levels, positions=positions, bought=bought)
    table["complaints"] = (complaint_counts(ids, tickets, as_of, seg.rfm.window_days)
                           if tickets is not None else np.nan)
    history = lifetime.purchase_history(ids, transactions, as_of, bought=bought)
    result = lifetime.predict_clv(history, horizon_days=seg.clv.horizon_days,
                                  annual_discount_percent=seg.clv.discount_rate, model=seg.clv.model)
    predicted = result.frame.to_numpy()
    for i, column in enumerate(result.frame.columns):
        table[column] = predicted[:, i]
    table["churn_probability"] = 1 - table["p_alive"]
    out = mark_scope(assign_tiers(table, seg), plan)
    coverage = transaction_coverage(transactions, positions, as_of, seg.rfm.window_days)
    return NeedsAnalysis(out, result, coverage)


def complaint_counts(ids: pd.Index, tickets: pd.DataFrame, as_of, window_days: int) -> np.ndarray:
    """Complaint tickets per customer created in the RFM window (as_of − window_days, as_of]."""
    pos = _positions(ids, tickets["customer_id"])
    created = pd.to_datetime(tickets["created_at"]).dt.normalize()
    end = pd.Timestamp(as_of)
    start = end - timedelta(days=window_days)
    keep = ((pos >= 0) & tickets["is_complaint"].to_numpy(dtype=bool)
            & (created > start).to_numpy() & (created <= end).to_numpy())
    return np.bincount(pos[keep], minlength=len(ids)).astype(float)


def transaction_coverage(transactions: pd.DataFrame, positions: np.ndarray, as_of, window_days: int
                         ) -> pd.DataFrame:
    """How many transaction rows counted, and how many did not and why (one row per reason)."""
    day = pd.to_datetime(transactions["order_date"]).to_numpy().astype("datetime64[D]")
    amount = transactions["amount"].to_numpy(dtype=float, na_value=np.nan)
    today = np.datetime64(as_of, "D")
    known = positions >= 0
    after = known & (day > today)
    before = known & (day <= today - np.timedelta64(window_days, "D"))
    in_window = known & ~after & ~before
    unknown_ids = pd.unique(transactions["customer_id"].to_numpy()[~known])
    examples = "、".join(map(str, unknown_ids[:5])) + ("…" if len(unknown_ids) > 5 else "")
    rows = [
        ("交易记录", len(transactions), "读入的全部交易行"),
        ("统计窗口内的消费", int((in_window & (amount > 0)).sum()), "计入 R/F/M"),
        ("统计窗口内的退款", int((in_window & (amount < 0)).sum()), "冲减同一订单的金额;全额退款的订单不算购买,找不到原订单的退款不计"),
        ("金额为 0", int((known & ~after & (amount == 0)).sum()), "不算购买"),
        ("统计窗口之前", int((before & (amount != 0)).sum()), "只用于最近消费天数 R 与终身价值模型"),
        ("基准日之后", int(after.sum()), f"晚于 {as_of},不计入本次分析"),
        ("客户表中没有的客户", int((~known).sum()),
         f"{len(unknown_ids)} 个客户编号不在客户表中,未计入" + (f"(例如 {examples})" if len(unknown_ids) else "")),
    ]
    return pd.DataFrame(rows, columns=["item", "rows", "note"])


def customers_result(customers: pd.DataFrame, transactions: pd.DataFrame, plan: Plan,
                     tickets: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``customers`` result: RFM, complaints, CLV, tier, scope and control flags.

    :func:`analyse` also returns the lifetime model and row counts.
    """
    return analyse(customers, transactions, plan, tickets).customers
