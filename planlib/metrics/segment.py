"""Stage 02 — needs analysis: RFM scores, tiers, target segments and their summaries.

Pure functions: canonical frames (docs/CONTRACTS.md) and schema objects in, frames out. The
``customers`` result that later stages read is built by
:func:`planlib.metrics.customers.customers_result`.

Modelling choices
-----------------
* A *purchase* is defined once, in :mod:`planlib.metrics.purchases`: an order (``order_id``, or
  customer + day without order ids) whose net amount — refund rows of the same order subtract —
  is positive, dated on its first day with a positive row; rows after ``as_of`` are ignored
  everywhere. The window is the ``window_days`` calendar days ending on ``as_of``
  (``as_of - window_days < day <= as_of``), and a purchase belongs to it by its date.
* ``recency_days`` counts calendar days from the last purchase ever (not only in the window) to
  ``as_of``. A customer who never bought has ``NaN``: it matches no recency condition, and for
  scoring it counts as the worst possible recency (R = 1).
* ``frequency`` counts the purchases in the window; a fully refunded order is none.
  ``monetary`` is the sum of their net amounts (a refund lowers the order it belongs to, so a
  partly refunded order counts with what was kept), rounded to the fen so that summation order
  can never split two identical customers.
* Scores 1..levels come from quantile cut points of all customers' values (the values at the
  1/levels, 2/levels … positions of the sorted values, ``inverted_cdf``, so every cut point is
  an observed value): a value scores 1 + the number of cut points strictly below it (bins closed
  on the right, as in ``pd.qcut``). Equal values always get equal scores and row order never
  matters; heavy ties can leave a level unused. Recency is scored on ``-recency_days`` so that
  recent buyers score high.
* ``rfm_score`` is the cell code such as ``"545"`` (digits joined with ``-`` when levels is 10,
  so ``10`` stays readable); ``rfm_total`` is R + F + M, for sorting.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from planlib.data.holdout import control_mask
from planlib.errors import PlanError
from planlib.metrics.purchases import PurchaseArrays, purchase_arrays
from planlib.plan.schema import Plan, Segment, Segmentation, parse_condition

DEFAULT_RULE = "未命中规则"
# condition field -> (letter, unit) used in the readable rule text
_FIELDS = {"recency_days": ("R", "天"), "frequency": ("F", ""), "monetary": ("M", "元"),
           "clv": ("CLV", "元"), "p_alive": ("存活概率", "%"), "churn_probability": ("流失概率", "%"),
           "complaints": ("投诉", "次")}
# fields whose conditions are written in percent over a probability column of the customers frame
_PERCENT_OF = {"p_alive": ("p_alive", False), "churn_probability": ("p_alive", True)}


# ---------------------------------------------------------------------------------- RFM
def rfm_as_of(plan: Plan) -> date:
    """The RFM reference day: ``segmentation.rfm.as_of`` or the day before the plan starts."""
    return plan.segmentation.rfm.as_of or plan.meta.period.start - timedelta(days=1)


def _positions(ids: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in ``ids`` (-1 when absent).

    pyarrow's hash lookup is about five times faster than ``Index.get_indexer`` on 10M strings.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is a dependency, this is a safety net
        return ids.get_indexer(values)
    found = pc.index_in(pa.array(values.astype(str)), value_set=pa.array(ids.astype(str)), skip_nulls=True)
    return found.fill_null(-1).to_numpy().astype(np.int64)


def quantile_scores(values: np.ndarray, levels: int) -> np.ndarray:
    """Scores 1..levels by value against quantile cut points; NaN scores 1.

    Cut points come from the distribution of values, so a score depends only on the value and
    on the multiset of all values — never on row order or on position within a tie.
    """
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    scores = np.ones(len(values), dtype=np.int64)
    if missing.all():
        return scores
    cuts = np.quantile(values[~missing], np.arange(1, levels) / levels, method="inverted_cdf")
    scores[~missing] = 1 + np.searchsorted(cuts, values[~missing], side="left")
    return scores


def rfm_table(customers: pd.DataFrame, transactions: pd.DataFrame, *, as_of: date,
              window_days: int, levels: int, positions: np.ndarray | None = None,
              bought: PurchaseArrays | None = None) -> pd.DataFrame:
    """One row per customer of ``customers`` with recency, frequency, monetary and their scores.

    Columns: customer_id, last_purchase, recency_days, frequency, monetary, r_score, f_score,
    m_score, rfm_score, rfm_total. Transactions of customers not in ``customers`` are ignored
    (:func:`planlib.metrics.customers.transaction_coverage` counts them). ``positions`` — each
    transaction's position in the distinct customer ids — and ``bought`` (their purchases as of
    ``as_of``, :func:`planlib.metrics.purchases.purchase_arrays`) may be passed when already computed.
    See the module docstring for the exact definitions.
    """
    ids = pd.Index(customers["customer_id"].drop_duplicates())
    n = len(ids)
    # Map each transaction to its customer's position once; everything after is bincount.
    pos = _positions(ids, transactions["customer_id"]) if positions is None else positions
    if bought is None:
        bought = purchase_arrays(transactions, pos, as_of)
    today = np.datetime64(as_of, "D").astype(np.int64)

    never = np.iinfo(np.int64).min
    last = np.full(n, never, dtype=np.int64)
    np.maximum.at(last, bought.pos, bought.day)
    has_bought = last != never
    recency = np.where(has_bought, today - last, np.nan).astype(float)

    in_window = bought.day > today - window_days
    monetary = np.round(np.bincount(bought.pos[in_window], weights=bought.amount[in_window], minlength=n), 2)
    frequency = np.bincount(bought.pos[in_window], minlength=n).astype(np.int64)

    last_purchase = last.astype("datetime64[D]")
    last_purchase[~has_bought] = np.datetime64("NaT")

    return scored(ids, pd.to_datetime(last_purchase).astype("datetime64[ns]"), recency, frequency, monetary, levels)


def scored(ids: pd.Index, last_purchase, recency: np.ndarray, frequency: np.ndarray, monetary: np.ndarray,
           levels: int) -> pd.DataFrame:
    """The RFM table from per-customer inputs: R (fewer days is better, never-bought last), F, M scored
    1…``levels`` by :func:`quantile_scores`, the combined code and the total. Shared by the pandas path
    (:func:`rfm_table`) and the engine path (:mod:`planlib.metrics.rfm_inputs`)."""
    has_bought = ~np.isnan(recency)
    out = pd.DataFrame({
        # pyarrow-backed IDs stay so (10M of them as Python strings: +0.6 GB, issue 17)
        "customer_id": ids.array if isinstance(ids.dtype, pd.StringDtype) else ids.to_numpy(),
        "last_purchase": last_purchase,
        "recency_days": recency,
        "frequency": frequency,
        "monetary": monetary,
        "r_score": quantile_scores(np.where(has_bought, -recency, -np.inf), levels),
        "f_score": quantile_scores(frequency, levels),
        "m_score": quantile_scores(monetary, levels),
    })
    out["rfm_score"] = _codes(out["r_score"].to_numpy(), out["f_score"].to_numpy(), out["m_score"].to_numpy(),
                              levels)
    out["rfm_total"] = out["r_score"] + out["f_score"] + out["m_score"]
    return out


def _codes(r: np.ndarray, f: np.ndarray, m: np.ndarray, levels: int) -> pd.Series:
    """"RFM" codes (``"543"``; ``"10-3-7"`` from 10 levels) as one ``str`` column, taken from the
    ``levels``³ possible codes: joining three columns of text made five 10M-row text columns on
    the way (+0.9 GB at 10M customers, issue 17), this makes the result only."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sep = "-" if levels >= 10 else ""
    names = [f"{a}{sep}{b}{sep}{c}" for a in range(levels + 1) for b in range(levels + 1) for c in range(levels + 1)]
    index = (np.asarray(r, dtype=np.int64) * (levels + 1) + f) * (levels + 1) + m
    return pc.take(pa.array(names, pa.large_string()), pa.array(index)).to_pandas()


