"""Stage 05 — 效果评估与复盘: funnel, template 4 (活动效果评估表), summary and action plan.

The figures come from :func:`planlib.metrics.measure.compute_kpis`; this module turns them into the
tables reviewers read. Each missed KPI gets a Chinese suggestion from the one rule table of
:mod:`planlib.stages.review.diagnose`, naming the funnel step, group, comment theme or budget line behind the
miss with its figure; a KPI achieved without an effect distinguishable from the control group's
is flagged (:mod:`planlib.stages.review.uplift`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from planlib.metrics.measure import Frames, KpiValue, Window, compute_kpis, fmt
from planlib.plan.kpis import CATALOGUE, SMALL_SAMPLE, small_sample_text, status, too_small
from planlib.plan.schema import Plan
from planlib.stages.review.design import design_check
from planlib.stages.review.design import summary_rows as design_summary_rows
from planlib.stages.review.diagnose import Evidence, diagnose, target_text
from planlib.stages.review.funnel import Absent, funnel_by, funnel_from_values
from planlib.stages.review.uplift import (
    effect_of,
    interval_text,
    small_sample,
    uplift,
    verdict,
)


# ------------------------------------------------------------------ suggestions (rules: planlib.stages.review.diagnose)
def suggestion(kpi: str, target: float, actual: float | None, values: Mapping[str, KpiValue],
               plan: Plan, breakdown: pd.DataFrame | None = None, *, evidence: Evidence | None = None,
               effect: pd.Series | None = None) -> str:
    """Template 4's 分析与改进建议 for one KPI: empty when met and proven, else the diagnosis' sentence."""
    if evidence is None:
        evidence = Evidence(breakdown=breakdown)
    elif breakdown is not None and evidence.breakdown is None:
        evidence.breakdown = breakdown
    found = diagnose(kpi, target, actual, values, plan, evidence, effect)
    return "" if found is None else found.text


# ------------------------------------------------------------------ template 4 and the summary
NOT_PROVEN = "达成但提升不显著"
KPI_TABLE_COLUMNS = ["kpi", "name", "dimension", "unit", "direction", "target", "actual", "status", "suggestion",
                     "target_text", "source", "explanation", "effect_text", "effect_significant", "flag", "cause",
                     "advice", "base"]


def kpi_table(plan: Plan, values: Mapping[str, KpiValue], *, breakdown: pd.DataFrame | None = None,
              evidence: Evidence | None = None, effects: pd.DataFrame | None = None) -> pd.DataFrame:
    """Result "kpis" (template 4, 活动效果评估表): one row per ``plan.kpis`` target.

    A manual ``actual`` in the plan wins over the computed value and ``source`` says so.
    ``breakdown`` (a :func:`funnel_by` frame) and ``evidence`` (:func:`planlib.stages.review.diagnose.collect_evidence`)
    let suggestions name the weakest channel, tier or group. ``effects`` (:func:`planlib.stages.review.uplift.uplift`)
    adds the control-group comparison of KPIs that have one (``Kpi.effect``): ``effect_text`` is the
    uplift with its 95 % interval and ``flag`` is 达成但提升不显著 when the KPI is achieved but the
    interval includes zero.
    """
    if evidence is None:
        evidence = Evidence(breakdown=breakdown)
    elif evidence.breakdown is None:
        evidence.breakdown = breakdown
    rows = []
    for t in plan.kpis:
        k, kv = CATALOGUE[t.kpi], values.get(t.kpi) or KpiValue(t.kpi, None, explanation="无数据: 未计算")
        if t.actual is not None:
            actual, source, base = t.actual, "手工填写", None
            explanation = f"手工填写的实际值(数据计算值: {fmt(kv.value, k.unit)})"
        else:
            actual, source, explanation, base = kv.value, "数据计算", kv.explanation, kv.base
        effect = effect_of(effects, k.effect) if effects is not None and k.effect else None
        significant = None if effect is None or pd.isna(effect["significant"]) else bool(effect["significant"])
        state = status(t.kpi, t.target, actual, base)
        found = diagnose(t.kpi, t.target, actual, values, plan, evidence, effect, base=base)
        rows.append({
            "kpi": t.kpi, "name": k.label(plan.review.attribution_days), "dimension": t.dimension or k.dimension, "unit": k.unit,
            "direction": k.direction, "target": float(t.target), "actual": actual, "status": state,
            "suggestion": "" if found is None else found.text, "target_text": target_text(t.kpi, t.target),
            "source": source, "explanation": explanation,
            "effect_text": "" if effect is None else (f"{SMALL_SAMPLE},{interval_text(effect)}" if small_sample(effect)
                                                      else interval_text(effect)),
            "effect_significant": significant,
            "flag": NOT_PROVEN if state in ("达成", "超达成") and significant is False else "",
            "cause": "" if found is None else found.cause, "advice": "" if found is None else found.advice,
            "base": base,
        })
    table = pd.DataFrame(rows, columns=KPI_TABLE_COLUMNS)
    table["actual"] = table["actual"].astype("float64")
    table["effect_significant"] = table["effect_significant"].astype("boolean")
    table["base"] = pd.to_numeric(table["base"]).astype("float64")
    return table


def kpi_display(table: pd.DataFrame) -> pd.DataFrame:
    """Template 4 as reviewers read it: targets and actuals with units, the effect check beside the status.
    A figure on too small a base reads 样本不足(n=…), not as a ratio."""
    out = table.copy()
    bases = out["base"] if "base" in out.columns else pd.Series(float("nan"), index=out.index)
    out["actual_text"] = [small_sample_text(b) if s == SMALL_SAMPLE and pd.notna(b)
                          else fmt(None if pd.isna(a) else float(a), u)
                          for a, u, s, b in zip(out["actual"], out["unit"], out["status"], bases, strict=True)]
    checks = []
    for r in out.itertuples():
        if not r.effect_text:
            checks.append("—")
        elif r.flag:
            checks.append(f"⚠ {r.flag}:{r.effect_text}")
        elif pd.isna(r.effect_significant):
            checks.append(f"无法判断:{r.effect_text}")
        else:
            checks.append(f"{'显著' if r.effect_significant else '不显著'}:{r.effect_text}")
    out["effect_check"] = checks
    return out


KPI_DISPLAY_COLUMNS = ["dimension", "name", "target_text", "actual_text", "status", "effect_check", "suggestion"]


STATUSES = ("超达成", "达成", "未达成", SMALL_SAMPLE, "无数据")


APPROVED = ("通过", "修改后通过")


def approval(plan: Plan) -> dict:
    """The plan's approval as the report's cover shows it; ``approved`` is False without a record, while it
    is pending (no decision) or when it is 不通过. ``required`` is ``meta.approval_required``."""
    a = plan.approval
    record = {"reviewer": "", "role": "", "decision": "", "date": "", "comments": ""} if a is None else {
        "reviewer": a.reviewer, "role": a.role, "decision": a.decision or "待审批",
        "date": "" if a.date is None else a.date.isoformat(), "comments": a.comments}
    return {**record, "approved": a is not None and a.decision in APPROVED, "required": plan.meta.approval_required}


def review_summary(plan: Plan, values: Mapping[str, KpiValue], table: pd.DataFrame, *,
                   effects: pd.DataFrame | None = None, abtests: pd.DataFrame | None = None,
                   design: pd.DataFrame | None = None) -> dict:
    """Result "review_summary": status counts, group sizes, participants, the proven effect, the check of
    the evaluation design (:mod:`planlib.stages.review.design`), the plan's approval and headlines."""
    counts = {s: int((table["status"] == s).sum()) for s in STATUSES}
    part = values["participation_rate"]
    sizes = {key: int(part.parts.get(key, 0)) for key in ("in_scope", "treatment", "control")}
    participants = None if part.numerator is None else int(part.numerator)
    if participants is None:
        took_part = f"参与情况无数据({part.explanation.removeprefix('无数据: ')})。"
    elif too_small(part.base):  # no ratio headline on a handful of customers
        took_part = f"参与 {participants} 人(实验组{small_sample_text(part.base)},不计算参与率)。"
    else:
        took_part = f"参与 {participants} 人,参与率 {fmt(part.value, '%')}。"
    headlines = [f"共评估 {len(table)} 项 KPI:超达成 {counts['超达成']} 项、达成 {counts['达成']} 项、"
                 f"未达成 {counts['未达成']} 项、{SMALL_SAMPLE} {counts[SMALL_SAMPLE]} 项、无数据 {counts['无数据']} 项。",
                 f"目标客群 {sizes['in_scope']} 人,其中实验组 {sizes['treatment']} 人、对照组 {sizes['control']} 人;"
                 + took_part]
    missed = table[table["status"] == "未达成"]
    if not missed.empty:
        headlines.append("未达成: " + ";".join(
            f"{r.name} 实际 {fmt(r.actual, r.unit)}(目标 {r.target_text})" for r in missed.itertuples()) + "。")
    effect = {}
    for metric in ("repurchase", "spend"):
        row = None if effects is None else effect_of(effects, metric)
        if row is not None and small_sample(row):
            headlines.append(f"活动效果(实验组 vs 对照组):{row['outcome']} {SMALL_SAMPLE}(实验组 "
                             f"{row['group_customers']} 人、对照组 {row['control_customers']} 人),不下结论。")
        elif row is not None and not pd.isna(row["uplift"]) and not pd.isna(row["significant"]):
            effect[metric] = {"uplift": float(row["uplift"]), "ci_low": float(row["ci_low"]),
                              "ci_high": float(row["ci_high"]), "significant": bool(row["significant"])}
            headlines.append(f"活动效果(实验组 vs 对照组):{row['outcome']} {interval_text(row)},{verdict(row)}。")
    flagged = table[table.get("flag", pd.Series("", index=table.index)).fillna("") != ""]
    if not flagged.empty:
        headlines.append("⚠ " + "、".join(flagged["name"]) + " 已达成,但与对照组相比提升不显著,不能确定是活动带来的。")
    winners = [] if abtests is None else [f"{r.channel_name}{r.metric_name}:{r.verdict}" for r in abtests.itertuples()]
    if winners:
        headlines.append("A/B 测试:" + ";".join(winners) + "。")
    checked = [] if design is None else design_summary_rows(design)
    headlines += [f"评估设计检查({c['goal_id']} {c['goal']}):{c['conclusion']}" for c in checked]
    meta = plan.meta
    return {"unit": meta.unit, "unit_name": meta.unit_name, "quarter": meta.quarter, "title": meta.title,
            "period": [meta.period.start.isoformat(), meta.period.end.isoformat()],
            "budget_limit": plan.budget.limit,
            "campaign": plan.review.campaign, "kpis": len(table), "status_counts": counts, **sizes,
            "participants": participants, "participation_rate": part.value, "effect": effect,
            "not_proven": flagged["kpi"].tolist(), "roi_incremental": incremental_roi(values, effects),
            "design_check": checked, "approval": approval(plan), "headlines": headlines}


