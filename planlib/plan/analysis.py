"""Analysis-level checks: what stages 03 and 04 would otherwise find only after Run All.

One set of checks, run by :func:`planlib.plan.planfile.check_data` (so by ``planlib validate``,
``planlib run`` and the planner forms on every change) and by the stages for their warnings:

- a task starting on or before the end of a task it depends on (dependencies are finish-to-start);
- contacts per customer of an audience (all its channel-plan rows) above its rule's ``max_contacts``;
- the channel plan's cost above the budget lines it draws on: a channel's own lines
  (``budget.lines[].channel``), and all promotion lines together (:mod:`planlib.plan.budget_lines`);
- the share of a tier the channel plan contacts above its ``contact_caps`` percentage.

The last two need the audiences' sizes, which only the customer data can give: they take an
:class:`AudienceData` computed above this layer (:mod:`planlib.run.audiences`), and are skipped —
with a note saying why — when the data cannot be read. Each problem is ``(key path, message,
hint)`` like :mod:`planlib.plan.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from planlib.plan.budget_lines import is_promotion
from planlib.plan.schema import Plan

Found = tuple[str, str, str]
TOLERANCE = 1.0  # yuan: rounding in a planner's spreadsheet is not an overrun (as stage 04's reconciliation)


@dataclass(frozen=True)
class AudienceData:
    """What the channel checks need from the customer data, as stage 03 computes it.

    ``sizes``: contactable (non-control) customers per audience; ``composition``: the same per
    tier; ``tier_sizes``: all customers per tier (caps are shares of the whole tier).
    """

    sizes: dict[str, int]
    composition: dict[str, dict[str, int]] = field(default_factory=dict)
    tier_sizes: dict[str, int] = field(default_factory=dict)


def check_schedule_and_contacts(plan: Plan) -> list[Found]:
    """The checks that need only the plan: dependency order and contacts per customer."""
    return [*dependency_order(plan), *contacts_per_customer(plan)]


def check_with_data(plan: Plan, audiences: AudienceData) -> list[Found]:
    """The checks that need the audiences' sizes: channel cost vs budget lines, contact caps."""
    return [*budget_lines_vs_cost(plan, channel_costs(plan, audiences.sizes)), *contact_caps(plan, audiences)]


# ---------------------------------------------------------------------------------- plan only
def dependency_order(plan: Plan) -> list[Found]:
    """A task may start the day after each task it depends on ends (stage 04's critical path
    assumes it); unknown dependencies and cycles are reported by :mod:`planlib.plan.checks`."""
    first = {}
    for task in plan.tasks:
        first.setdefault(task.id, task)
    graph = {tid: [d for d in t.depends_on if d in first] for tid, t in first.items()}
    found = []
    for i, task in enumerate(plan.tasks):
        for dep_id in dict.fromkeys(task.depends_on):
            dep = first.get(dep_id)
            if dep is None or dep_id == task.id or dep.end < dep.start or {task.id, dep_id} & _upstream(graph, dep_id):
                continue  # reported elsewhere (unknown, itself, dates reversed, a cycle: no order exists)
            if task.start <= dep.end:
                found.append((f"tasks[{i}].start",
                              f"任务 {task.id} 于 {task.start} 开始,但前置任务 {dep_id} 到 {dep.end} 才结束",
                              f"把开始日期推迟到 {dep.end + timedelta(days=1)} 或之后,或删除这个前置任务"))
    return found


def _upstream(graph: dict[str, list[str]], start: str) -> set[str]:
    """Every task ``start`` depends on, directly or not (a quarter has a few dozen tasks)."""
    seen: set[str] = set()
    stack = list(graph.get(start, []))
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            stack.extend(graph.get(v, []))
    return seen


def contacts_per_customer(plan: Plan) -> list[Found]:
    """An audience's rows contact nested groups of customers, so one customer can get every row's
    contacts: their sum must stay within the audience's ``max_contacts`` (the optimiser's rule)."""
    found = []
    for rule in plan.channels.rules:
        if rule.max_contacts is None:
            continue
        rows = [(i, r) for i, r in enumerate(plan.channels.plan) if r.audience == rule.audience]
        total = sum(r.contacts_per_customer for _, r in rows)
        if rows and total > rule.max_contacts + 1e-9:
            parts = " + ".join(f"{r.channel} {r.contacts_per_customer:g}" for _, r in rows)
            found.append((f"channels.plan[{rows[-1][0]}].contacts_per_customer",
                          f"对象 {rule.audience} 每客户触达合计 {total:g} 次({parts}),"
                          f"超过渠道约束中的上限 {rule.max_contacts:g} 次",
                          f"减少 {total - rule.max_contacts:g} 次触达,或提高该对象的每客户触达上限"))
    return found


# ---------------------------------------------------------------------------------- with data
def channel_costs(plan: Plan, sizes: dict[str, int]) -> dict[str, float]:
    """Cost per channel of the channel plan, as stage 03's ``channel_plan_table``: contactable
    customers × coverage × contacts per customer × cost per contact, plus the channel's fixed
    cost once. Rows whose channel or audience is unknown are left out (reported by the checks)."""
    catalogue = {c.id: c for c in plan.channels.catalogue}
    cost: dict[str, float] = {}
    for row in plan.channels.plan:
        ch = catalogue.get(row.channel)
        if ch is None or row.audience not in sizes:
            continue
        fixed = float(ch.fixed_cost) if ch.id not in cost else 0.0
        contacted = sizes[row.audience] * float(row.coverage) / 100
        cost[ch.id] = cost.get(ch.id, 0.0) + contacted * float(row.contacts_per_customer) * float(ch.cost_per_contact) + fixed
    return cost


