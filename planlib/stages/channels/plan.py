"""Stage 03 — channel choice: cost, reach and expected response of the per-audience channel plan.

Pure functions over the plan and the stage 02 ``customers`` result.

Modelling choices
-----------------
* Audience sizes exclude the control group: control customers receive no campaign contact.
* ``customers_contacted`` = audience size × coverage; ``contacts`` = contacted ×
  contacts_per_customer; ``cost`` = contacts × cost_per_contact, plus the channel's fixed cost
  counted once per channel, on the first plan row that uses it (column ``fixed_cost``).
* Reach is a property of the customer on that channel (a valid phone, a followed account):
  ``expected_reached`` = contacted × reach_rate. Each contact to a reached customer is opened
  and answered independently with p = open_rate × response_rate, so
  ``expected_responses`` = reached × (1 − (1 − p) ** contacts_per_customer): customers who
  respond at least once, not responses (repeated contacts cannot count one customer twice).
* Rows for the same audience contact nested groups of customers (the planner picks whom to
  contact), so an audience's contacted share is its largest coverage; different audiences are
  added up (capped at the tier size) when checking contact caps.
* An audience's expected participation combines its channels as independent chances:
  1 − Π(1 − responders_row / audience_size).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planlib.errors import PlanError
from planlib.metrics.segment import find_segment, segment_mask, tier_names
from planlib.plan.analysis import budget_lines_vs_cost, cap_shares
from planlib.plan.budget_lines import is_promotion
from planlib.plan.schema import Plan
from planlib.stages.channels.rates import audiences

_COLUMNS = ["audience", "channel", "channel_name", "content", "frequency", "audience_size",
            "coverage", "contacts_per_customer", "customers_contacted", "contacts",
            "cost_per_contact", "fixed_cost", "cost", "expected_reached", "expected_responses",
            "cost_per_response"]


def _audiences(plan: Plan) -> list[str]:
    return audiences(plan)  # channel-plan rows, then audiences that only have constraint rules


def audience_tiers(customers: pd.DataFrame, plan: Plan) -> dict[str, dict[str, int]]:
    """Per channel-plan audience, how many of its contactable (non-control) customers are in each tier."""
    contactable = customers[~customers["control"].to_numpy(dtype=bool)]
    out = {}
    for name in _audiences(plan):
        member = segment_mask(contactable, find_segment(plan.segmentation, name))
        counts = contactable.loc[member.to_numpy(), "tier"].value_counts()
        out[name] = {str(t): int(k) for t, k in counts.items()}
    return out


def audience_sizes(customers: pd.DataFrame, plan: Plan) -> dict[str, int]:
    """Contactable (non-control) customers of every audience named in the channel plan."""
    return sizes_of(audience_tiers(customers, plan))


def sizes_of(composition: dict[str, dict[str, int]]) -> dict[str, int]:
    """Audience sizes from :func:`audience_tiers`' per-tier counts."""
    return {name: sum(tiers.values()) for name, tiers in composition.items()}


def tier_sizes(customers: pd.DataFrame) -> dict[str, int]:
    """All customers per tier (control included: caps are shares of the whole tier)."""
    return {str(t): int(k) for t, k in customers["tier"].value_counts().items()}


def _rate_lookup(rates: pd.DataFrame | None) -> dict[tuple[str, str], dict]:
    if rates is None:
        return {}
    return {(r["audience"], r["channel"]): r for r in rates.to_dict("records")}


def rate_note(rate: dict | None) -> str:
    """Where a row's rates come from, e.g. ``打开率 数据·对象(n=1,234);其余 计划``."""
    if rate is None:
        return "计划"
    names = {"reach": "触达率", "open": "打开率", "response": "响应率"}
    from_data = [f"{names[m]} {rate[f'{m}_source']}(n={rate[f'{m}_n']:,})" for m in names
                 if str(rate[f"{m}_source"]).startswith("数据")]
    if not from_data:
        return "、".join(dict.fromkeys(str(rate[f"{m}_source"]) for m in names))
    return ";".join(from_data) + (";其余 计划" if len(from_data) < len(names) else "")