ACTION_COLUMNS = ["问题目标", "优化措施", "责任人", "完成时间", "预期效果", "状态"]
ACTION_FIELDS = ["problem", "measure", "owner", "due", "expected", "status", "origin", "kpi"]
UNASSIGNED = "待指定"
_ACTION_STATE = {"open": "待完成", "done": "已完成", "suggested": "建议"}


def actions(plan: Plan, table: pd.DataFrame) -> pd.DataFrame:
    """Result "actions": the plan's own actions (origin ``plan``), then a suggested action (owner 待指定,
    origin ``review``) for every missed or unproven KPI that no action mentions (by KPI name or id),
    so nothing the review found leaves it without an owner. ``planlib new`` carries the open ones."""
    rows = [{"problem": a.problem, "measure": a.measure, "owner": a.owner, "due": pd.Timestamp(a.due),
             "expected": a.expected, "status": a.status, "origin": "plan", "kpi": ""} for a in plan.review.actions]
    problems = " ".join(a.problem for a in plan.review.actions)
    flags = table["flag"] if "flag" in table.columns else pd.Series("", index=table.index)
    for r, flag in zip(table.itertuples(), flags.fillna(""), strict=True):
        if (r.status != "未达成" and not flag) or r.name in problems or r.kpi in problems:
            continue
        advice = getattr(r, "advice", "") or r.suggestion
        if r.status == "未达成":
            problem = f"{r.name}未达成(实际 {fmt(r.actual, r.unit)},目标 {r.target_text})"
            expected = f"{r.name}达到 {r.target_text}"
        else:
            problem, advice = f"{r.name}{flag}({r.effect_text})", "下季保留对照组并扩大样本,验证活动的真实效果"
            expected = f"{r.name}的提升在95%置信水平下显著"
        rows.append({"problem": problem, "measure": advice, "owner": UNASSIGNED, "due": pd.NaT,
                     "expected": expected, "status": "suggested", "origin": "review", "kpi": r.kpi})
    out = pd.DataFrame(rows, columns=ACTION_FIELDS)
    out["due"] = pd.to_datetime(out["due"])
    return out


