"""Stage 03 — the plan's channel mix against the optimised one.

Turns a plan, its effective rates (:mod:`planlib.stages.channels.rates`) and the stage 02 customers into a
:class:`planlib.stages.channels.optimize.MixProblem`, solves it, and lays the result beside the planner's own
mix: expected responses (and CLV-weighted value when the customers result carries ``clv``),
cost, the constraints that bind, what a little more budget would buy, and which rules the planner's
mix breaks. Both mixes are costed with the same rates and the same response model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planlib.metrics.segment import tier_names
from planlib.plan.budget_lines import is_promotion
from planlib.plan.schema import Plan
from planlib.stages.channels import optimize
from planlib.stages.channels.rates import audiences, members

COMPARISON_COLUMNS = ["audience", "channel_name", "manual_customers", "manual_k", "manual_cost",
                      "manual_responses", "optimised_customers", "optimised_k", "optimised_cost",
                      "optimised_responses", "change_responses"]
OBJECTIVE_LABELS = {"responses": "预计响应人数", "value": "预计增量价值"}


def channel_budget(plan: Plan) -> float:
    """Money the channel mix may spend: ``optimizer.budget``, else the limit minus the non-promotion lines."""
    if plan.channels.optimizer.budget is not None:
        return float(plan.channels.optimizer.budget)
    other = sum(ln.planned for ln in plan.budget.lines if not is_promotion(ln, plan.budget))
    return max(float(plan.budget.limit) - other, 0.0)


def objective(plan: Plan, customers: pd.DataFrame) -> str:
    """``value`` when asked for (or ``auto``) and the customers result has a usable ``clv`` column."""
    wanted = plan.channels.optimizer.objective
    has_clv = "clv" in customers.columns and pd.to_numeric(customers["clv"], errors="coerce").notna().any()
    if wanted == "responses" or not has_clv:
        return "responses"
    return "value"


def audience_weights(plan: Plan, customers: pd.DataFrame, kind: str) -> dict[str, float]:
    """Per audience, what one responder is worth: 1, or ``value_share`` % of its members' mean CLV.

    The incremental value of a response is a planning assumption (``optimizer.value_share``):
    CLV says what a customer is worth, not how much of it one campaign response adds.
    """
    if kind != "value":
        return dict.fromkeys(audiences(plan), 1.0)
    contactable = ~customers["control"].to_numpy(dtype=bool)
    clv = pd.to_numeric(customers["clv"], errors="coerce")
    out = {}
    for aud in audiences(plan):
        mask = members(customers, plan, aud).to_numpy() & contactable
        mean = float(clv[mask].mean()) if mask.any() and clv[mask].notna().any() else 0.0
        out[aud] = mean * plan.channels.optimizer.value_share / 100
    return out


def mix_problem(plan: Plan, rates: pd.DataFrame, sizes: dict[str, int], composition: dict[str, dict[str, int]],
                tier_sizes: dict[str, int], weights: dict[str, float] | None = None,
                budget: float | None = None) -> optimize.MixProblem:
    """The optimisation problem of a plan: options per audience × allowed channel × frequency level.

    ``sizes`` and ``composition`` count contactable (non-control) customers per audience (and
    per tier in it); ``tier_sizes`` counts whole tiers, as the contact caps do.
    """
    channels = plan.channels
    rules = {r.audience: r for r in channels.rules}
    levels = {float(k) for k in channels.optimizer.frequency_levels}
    manual: dict[tuple[str, str], set[float]] = {}
    for row in channels.plan:
        manual.setdefault((row.audience, row.channel), set()).add(float(row.contacts_per_customer))
    lookup = {(r["audience"], r["channel"]): r for r in rates.to_dict("records")}
    weights = weights or {}
    options = []
    for aud in audiences(plan):
        rule = rules.get(aud)
        for ch in channels.catalogue:
            rate = lookup.get((aud, ch.id))
            reach = (rate["reach_rate"] if rate else ch.reach_rate) / 100
            p = (rate["open_rate"] if rate else ch.open_rate) / 100 * (rate["response_rate"] if rate else ch.response_rate) / 100
            for k in sorted(levels | manual.get((aud, ch.id), set())):
                if k <= 0:
                    continue
                responses = reach * (1 - (1 - p) ** k)
                options.append(optimize.Option(
                    aud, ch.id, k, responses * weights.get(aud, 1.0), responses, ch.cost_per_contact * k,
                    allowed=not (rule and rule.allowed) or ch.id in rule.allowed,
                    preferred=bool(rule and ch.id in rule.preferred)))
    tiers = set(tier_names(plan.segmentation))
    caps = {}
    for tier, cap in channels.contact_caps.items():
        if tier not in tiers:
            continue
        shares = {}
        for aud in audiences(plan):
            size = sizes.get(aud, 0)
            if aud == tier:
                shares[aud] = 1.0
            elif size and composition.get(aud, {}).get(tier):
                shares[aud] = composition[aud][tier] / size
        caps[tier] = (cap / 100 * tier_sizes.get(tier, 0), shares)
    return optimize.MixProblem(
        sizes={a: int(sizes.get(a, 0)) for a in audiences(plan)},
        options=tuple(options),
        budget=channel_budget(plan) if budget is None else float(budget),
        fixed_costs={c.id: float(c.fixed_cost) for c in channels.catalogue if c.fixed_cost},
        min_coverage={r.audience: r.min_coverage / 100 for r in channels.rules if r.min_coverage},
        max_contacts={r.audience: float(r.max_contacts) for r in channels.rules if r.max_contacts is not None},
        caps=caps,
        names={c.id: c.name for c in channels.catalogue},
        extra_budget=channels.optimizer.extra_budget,
    )


def _participants(table: pd.DataFrame, sizes: dict[str, int]) -> float:
    """Customers expected to respond at least once, channels of one audience as independent chances."""
    total = 0.0
    for aud, rows in table.groupby("audience", sort=False):
        size = sizes.get(aud, 0)
        if size:
            total += size * (1 - float(np.prod(1 - rows["expected_responses"].to_numpy() / size)))
    return total


def manual_violations(problem: optimize.MixProblem, table: pd.DataFrame) -> list[str]:
    """The optimiser's rules that the planner's own mix breaks (same reading: nested groups per audience)."""
    out = []
    if table["cost"].sum() > problem.budget + 1e-6:
        out.append(f"成本 {table['cost'].sum():,.0f} 元超过渠道预算 {problem.budget:,.0f} 元")
    allowed = {(o.audience, o.channel) for o in problem.options if o.allowed}
    contacted = {}
    for aud, rows in table.groupby("audience", sort=False):
        z = float(rows["customers_contacted"].max()) if len(rows) else 0.0
        contacted[aud] = z
        size = problem.sizes.get(aud, 0)
        for name, channel in zip(rows["channel_name"], rows["channel"], strict=True):
            if (aud, channel) not in allowed:
                out.append(f"{aud} 使用了不在可用渠道中的 {name}")
        need = problem.min_coverage.get(aud)
        if need and size and z < need * size - 1e-6:
            out.append(f"{aud} 只覆盖 {z / size * 100:.1f}%,低于最低覆盖 {need * 100:g}%")
        limit = problem.max_contacts.get(aud)
        # nested groups: a customer in every group gets each channel's largest k
        most = float(rows.groupby("channel")["contacts_per_customer"].max().sum()) if z else 0.0
        if limit is not None and most > limit + 1e-9:
            out.append(f"{aud} 每位客户最多触达 {most:g} 次,超过上限 {limit:g} 次")
    for tier, (limit, shares) in problem.caps.items():
        used = sum(share * contacted.get(aud, 0.0) for aud, share in shares.items())
        if used > limit + 1e-6:
            out.append(f"{tier} 触达约 {used:,.0f} 人,超过上限 {limit:,.0f} 人")
    return out


def _by_pair(table: pd.DataFrame, prefix: str) -> pd.DataFrame:
    # rows of one audience × channel with different frequencies reach different customers
    g = table.groupby(["audience", "channel_name"], sort=False).agg(
        customers=("customers_contacted", "sum"), contacts=("contacts", "sum"), cost=("cost", "sum"),
        responses=("expected_responses", "sum"))
    g["k"] = (g["contacts"] / g["customers"]).where(g["customers"] > 0)
    return g[["customers", "k", "cost", "responses"]].add_prefix(prefix)


def comparison(manual: pd.DataFrame, optimised: pd.DataFrame) -> pd.DataFrame:
    """One row per audience × channel in either mix: customers, contacts per customer, cost, responses."""
    both = _by_pair(manual, "manual_").join(_by_pair(optimised, "optimised_"), how="outer", sort=False)
    both = both.reset_index()
    money = ["manual_customers", "manual_cost", "manual_responses", "optimised_customers", "optimised_cost",
             "optimised_responses"]
    both[money] = both[money].fillna(0.0)
    both["change_responses"] = both["optimised_responses"] - both["manual_responses"]
    return both[COMPARISON_COLUMNS]


def summary(result: optimize.MixResult, manual: pd.DataFrame, kind: str, weights: dict[str, float]) -> dict:
    """The optimiser's part of ``channel_summary``: both mixes' expected results, the gain, what binds."""
    p = result.problem
    manual_value = float((manual["expected_responses"] * manual["audience"].map(weights).fillna(1.0)).sum())
    out = {
        "status": result.solution.status,
        "objective": kind,
        "objective_label": OBJECTIVE_LABELS[kind],
        "value_share": None,
        "budget": p.budget,
        "manual": {"responses": float(manual["expected_responses"].sum()), "value": manual_value,
                   "cost": float(manual["cost"].sum()), "participants": _participants(manual, p.sizes)},
        "manual_violations": manual_violations(p, manual),
        "infeasible": result.infeasible,
    }
    if not result.ok:
        return out
    mix = result.mix
    out["optimised"] = {"responses": result.solution.responses, "value": result.solution.objective,
                        "cost": result.solution.cost, "participants": _participants(mix, p.sizes),
                        "proven_optimal": result.solution.status == "optimal"}
    key = "value" if kind == "value" else "responses"
    out["gain"] = out["optimised"][key] - out["manual"][key]
    out["gain_responses"] = out["optimised"]["responses"] - out["manual"]["responses"]
    binding = result.constraints[result.constraints["binding"]]
    out["binding"] = binding["constraint"].tolist()
    if result.extra:
        extra_mix = result.extra["mix"]
        change = comparison(mix, extra_mix)
        change["extra_cost"] = change["optimised_cost"] - change["manual_cost"]
        spent_on = change.loc[change["extra_cost"] > 0.5].sort_values("extra_cost", ascending=False)
        out["extra_budget"] = {
            "step": result.extra["step"], "budget": result.extra["budget"], "gain": result.extra["gain"],
            "responses_gain": result.extra["responses_gain"], "cost": result.extra["cost"],
            "spent_on": [f"{r.audience}·{r.channel_name} +{r.extra_cost:,.0f} 元" for r in spent_on.itertuples()],
        }
    return out


def findings(opt: dict) -> list[str]:
    """Chinese sentences for the stage: the gain, the binding constraints, the marginal budget, manual-mix problems."""
    if opt["status"] not in ("optimal", "time_limit"):
        return []
    best, manual = opt["optimised"], opt["manual"]
    cost = f"成本 {best['cost']:,.0f} 元(手工方案 {manual['cost']:,.0f} 元)。"
    if opt["objective"] == "value":
        unit = "元"
        lines = [f"按增量价值优化(每位响应客户的增量价值按其 CLV 的 {opt['value_share']:g}% 计,这是计划假设):"
                 f"优化组合预计增量价值约 {best['value']:,.0f} 元、响应约 {best['responses']:,.0f} 人;"
                 f"手工方案约 {manual['value']:,.0f} 元、{manual['responses']:,.0f} 人;"
                 f"预计多出 {opt['gain']:,.0f} 元(响应 {opt['gain_responses']:+,.0f} 人)。" + cost]
    else:
        unit = "人"
        lines = [f"优化组合预计响应约 {best['responses']:,.0f} 人,手工方案约 {manual['responses']:,.0f} 人,"
                 f"预计多出 {opt['gain']:,.0f} 人;" + cost]
    if opt["binding"]:
        lines.append("起约束作用的条件:" + "、".join(opt["binding"]) + "。")
    extra = opt.get("extra_budget")
    if extra is not None:
        if extra["gain"] > 1e-6:
            where = ("主要用于 " + "、".join(extra["spent_on"][:3])) if extra["spent_on"] else ""
            also = f"(响应 {extra['responses_gain']:+,.1f} 人)" if opt["objective"] == "value" else ""
            lines.append(f"再增加 {extra['step']:,.0f} 元渠道预算,{opt['objective_label']}可再增加约 {extra['gain']:,.1f}{unit}{also}"
                         f"{(',' + where) if where else ''}。")
        else:
            lines.append(f"再增加 {extra['step']:,.0f} 元渠道预算不会带来更多响应:预算不是瓶颈,限制来自上面的约束。")
    if not opt["optimised"]["proven_optimal"]:
        lines.append("求解在时限内结束,结果可行但未证明最优。")
    return lines


CONSTRAINT_DISPLAY = ["constraint", "used", "limit", "unit", "slack", "binding", "shadow_text"]
COMPARISON_DISPLAY = ["audience", "channel_name", "manual_plan", "manual_cost", "manual_responses", "optimised_plan",
                      "optimised_cost", "optimised_responses", "change_responses"]


def comparison_display(comparison: pd.DataFrame) -> pd.DataFrame:
    """The comparison narrowed for reading: ``340人×8次`` per mix, money and responses rounded."""
    def plan_text(n: float, k: float) -> str:
        return "—" if not n else f"{n:,.0f}人×{k:g}次" if float(k).is_integer() else f"{n:,.0f}人×{k:.1f}次"

    out = comparison.copy()
    out["manual_plan"] = [plan_text(n, k) for n, k in zip(out["manual_customers"], out["manual_k"], strict=True)]
    out["optimised_plan"] = [plan_text(n, k) for n, k in zip(out["optimised_customers"], out["optimised_k"],
                                                              strict=True)]
    columns = COMPARISON_DISPLAY if out["audience"].nunique() > 1 else COMPARISON_DISPLAY[1:]
    return out[columns].round({"manual_cost": 0, "optimised_cost": 0, "manual_responses": 1,
                               "optimised_responses": 1, "change_responses": 1})
RULE_COLUMNS = ["audience", "goals", "allowed", "preferred", "min_coverage", "max_contacts", "cap"]


def constraint_display(constraints: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The constraint table with the shadow price as text, e.g. ``0.065 人/元``."""
    unit = "元" if kind == "value" else "人"
    out = constraints.copy()
    out["shadow_text"] = [f"{v:,.3f} {unit}/{per}" if abs(v) > 1e-9 else "0"
                          for v, per in zip(out["shadow_price"], out["per"], strict=True)]
    return out