def channel_plan_table(plan: Plan, audience_sizes: dict[str, int], rates: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``channel_plan`` result: one row per channel-plan row with size, cost and expected effect.

    Extra columns besides the required ones: content, frequency, coverage,
    contacts_per_customer, cost_per_contact, fixed_cost (the share of the channel's fixed cost
    booked on this row), cost_per_response and rate_source. ``rates`` (from
    :func:`planlib.stages.channels.rates.estimate_rates`) replaces the catalogue's rates per audience and channel,
    so the plan is costed with what last quarter's data says where it says something.
    """
    catalogue = {c.id: c for c in plan.channels.catalogue}
    effective = _rate_lookup(rates)
    rows, fixed_booked = [], set()
    for i, row in enumerate(plan.channels.plan):
        ch = catalogue.get(row.channel)
        if ch is None:
            raise PlanError(f"channels.plan[{i}].channel: 渠道 {row.channel!r} 不在渠道目录中;"
                            f"可用: {', '.join(catalogue)}")
        if row.audience not in audience_sizes:
            raise PlanError(f"channels.plan[{i}].audience: 对象 {row.audience!r} 没有客户数;"
                            "请确认它是 segmentation 中的层级或客群名称")
        first = ch.id not in fixed_booked
        fixed_booked.add(ch.id)
        rate = effective.get((row.audience, ch.id))
        reach, opened, answered = ((rate["reach_rate"], rate["open_rate"], rate["response_rate"]) if rate
                                   else (ch.reach_rate, ch.open_rate, ch.response_rate))
        rows.append({
            "audience": row.audience, "channel": ch.id, "channel_name": ch.name,
            "content": row.content, "frequency": row.frequency,
            "audience_size": int(audience_sizes[row.audience]), "coverage": float(row.coverage),
            "contacts_per_customer": float(row.contacts_per_customer),
            "cost_per_contact": float(ch.cost_per_contact),
            "fixed_cost": float(ch.fixed_cost) if first else 0.0,
            "rate_source": rate_note(rate),
            "_reach": reach / 100, "_p": opened / 100 * answered / 100,
        })
    df = pd.DataFrame(rows, columns=[*_COLUMNS, "rate_source", "_reach", "_p"])
    df["customers_contacted"] = df["audience_size"] * df["coverage"] / 100
    df["contacts"] = df["customers_contacted"] * df["contacts_per_customer"]
    df["cost"] = df["contacts"] * df["cost_per_contact"] + df["fixed_cost"]
    df["expected_reached"] = df["customers_contacted"] * df["_reach"]
    at_least_once = 1 - (1 - df["_p"].astype(float)) ** df["contacts_per_customer"]
    df["expected_responses"] = df["expected_reached"] * at_least_once
    df["cost_per_response"] = (df["cost"] / df["expected_responses"]).where(df["expected_responses"] > 0)
    return df[[*_COLUMNS, "rate_source"]].astype({"audience_size": np.int64, "rate_source": str,
                                                  **{c: float for c in _COLUMNS[6:]}})


def _caps(plan: Plan, table: pd.DataFrame, tier_sizes: dict[str, int],
          composition: dict[str, dict[str, int]] | None, warnings: list[str]) -> list[dict]:
    """The caps table and its warnings, by the one formula :func:`planlib.plan.analysis.cap_shares`."""
    coverage = (table.groupby("audience", sort=False)["coverage"].max() / 100).to_dict()
    sizes = table.groupby("audience", sort=False)["audience_size"].first().astype(int).to_dict()
    shares, not_tiers, unknown = cap_shares(plan, coverage, sizes, composition, tier_sizes)
    warnings += [f"触达上限中的层级 {tier!r} 不在分层规则中,已忽略。" for tier in not_tiers]
    warnings += [f"未提供对象 {aud!r} 的层级构成,无法核对其触达上限。" for aud in unknown]
    warnings += [f"{c.tier}的触达比例约 {c.share:.1f}%,超过上限 {c.cap:g}%;请降低覆盖比例,避免过度打扰。"
                 for c in shares if not c.ok]
    return [{"tier": c.tier, "cap": c.cap, "tier_size": c.tier_size, "contacted": c.contacted,
             "share": c.share, "ok": c.ok} for c in shares]


def channel_summary(plan: Plan, table: pd.DataFrame, tier_sizes: dict[str, int],
                    composition: dict[str, dict[str, int]] | None = None) -> dict:
    """The ``channel_summary`` result: channel cost against the budget, contact caps, responses.

    Budget lines with a ``channel`` or in one of ``budget.channel_categories`` (推广费) are the promotion budget that the
    channel plan replaces; ``fits_budget`` = channel cost + all other planned lines ≤ limit.
    ``composition`` (from :func:`audience_tiers`) lets caps be checked for audiences that are
    segments; without it only audiences named after a tier count. Warnings are Chinese sentences.
    """
    warnings: list[str] = []
    lines = plan.budget.lines
    promotion = sum(line.planned for line in lines if is_promotion(line, plan.budget))
    other = sum(line.planned for line in lines if not is_promotion(line, plan.budget))
    cost = float(table["cost"].sum())
    fits = cost + other <= plan.budget.limit + 1e-9

    by_channel = []
    names = {c.id: c.name for c in plan.channels.catalogue}
    used = table.groupby("channel", sort=False)["cost"].sum()
    for ch in dict.fromkeys([*used.index, *(ln.channel for ln in lines if ln.channel)]):
        budget = float(sum(ln.planned for ln in lines if ln.channel == ch))
        ch_cost = float(used.get(ch, 0.0))
        by_channel.append({"channel": ch, "channel_name": names.get(ch, ch), "cost": ch_cost,
                           "budget": budget})
        if ch not in used.index:
            warnings.append(f"预算中有对应渠道 {names.get(ch, ch)} 的推广费,但渠道计划没有使用该渠道。")
    # the same comparison `planlib validate` and the forms make (planlib.plan.analysis)
    warnings += [f"{message};{hint}。" for _where, message, hint in
                 budget_lines_vs_cost(plan, {str(k): float(v) for k, v in used.items()})]
    if not fits:
        warnings.append(f"渠道成本与其他预算合计 {cost + other:,.0f} 元,超出预算上限 "
                        f"{plan.budget.limit:,.0f} 元;请减少触达次数、改用低成本渠道或调整预算。")

    audiences = []
    for aud, rows in table.groupby("audience", sort=False):
        size = int(rows["audience_size"].iloc[0])
        if size == 0:
            warnings.append(f"对象 {aud!r} 没有可触达的客户,请检查分层规则或客群条件。")
        miss = np.prod(1 - rows["expected_responses"] / size) if size else 1.0
        audiences.append({"audience": aud, "audience_size": size, "cost": float(rows["cost"].sum()),
                          "expected_participants": float(size * (1 - miss)),
                          "expected_participation": float((1 - miss) * 100) if size else None})

    caps = _caps(plan, table, tier_sizes, composition, warnings)
    return {
        "channel_cost": cost,
        "fixed_cost": float(table["fixed_cost"].sum()),
        "contacts": float(table["contacts"].sum()),
        "promotion_budget": float(promotion),
        "other_planned": float(other),
        "planned_total": cost + float(other),
        "budget_limit": float(plan.budget.limit),
        "within_promotion_budget": cost <= promotion + 1e-9,
        "fits_budget": bool(fits),
        "by_channel": by_channel,
        "caps": caps,
        "caps_ok": all(c["ok"] for c in caps),
        "expected_responses": float(table["expected_responses"].sum()),
        "audiences": audiences,
        "warnings": list(dict.fromkeys(warnings)),
    }


def per_tier_channels(plan: Plan) -> pd.DataFrame:
    """Each tier (rule order, default last) and each other audience with its goal, strategy and channels.

    Columns: audience, kind (层级/客群), goal, strategy, channels, content, frequency,
    contacts_per_customer (summed over channels), planned (False for a tier with no plan row).
    """
    seg = plan.segmentation
    goals = {r.name: (r.goal, r.strategy) for r in [*seg.tiers, seg.default_tier]}
    names = {c.id: c.name for c in plan.channels.catalogue}
    audiences = list(dict.fromkeys([*tier_names(seg), *_audiences(plan)]))
    rows = []
    for aud in audiences:
        plan_rows = [r for r in plan.channels.plan if r.audience == aud]
        if aud in goals:
            kind, (goal, strategy) = "层级", goals[aud]
        else:
            kind, goal, strategy = "客群", find_segment(seg, aud).description, ""
        label = [names.get(r.channel, r.channel) for r in plan_rows]
        rows.append({
            "audience": aud, "kind": kind, "goal": goal, "strategy": strategy,
            "channels": "、".join(dict.fromkeys(label)),
            "content": ";".join(f"{n}: {r.content}" for n, r in zip(label, plan_rows, strict=True) if r.content),
            "frequency": ";".join(f"{n} {r.frequency}" for n, r in zip(label, plan_rows, strict=True) if r.frequency),
            "contacts_per_customer": float(sum(r.contacts_per_customer for r in plan_rows)),
            "planned": bool(plan_rows),
        })
    return pd.DataFrame(rows, columns=["audience", "kind", "goal", "strategy", "channels", "content",
                                       "frequency", "contacts_per_customer", "planned"])


def journey_touchpoints(plan: Plan, table: pd.DataFrame) -> pd.DataFrame:
    """Planned touchpoints per journey stage (认知→…→推荐): one row per plan row × stage.

    A row's stages are its own ``journey``, else its channel's ``journey`` in the catalogue;
    rows with neither appear once with stage ``未标注`` so nothing planned goes missing.
    ``table`` is a channel-plan table (:func:`channel_plan_table`) or an optimised mix.
    """
    catalogue = {c.id: c for c in plan.channels.catalogue}
    own = {(r.audience, r.channel): list(r.journey) for r in plan.channels.plan if r.journey}
    rows = []
    for r in table.itertuples():
        stages = own.get((r.audience, r.channel)) or list(catalogue[r.channel].journey) or ["未标注"]
        content = getattr(r, "content", "")
        for stage in stages:
            rows.append({"audience": r.audience, "channel": r.channel, "channel_name": r.channel_name,
                         "stage": stage, "content": content,
                         "contacts_per_customer": float(r.contacts_per_customer),
                         "customers_contacted": float(r.customers_contacted)})
    return pd.DataFrame(rows, columns=["audience", "channel", "channel_name", "stage", "content",
                                       "contacts_per_customer", "customers_contacted"])