def action_plan(plan: Plan, table: pd.DataFrame) -> pd.DataFrame:
    """互动优化行动计划表 (问题目标/优化措施/责任人/完成时间/预期效果/状态) from :func:`actions`."""
    frame = actions(plan, table)
    out = pd.DataFrame({"问题目标": frame["problem"], "优化措施": frame["measure"], "责任人": frame["owner"],
                        "完成时间": frame["due"], "预期效果": frame["expected"],
                        "状态": frame["status"].map(_ACTION_STATE)}, columns=ACTION_COLUMNS)
    out["完成时间"] = pd.to_datetime(out["完成时间"])
    return out


# ------------------------------------------------------------------ the whole review in one call
@dataclass
class Review:
    """Everything stage 05 shows and saves, computed once (see :func:`analyse`)."""

    values: dict[str, KpiValue]
    kpi_values: pd.DataFrame  # result "kpi_values": overall, per tier, per channel
    funnel: pd.DataFrame  # the treatment group's funnel
    by_channel: pd.DataFrame  # funnel_by channel
    by_tier: pd.DataFrame  # funnel_by tier
    uplift: pd.DataFrame  # result "uplift"
    abtests: pd.DataFrame  # result "abtests"
    table: pd.DataFrame  # result "kpis" (template 4)
    design: pd.DataFrame  # the outcome against the evaluation design (planlib.stages.review.design)
    summary: dict  # result "review_summary"
    actions: pd.DataFrame  # result "actions"

    def funnel_result(self) -> pd.DataFrame:
        """Result "funnel": the overall funnel, then per channel and per tier, in one long frame."""
        parts = [self.funnel.assign(by="overall", group="整体")]
        parts += [f.assign(by=by, group=f["label"]) for by, f in (("channel", self.by_channel), ("tier", self.by_tier))
                  if not f.empty]
        out = pd.concat(parts, ignore_index=True)
        return out[["by", "group", "step", "customers", "rate_of_previous", "rate_of_target"]]