# ---------------------------------------------------------------------------------- conditions
def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def describe_condition(field: str, text: str) -> str:
    """Readable form of one condition, e.g. ``("frequency", "2-4")`` → ``"F=2–4"``."""
    letter, unit = _FIELDS[field]
    lo, lo_inc, hi, hi_inc = parse_condition(text)
    if lo is not None and hi is not None:
        body = f"={_number(lo)}" if lo == hi else f"={_number(lo)}–{_number(hi)}"
    elif lo is not None:
        body = ("≥" if lo_inc else ">") + _number(lo)
    else:
        body = ("≤" if hi_inc else "<") + _number(hi)
    return f"{letter}{body}{unit}"


def describe_rule(rule) -> str:
    """Readable conditions of a tier rule or segment, e.g. ``"R<30天, F≥5, M≥5000元, CLV≥10000元"``."""
    parts = [describe_condition(f, getattr(rule, f)) for f in _FIELDS if getattr(rule, f, None)]
    return ", ".join(parts) if parts else "无条件"


def rule_fields(rules) -> set[str]:
    """The condition fields any of ``rules`` uses (to check the data they need is there)."""
    return {f for rule in rules for f in _FIELDS if getattr(rule, f, None)}


def _field_values(df: pd.DataFrame, field: str) -> pd.Series:
    if field in _PERCENT_OF:
        column, complement = _PERCENT_OF[field]
        p = df[column].astype(float) * 100
        return 100 - p if complement else p
    return df[field]


