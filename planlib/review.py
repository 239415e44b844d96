"""Stage 05 — 效果评估与复盘: funnel, template 4 (活动效果评估表), summary and action plan.

The figures come from :func:`planlib.measure.compute_kpis`; this module turns them into the
tables reviewers read. Each missed KPI gets a Chinese suggestion from the one rule table below
(``_STEP_ADVICE`` / ``_KPI_ADVICE``), naming the funnel step, group or budget line behind the miss
with its figure.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .kpis import CATALOGUE, status
from .measure import (
    Frames,
    KpiValue,
    Window,
    compute_kpis,
    fmt,
    period_window,
    previous_window,
    window_label,
)
from .schema import Plan
from .uplift import diff_proportions, uplift

__all__ = [
    "FUNNEL_STEPS", "KpiValue", "action_plan", "compute_kpis", "diff_proportions", "funnel",
    "funnel_by", "funnel_from_values", "kpi_table", "period_window", "previous_window",
    "review_summary", "suggestion", "target_text", "uplift", "window_label",
]

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
    rate_of_previous can exceed 100 %. Unknown counts are NA, not 0.
    """
    counts = [_count(values.get(kpi), which) for kpi, which in _STEP_COUNTS.values()]
    customers = pd.Series([float("nan") if c is None else float(c) for c in counts])
    previous = customers.shift(1)
    frame = pd.DataFrame({"step": list(_STEP_COUNTS), "customers": customers.round().astype("Int64")})
    # a zero base gives no rate (NaN), never a division by zero
    frame["rate_of_previous"] = customers / previous.where(previous > 0) * 100
    frame["rate_of_target"] = customers / (customers[0] if customers[0] > 0 else float("nan")) * 100
    return frame


def funnel(plan: Plan, data: Frames, customers_result: pd.DataFrame, *,
           window: Window | None = None) -> pd.DataFrame:
    """The campaign funnel of the treatment group (step, customers, rate_of_previous, rate_of_target)."""
    needed = {kpi for kpi, _ in _STEP_COUNTS.values()}
    return funnel_from_values(compute_kpis(plan, data, customers_result, window=window, kpis=needed))


def funnel_by(plan: Plan, data: Frames, customers_result: pd.DataFrame, *, by: str = "channel",
              window: Window | None = None) -> pd.DataFrame:
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
            frames.append(funnel(plan, part, customers_result, window=window).assign(**{by: group}))
    elif by in customers_result.columns:
        scope = customers_result["in_scope"].astype(bool)
        for group in sorted(customers_result.loc[scope, by].dropna().unique()):
            part = customers_result.assign(in_scope=scope & (customers_result[by] == group))
            frames.append(funnel(plan, data, part, window=window).assign(**{by: group}))
    else:
        raise ValueError(f"无法按 {by!r} 分组: 互动记录和客户分层结果中都没有该列")
    if not frames:
        return pd.DataFrame(columns=[by, "label", "step", "customers", "rate_of_previous", "rate_of_target"])
    out = pd.concat(frames, ignore_index=True)
    names = {c.id: c.name for c in plan.channels.catalogue} if by == "channel" else {}
    out["label"] = out[by].map(lambda g: names.get(g, str(g)))
    return out[[by, "label", "step", "customers", "rate_of_previous", "rate_of_target"]]


# ------------------------------------------------------------------ the suggestion rule table
# Funnel KPIs: the step with the lowest conversion among these explains the miss.
_FUNNEL_KPIS = {
    "reach_rate": ("触达",), "open_rate": ("打开",), "engagement_rate": ("互动",),
    "participation_rate": ("触达", "打开", "互动", "参与"), "repurchase_30d": ("复购",),
}
_STEP_ADVICE = {
    "触达": "触达率仅 {rate}(目标客户 {prev} 人中触达 {n} 人),建议核对手机号与企微好友关系,补充短信/电话等到达率高的渠道",
    "打开": "打开率仅 {rate}(触达 {prev} 人中打开 {n} 人),建议增加短信提醒、调整发送时间",
    "互动": "互动参与度仅 {rate}(打开 {prev} 人中互动 {n} 人),建议优化内容与福利设计(如打卡礼品、专属优惠)",
    "参与": "互动后参与仅 {rate}(互动 {prev} 人中参与 {n} 人),建议简化报名/打卡流程,并由销售代表电话邀约",
    "复购": "参与客户{days}天复购率仅 {rate}(参与 {prev} 人中复购 {n} 人),建议向参与客户发放限时复购券并安排回访",
}
_KPI_ADVICE = {
    "csat": "满意度均分 {actual},低于目标 {target}({low} 份评分≤3分),建议调研客户对礼品/权益的偏好,并回访低分客户",
    "nps": "NPS 为 {actual},贬损者 {detractors} 人、推荐者 {promoters} 人,建议回访贬损者了解不推荐的原因",
    "response_sla_rate": "响应及时率 {actual}({late} 张工单超过 {sla} 分钟才首次响应),建议高峰时段增加专属客服并设置超时提醒",
    "complaint_rate": "投诉率 {actual}({num} 位客户投诉),高于目标 {target},建议逐一回访投诉客户并按原因归类整改",
    "churn_rate": "流失率 {actual}(期初活跃 {den} 人中 {num} 人未再消费),建议对沉默客户发送召回券并电话回访",
    "repurchase_rate": "期内复购率 {actual}(下单 {den} 人中 {num} 人复购),建议对首购客户推送二次购买优惠",
    "aov_uplift": "客单价提升 {actual},未达目标 {target},建议设计满减/组合套餐提升单笔消费",
    "roi": "ROI 为 {actual}(归因收入 {revenue} 元,实际支出 {cost} 元),建议把预算集中到转化最高的渠道与客群",
    "cost_per_participant": "单客户成本 {actual},高于目标 {target}(支出 {num} 元 / 参与 {den} 人);{cause}",
}
_COST_CAUSE = ("超支最多的科目是{category}({detail},超出 {over} 元),建议削减低效支出,把预算向参与转化高的渠道倾斜",
               "各科目均未超支,成本偏高主要因为参与人数不足,建议先提升参与率")
