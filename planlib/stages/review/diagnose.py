"""Why a KPI missed, and what to do about it: template 4's 分析与改进建议, from one rule table.

For a missed KPI the diagnosis names what explains most of the miss, with the figure:
- a group of the treatment customers whose shortfall against the target is the largest — the
  customers a channel never reached, a tier, or an A/B version (groups of at least MIN_BASE). A group's
  shortfall is ``target × group size − what the group achieved``: the customers (or points) the
  KPI lacks because of that group;
- otherwise the funnel step with the lowest conversion (触达 → 打开 → 互动 → 参与 → 复购), and the
  channel or tier weakest at that step;
- for satisfaction and NPS, the theme low scorers mention most in their comments — the plan's
  ``review.comment_themes``, else the term their comments share most;
- for cost, the budget line overspent most.
A KPI that is achieved but whose effect against the control group is not distinguishable from
zero gets a warning instead. Every sentence and advice lives in the tables below; the words of a
unit's own business (channels, themes, praise) come from its plan or its data, never from here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from planlib.metrics.measure import Frames, KpiValue, Window, fmt, period_window, within_days
from planlib.metrics.orders import orders_of
from planlib.plan.kpis import CATALOGUE, MIN_BASE, SMALL_SAMPLE, status, too_small
from planlib.plan.schema import Plan
from planlib.stages.review.funnel import FUNNEL_STEPS, funnel_from_values

# ------------------------------------------------------------------ the rule table
# Every word a unit's own business brings (channels, gifts, products, comment themes) comes from the
# plan (channels.catalogue, review.comment_themes, review.praise_words) or from the data; the texts
# below name none of them.
# Funnel KPIs: the step with the lowest conversion among these explains the miss.
FUNNEL_KPIS = {
    "reach_rate": ("触达",), "open_rate": ("打开",), "engagement_rate": ("互动",),
    "participation_rate": ("触达", "打开", "互动", "参与"), "repurchase_30d": ("复购",),
}
STEP_ADVICE = {
    "触达": "触达率仅 {rate}(目标客户 {prev} 人中触达 {n} 人),建议核对客户联系方式,并补充到达率更高的渠道({reach})",
    "打开": "打开率仅 {rate}(触达 {prev} 人中打开 {n} 人),建议调整发送时间与标题,并用打开率更高的渠道({opens})提醒",
    "互动": "互动参与度仅 {rate}(打开 {prev} 人中互动 {n} 人),建议优化内容与参与激励,降低互动门槛",
    "参与": "互动后参与仅 {rate}(互动 {prev} 人中参与 {n} 人),建议简化参与流程,并通过响应率更高的渠道({responds})邀约",
    "复购": "参与客户{days}天复购率仅 {rate}(参与 {prev} 人中复购 {n} 人),建议向参与客户提供限时复购优惠并安排回访",
}
# Group causes of a rate over the treatment group (participation, reach, repurchase after the campaign).
GROUP_CAUSE = {
    "not_reached": "{channel}只触达了{base} {n} 人中的 {reached} 人,未触达的 {size} 人{name}仅 {rate}",
    "tier": "{group}{name}仅 {rate}({size} 人)",
    "variant": "{channel} {group} 版的客户{name}仅 {rate}({size} 人)",
}
GROUP_ADVICE = {
    "not_reached": "对未被{channel}触达的 {size} 人改用{others}补充触达",
    "tier": "针对{group}单独调整内容与渠道(该层维护策略: {strategy})",
    "variant": "{channel}统一采用表现更好的 {best} 版({best_rate})",
}
MIN_THEME = 2  # one remark is an anecdote, not a cause
SCORE_CAUSE = {
    "csat": "满意度均分 {actual},低于目标 {target}({low} 份评分≤3分)",
    "nps": "NPS 为 {actual},低于目标 {target}(贬损者 {detractors} 人、推荐者 {promoters} 人)",
}
THEME_CAUSE = ";{who}的评价中提到最多的是{theme}({k} 条,如“{example}”)"
TERM_ADVICE = "回访提到“{term}”的客户,核实原因并制定整改措施"
SCORE_ADVICE = {"csat": "回访低分客户了解原因,按提到最多的问题整改", "nps": "回访贬损者了解不推荐的原因"}
KPI_ADVICE = {
    "response_sla_rate": "响应及时率 {actual}({late} 张工单超过 {sla} 分钟才首次响应),建议高峰时段增加客服并设置超时提醒",
    "complaint_rate": "投诉率 {actual}({num} 位客户投诉),高于目标 {target},建议逐一回访投诉客户并按原因归类整改",
    "churn_rate": "流失率 {actual}(期初活跃 {den} 人中 {num} 人未再消费),建议对沉默客户发送召回优惠并回访",
    "repurchase_rate": "期内复购率 {actual}(下单 {den} 人中 {num} 人复购),建议对首购客户推送二次购买优惠",
    "aov_uplift": "客单价提升 {actual},未达目标 {target},建议设计满减或组合购买优惠提升单笔消费",
    "roi": "ROI 为 {actual}(归因收入 {revenue} 元,实际支出 {cost} 元),建议把预算集中到转化最高的渠道与客群",
    "cost_per_participant": "单客户成本 {actual},高于目标 {target}(支出 {num} 元 / 参与 {den} 人);{cause}",
}
COST_CAUSE = ("超支最多的科目是{category}({detail},超出 {over} 元),建议削减低效支出,把预算向参与转化高的渠道倾斜",
              "成本偏高主要因为参与人数不足:按计划预算 {planned} 元,要达到目标需要至少 {need} 位参与客户,"
              "实际只有 {den} 人,建议先提升参与率,把预算向参与转化高的渠道倾斜")
TIER_NOTE = ";分层看,{tier}最差({value})"
NOT_SIGNIFICANT = ("已{state},但与对照组相比{outcome}提升 {interval},与0无显著差异:不能确定是活动带来的效果,"
                   "建议下季保留对照组并扩大样本后再下结论")
FALLBACK = "{name} 实际 {actual},未达目标 {target},建议在复盘会上分析原因并制定改进措施"
NO_DATA = "无法评估: {reason};请补充数据,或在计划的 kpis 中手工填写实际值"
SMALL = ("{small}: {name}只基于 {base} 个样本(少于 {min_base}),{actual} 不作为结论;"
         "请扩大样本或延长观察期后再评估")


def channels_by(plan: Plan, rate: str, exclude: str | None = None, k: int = 2) -> str:
    """The plan's channels with the highest ``rate`` ("reach", "open", "response") — the ones to
    add — as ``电话回访、短信``; ``其他渠道`` when the plan has no other."""
    ranked = sorted((c for c in plan.channels.catalogue if c.id != exclude),
                    key=lambda c: -float(getattr(c, f"{rate}_rate")))
    return "、".join(c.name for c in ranked[:k]) or "其他渠道"


@dataclass(frozen=True)
class Diagnosis:
    """The cause of a miss (what and where, with the figure) and the advice; ``text`` is template 4's cell."""

    kpi: str
    cause: str
    advice: str = ""

    @classmethod
    def of(cls, kpi: str, sentence: str) -> Diagnosis:
        """Split a rule's single sentence at its last ``,建议`` / ``;建议`` into cause and advice."""
        at = max(sentence.rfind(",建议"), sentence.rfind(";建议"))
        return cls(kpi, sentence) if at < 0 else cls(kpi, sentence[:at], sentence[at + 3:])

    @property
    def text(self) -> str:
        return f"{self.cause};建议{self.advice}" if self.advice else self.cause