def analyse(plan: Plan, data: Frames, customers_result: pd.DataFrame, *, window: Window | None = None,
            absent: Absent | None = None, goals: pd.DataFrame | None = None) -> Review:
    """The review of a campaign: KPIs (overall, per tier and channel), funnels, uplift vs control,
    A/B tests, template 4 with diagnoses, the check of the evaluation design, summary and action plan.
    ``absent``: see :func:`planlib.metrics.measure.absent_columns`; ``goals``: stage 01's result "goals"
    (measured baselines for the design check; the plan's baselines without it)."""
    from planlib.metrics.measure import kpi_values
    from planlib.stages.review.abtest import ab_tests
    from planlib.stages.review.diagnose import collect_evidence

    values = compute_kpis(plan, data, customers_result, window=window, absent=absent)
    by_values = kpi_values(plan, data, customers_result, values, window=window, absent=absent)
    by_channel = funnel_by(plan, data, customers_result, by="channel", window=window, absent=absent)
    by_tier = funnel_by(plan, data, customers_result, by="tier", window=window, absent=absent)
    effects = uplift(plan, data, customers_result, window=window)
    tests = ab_tests(plan, data, customers_result, window=window)
    evidence = collect_evidence(plan, data, customers_result, window=window, breakdown=by_channel,
                                by_tier=by_values[by_values["by"] == "tier"])
    evidence.surveys = masked_comments(evidence.surveys, data.get("customers"))
    table = kpi_table(plan, values, evidence=evidence, effects=effects)
    checked = design_check(plan, effects, goals)
    return Review(values=values, kpi_values=by_values, funnel=funnel_from_values(values), by_channel=by_channel,
                  by_tier=by_tier, uplift=effects, abtests=tests, table=table, design=checked,
                  summary=review_summary(plan, values, table, effects=effects, abtests=tests, design=checked),
                  actions=actions(plan, table))


