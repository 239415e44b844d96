"""The KPI engine: every catalogue KPI computed from the canonical data frames.

Pure functions: canonical frames (see docs/CONTRACTS.md), stage 02's ``customers`` result and the
plan go in; :class:`KpiValue` objects come out. Values are in the catalogue's display unit (rates
in percent). A KPI that cannot be computed — its data source is absent, its denominator is zero,
or the campaign has no records in the window — is ``None`` (无数据) with the reason, never a
silent zero.

Populations (``customers_result`` columns ``in_scope`` / ``control``):
- 目标客群 (in scope): the plan's segment, treatment and control together — outcome KPIs
  (repurchase_rate, churn_rate, aov_uplift, csat, nps, complaint_rate, response_sla_rate) are
  measured on it;
- 实验组 (treatment) = in_scope & ~control — campaign KPIs (reach, open, engagement,
  participation, repurchase_30d, cost, ROI) are measured on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

import pandas as pd

from planlib.data.ids import member_of
from planlib.metrics.orders import Orders, lookback, orders_of
from planlib.metrics.purchases import purchases
from planlib.plan.kpis import CATALOGUE, small_sample_text, too_small
from planlib.plan.schema import Plan

Window = tuple[date, date]
Frames = Mapping[str, "pd.DataFrame | Orders"]  # transactions: loaded, or answered underneath (metrics.orders)

SOURCE_NAMES = {"customers": "客户表", "transactions": "交易表", "interactions": "互动记录",
                "surveys": "问卷", "tickets": "服务工单"}
ACTIVE_LOOKBACK_DAYS = 365  # churn: "active at window start" = bought in this many days before it


@dataclass(frozen=True)
class KpiValue:
    """One computed KPI. ``value`` None means 无数据; ``explanation`` says what was counted or why not.

    ``parts`` holds the counts behind the figure (and the group sizes in_scope / treatment /
    control) so that funnels, suggestions and summaries can quote them without recomputing.
    ``base`` is how many units (customers, orders, scores, tickets) the figure rests on; below
    :data:`planlib.plan.kpis.MIN_BASE` it is 样本不足 (:func:`planlib.plan.kpis.too_small`).
    """

    kpi: str
    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    explanation: str = ""
    parts: Mapping[str, float] = field(default_factory=dict)
    base: float | None = None

    @property
    def small(self) -> bool:
        """Computed from fewer than MIN_BASE units: no verdict, no headline."""
        return self.value is not None and too_small(self.base)


class _NoData(Exception):
    """Internal: the KPI cannot be computed; the message is the Chinese reason."""


def period_window(plan: Plan) -> Window:
    return plan.meta.period.start, plan.meta.period.end


def previous_window(window: Window, n: int = 1) -> Window:
    """The window of equal length that ends ``n`` windows before ``window`` (n=1: just before it)."""
    start, end = window
    length = (end - start).days + 1
    return start - timedelta(days=length * n), start - timedelta(days=length * (n - 1) + 1)


def within_days(ts: pd.Series, first_day: pd.Series | pd.Timestamp, days: int) -> pd.Series:
    """``ts`` falls in the ``days`` calendar days starting on ``first_day`` (midnight), that day included.

    Exactly N days: first_day … first_day + N − 1. An "N-day window" that also took in the day
    N days later would count N + 1 days (31 for a month's 30).
    """
    day = ts.dt.normalize()
    return (day >= first_day) & (day < first_day + pd.Timedelta(days=days))


def windows_read(window: Window) -> list[Window]:
    """The purchase windows :func:`compute_kpis` reads for ``window``: the window itself, the one
    before it (order value) and the lookback that says who was active at its start (churn)."""
    return [window, previous_window(window), lookback(window, ACTIVE_LOOKBACK_DAYS)]


def announce(data: Frames, windows: Iterable[Window]) -> None:
    """Tell orders answered underneath which windows :func:`compute_kpis` is about to be asked for,
    so that one pass over the orders serves all of them (the baselines' history, the pulse's days)."""
    orders = orders_of(data)
    if orders is not None:
        orders.prepare([read for window in windows for read in windows_read(window)])


def window_label(window: Window) -> str:
    return f"{window[0]:%Y-%m-%d}~{window[1]:%Y-%m-%d}"


def fmt(value: float | None, unit: str = "") -> str:
    """A figure as planners read it: at most one decimal, unit attached (``65.5%``, ``4.3分``)."""
    if value is None:
        return "无数据"
    text = f"{value:,.1f}".removesuffix(".0")
    return f"{text}{unit}"


def budget_actual(plan: Plan) -> tuple[float | None, float, int]:
    """(sum of known actuals, planned total of those same lines, lines still lacking an actual)."""
    known = [line for line in plan.budget.lines if line.actual is not None]
    if not known:
        return None, 0.0, len(plan.budget.lines)
    return (sum(line.actual for line in known), sum(line.planned for line in known),
            len(plan.budget.lines) - len(known))


class _Ctx:
    """Everything one compute_kpis call shares: populations, window and the campaign's funnel sets."""

    def __init__(self, plan: Plan, data: Frames, customers_result: pd.DataFrame, window: Window):
        self.plan, self.data, self.window = plan, data, window
        self.label = window_label(window)
        self.campaign = plan.review.campaign
        ids = customers_result["customer_id"].astype(str)
        in_scope = customers_result["in_scope"].astype(bool)
        control = customers_result["control"].astype(bool)
        self.in_scope = pd.Index(ids[in_scope].unique())
        self.treatment = pd.Index(ids[in_scope & ~control].unique())
        self.control = pd.Index(ids[in_scope & control].unique())
        self.sizes = {"in_scope": len(self.in_scope), "treatment": len(self.treatment),
                      "control": len(self.control)}
        self.orders = orders_of(data)

    def frame(self, name: str) -> pd.DataFrame:
        df = self.data.get(name)
        if df is None:
            raise _NoData(f"缺少{SOURCE_NAMES[name]}({name})")
        return df

    def within(self, ts: pd.Series, window: Window | None = None) -> pd.Series:
        # whole days: a timestamp on the window's last day is inside it
        start, end = window or self.window
        return (ts >= pd.Timestamp(start)) & (ts < pd.Timestamp(end) + pd.Timedelta(days=1))

    @cached_property
    def funnel(self) -> dict:
        inter = self.frame("interactions")
        rows = inter[inter["campaign"] == self.campaign]
        sent, responded = self.within(rows["sent_at"]), self.within(rows["responded_at"])
        if not (sent | responded).any():
            # almost always a wrong campaign code or a window without the campaign: not 0 %
            raise _NoData(f"{self.label} 内没有活动 {self.campaign} 的互动记录(若活动在此期间进行,请核对 review.campaign)")
        is_t = rows["customer_id"].isin(self.treatment)
        msgs = rows[sent & is_t]
        first = rows[responded & is_t].groupby("customer_id")["responded_at"].min()
        return {
            "reached": msgs["customer_id"].nunique(),
            "opened": msgs.loc[msgs["opened_at"].notna(), "customer_id"].nunique(),
            "clicked": msgs.loc[msgs["clicked_at"].notna(), "customer_id"].nunique(),
            "first_response": first,
            "control_contacted": rows.loc[sent & rows["customer_id"].isin(self.control),
                                          "customer_id"].nunique(),
        }

    def need_orders(self) -> Orders:
        if self.orders is None:
            raise _NoData(f"缺少{SOURCE_NAMES['transactions']}(transactions)")
        return self.orders

    @cached_property
    def attributed(self) -> pd.DataFrame:
        """Participants' transactions (refunds too) in the attribution_days days from their first response
        day on (that day included: exactly N calendar days)."""
        first = self.funnel["first_response"].dt.normalize().rename("first_day")
        orders = self.need_orders()
        days = self.plan.review.attribution_days
        span = ((first.min(), first.max() + pd.Timedelta(days=days - 1)) if len(first)
                else (pd.Timestamp(self.window[0]), pd.Timestamp(self.window[0])))
        rows = orders.rows_of(first.index.astype(str), span[0].date(), span[1].date())
        merged = rows.join(first, on="customer_id", how="inner")
        return merged[within_days(merged["order_date"], merged["first_day"], days)]

    def scope_purchases(self, windows: Mapping[str, Window]) -> pd.DataFrame:
        """In-scope customers' purchases per window (:meth:`planlib.metrics.orders.Orders.purchases_in`:
        refunds netted, fully refunded orders dropped): one row per in-scope customer with a purchase."""
        found = self.need_orders().purchases_in(windows)
        return found[member_of(found["customer_id"], self.in_scope)]


def _purchases(tx: pd.DataFrame) -> pd.DataFrame:
    """One row per purchase (:func:`planlib.metrics.purchases.purchases`, the one definition RFM and
    the lifetime models use): customer_id, order_date (its first day of sale), amount (net of refunds)."""
    if tx.empty:
        return pd.DataFrame({"customer_id": pd.Series(dtype="str"), "order_date": pd.Series(dtype="datetime64[ns]"),
                             "amount": pd.Series(dtype=float)})
    found = purchases(tx).rename(columns={"purchase_date": "order_date"})
    return found[["customer_id", "order_date", "amount"]]


def _ratio(kpi: str, num: float, den: float, text: str, empty: str, **parts: float) -> KpiValue:
    if den == 0:
        return KpiValue(kpi, None, num, den, f"无数据: {empty}", parts)
    return KpiValue(kpi, num / den * 100, num, den, f"{text}: {fmt(num)}/{fmt(den)}", parts, base=den)


# ------------------------------------------------------------------ campaign KPIs (实验组)
def _reach(c: _Ctx) -> KpiValue:
    f = c.funnel
    note = f";注意: 对照组有 {f['control_contacted']} 人收到了活动消息" if f["control_contacted"] else ""
    return _ratio("reach_rate", f["reached"], len(c.treatment),
                  f"实验组中 {c.label} 内收到活动消息的客户{note}", "实验组人数为0",
                  control_contacted=f["control_contacted"])


def _open(c: _Ctx) -> KpiValue:
    f = c.funnel
    return _ratio("open_rate", f["opened"], f["reached"], "打开活动消息的客户 / 触达客户", "触达客户为0")


def _engagement(c: _Ctx) -> KpiValue:
    f = c.funnel
    return _ratio("engagement_rate", f["clicked"], f["opened"], "点赞/评论/转发/点击的客户 / 打开的客户",
                  "打开的客户为0")


def _participation(c: _Ctx) -> KpiValue:
    return _ratio("participation_rate", len(c.funnel["first_response"]), len(c.treatment),
                  f"实验组中 {c.label} 内有响应(报名/到场/打卡/回复)的客户", "实验组人数为0")


def _repurchase_30d(c: _Ctx) -> KpiValue:
    buyers = _purchases(c.attributed)["customer_id"].nunique()
    n = c.plan.review.attribution_days
    return _ratio("repurchase_30d", buyers, len(c.funnel["first_response"]),
                  f"首次响应当天起 {n} 天内有消费的参与客户 / 参与客户", "参与客户为0")


def _cost(c: _Ctx) -> KpiValue:
    cost, _, missing = budget_actual(c.plan)
    if cost is None:
        raise _NoData("预算明细中还没有任何实际支出")
    gap = f";{missing} 条预算明细尚无实际支出,未计入" if missing else ""
    participants = len(c.funnel["first_response"])
    if participants == 0:
        return KpiValue("cost_per_participant", None, cost, 0, "无数据: 参与客户为0")
    return KpiValue("cost_per_participant", cost / participants, cost, participants,
                    f"实际支出 {fmt(cost)} 元 / 参与客户 {participants} 人{gap}", base=participants)


def _roi(c: _Ctx) -> KpiValue:
    cost, _, missing = budget_actual(c.plan)
    if not cost:
        raise _NoData("预算明细中还没有实际支出(或实际支出为0)")
    revenue = float(c.attributed["amount"].sum())
    gap = f";{missing} 条预算明细尚无实际支出" if missing else ""
    return KpiValue("roi", (revenue - cost) / cost * 100, revenue - cost, cost,
                    f"(参与客户归因收入 {fmt(revenue)} 元(含退款) − 实际支出 {fmt(cost)} 元) / 实际支出{gap}",
                    {"revenue": revenue, "cost": cost}, base=len(c.funnel["first_response"]))


def _budget_variance(c: _Ctx) -> KpiValue:
    actual, planned, missing = budget_actual(c.plan)
    if actual is None:
        raise _NoData("预算明细中还没有任何实际支出")
    gap = f"(仅含已填实际支出的 {len(c.plan.budget.lines) - missing} 条明细)" if missing else ""
    return KpiValue("budget_variance", actual - planned, actual, planned,
                    f"实际支出 {fmt(actual)} 元 − 计划 {fmt(planned)} 元{gap}")


# ------------------------------------------------------------------ outcome KPIs (目标客群)
def _repurchase_rate(c: _Ctx) -> KpiValue:
    n = c.scope_purchases({"w": c.window})["n_w"]
    return _ratio("repurchase_rate", int((n >= 2).sum()), int((n >= 1).sum()),
                  f"目标客群 {c.label} 内购买≥2次的客户 / 购买客户(有订单编号按订单计,没有按客户+日期计;全额退款不算)",
                  "窗口内没有购买客户")


def _churn(c: _Ctx) -> KpiValue:
    f = c.scope_purchases({"w": c.window, "before": lookback(c.window, ACTIVE_LOOKBACK_DAYS)})
    active = f["n_before"] > 0
    lost = active & (f["n_w"] == 0)
    return _ratio("churn_rate", int(lost.sum()), int(active.sum()),
                  f"期初活跃(前{ACTIVE_LOOKBACK_DAYS}天有消费)且 {c.label} 内未消费的客户 / 期初活跃客户",
                  "期初没有活跃客户")


def _aov(c: _Ctx) -> KpiValue:
    prev_window = previous_window(c.window)
    f = c.scope_purchases({"w": c.window, "prev": prev_window})
    n_now, n_before = int(f["n_w"].sum()), int(f["n_prev"].sum())
    if not n_now or not n_before:
        which = "本窗口" if not n_now else f"前一窗口({window_label(prev_window)})"
        raise _NoData(f"目标客群在{which}内没有订单")
    after_aov, before_aov = float(f["amount_w"].sum()) / n_now, float(f["amount_prev"].sum()) / n_before
    return KpiValue("aov_uplift", (after_aov - before_aov) / before_aov * 100, after_aov, before_aov,
                    f"目标客群客单价 {fmt(after_aov)} 元({n_now} 单) 对比前一窗口 {fmt(before_aov)} 元"
                    f"({n_before} 次购买,已扣除退款)", base=min(n_now, n_before))


def _surveys(c: _Ctx, column: str) -> pd.Series:
    s = c.frame("surveys")
    s = s[c.within(s["survey_date"]) & s["customer_id"].isin(c.in_scope)]
    return s[column].dropna().astype(float)


def _csat(c: _Ctx) -> KpiValue:
    scores = _surveys(c, "csat")
    if scores.empty:
        raise _NoData(f"目标客群在 {c.label} 内没有 CSAT 评分")
    return KpiValue("csat", float(scores.mean()), float(scores.sum()), len(scores),
                    f"目标客群 {len(scores)} 份 CSAT 评分的平均分",
                    {"low": int((scores <= 3).sum())}, base=len(scores))


def _nps(c: _Ctx) -> KpiValue:
    scores = _surveys(c, "nps")
    if scores.empty:
        raise _NoData(f"目标客群在 {c.label} 内没有 NPS 评分")
    pro, det, n = int((scores >= 9).sum()), int((scores <= 6).sum()), len(scores)
    return KpiValue("nps", (pro - det) / n * 100, pro - det, n,
                    f"推荐者(9–10) {pro} 人 − 贬损者(0–6) {det} 人,共 {n} 份评分",
                    {"promoters": pro, "detractors": det}, base=n)


def _sla(c: _Ctx) -> KpiValue:
    t = c.frame("tickets")
    # the campaign's audience (目标客群), not every customer's tickets: the KPI judges this campaign
    t = t[c.within(t["created_at"]) & t["customer_id"].isin(c.in_scope)]
    limit = pd.Timedelta(minutes=c.plan.review.sla_minutes)
    # a ticket never answered counts as late, not as missing
    ok = int(((t["first_response_at"] - t["created_at"]) <= limit).sum())
    return _ratio("response_sla_rate", ok, len(t),
                  f"目标客群在 {c.label} 内创建的工单中 {c.plan.review.sla_minutes} 分钟内首次响应的",
                  "目标客群在窗口内没有工单", late=len(t) - ok)


def _complaints(c: _Ctx) -> KpiValue:
    t = c.frame("tickets")
    hit = t[c.within(t["created_at"]) & t["is_complaint"].fillna(False).astype(bool)
            & t["customer_id"].isin(c.in_scope)]
    return _ratio("complaint_rate", hit["customer_id"].nunique(), len(c.in_scope),
                  f"目标客群中 {c.label} 内有投诉工单的客户", "目标客群人数为0")


_COMPUTE: dict[str, Callable[[_Ctx], KpiValue]] = {
    "participation_rate": _participation, "reach_rate": _reach, "open_rate": _open,
    "engagement_rate": _engagement, "response_sla_rate": _sla, "repurchase_30d": _repurchase_30d,
    "repurchase_rate": _repurchase_rate, "aov_uplift": _aov, "csat": _csat, "nps": _nps,
    "churn_rate": _churn, "complaint_rate": _complaints, "cost_per_participant": _cost, "roi": _roi,
    "budget_variance": _budget_variance,
}
assert set(_COMPUTE) == set(CATALOGUE), "every catalogue KPI needs a computation"


def absent_columns(load_notes: Mapping[str, object]) -> dict[str, tuple[str, ...]]:
    """Source → optional canonical columns its file lacks, from ``StageContext.load_notes``.

    The loader fills such a column with NA (or False for a flag such as ``is_complaint``), so a
    KPI reading it would come out as a plausible-looking zero; :func:`compute_kpis` needs to know.
    """
    return {name: tuple(getattr(note, "absent", ())) for name, note in load_notes.items()
            if getattr(note, "absent", ())}


def _missing_column(kpi: str, absent: Mapping[str, Iterable[str]]) -> str | None:
    from planlib.data.tables import TABLES

    for needed in CATALOGUE[kpi].columns:
        source, column = needed.split(".")
        if column in set(absent.get(source, ())):
            header = next((c.aliases[0] for c in TABLES[source] if c.name == column), column)
            return f"{SOURCE_NAMES[source]}缺少「{header}」列({column}),该指标无法计算"
    return None


def compute_kpis(plan: Plan, data: Frames, customers_result: pd.DataFrame, *,
                 window: Window | None = None, kpis: Iterable[str] | None = None,
                 absent: Mapping[str, Iterable[str]] | None = None) -> dict[str, KpiValue]:
    """Compute the catalogue KPIs for ``window`` (default: the plan period), keyed by KPI id.

    ``kpis`` limits the computation to those ids (default: all); funnels and baselines use it
    to skip the KPIs they do not show. ``absent`` (see :func:`absent_columns`) names optional
    columns the source files lack: a KPI that needs one is 无数据, never the zero the filler gives.

    Definitions (rates in %, days are whole calendar days, both window ends included):
    - reach_rate: treatment customers sent ≥1 campaign message in the window / treatment;
    - open_rate: reached customers with an opened campaign message (sent in the window) / reached;
    - engagement_rate: customers with a clicked message / customers with an opened one;
    - participation_rate: treatment customers with ≥1 campaign responded_at in the window / treatment;
    A purchase (:func:`_purchases`) is an order ID, or a customer's buying day where the export has
    none; refunds reduce its amount and a fully refunded one is not a purchase.
    - repurchase_30d: participants with a purchase in the review.attribution_days days from their
      first response day on (that day included, exactly N days) / participants (the attribution may
      run past the window);
    - repurchase_rate: in-scope customers with ≥2 purchases in the window / those with ≥1;
    - churn_rate: in-scope customers with a purchase in the 365 days before the window start but none
      in the window / the former;
    - aov_uplift: mean purchase amount (net of refunds) of in-scope customers in the window vs the
      equal-length window before, (after − before) / before;
    - csat: mean CSAT of in-scope customers' surveys dated in the window; nps: % promoters (9–10) −
      % detractors (0–6) over those surveys' NPS answers, in points (−100…100);
    - response_sla_rate: the target group's (in-scope customers') tickets created in the window whose
      first response came within review.sla_minutes (unanswered = late) / those tickets;
    - complaint_rate: in-scope customers with a complaint ticket created in the window / in-scope;
    - cost_per_participant: sum of budget actuals / participants (None if no actual is filled in);
    - roi: (net revenue, refunds included, of participants' orders in their attribution window −
      actual cost) / actual cost; budget_variance: actual − planned over the lines with an actual.
    Campaign KPIs are None when the campaign has no interaction in the window at all.
    """
    ctx = _Ctx(plan, data, customers_result, window or period_window(plan))
    if ctx.orders is not None:
        ctx.orders.prepare(windows_read(ctx.window))
    values = {}
    wanted = _COMPUTE if kpis is None else {k: _COMPUTE[k] for k in kpis}
    for kpi, compute in wanted.items():
        try:
            if (missing := _missing_column(kpi, absent or {})) is not None:
                raise _NoData(missing)
            kv = compute(ctx)
        except _NoData as reason:
            kv = KpiValue(kpi, None, explanation=f"无数据: {reason}")
        explanation = kv.explanation
        if kv.value is not None and too_small(kv.base):
            explanation += f";{small_sample_text(kv.base)},不下结论"
        # group sizes ride along on every value: funnels and summaries need them even when the KPI is None
        values[kpi] = KpiValue(kv.kpi, None if kv.value is None else float(kv.value), kv.numerator,
                               kv.denominator, explanation, {**ctx.sizes, **kv.parts}, kv.base)
    return values


# ------------------------------------------------------------------ breakdowns and the stored frame
VALUE_COLUMNS = ["by", "group", "kpi", "name", "unit", "direction", "value", "numerator", "denominator",
                 "explanation", "base"]
BY_LABELS = {"overall": "整体", "tier": "分层", "channel": "渠道"}


def _rows(by: str, group: str, values: Mapping[str, KpiValue], days: int) -> list[dict]:
    return [{"by": by, "group": group, "kpi": kv.kpi, "name": CATALOGUE[kv.kpi].label(days),
             "unit": CATALOGUE[kv.kpi].unit, "direction": CATALOGUE[kv.kpi].direction, "value": kv.value,
             "numerator": kv.numerator, "denominator": kv.denominator, "explanation": kv.explanation,
             "base": kv.base}
            for kv in values.values()]


def kpis_by(plan: Plan, data: Frames, customers_result: pd.DataFrame, by: str, *,
            window: Window | None = None, absent: Mapping[str, Iterable[str]] | None = None) -> pd.DataFrame:
    """The KPIs that make sense per ``by`` ("tier" or "channel", see ``Kpi.breakdowns``), one row per
    group and KPI (columns :data:`VALUE_COLUMNS`).

    Per tier every population (in scope, treatment, control) is restricted to the tier; per
    channel only that channel's campaign messages count, against the whole treatment group.
    """
    wanted = [k.id for k in CATALOGUE.values() if by in k.breakdowns]
    rows: list[dict] = []
    if by == "tier":
        scope = customers_result["in_scope"].astype(bool)
        for tier in sorted(customers_result.loc[scope, "tier"].dropna().unique()):
            part = customers_result.assign(in_scope=scope & (customers_result["tier"] == tier))
            rows += _rows(by, str(tier), days=plan.review.attribution_days,
                          values=compute_kpis(plan, data, part, window=window, kpis=wanted, absent=absent))
    elif by == "channel":
        inter = data.get("interactions")
        if inter is not None:
            rows_c = inter[inter["campaign"] == plan.review.campaign]
            names = {c.id: c.name for c in plan.channels.catalogue}
            for channel in sorted(rows_c["channel"].dropna().unique()):
                part = {**data, "interactions": rows_c[rows_c["channel"] == channel]}
                rows += _rows(by, names.get(channel, str(channel)), days=plan.review.attribution_days,
                              values=compute_kpis(plan, part, customers_result, window=window, kpis=wanted,
                                                  absent=absent))
    else:
        raise ValueError(f"by must be 'tier' or 'channel', not {by!r}")
    return _frame(rows)


def _frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=VALUE_COLUMNS)
    for col in ("value", "numerator", "denominator", "base"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    return out


def kpi_values(plan: Plan, data: Frames, customers_result: pd.DataFrame, values: Mapping[str, KpiValue], *,
               window: Window | None = None, absent: Mapping[str, Iterable[str]] | None = None) -> pd.DataFrame:
    """Result "kpi_values": every catalogue KPI overall (``values``), then per tier and per channel."""
    parts = [_frame(_rows("overall", BY_LABELS["overall"], values, plan.review.attribution_days))]
    parts += [kpis_by(plan, data, customers_result, by, window=window, absent=absent) for by in ("tier", "channel")]
    return pd.concat([p for p in parts if not p.empty], ignore_index=True)


def no_data_reasons(frame: pd.DataFrame, by: str) -> list[str]:
    """``指标: 无数据: reason`` for each KPI that is 无数据 in every group of a breakdown (the wide
    table shows only 无数据; the reason is said once below it)."""
    part = frame[frame["by"] == by]
    out = []
    for name, rows in part.groupby("name", sort=False):
        if rows["value"].isna().all():
            out.append(f"{name}: {rows['explanation'].iloc[0]}")
    return out


def breakdown_wide(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """One row per KPI, one column per group (display text with its unit): how tiers or channels compare.
    A figure on fewer than MIN_BASE units reads 样本不足(n=…), not as a ratio to compare."""
    part = frame[frame["by"] == by]
    if part.empty:
        return pd.DataFrame(columns=["指标"])
    bases = part["base"] if "base" in part.columns else pd.Series(float("nan"), index=part.index)
    text = part.assign(text=[small_sample_text(b) if pd.notna(v) and too_small(b)
                             else fmt(None if pd.isna(v) else float(v), u)
                             for v, u, b in zip(part["value"], part["unit"], bases, strict=True)])
    order = list(dict.fromkeys(part["name"]))
    wide = text.pivot(index="name", columns="group", values="text").loc[order]
    return wide.rename_axis(index="指标", columns=None).reset_index()
