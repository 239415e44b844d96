"""The evaluation design of a proposal (评估与反馈机制), written before the quarter starts.

In place of stage 05's actuals the proposal says how the quarter will be judged: each KPI with its
formula, data source, measurement window, target and direction; the control group (share, size,
how it is drawn); for every goal compared against the control group whether its targeted change
(baseline → target) can be detected at 80 % power and 5 % two-sided significance with the
planned audience and control share — and if not, which control share or audience would make it
detectable, or the plain statement that it cannot within this audience; the sample size of each
planned A/B test; the review meetings with dates and owners.

Everything here is computed from the plan and from the customers table as of the day before
the period (:func:`planlib.metrics.segment.rfm_as_of`); no data inside the period is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from planlib.data.holdout import control_mask
from planlib.metrics import power
from planlib.metrics.measure import period_window, window_label
from planlib.metrics.orders import Orders, orders_of
from planlib.plan.kpis import CATALOGUE
from planlib.plan.schema import Data, Goal, Plan
from planlib.stages.goals.smart import segment_members

ALPHA, POWER = power.ALPHA, power.POWER
DIRECTION = {"higher": "越高越好", "lower": "越低越好", "info": "仅记录"}
# Which control-group comparison a KPI's goal is judged by (planlib.stages.review.uplift).
_EFFECT = {"repurchase": "实验组与对照组的复购率之差(意向处理 ITT,双样本比例检验)",
           "spend": "实验组与对照组的人均消费之差(Welch t 检验)"}
STATUS_TEXT = {
    "detectable": "可检测",
    "raise_control_share": "需提高对照组比例",
    "cannot_within_audience": "本受众内无法检测",
    "invalid": "无法判断",
    "not_compared": "不与对照组比较",
    "mde_only": "已给出可检测的最小差异",
}


@dataclass
class GoalDesign:
    """One goal's line in the evaluation design."""

    goal: Goal
    compared: bool  # judged against the control group
    audience: int | None = None
    n_treated: int | None = None
    n_control: int | None = None
    design: power.ProportionGoalDesign | None = None
    spend_mde: float | None = None  # yuan per customer, for goals judged on spend
    status: str = "not_compared"
    text: str = ""  # the sentence shown in the proposal
    fix: str = ""  # what would make it detectable (empty when detectable or not compared)

    @property
    def undetectable(self) -> bool:
        return self.compared and self.status not in ("detectable", "mde_only")


@dataclass
class EvaluationDesign:
    kpis: pd.DataFrame
    control: dict[str, str]
    control_size: int
    treated_size: int
    goals: list[GoalDesign]
    ab_tests: pd.DataFrame
    meetings: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def undetectable(self) -> list[GoalDesign]:
        return [g for g in self.goals if g.undetectable]

    def verdict(self) -> str:
        """One sentence for the summary: can the quarter's result be attributed to the campaign?"""
        compared = [g for g in self.goals if g.compared]
        if not compared:
            return "没有与对照组比较的目标:效果只能与目标值比较,不能归因于活动。"
        bad = self.undetectable
        rates = [g for g in compared if g.status != "mde_only"]
        text = ""
        if rates and not bad:
            text = f"与对照组比较的 {len(rates)} 个目标在计划的受众和对照比例下均可检测(80% 功效,5% 显著性)。"
        elif bad:
            text = (f"与对照组比较的 {len(rates)} 个目标中 {len(bad)} 个({'、'.join(g.goal.id for g in bad)})"
                    "按计划无法可靠检测:" + ";".join(f"{g.goal.id} {g.fix}" for g in bad) + "。")
        return text + "".join(f"{g.goal.id} 按人均消费比较,能检测的最小差异为人均 {g.spend_mde:,.0f} 元。"
                              for g in compared if g.status == "mde_only")

    def goals_table(self) -> pd.DataFrame:
        rows = []
        for g in self.goals:
            d = g.design
            kpi = CATALOGUE[g.goal.metric]
            rows.append({
                "目标": f"{g.goal.id} {kpi.name}",
                "基线 → 目标": _change(g.goal),
                "比较方式": _EFFECT[kpi.effect] if g.compared and kpi.effect else "只在实验组测量,与目标值比较",
                "受众(实验/对照)": (f"{g.audience:,}({g.n_treated:,}/{g.n_control:,})"
                                    if g.audience is not None else "—"),
                "最小可检测效应": (f"{d.mde_pp:.1f} 个百分点" if d is not None and d.mde_pp is not None
                                    else f"人均 {g.spend_mde:,.0f} 元" if g.spend_mde is not None else "—"),
                "目标变化": f"{d.target_change_pp:.1f} 个百分点" if d is not None else "—",
                "达到目标时的功效": f"{d.power_at_target:.0%}" if d is not None and d.status != "invalid" else "—",
                "结论": STATUS_TEXT[g.status],
                "建议": g.fix or "—",
            })
        return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- KPIs