def masked_comments(surveys: pd.DataFrame | None, customers: pd.DataFrame | None) -> pd.DataFrame | None:
    """``surveys`` with the personal values in their comments masked (phones, ID numbers, e-mails,
    the customers' full names): the diagnosis quotes a comment verbatim into template 4, the
    report and ``results/``, so it only ever sees masked text."""
    from planlib.data.masking import NameIndex, mask_texts, personal_columns

    if surveys is None or "comment" not in surveys.columns:
        return surveys
    names: list[str] = []
    if customers is not None:
        for column in (c for c, kind in personal_columns(customers, "customers").items() if kind == "name"):
            names += customers[column].dropna().astype(str).tolist()
    return surveys.assign(comment=mask_texts(surveys["comment"], NameIndex(names, anywhere=True)))


def incremental_roi(values: Mapping[str, KpiValue], effects: pd.DataFrame | None) -> dict | None:
    """ROI of the revenue the campaign *caused*, against the control group, beside the gross ROI.

    The gross ROI counts every yuan participants spent in their attribution windows, including
    what they would have spent anyway. Here the revenue is the intent-to-treat spend uplift per
    treatment customer (treatment − control, :func:`planlib.stages.review.uplift.uplift`, with its
    95 % interval) × the treatment group's size; ROI = (that revenue − actual cost) / actual cost.
    None without an actual cost or an uplift estimate, or when a group is too small (样本不足).
    """
    roi = values.get("roi")
    row = None if effects is None else effect_of(effects, "spend")
    if roi is None or roi.value is None or row is None or pd.isna(row["uplift"]) or small_sample(row):
        return None
    cost, n = float(roi.parts["cost"]), int(row["group_customers"])
    revenue = {key: float(row[col]) * n for key, col in (("revenue", "uplift"), ("revenue_low", "ci_low"),
                                                          ("revenue_high", "ci_high"))}
    return {"customers": n, "uplift_per_customer": float(row["uplift"]), "cost": cost, **revenue,
            "roi": (revenue["revenue"] - cost) / cost * 100, "roi_low": (revenue["revenue_low"] - cost) / cost * 100,
            "roi_high": (revenue["revenue_high"] - cost) / cost * 100}


def budget_figures(values: Mapping[str, KpiValue], effects: pd.DataFrame | None = None) -> dict[str, str]:
    """Spend against plan, cost per participant, the gross ROI from attributed revenue and, with the
    uplift frame, the incremental ROI against the control group beside it (:func:`incremental_roi`)."""
    variance, cost, roi = values.get("budget_variance"), values.get("cost_per_participant"), values.get("roi")

    def said(kv: KpiValue | None, unit: str) -> str:
        if kv is None:
            return "无数据"
        return fmt(kv.value, unit) if kv.value is not None else kv.explanation

    out = {}
    if variance is not None and variance.value is not None:
        out["实际支出 / 计划预算"] = f"{fmt(variance.numerator)} 元 / {fmt(variance.denominator)} 元"
    out["预算差异(实际 − 计划)"] = said(variance, "元")
    out["单客户成本"] = said(cost, "元/人")
    out["ROI(毛收入:参与客户归因收入)"] = said(roi, "%")
    if cost is not None and cost.small:
        out["单客户成本"] = small_sample_text(cost.base)
    if roi is not None and roi.small:
        out["ROI(毛收入:参与客户归因收入)"] = small_sample_text(roi.base)
    if roi is not None and roi.value is not None:
        out["参与客户归因收入"] = f"{fmt(roi.parts.get('revenue'))} 元(含退款,首次响应起的归因窗口内;含本来就会发生的消费)"
    inc = incremental_roi(values, effects)
    if inc is not None:
        out["ROI(增量:对比对照组)"] = (f"{fmt(inc['roi'], '%')}(95%置信区间 {fmt(inc['roi_low'], '%')} ~ "
                                     f"{fmt(inc['roi_high'], '%')})")
        out["增量收入(对比对照组)"] = (f"实验组 {inc['customers']:,} 人 × 人均消费提升 {inc['uplift_per_customer']:+,.1f} 元"
                                 f" = {fmt(inc['revenue'])} 元(区间 {fmt(inc['revenue_low'])} ~ {fmt(inc['revenue_high'])} 元)")
    elif small_sample(None if effects is None else effect_of(effects, "spend")):
        row = effect_of(effects, "spend")
        out["ROI(增量:对比对照组)"] = (f"{SMALL_SAMPLE}(实验组 {row['group_customers']} 人、对照组 "
                                     f"{row['control_customers']} 人),不计算")
    elif effects is not None:
        out["ROI(增量:对比对照组)"] = "无数据: 缺少实际支出或与对照组的消费比较"
    return out
