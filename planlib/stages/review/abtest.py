"""A/B tests in the interactions data: which version of a message (content or timing) worked better,
and whether the samples are large enough to tell.

Rows of the campaign carry a ``variant`` ("A", "B", …; "" when the message was not part of a test).
The unit of the test is the customer, since each customer was assigned one version: a customer
counts as having opened (responded) when any message of that version sent to them in the window
was opened (responded to). Messages to the same customer are not independent, so message-level
rates are shown for reference only. Each variant is compared with the first one (the reference):
difference in percentage points with a 95 % interval, the two-proportion z-test with the same
(unpooled) standard error — so the verdict and the p-value beside it agree — and the minimum
detectable effect (MDE) at these sample sizes for power 80 % and α 5 %.
"""

from __future__ import annotations

import pandas as pd

from planlib.metrics.measure import Frames, Window, period_window
from planlib.plan.kpis import MIN_BASE, SMALL_SAMPLE, small_sample_text, too_small
from planlib.plan.schema import Plan
from planlib.stages.review.stats import ALPHA, POWER, compare_proportions, mde_proportions

METRICS = {"open": ("打开率", "opened_at"), "response": ("响应率", "responded_at")}
COLUMNS = ["channel", "channel_name", "metric", "metric_name", "variant", "reference", "customers", "hits",
           "rate", "message_rate", "ref_customers", "ref_hits", "ref_rate", "ref_message_rate", "diff", "ci_low",
           "ci_high", "p_value", "mde", "significant", "verdict", "note"]