def _source_names(needs: tuple[str, ...]) -> str:
    names = [Data.model_fields[n].title or n for n in needs]
    return "、".join(names) if names else "计划预算(实际支出手工填写)"


def _window(plan: Plan, kpi_id: str, deadline: date | None = None) -> str:
    start, end = period_window(plan)
    end = min(end, deadline) if deadline else end
    days = plan.review.attribution_days
    if kpi_id == "repurchase_30d":
        return f"{window_label((start, end))} 参与,参与后 {days} 天内的购买"
    if kpi_id in ("roi", "aov_uplift"):
        return f"{window_label((start, end))},归因窗口 {days} 天"
    if kpi_id in ("csat", "nps"):
        return f"{window_label((start, end))} 回收的问卷"
    return window_label((start, end))


def target_text(kpi_id: str, target: float) -> str:
    kpi = CATALOGUE[kpi_id]
    sign = {"higher": "≥", "lower": "≤"}.get(kpi.direction, "")
    return f"{sign}{target:g}{kpi.unit}"


def kpi_table(plan: Plan) -> pd.DataFrame:
    """Each KPI with a target (plan.kpis, then goal metrics without one): formula, source, window."""
    rows, seen = [], set()
    deadlines = {g.metric: g.deadline for g in plan.goals}
    entries = [(k.kpi, k.target, k.dimension) for k in plan.kpis]
    entries += [(g.metric, g.target, None) for g in plan.goals]
    for kpi_id, target, dimension in entries:
        if kpi_id in seen:
            continue
        seen.add(kpi_id)
        kpi = CATALOGUE[kpi_id]
        rows.append({"评估维度": dimension or kpi.dimension, "指标": kpi.name, "公式": kpi.formula,
                     "数据来源": _source_names(kpi.needs), "测量窗口": _window(plan, kpi_id, deadlines.get(kpi_id)),
                     "目标": target_text(kpi_id, target), "方向": DIRECTION[kpi.direction]})
    return pd.DataFrame(rows, columns=["评估维度", "指标", "公式", "数据来源", "测量窗口", "目标", "方向"])


def template4(plan: Plan) -> pd.DataFrame:
    """Template 4 (活动效果评估表) with targets and the actual columns left empty for the review."""
    rows, seen = [], set()
    for kpi_id, target, dimension in [*((k.kpi, k.target, k.dimension) for k in plan.kpis),
                                      *((g.metric, g.target, None) for g in plan.goals)]:
        if kpi_id in seen:
            continue
        seen.add(kpi_id)
        kpi = CATALOGUE[kpi_id]
        rows.append({"评估维度": dimension or kpi.dimension, "核心指标": kpi.name,
                     "目标值": target_text(kpi_id, target), "实际值": "", "达成情况": "", "分析与改进建议": ""})
    return pd.DataFrame(rows, columns=["评估维度", "核心指标", "目标值", "实际值", "达成情况", "分析与改进建议"])


# ---------------------------------------------------------------------------------------------- goals
def _change(goal: Goal) -> str:
    unit = goal.unit if goal.unit is not None else CATALOGUE[goal.metric].unit
    base = "—" if goal.baseline is None else f"{goal.baseline:g}{unit}"
    return f"{base} → {goal.target:g}{unit}"


def _pct(share: float) -> str:
    return f"{share:.0%}" if abs(share * 100 - round(share * 100)) < 1e-9 else f"{share:.1%}"