@dataclass
class Evidence:
    """What the rules look at beyond the KPI values; any part may be None (then its rules are skipped)."""

    exposure: pd.DataFrame | None = None  # per treatment customer: tier, participated, repurchased, <channel>, v:<channel>
    surveys: pd.DataFrame | None = None  # in-scope surveys in the window: csat, nps, comment, tier
    breakdown: pd.DataFrame | None = None  # planlib.stages.review.analysis.funnel_by frame (channel or tier)
    by_tier: pd.DataFrame | None = None  # planlib.metrics.measure.kpis_by(..., "tier") frame


def target_text(kpi: str, target: float) -> str:
    """Template 4's 目标值 with the direction: ``≥70%``, ``≤50元/人``."""
    k = CATALOGUE[kpi]
    sign = {"higher": "≥", "lower": "≤"}.get(k.direction, "")
    return f"{sign}{fmt(target, k.unit)}"


# ------------------------------------------------------------------ evidence
def collect_evidence(plan: Plan, data: Frames, customers_result: pd.DataFrame, *, window: Window | None = None,
                     breakdown: pd.DataFrame | None = None, by_tier: pd.DataFrame | None = None) -> Evidence:
    """Per-customer exposure to the campaign and the window's surveys, for :func:`diagnose`."""
    start, end = window or period_window(plan)
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    cr = customers_result.assign(customer_id=customers_result["customer_id"].astype(str))
    scope, control = cr["in_scope"].astype(bool), cr["control"].astype(bool)
    tiers = cr.set_index("customer_id")["tier"] if "tier" in cr.columns else None
    evidence = Evidence(breakdown=breakdown, by_tier=by_tier)
    inter = data.get("interactions")
    if inter is not None:
        treat = pd.Index(cr.loc[scope & ~control, "customer_id"].unique())
        rows = inter[(inter["campaign"] == plan.review.campaign) & inter["customer_id"].isin(treat)]
        sent = rows[(rows["sent_at"] >= lo) & (rows["sent_at"] < hi)]
        responded = rows[(rows["responded_at"] >= lo) & (rows["responded_at"] < hi)]
        exp = pd.DataFrame(index=treat)
        exp["tier"] = tiers.reindex(treat).to_numpy() if tiers is not None else None
        exp["participated"] = exp.index.isin(responded["customer_id"])
        first = responded.groupby("customer_id")["responded_at"].min().dt.normalize()
        tx = orders_of(data)
        if tx is not None:
            days = plan.review.attribution_days
            rows = (tx.rows_of(first.index.astype(str), first.min().date(),
                               (first.max() + pd.Timedelta(days=days - 1)).date())
                    if len(first) else tx.rows_of([], start, start))
            joined = rows[rows["amount"] > 0].join(first.rename("first"), on="customer_id", how="inner")
            bought = joined.loc[within_days(joined["order_date"], joined["first"], days),
                                "customer_id"]
            exp["repurchased"] = exp.index.isin(bought)
        for channel, part in sent.groupby("channel"):
            exp[channel] = exp.index.isin(part["customer_id"])
            variants = part.loc[part["variant"].fillna("") != ""].groupby("customer_id")["variant"].agg(
                lambda v: v.iloc[0] if v.nunique() == 1 else "")
            if variants[variants != ""].nunique() >= 2:
                exp[f"v:{channel}"] = variants.reindex(exp.index).fillna("").to_numpy()
        evidence.exposure = exp
    surveys = data.get("surveys")
    if surveys is not None:
        s = surveys[(surveys["survey_date"] >= lo) & (surveys["survey_date"] < hi)
                    & surveys["customer_id"].isin(cr.loc[scope, "customer_id"])]
        evidence.surveys = s.assign(tier=s["customer_id"].map(tiers) if tiers is not None else None)
    return evidence


