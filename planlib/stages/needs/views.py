"""Stage 02 tables: RFM settings, tier rules, segments, per-tier lifetime value and the model notes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from planlib.metrics.customers import NeedsAnalysis
from planlib.metrics.segment import describe_rule, rfm_as_of, rule_fields
from planlib.plan.schema import Plan

_CLV_FIELDS = {"clv", "p_alive", "churn_probability"}
# Columns of the per-tier value table shown next to template 1.
TIER_VALUE_COLUMNS = ["tier", "customers", "avg_clv", "clv_share", "avg_p_alive", "avg_expected_purchases",
                      "avg_complaints"]
LABELS = {"avg_clv": "人均 CLV(元)", "clv_share": "CLV 占比(%)", "avg_p_alive": "平均存活概率(%)",
          "avg_expected_purchases": "人均预计购买次数", "avg_complaints": "人均投诉次数",
          "p_alive": "存活概率", "clv": "CLV(元)", "expected_purchases": "预计购买次数",
          "complaints": "投诉次数", "item": "项目", "rows": "行数", "note": "说明", "value": "数值",
          "parameter": "参数", "model": "模型", "meaning": "含义"}
TIER_COLUMNS = ["tier", "rule", "customers", "share", "avg_monetary", "avg_frequency", "avg_recency_days",
                "monetary_share"]


def rfm_settings(plan: Plan) -> dict[str, str]:
    rfm = plan.segmentation.rfm
    return {"计算基准日": str(rfm_as_of(plan)), "统计窗口": f"{rfm.window_days} 天", "评分等级": f"1–{rfm.levels} 分"}


def tier_rules(plan: Plan) -> pd.DataFrame:
    seg = plan.segmentation
    rows = [{"层级": t.name, "分层规则": describe_rule(t), "互动目标": t.goal, "核心需求": t.needs,
             "维护策略建议": t.strategy} for t in seg.tiers]
    d = seg.default_tier
    rows.append({"层级": d.name, "分层规则": "未命中以上规则", "互动目标": d.goal, "核心需求": d.needs,
                 "维护策略建议": d.strategy})
    return pd.DataFrame(rows)


def segments(plan: Plan) -> pd.DataFrame:
    rows = [{"客群": s.name, "所属层级": "、".join(s.tiers) or "不限", "条件": describe_rule(s) or "—",
             "说明": s.description} for s in plan.segmentation.segments]
    return pd.DataFrame(rows, columns=["客群", "所属层级", "条件", "说明"])


def tier_values(customers: pd.DataFrame, tier_order: list[str]) -> pd.DataFrame:
    """Per tier: customers, mean CLV, share of total CLV, mean p_alive (%), expected purchases, complaints."""
    g = customers.groupby("tier", sort=False)
    out = pd.DataFrame({
        "customers": g.size(),
        "avg_clv": g["clv"].mean(),
        "clv_sum": g["clv"].sum(min_count=1),
        "avg_p_alive": g["p_alive"].mean() * 100,
        "avg_expected_purchases": g["expected_purchases"].mean(),
        "avg_complaints": g["complaints"].mean(),
    }).reindex(tier_order)
    out["customers"] = out["customers"].fillna(0).astype(np.int64)
    total = out["clv_sum"].sum()
    out["clv_share"] = out["clv_sum"] / total * 100 if total else np.nan
    return out.rename_axis("tier").reset_index()[TIER_VALUE_COLUMNS]


def clv_notes(analysis: NeedsAnalysis, plan: Plan) -> list[str]:
    """Sentences for the page: the model used and why, horizon and discounting, fit diagnostics, what failed."""
    seg = plan.segmentation
    result = analysis.lifetime
    used = rule_fields(seg.tiers) & _CLV_FIELDS
    if not result.purchases_ok:
        tail = f";分层规则中的 {'、'.join(sorted(used))} 条件不会命中任何客户" if used else ""
        return [f"终身价值模型未能拟合:{result.problem}{tail}"]
    model = result.purchases
    why = model.reason or "计划指定"
    notes = [f"购买模型:{model.name}({why})。",
             f"预测未来 {seg.clv.horizon_days} 天,按年折现率 {seg.clv.discount_rate:g}% 逐月折现;"
             f"拟合客户 {result.notes['customers_fitted']:,} 人,其中复购客户 {result.notes['repeat_buyers']:,} 人、"
             f"只购买过一次的客户 {result.notes['one_time_buyers']:,} 人。"]
    if not result.spend_ok:
        tail = "CLV 条件(clv)不会命中任何客户" if "clv" in used else ""
        notes.append(f"客单价模型(Gamma-Gamma)未能拟合:{result.problems.get('spend', '')};"
                     f"存活概率与预计购买次数照常给出,预计客单价与 CLV 为空" + (f",{tail}" if tail else "") + "。")
    corr = result.notes.get("frequency_spend_correlation")
    if result.spend_ok and corr is not None and np.isfinite(corr) and abs(corr) > 0.3:
        notes.append(f"复购次数与客单价的相关系数为 {corr:.2f}:Gamma-Gamma 模型假定两者无关,客单价预测可能偏差。")
    if model.model == "bgnbd":
        notes.append("BG/NBD 模型中,只购买过一次的客户存活概率恒为 100%;判断这类客户是否流失请用最近消费天数(R)。")
    else:
        notes.append("MBG/NBD 模型中,客户在每次购买(包括首次)后都可能流失:只购买过一次的客户距首购越久,存活概率越低。")
    return notes