def _condition_mask(values: pd.Series, text: str) -> np.ndarray:
    lo, lo_inc, hi, hi_inc = parse_condition(text)
    v = values.to_numpy(dtype=float, na_value=np.nan)
    mask = ~np.isnan(v)  # a missing value (never bought) satisfies no condition
    if lo is not None:
        mask &= (v >= lo) if lo_inc else (v > lo)
    if hi is not None:
        mask &= (v <= hi) if hi_inc else (v < hi)
    return mask


def _conditions_mask(df: pd.DataFrame, rule) -> np.ndarray:
    mask = np.ones(len(df), dtype=bool)
    for field in _FIELDS:
        text = getattr(rule, field, None)
        if text:
            mask &= _condition_mask(_field_values(df, field), text)
    return mask


# ---------------------------------------------------------------------------------- tiers
def tier_names(segmentation: Segmentation) -> list[str]:
    """Tier names in rule order, the default tier last."""
    return [r.name for r in segmentation.tiers] + [segmentation.default_tier.name]


def assign_tiers(rfm: pd.DataFrame, segmentation: Segmentation) -> pd.DataFrame:
    """Copy of ``rfm`` with ``tier`` and ``tier_rule`` added.

    Rules are tried top to bottom and the first match wins, so every customer lands in exactly
    one tier; customers matching no rule get the default tier with rule text ``未命中规则``.
    """
    rules = segmentation.tiers
    masks = [_conditions_mask(rfm, r) for r in rules]
    which = np.select(masks, np.arange(len(rules)), default=len(rules))
    names = np.array(tier_names(segmentation), dtype=object)
    texts = np.array([describe_rule(r) for r in rules] + [DEFAULT_RULE], dtype=object)
    out = rfm.copy()
    out["tier"] = pd.Series(names[which], index=rfm.index, dtype=str)
    out["tier_rule"] = pd.Series(texts[which], index=rfm.index, dtype=str)
    return out


# ---------------------------------------------------------------------------------- segments
def find_segment(segmentation: Segmentation, name: str) -> Segment:
    """The segment called ``name``; a tier name stands for the segment of that whole tier."""
    for seg in segmentation.segments:
        if seg.name == name:
            return seg
    if name in tier_names(segmentation):
        return Segment(name=name, tiers=[name])
    known = [s.name for s in segmentation.segments] + tier_names(segmentation)
    raise PlanError(
        f"客群 {name!r} 既不是 segmentation.segments 中的客群,也不是层级名称;可用: {', '.join(known)}"
    )


def segment_mask(df: pd.DataFrame, segment: Segment) -> pd.Series:
    """True for the rows of a tiered RFM frame that belong to ``segment`` (tiers and R/F/M)."""
    mask = _conditions_mask(df, segment)
    if segment.tiers:
        mask &= df["tier"].isin(segment.tiers).to_numpy()
    return pd.Series(mask, index=df.index, name=segment.name)