# ------------------------------------------------------------------ causes
def _gap_text(gap: float, total: float, unit: str) -> str:
    share = "足以解释全部缺口" if gap >= total else f"占总缺口的 {gap / total:.0%}"
    return f"比目标少 {gap:.0f} {unit},{share}"


def _group_cause(kpi: str, target: float, plan: Plan, ev: Evidence) -> tuple[str, str] | None:
    """The treatment group's subgroup with the largest shortfall on a customer-share KPI: (cause, advice)."""
    found = _outcome_base(kpi, target, ev)
    if found is None:
        return None
    base, outcome, total = found
    names = {c.id: c.name for c in plan.channels.catalogue}
    candidates = _unreached_groups(base, outcome, target, names) + _rate_groups(base, outcome, target, names)
    if not candidates:
        return None
    gap, kind, fields = max(candidates, key=lambda c: c[0])
    if gap <= 0:
        return None
    fields.update(name=CATALOGUE[kpi].label(plan.review.attribution_days).removeprefix("目标客户").removeprefix("活动后"),
                  base="参与客户" if kpi == "repurchase_30d" else "实验组")
    cause = GROUP_CAUSE[kind].format(**fields) + f"({_gap_text(gap, total, '人')})"
    return cause, _group_advice(kind, fields, plan)