def design_goal(plan: Plan, goal: Goal, baseline: float | None, audience: int,
                n_control: int | None = None, spend: tuple[float, float] | None = None) -> GoalDesign:
    """Whether ``goal``'s change baseline → target is detectable against the control group.

    ``n_control`` is the control group actually drawn from the goal's segment (the hash draw
    gives about, not exactly, the planned share); without it the planned share is used. ``spend`` is
    the mean and standard deviation of spend per customer of the segment over an attribution window
    before the period: goals judged on spend get the smallest difference in yuan the review can detect.
    """
    kpi = CATALOGUE[goal.metric]
    out = GoalDesign(goal=goal, compared=kpi.effect is not None)
    if not out.compared:
        out.text = "该指标只有收到活动内容的客户才有(对照组不接触活动),复盘时与目标值比较,不做对照检验。"
        return out
    share = plan.review.control_share / 100
    out.audience = audience
    out.n_treated, out.n_control = power.split_audience(audience, share)
    if n_control is not None and 0 < n_control < audience:
        out.n_treated, out.n_control = audience - n_control, n_control
    if share == 0:
        out.status = "invalid"
        out.text = "计划没有对照组(review.control_share 为 0),无法把效果归因于活动。"
        out.fix = "设置 10%–20% 的对照组(review.control_share)"
        return out
    if kpi.effect == "spend":
        return _spend_goal(plan, out, spend)
    if baseline is None:
        out.status = "invalid"
        out.text = "没有基线值(计划未填、数据也无法测算),无法判断目标变化能否检测。"
        out.fix = "在 goals 中填写 baseline"
        return out
    if share > 0.5:
        out.status = "invalid"
        out.text = f"对照组比例 {_pct(share)} 超过 50%,活动覆盖的客户少于对照组。"
        out.fix = "把对照组比例设为 50% 以下"
        return out
    if audience < 2:
        out.status = "invalid"
        out.text = f"目标客群 {goal.segment} 在计划开始前没有足够的客户({audience} 人)。"
        out.fix = "检查目标客群的定义"
        return out
    # the realised split, so the figures match the control group the review will compare with
    d = power.design_proportion_goal(baseline / 100, goal.target / 100, audience, out.n_control / audience)
    out.design, out.status = d, d.status
    change = f"{d.target_change_pp:.1f} 个百分点"
    mde = "—" if d.mde_pp is None else f"{d.mde_pp:.1f} 个百分点"
    head = (f"受众 {audience:,} 人(实验 {d.n_treated:,} / 对照 {d.n_control:,}),最小可检测效应 {mde},"
            f"目标变化 {change},达到目标时的功效 {d.power_at_target:.0%}。")
    if d.status == "detectable":
        out.text = head + "目标变化可检测。" + "".join(n + "。" for n in d.notes)
    elif d.status == "raise_control_share":
        need = math.ceil(d.min_control_share * 100 - 1e-9)  # review.control_share is set in whole percent
        out.fix = (f"把对照组比例从 {_pct(share)} 提高到 {need}%(对照约 {round(audience * need / 100):,} 人),"
                   f"或按当前比例把受众扩大到 {d.audience_needed:,} 人")
        out.text = head + "按当前对照比例无法可靠检测。"
    elif d.status == "cannot_within_audience":
        out.fix = (f"本受众({audience:,} 人)内无法检测:即使对照组占 50% 功效也只有 {d.power_at_half:.0%};"
                   f"需要约 {d.audience_needed:,} 人(对照 {_pct(share)})或 {d.audience_needed_at_half:,} 人(对照 50%),"
                   "否则请把该目标改为只与目标值比较的观察指标,或合并多个季度/批次后再评估")
        out.text = head + "按计划无法可靠检测。"
    else:
        out.text = head + ";".join(d.notes)
    return out


def _spend_goal(plan: Plan, out: GoalDesign, spend: tuple[float, float] | None) -> GoalDesign:
    """A goal judged by spend per customer (treatment − control, Welch's t): the smallest difference in yuan.

    Its target (a rate such as ROI or the change of the average order value) is not a difference of
    spend per customer, so the proposal gives the detectable difference and leaves the comparison to
    the planner rather than pretend to judge it.
    """
    days = plan.review.attribution_days
    if spend is None or not spend[1] > 0 or out.n_treated < 2 or out.n_control < 2:
        out.status = "invalid"
        out.text = f"计划开始前的 {days} 天内该客群没有可用的消费记录,无法估计人均消费的波动。"
        out.fix = "确认交易数据覆盖计划开始前的时期"
        return out
    mean, sd = spend
    out.spend_mde = power.mde_mean(sd, out.n_treated, out.n_control, test="t")
    share = f"(基线人均 {mean:,.0f} 元的 {out.spend_mde / mean:.0%})" if mean > 0 else ""
    out.status = "mde_only"
    out.text = (f"复盘比较实验组与对照组 {days} 天内的人均消费:受众 {out.audience:,} 人(实验 {out.n_treated:,} / 对照 "
                f"{out.n_control:,}),计划开始前同长度窗口的人均消费 {mean:,.0f} 元、标准差 {sd:,.0f} 元;"
                f"能检测的最小差异为人均 {out.spend_mde:,.0f} 元{share}。活动预期带来的人均增量低于此值时,"
                "复盘将无法确认效果。")
    return out