_FALLBACK = "{name} 实际 {actual},未达目标 {target},建议在复盘会上分析原因并制定改进措施"
_NO_DATA = "无法评估: {reason};请补充数据,或在计划的 kpis 中手工填写实际值"


def target_text(kpi: str, target: float) -> str:
    """Template 4's 目标值 with the direction: ``≥70%``, ``≤50元/人``."""
    k = CATALOGUE[kpi]
    sign = {"higher": "≥", "lower": "≤"}.get(k.direction, "")
    return f"{sign}{fmt(target, k.unit)}"


def _weakest_step(kpi: str, values: Mapping[str, KpiValue], plan: Plan,
                  breakdown: pd.DataFrame | None) -> str | None:
    steps = funnel_from_values(values).set_index("step")
    candidates = steps.loc[list(_FUNNEL_KPIS[kpi]), "rate_of_previous"].dropna()
    if candidates.empty:
        return None
    step = candidates.idxmin()
    prev = steps["customers"].iloc[FUNNEL_STEPS.index(step) - 1]
    text = _STEP_ADVICE[step].format(rate=fmt(candidates[step], "%"), prev=prev, n=steps.at[step, "customers"],
                                     days=plan.review.attribution_days)
    if breakdown is not None and not breakdown.empty:
        by = breakdown.columns[0]
        counts = breakdown.pivot_table(index=by, columns="step", values="customers", aggfunc="sum")
        later = counts[list(FUNNEL_STEPS[FUNNEL_STEPS.index(step) + 1:])].max(axis=1)
        # a group nobody passes through at this step but who still reach later steps (phone calls
        # have no clicks) does not use the step at all: its 0 % explains nothing
        skips = counts.index[(counts[step] == 0) & (later > 0)]
        rows = breakdown[(breakdown["step"] == step) & ~breakdown[by].isin(skips)].dropna(
            subset=["rate_of_previous"])
        if len(rows) > 1:
            worst = rows.iloc[rows["rate_of_previous"].to_numpy().argmin()]
            text += f";其中{worst['label']}最低({fmt(worst['rate_of_previous'], '%')})"
    return text


def suggestion(kpi: str, target: float, actual: float | None, values: Mapping[str, KpiValue],
               plan: Plan, breakdown: pd.DataFrame | None = None) -> str:
    """Template 4's 分析与改进建议 for one KPI: empty when met, a rule-table sentence when missed."""
    state = status(kpi, target, actual)
    kv = values.get(kpi) or KpiValue(kpi, None)
    if state == "无数据":
        return _NO_DATA.format(reason=kv.explanation.removeprefix("无数据: ") or "没有数据")
    if state != "未达成":
        return ""
    k = CATALOGUE[kpi]
    if kpi in _FUNNEL_KPIS and (text := _weakest_step(kpi, values, plan, breakdown)):
        return text
    fields = {"name": k.name, "actual": fmt(actual, k.unit), "target": target_text(kpi, target),
              "num": fmt(kv.numerator), "den": fmt(kv.denominator), "sla": plan.review.sla_minutes,
              **{key: fmt(v) for key, v in kv.parts.items()}}
    if kpi == "cost_per_participant":
        over = [(line.actual - line.planned, line) for line in plan.budget.lines
                if line.actual is not None and line.actual > line.planned]
        if over:
            amount, line = max(over, key=lambda pair: pair[0])
            fields["cause"] = _COST_CAUSE[0].format(category=line.category, detail=line.detail, over=fmt(amount))
        else:
            fields["cause"] = _COST_CAUSE[1]
    # a rule quotes the computed figures; with only a manual actual there are none to quote
    template = _KPI_ADVICE.get(kpi, _FALLBACK) if kv.value is not None else _FALLBACK
    try:
        return template.format(**fields)
    except KeyError:  # the figure the rule quotes is unknown (e.g. a manual actual): say it plainly
        return _FALLBACK.format(**fields)