def _per_customer(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per variant: customers sent, customers with ``column`` set, messages and messages with it."""
    hit = rows[column].notna()
    per = rows.assign(hit=hit).groupby(["variant", "customer_id"])["hit"].any().groupby("variant")
    msgs = hit.groupby(rows["variant"])
    return pd.DataFrame({"customers": per.size(), "hits": per.sum().astype(int),
                         "messages": msgs.size(), "message_hits": msgs.sum().astype(int)})


def _verdict(variant: str, reference: str, diff: float | None, significant: bool | None,
             mde: float | None, name: str, smallest: int) -> str:
    if diff is None:
        return "无法检验"
    if too_small(smallest):  # the one small-sample rule: no winner on a handful of customers
        return f"{small_sample_text(smallest)},不能判定胜者"
    if significant:
        better, worse = (variant, reference) if diff > 0 else (reference, variant)
        return f"{better} 版{name}显著高于 {worse} 版"
    if mde is not None and abs(diff) < mde:
        return f"差异 {diff:+.1f} 个百分点小于可检测的最小效应 {mde:.1f},不能判定胜者"
    return "差异不显著,不能判定胜者"


def ab_tests(plan: Plan, data: Frames, customers_result: pd.DataFrame, *, window: Window | None = None,
             confidence: float = 0.95) -> pd.DataFrame:
    """Result "abtests": per campaign channel with ≥2 variants, every variant vs the first, on open and
    response rate (columns :data:`COLUMNS`; empty when the campaign ran no test)."""
    inter = data.get("interactions")
    if inter is None or "variant" not in inter.columns:
        return pd.DataFrame(columns=COLUMNS)
    start, end = window or period_window(plan)
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    treatment = customers_result.loc[customers_result["in_scope"].astype(bool)
                                     & ~customers_result["control"].astype(bool), "customer_id"]
    rows = inter[(inter["campaign"] == plan.review.campaign) & (inter["sent_at"] >= lo) & (inter["sent_at"] < hi)
                 & inter["customer_id"].isin(treatment) & (inter["variant"].fillna("") != "")]
    names = {c.id: c.name for c in plan.channels.catalogue}
    out = []
    for channel in sorted(rows["channel"].unique()):
        part = rows[rows["channel"] == channel]
        variants = sorted(part["variant"].unique())
        if len(variants) < 2:
            continue
        both = part.groupby("customer_id")["variant"].nunique()
        mixed = int((both > 1).sum())
        note = (f"{mixed} 位客户收到了不止一个版本,已从检验中剔除(他们无法归入任一版本)" if mixed else "")
        part = part[part["customer_id"].isin(both.index[both == 1])]
        reference = variants[0]
        for metric, (name, column) in METRICS.items():
            stats = _per_customer(part, column)
            ref = stats.loc[reference]
            for variant in variants[1:]:
                if variant not in stats.index:
                    continue
                cur = stats.loc[variant]
                n1, x1, n0, x0 = int(cur["customers"]), int(cur["hits"]), int(ref["customers"]), int(ref["hits"])
                est = compare_proportions(x1, n1, x0, n0, confidence)
                p0 = x0 / n0 if n0 else 0.0
                if not 0 < p0 < 1:  # a reference of 0 % or 100 %: the pooled rate is the better guess
                    p0 = (x0 + x1) / (n0 + n1) if n0 + n1 else 0.0
                mde = mde_proportions(p0, n1, n0)
                significant = None if est is None or too_small(min(n1, n0)) else est.significant
                out.append({
                    "channel": channel, "channel_name": names.get(channel, channel), "metric": metric,
                    "metric_name": name, "variant": variant, "reference": reference, "customers": n1,
                    "hits": x1, "rate": x1 / n1 * 100 if n1 else None,
                    "message_rate": cur["message_hits"] / cur["messages"] * 100,
                    "ref_customers": n0, "ref_hits": x0, "ref_rate": x0 / n0 * 100 if n0 else None,
                    "ref_message_rate": ref["message_hits"] / ref["messages"] * 100,
                    "diff": None if est is None else est.diff, "ci_low": None if est is None else est.low,
                    "ci_high": None if est is None else est.high, "p_value": None if est is None else est.p_value,
                    "mde": mde, "significant": significant,
                    "verdict": _verdict(variant, reference, None if est is None else est.diff,
                                        significant, mde, name, min(n1, n0)),
                    "note": note,
                })
    frame = pd.DataFrame(out, columns=COLUMNS)
    for col in ("rate", "message_rate", "ref_rate", "ref_message_rate", "diff", "ci_low", "ci_high", "p_value", "mde"):
        frame[col] = frame[col].astype("float64")
    for col in ("customers", "hits", "ref_customers", "ref_hits"):
        frame[col] = frame[col].astype("Int64")
    frame["significant"] = frame["significant"].astype("boolean")
    return frame


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The A/B table as reviewers read it: both versions' rates, the difference, its interval and MDE."""
    def pct(v: float) -> str:
        return "—" if pd.isna(v) else f"{v:.1f}%"

    return pd.DataFrame({
        "渠道": frame["channel_name"], "指标": frame["metric_name"],
        "版本": [f"{r.variant} vs {r.reference}" for r in frame.itertuples()],
        "客户数": [f"{r.customers} / {r.ref_customers}" for r in frame.itertuples()],
        "客户口径": [f"{pct(r.rate)} vs {pct(r.ref_rate)}" for r in frame.itertuples()],
        "消息口径(仅供参考)": [f"{pct(r.message_rate)} vs {pct(r.ref_message_rate)}" for r in frame.itertuples()],
        "差异 [95%置信区间]": ["—" if pd.isna(r.diff) else f"{r.diff:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}]"
                         for r in frame.itertuples()],
        "p值": ["—" if pd.isna(p) else ("<0.001" if p < 0.001 else f"{p:.3f}") for p in frame["p_value"]],
        "最小可检测效应": ["—" if pd.isna(m) else f"{m:.1f} 个百分点" for m in frame["mde"]],
        "结论": frame["verdict"],
    })


SETTINGS_TEXT = (f"检验: 双比例 z 检验(非合并方差,与置信区间同一标准误:p 值 < {ALPHA:.0%} 与区间不含 0 等价),"
                 f"α = {ALPHA:.0%};最小可检测效应按检验功效 {POWER:.0%} 计算;"
                 f"任一版本少于 {MIN_BASE} 位客户时为{SMALL_SAMPLE},不判定胜者。")
