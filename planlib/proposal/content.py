"""What a proposal says: the plan and the data up to the day before the period, as blocks.

Stages 01–04 are not executed as notebooks here: their packages' functions are called directly on
the data cut at the as-of date (:func:`as_of_date`), so nothing inside the period is read. The
parts follow the seed's six parts of a 策划书 (项目背景与目标, 客户需求分析, 互动渠道选择, 策略规划,
实施计划, 评估与反馈机制), with templates 1–4; a one-screen summary opens the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from planlib.data.masking import mask_frame
from planlib.metrics import segment
from planlib.plan.kpis import CATALOGUE
from planlib.plan.labels import COLUMNS
from planlib.plan.planfile import LoadedPlan
from planlib.plan.schema import Plan
from planlib.proposal import charts as proposal_charts
from planlib.proposal.blocks import (
    Block,
    Bullets,
    Heading,
    Image,
    KeyValues,
    Note,
    Paragraph,
    Part,
    Proposal,
    Table,
    text_table,
)
from planlib.proposal.evaluation import EvaluationDesign, evaluation_design, template4
from planlib.publish.display import png_bytes
from planlib.run.pulse import customers_as_of
from planlib.stages.channels import charts as channel_charts
from planlib.stages.channels import plan as channels
from planlib.stages.channels import rates
from planlib.stages.execution import charts as execution_charts
from planlib.stages.execution import schedule
from planlib.stages.goals import charts as goal_charts
from planlib.stages.goals import smart
from planlib.stages.goals import views as goal_views
from planlib.stages.needs import charts as needs_charts

PARTS = ("项目背景与目标", "客户需求分析", "互动渠道选择", "策略规划", "实施计划", "评估与反馈机制")
TEMPLATES = {1: "模板1 客户分层与需求分析表", 2: "模板2 活动执行时间表", 3: "模板3 活动预算明细表",
             4: "模板4 活动效果评估表"}
_NUMBERS = "一二三四五六"
CHANNEL_COLUMNS = {**COLUMNS, "frequency": "频次"}  # in a channel plan, frequency is the cadence of contacts


def as_of_date(plan: Plan) -> date:
    """The last day of data a proposal reads: the RFM as-of date, never inside the period."""
    return min(segment.rfm_as_of(plan), plan.meta.period.start - timedelta(days=1))


@dataclass
class Facts:
    """The figures a proposal shows, each computed once by the stage packages."""

    plan: Plan
    as_of: date
    customers: pd.DataFrame
    goal_checks: pd.DataFrame
    tiers: pd.DataFrame
    examples: pd.DataFrame
    composition: dict[str, dict[str, int]]
    plan_table: pd.DataFrame
    channel_summary: dict
    tasks: pd.DataFrame
    budget: pd.DataFrame
    design: EvaluationDesign


def compute(loaded: LoadedPlan, frames: dict[str, pd.DataFrame]) -> Facts:
    """Every figure from ``frames`` (already cut at :func:`as_of_date`)."""
    plan = loaded.plan
    customers = customers_as_of(loaded, frames)
    goal_checks = smart.smart_check(plan, frames, customers)
    tiers = segment.tier_summary(customers, plan.segmentation)
    examples = mask_frame(segment.needs_table(customers, frames["customers"], plan.segmentation, n=2),
                          {"客户名称": "name"})
    composition = channels.audience_tiers(customers, plan)
    effect = rates.estimate_rates(plan, customers, frames.get("interactions"), frames["customers"], composition)
    plan_table = channels.channel_plan_table(plan, channels.sizes_of(composition), effect)
    summary = channels.channel_summary(plan, plan_table, channels.tier_sizes(customers), composition)
    design = evaluation_design(plan, customers, goal_checks, plan_table, frames["transactions"], as_of_date(plan))
    return Facts(plan, as_of_date(plan), customers, goal_checks, tiers, examples, composition, plan_table,
                 summary, schedule.tasks_table(plan), schedule.budget_table(plan), design)


def _png(fig) -> bytes:
    return png_bytes(fig, dpi=130)  # figures are built without pyplot: nothing to close


def _yuan(value: float) -> str:
    return f"{value:,.0f} 元"


# ------------------------------------------------------------------------------------------ summary
def _goal_line(plan: Plan, goal_id: str, row: pd.Series) -> str:
    kpi = CATALOGUE[row["metric"]]
    unit = row["unit"] if isinstance(row["unit"], str) else kpi.unit
    base = "—" if pd.isna(row["baseline"]) else f"{row['baseline']:g}{unit}"
    return f"{goal_id} {kpi.name}:{base} → {row['target']:g}{unit}(截止 {row['deadline']:%Y-%m-%d})"


def decision_requested(f: Facts) -> str:
    plan, s = f.plan, f.channel_summary
    text = (f"批准《{plan.meta.title}》于 {plan.meta.period.start} 启动,计划支出 {_yuan(s['planned_total'])}"
            f"(上限 {_yuan(plan.budget.limit)}),对照组 {plan.review.control_share:g}% 不触达")
    bad = f.design.undetectable
    if bad:
        text += ";并就 " + "、".join(g.goal.id for g in bad) + " 的评估方式作出选择:按建议调整,或接受该目标只与目标值比较、不能归因于活动"
    a = plan.approval
    if a is not None and a.decision:
        text += f"。已审批:{a.decision}({a.reviewer}" + (f",{a.date}" if a.date else "") + ")"
    return text + "。"


def summary_part(f: Facts) -> Part:
    plan, s, d = f.plan, f.channel_summary, f.design
    checks = f.goal_checks.set_index("goal_id")
    goals = "\n".join(_goal_line(plan, g.id, checks.loc[g.id]) for g in plan.goals)
    scope_n = int(f.customers["in_scope"].astype(bool).sum())
    used = f.plan_table.groupby("channel_name", sort=False)["contacts_per_customer"].sum()
    channel_text = "、".join(f"{name}(每人 {k:g} 次)" for name, k in used.items()) or "未安排渠道"
    budget = (f"计划 {_yuan(s['planned_total'])}(渠道成本 {_yuan(s['channel_cost'])} + 其他预算 "
              f"{_yuan(s['other_planned'])}),上限 {_yuan(plan.budget.limit)}:"
              + ("在预算之内" if s["fits_budget"] else "超出预算上限"))
    rows = [
        ("目标", goals),
        ("受众", f"{plan.scope.segment} {scope_n:,} 人:实验组 {d.treated_size:,} 人,对照组 {d.control_size:,} 人"
                 f"({plan.review.control_share:g}%,不触达,用于效果归因)"),
        ("渠道", f"{channel_text};预计响应约 {s['expected_responses']:,.0f} 人次"),
        ("预算", budget),
        ("评估设计结论", d.verdict()),
        ("请求决策", decision_requested(f)),
    ]
    blocks: list[Block] = [KeyValues(rows)]
    warnings = [*s["warnings"], *(f"目标 {r.goal_id} 未通过 SMART 检查:{r.notes}"
                                  for r in f.goal_checks.itertuples() if not r.smart_ok)]
    if warnings:
        blocks.append(Note(_sentences(warnings), "warn"))
    return Part("", "结论先行", blocks, anchor="summary")


def _sentences(items: list[str]) -> str:
    """Several findings as one text: each ends with 。 exactly once."""
    return "".join(re.sub(r"[。;;\s]+$", "", item) + "。" for item in items)


# ------------------------------------------------------------------------------------------ parts
def part_goals(f: Facts) -> list[Block]:
    plan = f.plan
    rows = [(k, v) for k, v in goal_views.background(plan).items()]
    goals = f.goal_checks.copy()
    goals["smart_ok"] = goals["smart_ok"].map({True: "通过", False: "未通过"})
    goals["notes"] = goals["notes"].replace("", "—")
    return [
        Heading("项目背景"), KeyValues(rows),
        Heading("范围与周期"), KeyValues(list(goal_views.scope(plan).items())),
        text_table(goal_views.phases(plan), title="活动阶段"),
        Image(_png(goal_charts.timeline(plan.meta.phases, plan.meta.period)), "图1 活动阶段"),
        Heading("目标(SMART)"),
        text_table(goals[["goal_id", "name", "metric_name", "baseline", "baseline_source", "target", "unit",
                          "deadline", "smart_ok", "notes"]], COLUMNS, title="目标与 SMART 检查",
                   formats={"baseline": "{:g}", "target": "{:g}"}),
        Paragraph(f"基线取计划填写的值,未填写时按 {f.as_of} 及以前的数据测算;数据截至计划开始前一天,"
                  "不使用计划周期内的任何数据。"),
    ]


def part_needs(f: Facts) -> list[Block]:
    plan = f.plan
    window = plan.segmentation.rfm.window_days
    tiers = f.tiers[["tier", "rule", "customers", "share", "avg_monetary", "goal", "needs"]]
    segments = segment.segments_table(f.customers, plan)
    return [
        Paragraph(f"按 RFM(最近消费、消费次数、消费金额,统计截至 {f.as_of} 的近 {window} 天)与客户终身价值分层;"
                  "分层规则是计划参数,自上而下匹配。"),
        text_table(tiers, COLUMNS, {"share": "{:.1f}", "avg_monetary": "{:,.0f}"}, title="各层级规模、价值与需求"),
        Image(_png(needs_charts.tier_sizes(f.tiers)), "图2 各层级客户数"),
        text_table(f.examples, title=TEMPLATES[1], template=1,
                   note="每个层级列出消费最高的 2 位客户作示例;客户名称已脱敏。"),
        text_table(segments, COLUMNS, title="目标客群规模(计划开始前一天)"),
    ]


def part_channels(f: Facts) -> list[Block]:
    plan, s = f.plan, f.channel_summary
    table = f.plan_table[["audience", "channel_name", "content", "frequency", "audience_size", "contacts_per_customer",
                          "contacts", "cost", "expected_reached", "expected_responses", "rate_source"]]
    catalogue = pd.DataFrame([{"channel_name": c.name, "cost_per_contact": c.cost_per_contact,
                               "reach_rate": c.reach_rate, "open_rate": c.open_rate, "response_rate": c.response_rate,
                               "journey": "、".join(c.journey) or "—"} for c in plan.channels.catalogue])
    rows = [("渠道计划成本", _yuan(s["channel_cost"])), ("推广费预算", _yuan(s["promotion_budget"])),
            ("其他预算明细", _yuan(s["other_planned"])), ("预算上限", _yuan(s["budget_limit"])),
            ("在预算之内", "是" if s["fits_budget"] else "否"), ("触达上限全部满足", "是" if s["caps_ok"] else "否"),
            ("预计响应(人次)", f"{s['expected_responses']:,.0f}")]
    blocks: list[Block] = [
        Paragraph("渠道按触达、客户偏好与成本取舍(优先低成本、高触达),在预算之内且不过度打扰;"
                  "效果参数有历史互动数据时按计划开始前的数据估计。"),
        text_table(catalogue, {**COLUMNS, "journey": "旅程阶段"}, title="渠道目录(计划值)"),
        text_table(table, CHANNEL_COLUMNS, {"contacts": "{:,.0f}", "expected_reached": "{:,.0f}",
                                    "expected_responses": "{:,.0f}", "cost": "{:,.0f}"}, title="渠道计划测算"),
        KeyValues(rows, "预算与触达检查"),
    ]
    if s["warnings"]:
        blocks.append(Note(_sentences(s["warnings"]), "warn"))
    if len(f.plan_table):
        blocks.append(Image(_png(channel_charts.channel_costs(f.plan_table)), "图3 各渠道成本"))
    return blocks


def part_strategy(f: Facts) -> list[Block]:
    plan = f.plan
    overview = channels.per_tier_channels(plan)
    blocks: list[Block] = [
        Paragraph("每个层级和目标客群各有自己的互动目标、策略、内容主题与节奏;下表汇总全部层级,"
                  "其后逐一说明本季度有渠道计划的对象。"),
        text_table(overview[["audience", "goal", "strategy", "channels", "frequency"]].replace("", "—"),
                   CHANNEL_COLUMNS, title="分层策略总览"),
    ]
    names = {c.id: c.name for c in plan.channels.catalogue}
    sizes = channels.sizes_of(f.composition)
    for row in overview[overview["planned"].astype(bool)].itertuples():
        blocks.append(Heading(f"{row.audience}(实验组 {sizes.get(row.audience, 0):,} 人)", 3))
        if row.goal or row.strategy:
            blocks.append(Paragraph("。".join(t.rstrip("。") for t in (row.goal, row.strategy) if t) + "。"))
        plan_rows = [r for r in plan.channels.plan if r.audience == row.audience]
        cadence = pd.DataFrame([{"渠道": names.get(r.channel, r.channel), "内容主题": r.content or "—",
                                 "频次": r.frequency or "—", "每客户触达次数": f"{r.contacts_per_customer:g}",
                                 "覆盖比例": f"{r.coverage:g}%", "旅程阶段": "、".join(r.journey) or "—"}
                                for r in plan_rows])
        blocks.append(Table(cadence, title="内容主题与节奏"))
    blocks.append(Heading("执行节奏", 3))
    rhythm = []
    for phase in plan.meta.phases:
        tasks = [t for t in plan.tasks if phase.start <= t.start <= phase.end]
        checks = [c for c in plan.checkpoints if phase.start <= c.due <= phase.end]
        rhythm.append({"阶段": phase.name, "日期": f"{phase.start:%m-%d}~{phase.end:%m-%d}",
                       "任务": ";".join(f"{t.id} {t.name}({t.owner})" for t in tasks) or "—",
                       "检查点": ";".join(f"{c.due:%m-%d} {c.name}" for c in checks) or "—"})
    if rhythm:
        blocks.append(Table(pd.DataFrame(rhythm), title="各阶段的任务与检查点"))
    else:
        blocks.append(Paragraph("计划没有划分活动阶段(meta.phases)。"))
    return blocks


def part_execution(f: Facts) -> list[Block]:
    plan = f.plan
    t2 = f.tasks[["phase", "name", "owner", "start", "end", "done_when", "resources"]]
    path, _ = schedule.critical_path(plan)
    budget = f.budget[["category", "detail", "planned", "actual", "note"]]
    total = pd.DataFrame([{"category": "合计", "detail": "", "planned": float(budget["planned"].sum()),
                           "actual": None, "note": ""}])
    budget = pd.concat([budget, total], ignore_index=True)
    blocks: list[Block] = [
        text_table(t2, {**COLUMNS, "name": "任务内容"}, title=TEMPLATES[2], template=2),
    ]
    if len(f.tasks):
        blocks.append(Image(_png(execution_charts.gantt(f.tasks, milestones=schedule.milestones(plan),
                                                        checkpoints=[(c.name, c.due) for c in plan.checkpoints],
                                                        critical=path)), "图4 甘特图(红色为关键路径)"))
        blocks.append(Paragraph("关键路径:" + " → ".join(path)))
    problems = [c["message"] for c in schedule.schedule_checks(plan)]
    if problems:
        blocks.append(Note(_sentences(problems), "warn"))
    cps = schedule.checkpoints_table(plan)
    if len(cps):
        blocks.append(text_table(cps[["checkpoint", "due", "kpi_name", "threshold_text", "action", "act_by", "owner"]],
                                 COLUMNS, title="检查点(未达阈值时在时限内启动调整)"))
    blocks.append(text_table(budget, {**COLUMNS, "planned": "预算金额", "actual": "实际支出"},
                             {"planned": "{:,.0f}"}, title=TEMPLATES[3], template=3, blank=("实际支出", "差异说明"),
                             note="实际支出与差异说明在活动结束后填写。"))
    return blocks


def part_evaluation(f: Facts) -> list[Block]:
    plan, d = f.plan, f.design
    blocks: list[Block] = [
        Paragraph("复盘时按下表逐项评估;实际值与达成情况在复盘时填写。"),
        Table(template4(plan), title=TEMPLATES[4], template=4),
        Heading("指标定义与测量", 3),
        Table(d.kpis, title="KPI:公式、数据来源、测量窗口、目标与方向"),
        Heading("对照组", 3),
        KeyValues(list(d.control.items())),
        Heading("目标能否检测", 3),
        Paragraph("与对照组比较的目标:在 80% 功效、5% 显著性(双侧)下,按计划的受众和对照比例计算最小可检测效应,"
                  "判断目标的变化(基线 → 目标)能否被检测出来;不能时给出需要的对照比例或受众规模。"),
        Table(d.goals_table(), title="各目标的评估设计"),
    ]
    for g in d.goals:
        if g.compared:
            blocks.append(Note(f"{g.goal.id}:{g.text}" + (f"建议:{g.fix}。" if g.fix else ""),
                               "ok" if g.status == "detectable" else "warn"))
    compared = [g for g in d.goals if g.design is not None and g.design.status != "invalid"]
    if compared:
        blocks.append(Image(_png(proposal_charts.power_curves(compared, plan.review.control_share / 100)),
                            "图5 检验功效与受众规模(虚线为 80%)"))
    blocks.append(Heading("A/B 测试样本量", 3))
    if len(d.ab_tests):
        blocks.append(Table(d.ab_tests, title="计划的 A/B 测试(80% 功效,5% 显著性,双侧)"))
    else:
        blocks.append(Paragraph("本季度没有计划 A/B 测试(review.ab_tests)。"))
    blocks += [Heading("复盘会议", 3), text_table(d.meetings, title="会议安排")]
    open_actions = [a for a in plan.review.actions if a.status == "open"]
    if open_actions:
        blocks.append(Heading("延续的优化行动", 3))
        blocks.append(Bullets([f"{a.problem}:{a.measure}(责任人 {a.owner},{a.due})" for a in open_actions]))
    return blocks


def build(loaded: LoadedPlan, frames: dict[str, pd.DataFrame]) -> tuple[Proposal, EvaluationDesign]:
    """The proposal's blocks and its evaluation design, from ``frames`` cut at :func:`as_of_date`."""
    f = compute(loaded, frames)
    plan = f.plan
    meta = plan.meta
    parts_blocks = [part_goals(f), part_needs(f), part_channels(f), part_strategy(f), part_execution(f),
                    part_evaluation(f)]
    parts = [Part(_NUMBERS[i], title, blocks, anchor=f"part-{i + 1}")
             for i, (title, blocks) in enumerate(zip(PARTS, parts_blocks, strict=True))]
    cover = [("单位", f"{meta.unit_name}({meta.unit})"), ("季度", meta.quarter),
             ("计划周期", f"{meta.period.start} ~ {meta.period.end}"), ("负责人", meta.owner),
             ("参与部门", "、".join(meta.departments) or "—"), ("数据截至", f"{f.as_of}(计划开始前一天)")]
    a = plan.approval
    if a is None:
        approval = [("审批状态", "待审批(计划文件中尚无 approval)")]
    else:
        approval = [("审批人", a.reviewer + (f"({a.role})" if a.role else "")),
                    ("审批结论", a.decision or "待审批"), ("审批日期", str(a.date) if a.date else "—"),
                    ("审批意见", a.comments or "—")]
    return Proposal(title=meta.title, unit=meta.unit, quarter=meta.quarter, cover=cover, approval=approval,
                    summary=summary_part(f), parts=parts, generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
                    as_of=str(f.as_of)), f.design
