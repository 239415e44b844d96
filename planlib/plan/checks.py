"""Cross-field checks: what the schema cannot see field by field.

The schema makes sure each value has the right type; these checks make sure the values agree
with each other — dates inside the plan period, tasks depending on tasks that exist, channels
and audiences named in the plan, goals measured in the unit of their KPI, a budget that adds up.
Each problem is ``(key path, message, hint)``; :mod:`planlib.plan.planfile` adds file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches

from planlib.plan.analysis import check_schedule_and_contacts
from planlib.plan.kpis import CATALOGUE
from planlib.plan.schema import Plan

Found = tuple[str, str, str]


def check_plan(plan: Plan) -> list[Found]:
    """Return every cross-field problem of a schema-valid plan (planfile sorts them by line)."""
    return [
        *_check_dates(plan),
        *_check_goals(plan),
        *_check_segments(plan),
        *_check_channels(plan),
        *_check_tasks(plan),
        *_check_budget(plan),
        *_check_kpis(plan),
        *check_schedule_and_contacts(plan),  # dependency order, contacts per customer
    ]


def _suggest(name: str, options: Iterable[str]) -> str:
    by_lower = {option.lower(): option for option in options}  # ids like T1 are often typed as t1
    close = get_close_matches(name.lower(), by_lower, n=1)
    listed = "、".join(by_lower.values()) if by_lower else "(还没有定义任何一项)"
    return (f"是不是 {by_lower[close[0]]}?" if close else "") + f"可选: {listed}"


def _duplicates(items: list[str], where: str, what: str) -> list[Found]:
    seen: dict[str, int] = {}
    found = []
    for i, item in enumerate(items):
        if item in seen:
            found.append((f"{where}[{i}]", f"{what} {item} 重复(与 {where}[{seen[item]}] 相同)",
                          f"给其中一项换一个{what}"))
        seen.setdefault(item, i)
    return found


def _check_dates(plan: Plan) -> list[Found]:
    period = plan.meta.period
    if period.end < period.start:
        # every other date would also be "outside the period": report only the cause
        return [("meta.period.end", f"计划周期的结束日期 {period.end} 早于开始日期 {period.start}",
                 "检查 start 和 end 是否写反")]
    found: list[Found] = []
    spans = [(f"meta.phases[{i}]", f"阶段 {p.name} ", p.start, p.end) for i, p in enumerate(plan.meta.phases)]
    spans += [(f"tasks[{i}]", f"任务 {t.id} ", t.start, t.end) for i, t in enumerate(plan.tasks)]
    inside = f"计划周期 {period.start} 至 {period.end} "
    for where, what, start, end in spans:
        if end < start:
            found.append((f"{where}.end", f"{what}的结束日期 {end} 早于开始日期 {start}", "检查 start 和 end 是否写反"))
        if start < period.start or start > period.end:
            found.append((f"{where}.start", f"{what}的开始日期 {start} 不在{inside}内",
                          "把日期改到计划周期内,或调整 meta.period"))
        if end > period.end or end < period.start:
            found.append((f"{where}.end", f"{what}的结束日期 {end} 不在{inside}内",
                          "把日期改到计划周期内,或调整 meta.period"))
    for i, goal in enumerate(plan.goals):
        if not period.start <= goal.deadline <= period.end:
            found.append((f"goals[{i}].deadline", f"目标 {goal.id} 的截止日期 {goal.deadline} 不在{inside}内",
                          "把截止日期改到计划周期内,或调整 meta.period"))
    dated = [(f"milestones[{i}]", "里程碑", m) for i, m in enumerate(plan.milestones)]
    dated += [(f"checkpoints[{i}]", "检查点", c) for i, c in enumerate(plan.checkpoints)]
    for where, what, item in dated:
        if not period.start <= item.due <= period.end:
            found.append((f"{where}.due", f"{what} {item.name} 的日期 {item.due} 不在{inside}内",
                          "把日期改到计划周期内,或调整 meta.period"))
    for i, cp in enumerate(plan.checkpoints):
        if CATALOGUE[cp.kpi].direction == "info":
            found.append((f"checkpoints[{i}].kpi", f"检查点 {cp.name} 的指标 {cp.kpi} 没有好坏方向,无法按阈值预警",
                          "换一个有方向的指标,例如 participation_rate"))
    return found


def _audiences(plan: Plan) -> list[str]:
    """Names a goal, the scope or a channel row may target: tiers (with the default) and segments."""
    seg = plan.segmentation
    return [t.name for t in seg.tiers] + [seg.default_tier.name] + [s.name for s in seg.segments]


def _check_goals(plan: Plan) -> list[Found]:
    audiences = _audiences(plan)
    found = _duplicates([g.id for g in plan.goals], "goals", "目标编号")
    if plan.scope.segment not in audiences:
        found.append(("scope.segment", f"目标客群 {plan.scope.segment} 没有定义",
                      _suggest(plan.scope.segment, audiences) + ";或在 segmentation.segments 中定义它"))
    for i, goal in enumerate(plan.goals):
        if goal.segment not in audiences:
            found.append((f"goals[{i}].segment", f"目标 {goal.id} 的客群 {goal.segment} 没有定义",
                          _suggest(goal.segment, audiences) + ";或在 segmentation.segments 中定义它"))
        unit = CATALOGUE[goal.metric].unit
        if unit and goal.unit is not None and goal.unit != unit:
            found.append((f"goals[{i}].unit", f"目标 {goal.id} 的单位 '{goal.unit}' 与指标 {goal.metric} 的单位 '{unit}' 不一致",
                          f"改成 unit: '{unit}'"))
    return found


def _check_segments(plan: Plan) -> list[Found]:
    seg = plan.segmentation
    tiers = [t.name for t in seg.tiers] + [seg.default_tier.name]
    found = _duplicates([t.name for t in seg.tiers], "segmentation.tiers", "层级名称")
    if seg.default_tier.name in tiers[:-1]:
        found.append(("segmentation.default_tier.name", f"默认层级名称 {seg.default_tier.name} 与分层规则中的层级重名",
                      "给默认层级换一个名称"))
    found += _duplicates([s.name for s in seg.segments], "segmentation.segments", "客群名称")
    for i, segment in enumerate(seg.segments):
        for j, tier in enumerate(segment.tiers):
            if tier not in tiers:
                found.append((f"segmentation.segments[{i}].tiers[{j}]", f"客群 {segment.name} 引用的层级 {tier} 没有定义",
                              _suggest(tier, tiers)))
    return found


def _check_channels(plan: Plan) -> list[Found]:
    channels = plan.channels
    ids = [c.id for c in channels.catalogue]
    tiers = [t.name for t in plan.segmentation.tiers] + [plan.segmentation.default_tier.name]
    audiences = _audiences(plan)
    found = _duplicates(ids, "channels.catalogue", "渠道代码")
    for i, row in enumerate(channels.plan):
        if row.channel not in ids:
            found.append((f"channels.plan[{i}].channel", f"渠道 {row.channel} 不在渠道目录中",
                          _suggest(row.channel, ids) + ";或在 channels.catalogue 中添加它"))
        if row.audience not in audiences:
            found.append((f"channels.plan[{i}].audience", f"对象 {row.audience} 既不是层级也不是目标客群",
                          _suggest(row.audience, audiences)))
    for name in channels.contact_caps:
        if name not in tiers:
            found.append((f"channels.contact_caps.{name}", f"触达上限中的 {name} 不是层级名称", _suggest(name, tiers)))
    for i, ch in enumerate(channels.catalogue):
        for name in ch.tier_rates:
            if name not in tiers:
                found.append((f"channels.catalogue[{i}].tier_rates.{name}", f"渠道 {ch.id} 的分层效果参数中 {name} 不是层级名称",
                              _suggest(name, tiers)))
    found += _duplicates([r.audience for r in channels.rules], "channels.rules", "对象")
    for i, rule in enumerate(channels.rules):
        if rule.audience not in audiences:
            found.append((f"channels.rules[{i}].audience", f"渠道约束的对象 {rule.audience} 既不是层级也不是目标客群",
                          _suggest(rule.audience, audiences)))
        for key in ("allowed", "preferred"):
            for j, cid in enumerate(getattr(rule, key)):
                if cid not in ids:
                    found.append((f"channels.rules[{i}].{key}[{j}]", f"渠道 {cid} 不在渠道目录中", _suggest(cid, ids)))
    for i, line in enumerate(plan.budget.lines):
        if line.channel is not None and line.channel not in ids:
            found.append((f"budget.lines[{i}].channel", f"预算明细对应的渠道 {line.channel} 不在渠道目录中",
                          _suggest(line.channel, ids)))
    for i, test in enumerate(plan.review.ab_tests):
        if test.channel not in ids:
            found.append((f"review.ab_tests[{i}].channel", f"A/B 测试的渠道 {test.channel} 不在渠道目录中",
                          _suggest(test.channel, ids)))
    return found


def _check_tasks(plan: Plan) -> list[Found]:
    tasks = plan.tasks
    ids = [t.id for t in tasks]
    phases = plan.meta.work_phases
    found = _duplicates(ids, "tasks", "任务编号")
    for i, task in enumerate(tasks):
        if task.phase not in phases:
            found.append((f"tasks[{i}].phase", f"任务 {task.id} 的阶段 {task.phase} 不在 meta.work_phases 中",
                          _suggest(task.phase, phases) + f";或在 meta.work_phases 中加上 {task.phase}"))
        for j, dep in enumerate(task.depends_on):
            if dep == task.id:
                found.append((f"tasks[{i}].depends_on[{j}]", f"任务 {task.id} 依赖它自己", "删除这一项"))
            elif dep not in ids:
                found.append((f"tasks[{i}].depends_on[{j}]", f"任务 {task.id} 的前置任务 {dep} 不存在",
                              _suggest(dep, [x for x in ids if x != task.id])))
    return found + _dependency_cycles(plan)


def _dependency_cycles(plan: Plan) -> list[Found]:
    """Name every cycle once, e.g. ``T2 → T3 → T2``; self-dependencies are reported elsewhere."""
    index = {}
    for i, task in enumerate(plan.tasks):
        index.setdefault(task.id, i)
    edges = {tid: [d for d in plan.tasks[i].depends_on if d in index and d != tid] for tid, i in index.items()}
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    found: list[Found] = []

    def visit(tid: str, trail: list[str]) -> None:
        state[tid] = "open"
        for dep in edges[tid]:
            if state.get(dep) == "open":
                cycle = trail[trail.index(dep):] + [tid]
                k = cycle.index(min(cycle, key=index.__getitem__))  # start at the earliest task
                cycle = cycle[k:] + cycle[:k]
                found.append((f"tasks[{index[cycle[0]]}].depends_on",
                              "任务之间循环依赖(→ 表示“依赖于”): " + " → ".join(cycle + [cycle[0]]),
                              "删除其中一个前置任务,让任务能排出先后顺序"))
            elif dep not in state:
                visit(dep, trail + [tid])
        state[tid] = "done"

    for tid in index:
        if tid not in state:
            visit(tid, [])
    return found


def _check_budget(plan: Plan) -> list[Found]:
    total = sum(line.planned for line in plan.budget.lines)
    limit = plan.budget.limit
    if total > limit:
        return [("budget.lines", f"预算明细合计 {_yuan(total)} 元,超过预算上限 {_yuan(limit)} 元",
                 f"削减明细 {_yuan(total - limit)} 元,或提高 budget.limit")]
    return []


def _yuan(amount: float) -> str:
    return f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"


def _check_kpis(plan: Plan) -> list[Found]:
    return [*_duplicates([k.kpi for k in plan.kpis], "kpis", "指标"), *_goal_kpi_targets(plan)]


def _goal_kpi_targets(plan: Plan) -> list[Found]:
    """A goal on the campaign's own segment and the KPI row of the same metric are one target.

    Entered twice they drift apart (15 in the goal, 12 in the KPI table) and the report would
    judge the quarter against whichever it read; one value, or this message.
    """
    metrics = [k.kpi for k in plan.kpis]
    targets = {k.kpi: (i, k.target) for i, k in enumerate(plan.kpis) if metrics.count(k.kpi) == 1}  # duplicates: reported above
    found = []
    for i, goal in enumerate(plan.goals):
        if goal.segment != plan.scope.segment or goal.metric not in targets:
            continue
        j, kpi_target = targets[goal.metric]
        if abs(goal.target - kpi_target) > 1e-9:
            found.append((f"goals[{i}].target",
                          f"目标 {goal.id} 的目标值 {goal.target:g} 与 KPI 表中 {goal.metric} 的目标值 {kpi_target:g}"
                          f"(kpis[{j}])不一致",
                          "两处说的是同一个目标:改成相同的值"))
    return found