def _outcome_base(kpi: str, target: float, ev: Evidence) -> tuple[pd.DataFrame, str, float] | None:
    """(customers the KPI is a share of, the outcome column, the whole shortfall in customers), or None
    when there is no evidence, too small a base or no shortfall."""
    exp = ev.exposure
    outcome = {"participation_rate": "participated", "repurchase_30d": "repurchased"}.get(kpi)
    if exp is None or outcome is None or outcome not in exp.columns or exp.empty:
        return None
    base = exp if kpi == "participation_rate" else exp[exp["participated"]]
    if base.empty or too_small(len(base)):
        return None
    total = target / 100 * len(base) - base[outcome].sum()
    return None if total <= 0 else (base, outcome, total)


Candidate = tuple[float, str, dict]  # (shortfall in customers, kind of group, fields of its sentence)


def _unreached_groups(base: pd.DataFrame, outcome: str, target: float, names: dict[str, str]) -> list[Candidate]:
    """Per channel: the customers it never reached (at least MIN_BASE of them) and their shortfall."""
    out = []
    channels = [c for c in base.columns if c not in {"tier", "participated", "repurchased"} and not c.startswith("v:")]
    for channel in channels:
        missed = base[~base[channel].astype(bool)]
        if 0 < len(missed) < len(base) and not too_small(len(missed)):
            out.append((target / 100 * len(missed) - missed[outcome].sum(), "not_reached", {
                "channel": names.get(channel, channel), "channel_id": channel, "n": len(base),
                "reached": len(base) - len(missed), "size": len(missed),
                "rate": fmt(missed[outcome].mean() * 100, "%")}))
    return out


def _rate_groups(base: pd.DataFrame, outcome: str, target: float, names: dict[str, str]) -> list[Candidate]:
    """Per tier and per A/B version of a channel (groups of at least MIN_BASE customers): their shortfall."""
    out = []
    groupings = [("tier", "tier", None)] + [(c, "variant", c[2:]) for c in base.columns if c.startswith("v:")]
    for column, kind, channel in groupings:
        groups = base[column].dropna()
        groups = groups[groups != ""]
        if groups.nunique() < 2:
            continue
        rates = base.loc[groups.index].groupby(groups)[outcome].agg(["mean", "sum", "size"])
        best = rates["mean"].idxmax()
        for group, r in rates[~rates["size"].map(too_small).astype(bool)].iterrows():
            out.append((target / 100 * r["size"] - r["sum"], kind, {
                "group": group, "size": int(r["size"]), "rate": fmt(r["mean"] * 100, "%"),
                "channel": names.get(channel, channel) if channel else "", "best": best,
                "best_rate": fmt(rates.at[best, "mean"] * 100, "%")}))
    return out


def _group_advice(kind: str, fields: dict, plan: Plan) -> str:
    if kind == "not_reached":
        return GROUP_ADVICE[kind].format(others=channels_by(plan, "reach", exclude=fields["channel_id"]), **fields)
    tier = next((t for t in plan.segmentation.tiers if t.name == fields["group"]), None)
    strategy = tier.strategy if tier and tier.strategy else plan.segmentation.default_tier.strategy or "—"
    return GROUP_ADVICE[kind].format(strategy=strategy, **fields)


def _weakest_step(kpi: str, values: Mapping[str, KpiValue], plan: Plan,
                  breakdown: pd.DataFrame | None) -> Diagnosis | None:
    steps = funnel_from_values(values).set_index("step")
    candidates = steps.loc[list(FUNNEL_KPIS[kpi]), "rate_of_previous"].dropna()
    if candidates.empty:
        return None
    step = candidates.idxmin()
    prev = steps["customers"].iloc[FUNNEL_STEPS.index(step) - 1]
    found = Diagnosis.of(kpi, STEP_ADVICE[step].format(
        rate=fmt(candidates[step], "%"), prev=prev, n=steps.at[step, "customers"], days=plan.review.attribution_days,
        reach=channels_by(plan, "reach"), opens=channels_by(plan, "open"), responds=channels_by(plan, "response")))
    text = found.cause
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
    return Diagnosis(kpi, text, found.advice)


