"""Stage 02 as one call: RFM, complaints, lifetime value, tiers and scope for every customer.

Two paths give the same result. :func:`analyse` takes every order as a pandas frame (small files:
the loader names every bad cell). :func:`analyse_source` takes the transactions *source* and lets
:func:`planlib.data.aggregate.customer_figures` compute one row per customer underneath — in the
source database, or in DuckDB for large CSV/Parquet files — so pandas never holds the orders;
:func:`engine_for` says which path a plan's source takes (:func:`planlib.data.aggregate.choose_engine`)
and :func:`analyse_data` follows it. Both paths feed the same scoring
(:func:`~planlib.metrics.segment.scored`), the same lifetime fit (:func:`~planlib.metrics.clv.predict_clv`)
and the same coverage table; ``tests/metrics/test_customers.py`` checks tiers, RFM and CLV are
identical on the demo with the engine forced both ways.

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

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from planlib.data.aggregate import choose_engine, customer_figures
from planlib.data.ids import check_id_counts, check_ids_match, member_of
from planlib.errors import PlanError
from planlib.metrics import clv as lifetime
from planlib.metrics.orders import FrameOrders
from planlib.metrics.purchases import purchase_arrays
from planlib.metrics.rfm_inputs import rfm_from_purchases
from planlib.metrics.segment import _positions, assign_tiers, mark_scope, rfm_as_of, rfm_table, rule_fields
from planlib.plan.schema import DataSource, Plan

_CLV_FIELDS = {"clv", "p_alive", "churn_probability"}


@dataclass
class NeedsAnalysis:
    """What stage 02 computed: the customers result and how the lifetime model went."""

    customers: pd.DataFrame
    lifetime: lifetime.ClvResult
    coverage: pd.DataFrame  # item, rows, note — what happened to each transaction row
    engine: str = "pandas"  # who read the orders: "pandas" (all rows), "duckdb" or "database" (per customer)
    # the per-customer path: what was read, for the stage's load report and sentinel (see source_note)
    source_note: dict | None = None

    @property
    def clv_problem(self) -> str:
        return self.lifetime.problem


def _check_rules(plan: Plan, tickets: pd.DataFrame | None) -> None:
    if "complaints" in rule_fields(plan.segmentation.tiers) and tickets is None:
        raise PlanError("segmentation.tiers: 分层规则用到投诉次数(complaints),但计划没有配置 data.tickets"
                        " — 在 data: 下添加 tickets,或删除 complaints 条件")


def analyse(customers: pd.DataFrame, transactions: pd.DataFrame, plan: Plan,
            tickets: pd.DataFrame | None = None) -> NeedsAnalysis:
    """The ``customers`` result with RFM, complaints, p_alive, CLV, tier, scope and control."""
    seg = plan.segmentation
    _check_rules(plan, tickets)
    check_ids_match(customers, transactions)  # one clear stop instead of silently dropped orders
    as_of = rfm_as_of(plan)
    ids = pd.Index(customers["customer_id"].drop_duplicates())
    positions = _positions(ids, transactions["customer_id"])
    bought = purchase_arrays(transactions, positions, as_of)  # one purchase definition for RFM and CLV
    table = rfm_table(customers, transactions, as_of=as_of, window_days=seg.rfm.window_days,
                      levels=seg.rfm.levels, positions=positions, bought=bought)
    history = lifetime.purchase_history(ids, transactions, as_of, bought=bought)
    coverage = transaction_coverage(transactions, positions, as_of, seg.rfm.window_days)
    return _complete(table, ids, history, coverage, plan, tickets)


def engine_for(plan: Plan, base_dir: Path, engine: str = "auto") -> str:
    """Which path stage 02 takes for the plan's transactions: ``"pandas"`` (every order loaded),
    or ``"duckdb"``/``"database"`` (one row per customer computed underneath)."""
    return choose_engine(plan.data.transactions, Path(base_dir), engine)


def sources_underneath(plan: Plan, base_dir: Path, engine: str = "auto") -> tuple[str, ...]:
    """The sources stage 02 does not load whole (``("transactions",)`` on the per-customer path)."""
    return () if engine_for(plan, base_dir, engine) == "pandas" else ("transactions",)


def analyse_data(data: MutableMapping[str, pd.DataFrame], plan: Plan, base_dir: Path,
                 engine: str = "auto", *, keep: bool = False) -> NeedsAnalysis:
    """Stage 02's call: :func:`analyse` when ``data`` holds the orders, else :func:`analyse_source`.

    ``data`` is the stage's loaded frames (``transactions`` left out on the per-customer path,
    see :func:`engine_for`, or there as :class:`~planlib.metrics.orders.Orders`: loaded ones are
    analysed in pandas, :class:`~planlib.metrics.orders.SourceOrders` underneath). Without a ``customers`` frame — a plan without ``data.customers`` on
    the per-customer path — the customer list is the IDs of the orders, and it is put into
    ``data["customers"]`` for the sections after (names and phones are not read on that path).
    """
    orders = data.get("transactions")
    if isinstance(orders, FrameOrders):
        orders = orders.frame
    if isinstance(orders, pd.DataFrame):
        return analyse(data["customers"], orders, plan, data.get("tickets"))
    analysis = analyse_source(data.get("customers"), plan.data.transactions, base_dir, plan, data.get("tickets"),
                              engine=engine, keep=keep)
    if "customers" not in data:
        data["customers"] = analysis.source_note["customer_list"]
    return analysis


def analyse_source(customers: pd.DataFrame | None, transactions: DataSource, base_dir: Path, plan: Plan,
                   tickets: pd.DataFrame | None = None, *, engine: str = "auto", keep: bool = False) -> NeedsAnalysis:
    """:func:`analyse` from the transactions *source*, pandas holding one row per customer.

    The orders are aggregated where they are (:func:`planlib.data.aggregate.customer_figures`:
    the database, DuckDB, or pandas when the source is small or the fast path declines) into
    per-customer purchases, the lifetime model's inputs (x, t_x, T, repeat mean spend) and row
    counts; RFM, CLV, tiers, scope and coverage follow exactly as in :func:`analyse`.
    ``customers`` None: the customer list is the IDs of the orders (no names). ``engine`` as in
    :func:`~planlib.data.aggregate.choose_engine`; ``keep``: the per-customer figures of a file are
    kept for the next stage in the same kernel (:func:`~planlib.data.aggregate.customer_figures`).
    """
    seg = plan.segmentation
    _check_rules(plan, tickets)
    as_of = rfm_as_of(plan)
    figures = customer_figures(transactions, Path(base_dir), as_of=as_of, window_days=seg.rfm.window_days,
                               engine=engine, keep=keep)
    label = source_label(transactions)
    if customers is None:
        customers = customer_list(figures.rows["customer_id"], label)
    seen = figures.rows["customer_id"]
    check_id_counts(customers, seen.where(seen.notna(), ""), figures.rows["rows_read"].to_numpy(), tx_label=label)
    ids = pd.Index(customers["customer_id"].drop_duplicates())
    table = rfm_from_purchases(customers, figures.purchases, levels=seg.rfm.levels)
    history = lifetime.history_from_purchases(ids, figures.purchases)
    coverage = coverage_from_counts(ids, figures.rows, as_of, seg.rfm.window_days)
    analysis = _complete(table, ids, history, coverage, plan, tickets)
    analysis.engine = figures.engine
    analysis.source_note = {"name": "transactions", "path": label, "rows": int(figures.rows["rows_read"].sum()),
                            "engine": figures.engine, "fingerprint": figures.fingerprint,
                            "customer_list": customers}
    return analysis


def source_label(source: DataSource) -> str:
    """How a source is named to the planner: its path, or the database and table/query (masked)."""
    if source.url is None:
        return str(source.path)
    from planlib.data import sql

    return sql.describe(source)


def customer_list(ids: pd.Series, label: str) -> pd.DataFrame:
    """The customer list of a plan without ``data.customers`` on the per-customer path: every
    customer ID of the orders (``ids``: :class:`CustomerFigures`' ``rows``, or stage 02's result
    for the stages after it), sorted; the other customer columns are absent (NA), never invented."""
    from planlib.data.tables import TABLES

    seen = ids.dropna().astype(str)
    if not (seen.is_monotonic_increasing and seen.is_unique):  # the figures' rows are already both
        seen = pd.Series(pd.unique(seen.to_numpy()), dtype="str").sort_values(ignore_index=True)
    out = pd.DataFrame({"customer_id": pd.Series(seen.to_numpy(), dtype="str")})
    for column in TABLES["customers"]:
        if column.name != "customer_id":
            out[column.name] = pd.Series(pd.NA, index=out.index, dtype="str" if column.kind == "text" else object)
    out.attrs["source"] = f"{label}(由交易表生成的客户名单)"
    return out


def _complete(table: pd.DataFrame, ids: pd.Index, history: pd.DataFrame, coverage: pd.DataFrame, plan: Plan,
              tickets: pd.DataFrame | None) -> NeedsAnalysis:
    """Complaints, the lifetime model, tiers and scope on the RFM table: the part both paths share."""
    seg = plan.segmentation
    as_of = rfm_as_of(plan)
    table["complaints"] = (complaint_counts(ids, tickets, as_of, seg.rfm.window_days)
                           if tickets is not None else np.nan)
    result = lifetime.predict_clv(history, horizon_days=seg.clv.horizon_days,
                                  annual_discount_percent=seg.clv.discount_rate, model=seg.clv.model)
    predicted = result.frame.to_numpy()
    for i, column in enumerate(result.frame.columns):
        table[column] = predicted[:, i]
    table["churn_probability"] = 1 - table["p_alive"]
    out = mark_scope(assign_tiers(table, seg), plan)
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
    unknown_ids = pd.Series(pd.unique(transactions["customer_id"].to_numpy()[~known]))
    return _coverage_table(
        len(transactions), int((in_window & (amount > 0)).sum()), int((in_window & (amount < 0)).sum()),
        int((known & ~after & (amount == 0)).sum()), int((before & (amount != 0)).sum()), int(after.sum()),
        int((~known).sum()), unknown_ids, as_of)


def coverage_from_counts(ids: pd.Index, rows: pd.DataFrame, as_of, window_days: int) -> pd.DataFrame:
    """:func:`transaction_coverage` from the row counts per customer of the per-customer path
    (:data:`planlib.data.aggregate.ROW_COUNTS`, counted over the same window)."""
    known = member_of(rows["customer_id"], ids)

    def total(column: str, where: np.ndarray = known) -> int:
        return int(rows[column].to_numpy()[where].sum())

    return _coverage_table(total("rows_read", np.ones(len(rows), dtype=bool)), total("rows_window_purchase"),
                           total("rows_window_refund"), total("rows_zero"), total("rows_before"), total("rows_after"),
                           total("rows_read", ~known), rows["customer_id"][~known], as_of)


def _coverage_table(read: int, window_purchase: int, window_refund: int, zero: int, before: int, after: int,
                    unknown_rows: int, unknown_ids: pd.Series, as_of) -> pd.DataFrame:
    # examples sorted, so both paths name the same ones
    shown = sorted(unknown_ids.dropna().astype(str).unique())
    examples = "、".join(shown[:5]) + ("…" if len(shown) > 5 else "")
    rows = [
        ("交易记录", read, "读入的全部交易行"),
        ("统计窗口内的消费", window_purchase, "计入 R/F/M"),
        ("统计窗口内的退款", window_refund, "冲减同一订单的金额;全额退款的订单不算购买,找不到原订单的退款不计"),
        ("金额为 0", zero, "不算购买"),
        ("统计窗口之前", before, "只用于最近消费天数 R 与终身价值模型"),
        ("基准日之后", after, f"晚于 {as_of},不计入本次分析"),
        ("客户表中没有的客户", unknown_rows,
         f"{len(shown)} 个客户编号不在客户表中,未计入" + (f"(例如 {examples})" if len(shown) else "")),
    ]
    return pd.DataFrame(rows, columns=["item", "rows", "note"])


def customers_result(customers: pd.DataFrame, transactions: pd.DataFrame, plan: Plan,
                     tickets: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``customers`` result: RFM, complaints, CLV, tier, scope and control flags.

    :func:`analyse` also returns the lifetime model and row counts.
    """
    return analyse(customers, transactions, plan, tickets).customers