def rules_table(plan: Plan) -> pd.DataFrame:
    """Per audience the optimiser's rules: goals it serves, allowed/preferred channels, coverage, limits."""
    names = {c.id: c.name for c in plan.channels.catalogue}
    rules = {r.audience: r for r in plan.channels.rules}
    rows = []
    for aud in audiences(plan):
        r = rules.get(aud)
        rows.append({
            "audience": aud,
            "goals": "、".join(g.id for g in plan.goals if g.segment == aud) or "—",
            "allowed": "、".join(names.get(c, c) for c in r.allowed) if r and r.allowed else "全部渠道",
            "preferred": "、".join(names.get(c, c) for c in r.preferred) if r and r.preferred else "—",
            "min_coverage": r.min_coverage if r else None,
            "max_contacts": r.max_contacts if r else None,
            "cap": plan.channels.contact_caps.get(aud),
        })
    return pd.DataFrame(rows, columns=RULE_COLUMNS).astype({"min_coverage": float, "max_contacts": float,
                                                             "cap": float})


def run(plan: Plan, rates: pd.DataFrame, customers: pd.DataFrame, manual: pd.DataFrame,
        composition: dict[str, dict[str, int]]) -> tuple[optimize.MixResult, dict]:
    """Solve the plan's mix problem and summarise it beside the planner's mix (``manual``).

    Returns the raw result (tables for display) and the JSON-ready summary stored in
    ``channel_summary["optimizer"]``; with the optimiser switched off the summary says so.
    """
    from planlib.stages.channels.plan import tier_sizes

    sizes = {aud: int(sum(t.values())) for aud, t in composition.items()}
    kind = objective(plan, customers)
    weights = audience_weights(plan, customers, kind)
    problem = mix_problem(plan, rates, sizes, composition, tier_sizes(customers), weights)
    if not plan.channels.optimizer.enabled:
        empty = optimize.MixResult(problem, optimize.MixSolution("disabled"), optimize.mix_table(
            problem, optimize.MixSolution("empty")), pd.DataFrame())
        return empty, {"status": "disabled", "objective": kind, "objective_label": OBJECTIVE_LABELS[kind]}
    result = optimize.optimise(problem)
    out = summary(result, manual, kind, weights)
    if kind == "value":
        out["value_share"] = plan.channels.optimizer.value_share
    out["mix"] = result.mix.to_dict("records")
    return result, out