def _theme(comments: pd.Series, plan: Plan) -> tuple[str, int, str, str] | None:
    """What low scorers mention most: (theme, count, an example, advice).

    The plan's ``review.comment_themes`` first (the theme with most comments, at least MIN_THEME);
    failing that, the term the comments share most (:func:`frequent_term`). Comments with one of
    the plan's ``review.praise_words`` (not negated: 不实用 is no praise) are praise, not a cause.
    """
    texts = comments.dropna().astype(str)
    praise = re.compile("|".join(f"(?<![不没未]){re.escape(w)}" for w in plan.review.praise_words) or "(?!)")
    texts = texts[(texts.str.strip() != "") & ~texts.map(lambda t: bool(praise.search(t)))]
    best = None
    for theme in plan.review.comment_themes:
        hits = texts[texts.map(lambda t, words=tuple(theme.keywords): any(w in t for w in words))]
        if len(hits) >= MIN_THEME and (best is None or len(hits) > best[1]):
            best = (theme.name, len(hits), hits.value_counts().index[0], theme.advice)
    if best is None and (term := frequent_term(texts)) is not None:
        hits = texts[texts.str.contains(term, regex=False)]
        best = (f"“{term}”", len(hits), hits.value_counts().index[0], TERM_ADVICE.format(term=term))
    return best


_SEPARATORS = re.compile(r"[\s,,。.!!??;;:：、“”\"'()()]+")


def frequent_term(texts: pd.Series, min_count: int = MIN_THEME) -> str | None:
    """The term (2–6 characters) most comments share, at least ``min_count`` of them; the longest of
    equally frequent ones (``到货太慢`` rather than ``到货``). Chinese has no spaces, so the terms are
    the comments' runs of characters between punctuation, cut into every substring."""
    counts: dict[str, int] = {}
    for text in texts:
        seen = {run[i:i + n] for run in _SEPARATORS.split(text) for n in range(2, 7)
                for i in range(len(run) - n + 1)}
        for term in seen:
            counts[term] = counts.get(term, 0) + 1
    frequent = [(k, len(t), t) for t, k in counts.items() if k >= min_count]
    return max(frequent)[2] if frequent else None


def _score_diagnosis(kpi: str, fields: dict, plan: Plan, ev: Evidence) -> Diagnosis:
    cause = SCORE_CAUSE[kpi].format(**fields)
    s = ev.surveys
    if s is not None and not s.empty:
        low = s[s["csat"].le(3).fillna(False)] if kpi == "csat" else s[s["nps"].le(6).fillna(False)]
        who = "低分(≤3分)客户" if kpi == "csat" else "贬损者"
        found = _theme(low["comment"], plan) if "comment" in low.columns else None
        if found:
            theme, k, example, advice = found
            return Diagnosis(kpi, cause + THEME_CAUSE.format(who=who, theme=theme, k=k, example=example), advice)
    return Diagnosis(kpi, cause, SCORE_ADVICE[kpi])


def _tier_note(kpi: str, ev: Evidence) -> str:
    """The worst tier of ``kpi`` when the target group spans several tiers."""
    t = ev.by_tier
    if t is None or t.empty:
        return ""
    part = t[(t["kpi"] == kpi) & t["value"].notna()]
    if "base" in part.columns:
        part = part[~part["base"].map(too_small).astype(bool)]
    if part["group"].nunique() < 2:
        return ""
    lower = CATALOGUE[kpi].direction == "lower"
    worst = part.loc[part["value"].idxmax() if lower else part["value"].idxmin()]
    return TIER_NOTE.format(tier=worst["group"], value=fmt(worst["value"], CATALOGUE[kpi].unit))