# ------------------------------------------------------------------ template 4 and the summary
def kpi_table(plan: Plan, values: Mapping[str, KpiValue], *,
              breakdown: pd.DataFrame | None = None) -> pd.DataFrame:
    """Result "kpis" (template 4, 活动效果评估表): one row per ``plan.kpis`` target.

    A manual ``actual`` in the plan wins over the computed value and ``source`` says so.
    ``breakdown`` (a :func:`funnel_by` frame) lets suggestions name the weakest channel or tier.
    """
    rows = []
    for t in plan.kpis:
        k, kv = CATALOGUE[t.kpi], values.get(t.kpi) or KpiValue(t.kpi, None, explanation="无数据: 未计算")
        if t.actual is not None:
            actual, source = t.actual, "手工填写"
            explanation = f"手工填写的实际值(数据计算值: {fmt(kv.value, k.unit)})"
        else:
            actual, source, explanation = kv.value, "数据计算", kv.explanation
        rows.append({
            "kpi": t.kpi, "name": k.name, "dimension": t.dimension or k.dimension, "unit": k.unit,
            "direction": k.direction, "target": float(t.target), "actual": actual,
            "status": status(t.kpi, t.target, actual),
            "suggestion": suggestion(t.kpi, t.target, actual, values, plan, breakdown),
            "target_text": target_text(t.kpi, t.target), "source": source, "explanation": explanation,
        })
    columns = ["kpi", "name", "dimension", "unit", "direction", "target", "actual", "status", "suggestion",
               "target_text", "source", "explanation"]
    table = pd.DataFrame(rows, columns=columns)
    table["actual"] = table["actual"].astype("float64")
    return table


STATUSES = ("超达成", "达成", "未达成", "无数据")


def review_summary(plan: Plan, values: Mapping[str, KpiValue], table: pd.DataFrame) -> dict:
    """Result "review_summary": status counts, group sizes, participants and headline sentences."""
    counts = {s: int((table["status"] == s).sum()) for s in STATUSES}
    part = values["participation_rate"]
    sizes = {key: int(part.parts.get(key, 0)) for key in ("in_scope", "treatment", "control")}
    participants = None if part.numerator is None else int(part.numerator)
    headlines = [f"共评估 {len(table)} 项 KPI:超达成 {counts['超达成']} 项、达成 {counts['达成']} 项、"
                 f"未达成 {counts['未达成']} 项、无数据 {counts['无数据']} 项。",
                 f"目标客群 {sizes['in_scope']} 人,其中实验组 {sizes['treatment']} 人、对照组 {sizes['control']} 人;"
                 + (f"参与 {participants} 人,参与率 {fmt(part.value, '%')}。" if participants is not None
                    else f"参与情况无数据({part.explanation.removeprefix('无数据: ')})。")]
    missed = table[table["status"] == "未达成"]
    if not missed.empty:
        headlines.append("未达成: " + ";".join(
            f"{r.name} 实际 {fmt(r.actual, r.unit)}(目标 {r.target_text})" for r in missed.itertuples()) + "。")
    return {"campaign": plan.review.campaign, "kpis": len(table), "status_counts": counts, **sizes,
            "participants": participants, "participation_rate": part.value, "headlines": headlines}


ACTION_COLUMNS = ["问题目标", "优化措施", "责任人", "完成时间", "预期效果", "状态"]
_ACTION_STATE = {"open": "待完成", "done": "已完成"}


def action_plan(plan: Plan, table: pd.DataFrame) -> pd.DataFrame:
    """互动优化行动计划表: the plan's own actions, then a 建议 row (owner 待指定) for every missed KPI
    that no action mentions (by KPI name or id), so nothing missed leaves the review without an owner."""
    rows = [{"问题目标": a.problem, "优化措施": a.measure, "责任人": a.owner, "完成时间": pd.Timestamp(a.due),
             "预期效果": a.expected, "状态": _ACTION_STATE[a.status]} for a in plan.review.actions]
    problems = " ".join(a.problem for a in plan.review.actions)
    for r in table[table["status"] == "未达成"].itertuples():
        if r.name in problems or r.kpi in problems:
            continue
        rows.append({"问题目标": f"{r.name}未达成(实际 {fmt(r.actual, r.unit)},目标 {r.target_text})",
                     "优化措施": r.suggestion, "责任人": "待指定", "完成时间": pd.NaT,
                     "预期效果": f"{r.name}达到 {r.target_text}", "状态": "建议"})
    out = pd.DataFrame(rows, columns=ACTION_COLUMNS)
    out["完成时间"] = pd.to_datetime(out["完成时间"])
    return out