def _first_row(plan: Plan, channels: set[str]) -> int | None:
    return next((i for i, r in enumerate(plan.channels.plan) if r.channel in channels), None)


def budget_lines_vs_cost(plan: Plan, cost: dict[str, float]) -> list[Found]:
    """Channel cost against the budget lines it draws on (used by stage 03 for its warnings too).

    A channel with lines of its own (``channel: wecom``) must fit in them; all channels together
    must fit in the promotion lines (推广费 or ``budget.channel_categories``, and lines naming a
    channel). Each problem sits at the channel plan row that spends the money.
    """
    names = {c.id: c.name for c in plan.channels.catalogue}
    budget = plan.budget
    own: dict[str, float] = {}
    for line in budget.lines:
        if line.channel is not None:
            own[line.channel] = own.get(line.channel, 0.0) + float(line.planned)
    found = []
    for ch, spent in cost.items():
        if ch in own and spent > own[ch] + TOLERANCE and (i := _first_row(plan, {ch})) is not None:
            found.append((f"channels.plan[{i}].contacts_per_customer",
                          f"{names.get(ch, ch)}的渠道成本约 {_yuan(spent)} 元,超出对应的预算明细 {_yuan(own[ch])} 元",
                          f"减少该渠道的触达次数或覆盖比例,或把预算明细提高 {_yuan(spent - own[ch])} 元"))
    promotion = sum(float(line.planned) for line in budget.lines if is_promotion(line, budget))
    total = sum(cost.values())
    if total > promotion + TOLERANCE and (i := _first_row(plan, set(cost))) is not None:
        categories = "、".join(budget.channel_categories) or "推广费"
        found.append((f"channels.plan[{i}].contacts_per_customer",
                      f"渠道计划成本合计约 {_yuan(total)} 元,超出推广费预算 {_yuan(promotion)} 元"
                      f"(科目 {categories} 及写明渠道的预算明细)",
                      f"减少触达次数、改用低成本渠道,或在预算明细中增加 {_yuan(total - promotion)} 元{categories}"))
    return found


@dataclass(frozen=True)
class CapShare:
    """How much of one capped tier the channel plan contacts."""

    tier: str
    cap: float  # percent of the tier
    tier_size: int
    contacted: float  # customers of the tier the plan contacts (expected)
    share: float  # percent of the tier; 0 for a tier without customers
    ok: bool


def cap_shares(plan: Plan, coverage: dict[str, float], sizes: dict[str, int],
               composition: dict[str, dict[str, int]] | None,
               tier_sizes: dict[str, int]) -> tuple[list[CapShare], list[str], list[str]]:
    """The one formula for contact caps, used by stage 03 and by :func:`contact_caps`.

    ``coverage``: each audience's largest coverage in the channel plan, as a share (0–1) — the
    nested-groups assumption: one audience's rows reach the same customers first. An audience's
    contacted customers are spread over the tiers by ``composition`` (customers per tier); without
    one, an audience named after a tier counts as that tier. Returns the capped tiers' shares, the
    capped names that are not tiers, and the audiences whose tiers are unknown.
    """
    tiers = {rule.name for rule in plan.segmentation.tiers} | {plan.segmentation.default_tier.name}
    out, not_tiers, unknown = [], [], []
    for tier, cap in plan.channels.contact_caps.items():
        if tier not in tiers:
            not_tiers.append(tier)
            continue
        contacted = 0.0
        for aud, share in coverage.items():
            if composition is not None and aud in composition:
                contacted += share * composition[aud].get(tier, 0)
            elif aud == tier:
                contacted += share * sizes.get(aud, 0)
            elif aud not in tiers and aud not in unknown:
                unknown.append(aud)
        size = int(tier_sizes.get(tier, 0))
        pct = min(contacted, size) / size * 100 if size else 0.0
        out.append(CapShare(tier, float(cap), size, float(contacted), float(pct), pct <= cap + 1e-9))
    return out, not_tiers, unknown


def largest_coverage(plan: Plan) -> dict[str, float]:
    """Each audience's largest coverage in the channel plan, as a share (0–1)."""
    coverage: dict[str, float] = {}
    for row in plan.channels.plan:
        coverage[row.audience] = max(coverage.get(row.audience, 0.0), float(row.coverage) / 100)
    return coverage


def contact_caps(plan: Plan, audiences: AudienceData) -> list[Found]:
    """The capped tiers the channel plan contacts beyond their cap (:func:`cap_shares`)."""
    shares, _not_tiers, _unknown = cap_shares(plan, largest_coverage(plan), audiences.sizes,
                                              audiences.composition, audiences.tier_sizes)
    return [(f"channels.contact_caps.{c.tier}",
             f"渠道计划触达{c.tier}约 {c.share:.1f}%(约 {c.contacted:,.0f} / {c.tier_size:,} 人),"
             f"超过触达上限 {c.cap:g}%",
             "降低涉及该层级的对象的覆盖比例,或提高触达上限")
            for c in shares if c.tier_size and not c.ok]


def _yuan(amount: float) -> str:
    return f"{amount:,.0f}"