def _cost_cause(plan: Plan, kv: KpiValue, target: float) -> str:
    """Overspending or too few participants, whichever adds more to the cost per participant."""
    known = [line for line in plan.budget.lines if line.actual is not None]
    planned = sum(line.planned for line in known)
    participants = kv.denominator or 0
    over = [(line.actual - line.planned, line) for line in known if line.actual > line.planned]
    # cost/participant = planned/participants (too few people) + (spent − planned)/participants (overspending)
    overspend = (kv.numerator - planned) / participants if participants else 0.0
    shortfall = planned / participants - target if participants else 0.0
    if over and overspend >= shortfall:
        amount, line = max(over, key=lambda pair: pair[0])
        return COST_CAUSE[0].format(category=line.category, detail=line.detail, over=fmt(amount))
    need = -(-planned // target) if target > 0 else 0
    return COST_CAUSE[1].format(planned=fmt(planned), need=fmt(need), den=fmt(participants))


# ------------------------------------------------------------------ the entry point
def diagnose(kpi: str, target: float, actual: float | None, values: Mapping[str, KpiValue], plan: Plan,
             evidence: Evidence | None = None, effect: pd.Series | None = None, *,
             base: float | None = None) -> Diagnosis | None:
    """Template 4's 分析与改进建议 for one KPI row (None when there is nothing to say).

    ``effect`` is the KPI's intent-to-treat row of :func:`planlib.stages.review.uplift.uplift` (see
    ``Kpi.effect``): an achieved KPI whose effect is not significant gets a warning. ``base``: how
    many units the actual rests on (default: the computed value's, when ``actual`` is that value);
    below MIN_BASE the diagnosis says 样本不足 and gives no cause and no advice.
    """
    from planlib.stages.review.uplift import METRICS, interval_text

    ev = evidence or Evidence()
    kv = values.get(kpi) or KpiValue(kpi, None)
    if base is None and kv.value is not None and actual == kv.value:
        base = kv.base
    state = status(kpi, target, actual, base)
    k = CATALOGUE[kpi]
    if state == "无数据":
        return Diagnosis(kpi, NO_DATA.format(reason=kv.explanation.removeprefix("无数据: ") or "没有数据"))
    if state == SMALL_SAMPLE:
        return Diagnosis(kpi, SMALL.format(small=SMALL_SAMPLE, name=k.label(plan.review.attribution_days),
                                           base=fmt(base), min_base=MIN_BASE,
                                           actual=fmt(actual, k.unit)))
    if state in ("达成", "超达成"):
        significant = None if effect is None else effect["significant"]
        if significant is not None and not pd.isna(significant) and not bool(significant):
            return Diagnosis(kpi, NOT_SIGNIFICANT.format(state=state, outcome=METRICS[effect["metric"]][0],
                                                         interval=interval_text(effect)))
        return None
    if state != "未达成":
        return None
    name = k.label(plan.review.attribution_days)
    fields = {"name": name, "actual": fmt(actual, k.unit), "target": target_text(kpi, target),
              "num": fmt(kv.numerator), "den": fmt(kv.denominator), "sla": plan.review.sla_minutes,
              **{key: fmt(v) for key, v in kv.parts.items()}}
    if kv.value is None:  # a manual actual: there are no computed figures to quote
        return Diagnosis.of(kpi, FALLBACK.format(**fields))
    if kpi in FUNNEL_KPIS:
        found = _group_cause(kpi, target, plan, ev)
        if found:
            cause, advice = found
            gap = f"{name} {fields['actual']},未达目标 {fields['target']}:"
            return Diagnosis(kpi, gap + cause, advice)
        if d := _weakest_step(kpi, values, plan, ev.breakdown):
            return Diagnosis(kpi, d.cause + _tier_note(kpi, ev), d.advice)
    if kpi in SCORE_CAUSE:
        d = _score_diagnosis(kpi, fields, plan, ev)
        return Diagnosis(kpi, d.cause + _tier_note(kpi, ev), d.advice)
    if kpi == "cost_per_participant":
        fields["cause"] = _cost_cause(plan, kv, target)
    # a field a template names but the figures lack is a bug in the template: it raises, never hides
    d = Diagnosis.of(kpi, KPI_ADVICE.get(kpi, FALLBACK).format(**fields))
    return Diagnosis(kpi, d.cause + _tier_note(kpi, ev), d.advice)