def mark_scope(tiered: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Add ``in_scope`` (member of ``scope.segment``) and ``control`` (held-out share of it)."""
    out = tiered.copy()
    in_scope = segment_mask(out, find_segment(plan.segmentation, plan.scope.segment)).to_numpy()
    control = np.zeros(len(out), dtype=bool)
    # Hash only the in-scope ids: control_mask is a Python loop.
    control[in_scope] = control_mask(out["customer_id"][in_scope], plan.review.campaign,
                                     plan.review.control_share)
    out["in_scope"] = in_scope
    out["control"] = control
    return out


# ---------------------------------------------------------------------------------- summaries
def tier_summary(customers: pd.DataFrame, segmentation: Segmentation) -> pd.DataFrame:
    """Template 1's per-tier view, in rule order with the default tier last (empty tiers kept).

    Columns: tier, rule, customers, share (% of customers), avg_monetary, avg_frequency,
    avg_recency_days, monetary_share (% of net spend), goal, needs, strategy.
    """
    stats = customers.groupby("tier", sort=False).agg(
        customers=("customer_id", "size"), monetary_sum=("monetary", "sum"),
        avg_monetary=("monetary", "mean"), avg_frequency=("frequency", "mean"),
        avg_recency_days=("recency_days", "mean"))
    rules = [*segmentation.tiers, segmentation.default_tier]
    out = pd.DataFrame({
        "tier": [r.name for r in rules],
        "rule": [describe_rule(r) for r in segmentation.tiers] + [DEFAULT_RULE],
    })
    out = out.join(stats, on="tier")
    out["customers"] = out["customers"].fillna(0).astype(np.int64)
    total, spend = out["customers"].sum(), out["monetary_sum"].sum()
    out["share"] = out["customers"] / total * 100 if total else np.nan
    out["monetary_share"] = out["monetary_sum"].fillna(0) / spend * 100 if spend else np.nan
    for col in ("goal", "needs", "strategy"):
        out[col] = [getattr(r, col) for r in rules]
    return out[["tier", "rule", "customers", "share", "avg_monetary", "avg_frequency",
                "avg_recency_days", "monetary_share", "goal", "needs", "strategy"]]


def plan_segments(plan: Plan) -> list[Segment]:
    """Every segment the plan uses: ``segmentation.segments``, then tiers named as a segment."""
    segs = list(plan.segmentation.segments)
    names = {s.name for s in segs}
    for name in [plan.scope.segment, *(g.segment for g in plan.goals)]:
        if name not in names:
            segs.append(find_segment(plan.segmentation, name))
            names.add(name)
    return segs


def segments_table(customers: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The ``segments`` result: size of each segment and its campaign treatment/control split.

    ``treatment`` = members in the campaign scope and not held out; ``control`` = held-out
    members. A segment outside the scope therefore shows 0/0: the campaign does not touch it.
    """
    rows = []
    for seg in plan_segments(plan):
        member = segment_mask(customers, seg)
        rows.append({
            "segment": seg.name,
            "rule": ", ".join(filter(None, ["/".join(seg.tiers), describe_rule(seg)])),
            "customers": int(member.sum()),
            "in_scope": int((member & customers["in_scope"]).sum()),
            "treatment": int((member & customers["in_scope"] & ~customers["control"]).sum()),
            "control": int((member & customers["control"]).sum()),
        })
    return pd.DataFrame(rows, columns=["segment", "rule", "customers", "in_scope", "treatment",
                                       "control"])


def needs_table(customers: pd.DataFrame, customers_frame: pd.DataFrame,
                segmentation: Segmentation, n: int = 3) -> pd.DataFrame:
    """Template 1 rows (客户分层与需求分析表) for ``n`` example customers per tier.

    The examples are each tier's top spenders (ties broken by customer id), so the table is
    reproducible. Names are returned raw; the display layer masks them.
    """
    rules = {r.name: r for r in [*segmentation.tiers, segmentation.default_tier]}
    order = {name: i for i, name in enumerate(tier_names(segmentation))}
    sample = (customers.assign(_o=customers["tier"].map(order))
              .sort_values(["_o", "monetary", "customer_id"], ascending=[True, False, True])
              .groupby("tier", sort=False).head(n))
    names = customers_frame.drop_duplicates("customer_id").set_index("customer_id")["name"]
    window = segmentation.rfm.window_days

    def basis(row) -> str:
        last = "无消费记录" if pd.isna(row.recency_days) else f"最近一次消费在{int(row.recency_days)}天前"
        return (f"近{window}天消费{row.monetary:.0f}元、{int(row.frequency)}次,{last}"
                f"(规则: {row.tier_rule})")

    return pd.DataFrame({
        "客户编号": sample["customer_id"].to_numpy(),
        "客户名称": sample["customer_id"].map(names).fillna("").to_numpy(),
        "所属层级": sample["tier"].to_numpy(),
        "分层依据": [basis(r) for r in sample.itertuples()],
        "核心需求": [rules[t].needs for t in sample["tier"]],
        "维护策略建议": [rules[t].strategy for t in sample["tier"]],
    })