def spend_per_customer(orders: Orders | pd.DataFrame, ids: pd.Series, end: date, days: int) -> tuple[float, float]:
    """Mean and standard deviation of net spend per customer of ``ids`` over the ``days`` days ending on
    ``end`` (customers without an order count as 0), as the review measures spend."""
    orders = orders_of({"transactions": orders})
    sums = orders.row_sums(end - timedelta(days=days - 1), end)
    per = sums.set_index("customer_id")["spend"]
    values = per.reindex(ids.astype(str).unique(), fill_value=0.0).to_numpy(dtype=float)
    if len(values) < 2:
        return float(values.mean()) if len(values) else 0.0, 0.0
    return float(values.mean()), float(values.std(ddof=1))


# ---------------------------------------------------------------------------------------------- A/B tests
_METRIC_NAMES = {"open_rate": "打开率", "response_rate": "响应率"}


def ab_test_table(plan: Plan, reachable: dict[str, float]) -> pd.DataFrame:
    """Per planned A/B test: baseline, the smallest difference to detect and the customers needed.

    ``reachable`` is the number of treated customers each channel's plan rows contact.
    """
    channels = {c.id: c for c in plan.channels.catalogue}
    rows = []
    for t in plan.review.ab_tests:
        ch = channels[t.channel]
        if t.baseline is not None:
            p0, source = t.baseline, "计划填写"
        elif t.metric == "open_rate":
            p0, source = ch.reach_rate * ch.open_rate / 100, "渠道目录:触达率×打开率"
        else:
            p0, source = ch.reach_rate * ch.open_rate * ch.response_rate / 10_000, "渠道目录:触达率×打开率×响应率"
        base = {"测试": t.name, "渠道": ch.name, "比较指标": _METRIC_NAMES[t.metric], "A 版预计": f"{p0:.1f}%",
                "基线来源": source, "最小差异": f"+{t.mde:g} 个百分点", "B 版比例": f"{t.share_b:g}%"}
        if p0 + t.mde > 100:
            rows.append({**base, "A 版样本": "—", "B 版样本": "—", "合计": "—", "可用客户": "—",
                         "结论": "A 版预计比率加最小差异超过 100%,请检查"})
            continue
        ratio = t.share_b / (100 - t.share_b)
        n_a, n_b = power.sample_size_proportions(p0 / 100, t.mde / 100, ratio=ratio)
        have = reachable.get(t.channel, 0.0)
        verdict = ("样本足够" if have >= n_a + n_b else
                   f"样本不足:该渠道计划只触达约 {have:,.0f} 人;可加大最小差异、延长测试或在更大客群中测试")
        rows.append({**base, "A 版样本": f"{n_a:,}", "B 版样本": f"{n_b:,}", "合计": f"{n_a + n_b:,}",
                     "可用客户": f"{have:,.0f}", "结论": verdict})
    columns = ["测试", "渠道", "比较指标", "A 版预计", "基线来源", "最小差异", "B 版比例", "A 版样本", "B 版样本",
               "合计", "可用客户", "结论"]
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------------------------- meetings
def _add_workdays(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _last_workday(year: int, month: int) -> date:
    day = (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def campaign_end(plan: Plan) -> date:
    """End of the campaign: the phase before the last (the last is the review phase), else the period end."""
    phases = plan.meta.phases
    return phases[-2].end if len(phases) >= 2 else plan.meta.period.end


def meetings_table(plan: Plan) -> pd.DataFrame:
    """The plan's review meetings, or the suggested ones: month-end data reviews and the review meeting."""
    attendees = "、".join(plan.meta.departments)
    if plan.review.meetings:
        rows = [{"会议": m.name, "日期": m.date, "负责人": m.owner, "参会方": m.attendees or attendees, "来源": "计划"}
                for m in plan.review.meetings]
    else:
        start, end = plan.meta.period.start, plan.meta.period.end
        rows, y, m = [], start.year, start.month
        while date(y, m, 1) <= end:
            day = _last_workday(y, m)
            if start <= day <= end:
                rows.append({"会议": f"{m}月数据复盘", "日期": day, "负责人": plan.meta.owner, "参会方": attendees,
                             "来源": "建议(每月末)"})
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        review = _add_workdays(campaign_end(plan), 3)
        rows.append({"会议": "活动复盘会", "日期": review, "负责人": plan.meta.owner,
                     "参会方": attendees or "客户互动委员会", "来源": "建议(活动结束后 3 个工作日内)"})
    return pd.DataFrame(rows, columns=["会议", "日期", "负责人", "参会方", "来源"]).sort_values("日期", kind="stable")


# ---------------------------------------------------------------------------------------------- all
def evaluation_design(plan: Plan, customers: pd.DataFrame, goal_checks: pd.DataFrame | None = None,
                      plan_table: pd.DataFrame | None = None, transactions: pd.DataFrame | Orders | None = None,
                      as_of: date | None = None) -> EvaluationDesign:
    """The whole design from the plan, the customers table (as of the day before the period), stage
    01's goal checks (measured baselines), stage 03's channel plan (contacts per channel) and the
    transactions up to ``as_of`` (spread of spend for goals judged on spend)."""
    scope = customers["in_scope"].astype(bool)
    control = scope & customers["control"].astype(bool)
    n_control, n_treated = int(control.sum()), int((scope & ~control).sum())
    share = plan.review.control_share
    control_info = {
        "对照组比例": f"{share:g}%(review.control_share)",
        "目标客群": f"{plan.scope.segment}:{int(scope.sum()):,} 人(按计划开始前一天的数据)",
        "对照组": f"{n_control:,} 人(不接收本活动的任何消息)",
        "实验组": f"{n_treated:,} 人",
        "如何抽取": (f"按「活动代码 {plan.review.campaign} + 客户编号」的 SHA-256 哈希值确定(planlib.data.holdout),"
                     "与数据行顺序和随机种子无关,可复现;复盘时按意向处理(ITT)比较实验组与对照组"),
        "显著性与功效": f"双侧 α = {ALPHA:.0%},功效 {POWER:.0%}(与 statsmodels 的 NormalIndPower 约定一致)",
    }
    baselines = {}
    if goal_checks is not None and len(goal_checks):
        baselines = {r.goal_id: (None if pd.isna(r.baseline) else float(r.baseline))
                     for r in goal_checks.itertuples()}
    goals = []
    for goal in plan.goals:
        baseline = baselines.get(goal.id, goal.baseline)
        audience, drawn = _audience(plan, customers, goal.segment)
        spend = None
        if CATALOGUE[goal.metric].effect == "spend" and transactions is not None and as_of is not None:
            mask = segment_members(plan, customers, goal.segment)
            if mask is not None:
                ids = customers.loc[mask.to_numpy(), "customer_id"]
                spend = spend_per_customer(transactions, ids, as_of, plan.review.attribution_days)
        goals.append(design_goal(plan, goal, baseline, audience, drawn, spend))
    reachable: dict[str, float] = {}
    if plan_table is not None and len(plan_table):
        for r in plan_table.itertuples():
            reachable[r.channel] = max(reachable.get(r.channel, 0.0), float(r.customers_contacted))
    return EvaluationDesign(kpis=kpi_table(plan), control=control_info, control_size=n_control,
                            treated_size=n_treated, goals=goals, ab_tests=ab_test_table(plan, reachable),
                            meetings=meetings_table(plan))


def _audience(plan: Plan, customers: pd.DataFrame, segment: str) -> tuple[int, int | None]:
    """Customers of ``segment`` before the period and how many of them the hash holds out."""
    if segment == plan.scope.segment:
        scope = customers["in_scope"].astype(bool)
        return int(scope.sum()), int((scope & customers["control"].astype(bool)).sum())
    mask = segment_members(plan, customers, segment)
    if mask is None:
        return 0, None
    ids = customers.loc[mask.to_numpy(), "customer_id"]
    return int(mask.sum()), int(control_mask(ids, plan.review.campaign, plan.review.control_share).sum())

