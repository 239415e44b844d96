"""Stage 03 — the channel mix that maximises expected responses (or value) within budget and rules.

A mixed-integer programme solved by HiGHS through :func:`scipy.optimize.milp`:

* an **option** is "contact ``x`` customers of audience *a* on channel *c*, *k* times each";
  ``x`` is an integer, *k* comes from ``channels.optimizer.frequency_levels`` (plus the *k* of
  the plan's own rows, so the planner's mix is always one of the candidates);
* each customer so contacted yields ``value`` = reach × (1 − (1 − open × response)^k) expected
  responders (the model of :mod:`planlib.stages.channels.plan`), times the audience's mean CLV when the
  objective is ``value``; the objective is the sum over options, so a customer who answers on
  two channels counts on both (as the plan table's ``expected_responses`` does);
* ``z_a`` is how many customers of audience *a* are contacted at all. The planner chooses who
  gets which channel, so any ``z_a`` between the largest channel group and the sum of them is
  achievable; contact caps, minimum coverage and the frequency limit are written on ``z_a``;
* a channel with a fixed cost has a binary "open" variable: its fixed cost is paid once if any
  option on it is used.

Constraints: budget; each audience's size; contact caps per tier (a segment audience counts
towards a tier in proportion to its members there); minimum coverage; allowed channels (options
outside them do not exist); and ``max_contacts``, which holds for *every* customer, not on
average: each used option has a binary ``u``, each channel of a capped audience a variable ``K``
≥ k·u of its used options (the most contacts one customer can get on that channel), and Σ K ≤
``max_contacts``. So however the planner spreads the channel groups over the customers, nobody
gets more than the limit. The rule is linear and safe; it forgoes mixes where, say, customers
with 8 WeCom messages get fewer SMS than the others (an exact model needs one variable per
combination of channel levels and a per-customer assignment to follow).

Binding constraints and shadow prices come from the LP with the open channels and used options
fixed (HiGHS duals); the value of one more contact per customer and of "another 1,000 元" are
exact re-solves. When no mix satisfies everything, :func:`explain_infeasible` relaxes one
constraint at a time (then pairs) and says which one cannot be met and by how much.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

BIG_BUDGET = 1e12
EXTRA_SHARE = 0.10  # the marginal question asks about 10 % more channel budget unless the plan names an amount


def extra_step(budget: float, amount: float | None = None) -> float:
    """The "what would N 元 more buy" amount: the plan's, else 10 % of ``budget`` on a 1-2-5 step (≥ 10 元)."""
    if amount is not None:
        return float(amount)
    raw = max(budget * EXTRA_SHARE, 10.0)
    scale = 10 ** math.floor(math.log10(raw))
    return float(max(step * scale for step in (1, 2, 5) if step * scale <= raw))


@dataclass(frozen=True)
class Option:
    audience: str
    channel: str
    contacts: float  # k, contacts per contacted customer over the period
    value: float  # objective per customer contacted (expected responders, or value)
    responses: float  # expected responders per customer contacted
    cost: float  # variable cost per customer contacted
    allowed: bool = True
    preferred: bool = False


@dataclass(frozen=True)
class MixProblem:
    """Everything the solver needs; built from a plan by :func:`planlib.stages.channels.plan.mix_problem`."""

    sizes: dict[str, int]  # audience → contactable customers
    options: tuple[Option, ...]
    budget: float
    fixed_costs: dict[str, float] = field(default_factory=dict)  # channel → fixed cost
    min_coverage: dict[str, float] = field(default_factory=dict)  # audience → share 0..1
    max_contacts: dict[str, float] = field(default_factory=dict)  # audience → contacts per customer
    caps: dict[str, tuple[float, dict[str, float]]] = field(default_factory=dict)
    # tier → (max customers contacted, audience → share of the audience's members in the tier)
    names: dict[str, str] = field(default_factory=dict)  # channel id → display name
    integer: bool = True
    extra_budget: float | None = None  # the marginal question's amount (None: extra_step's default)


@dataclass
class Constraint:
    key: tuple  # ("budget",), ("coverage", a), ("cap", t), ("frequency", a), ("size", a), …
    label: str
    unit: str
    row: np.ndarray
    upper: float
    step: float = 1.0  # slack below one step counts as binding (one customer, one contact, …)
    reported: bool = True


@dataclass
class MixSolution:
    status: str  # optimal / time_limit / infeasible / empty
    objective: float = 0.0
    responses: float = 0.0
    cost: float = 0.0
    x: np.ndarray | None = None
    z: dict[str, float] = field(default_factory=dict)
    opened: dict[str, bool] = field(default_factory=dict)
    message: str = ""


@dataclass
class MixResult:
    """What the stage shows: the solution, its constraints, the marginal budget, or why nothing fits."""

    problem: MixProblem
    solution: MixSolution
    mix: pd.DataFrame
    constraints: pd.DataFrame
    extra: dict | None = None
    infeasible: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.solution.status in ("optimal", "time_limit")


# ------------------------------------------------------------------------------ model
def _layout(p: MixProblem) -> tuple[list[Option], list[str], list[str]]:
    opts = [o for o in p.options if o.allowed and o.audience in p.sizes
            and o.contacts <= p.max_contacts.get(o.audience, math.inf) + 1e-9]
    auds = list(p.sizes)
    fixed = [c for c in dict.fromkeys(o.channel for o in opts) if p.fixed_costs.get(c, 0) > 0]
    return opts, auds, fixed


def _per_customer(p: MixProblem, opts: list[Option]) -> tuple[list[int], list[tuple[str, str]]]:
    """The options of audiences with a per-customer cap (each gets a binary ``u``) and their
    (audience, channel) pairs (each gets ``K``, the most contacts one customer gets on it)."""
    capped = [i for i, o in enumerate(opts) if o.audience in p.max_contacts]
    pairs = list(dict.fromkeys((opts[i].audience, opts[i].channel) for i in capped))
    return capped, pairs


def _n_vars(p: MixProblem, opts: list[Option], auds: list[str], fixed: list[str]) -> int:
    capped, pairs = _per_customer(p, opts)
    return len(opts) + len(auds) + len(fixed) + len(capped) + len(pairs)


def _constraints(p: MixProblem, opts: list[Option], auds: list[str], fixed: list[str]) -> list[Constraint]:
    n_x, n_z = len(opts), len(auds)
    capped, pairs = _per_customer(p, opts)
    n = _n_vars(p, opts, auds, fixed)
    zi = {a: n_x + i for i, a in enumerate(auds)}
    yi = {c: n_x + n_z + i for i, c in enumerate(fixed)}
    ui = {opt_i: n_x + n_z + len(fixed) + j for j, opt_i in enumerate(capped)}
    ki = {pair: n_x + n_z + len(fixed) + len(capped) + j for j, pair in enumerate(pairs)}
    out = []

    def row() -> np.ndarray:
        return np.zeros(n)

    r = row()
    r[:n_x] = [o.cost for o in opts]
    for c in fixed:
        r[yi[c]] = p.fixed_costs[c]
    positive = [o.cost for o in opts if o.cost > 0]
    out.append(Constraint(("budget",), "渠道预算", "元", r, p.budget, step=min(positive, default=1e-6)))
    for c in fixed:
        r = row()
        members = [i for i, o in enumerate(opts) if o.channel == c]
        r[members] = 1
        r[yi[c]] = -sum(p.sizes[opts[i].audience] for i in members)
        out.append(Constraint(("open", c), f"{p.names.get(c, c)} 开通", "人", r, 0.0, reported=False))
    for a in auds:
        mine = [i for i, o in enumerate(opts) if o.audience == a]
        for c in dict.fromkeys(opts[i].channel for i in mine):
            r = row()
            r[[i for i in mine if opts[i].channel == c]] = 1
            r[zi[a]] = -1
            out.append(Constraint(("within", a, c), "", "人", r, 0.0, reported=False))
        r = row()
        r[mine] = -1
        r[zi[a]] = 1
        out.append(Constraint(("union", a), "", "人", r, 0.0, reported=False))
        r = row()
        r[zi[a]] = 1
        out.append(Constraint(("size", a), f"{a} 人数(可触达客户)", "人", r, float(p.sizes[a])))
        if p.min_coverage.get(a):
            r = row()
            r[zi[a]] = -1
            need = p.min_coverage[a] * p.sizes[a]
            out.append(Constraint(("coverage", a), f"{a} 最低覆盖 {p.min_coverage[a] * 100:g}%", "人", r, -need))
        if a in p.max_contacts:
            for i in mine:  # x_i > 0 only if used (u_i = 1); K of its channel ≥ its k
                r = row()
                r[i], r[ui[i]] = 1, -p.sizes[a]
                out.append(Constraint(("used", i), "", "人", r, 0.0, reported=False))
                r = row()
                r[ui[i]], r[ki[(a, opts[i].channel)]] = opts[i].contacts, -1
                out.append(Constraint(("level", i), "", "次", r, 0.0, reported=False))
            r = row()
            r[[ki[pair] for pair in pairs if pair[0] == a]] = 1
            out.append(Constraint(("frequency", a), f"{a} 每客户触达 ≤ {p.max_contacts[a]:g} 次", "次/人", r,
                                  float(p.max_contacts[a])))
    for tier, (limit, shares) in p.caps.items():
        r = row()
        for a, share in shares.items():
            if a in zi:
                r[zi[a]] = share
        if r.any():
            out.append(Constraint(("cap", tier), f"{tier} 触达上限", "人", r, float(limit)))
    return out


def _bounds(p: MixProblem, opts: list[Option], auds: list[str], fixed: list[str]) -> tuple[np.ndarray, np.ndarray]:
    capped, pairs = _per_customer(p, opts)
    upper = ([p.sizes[o.audience] for o in opts] + [np.inf] * len(auds) + [1] * len(fixed) + [1] * len(capped)
             + [p.max_contacts[a] for a, _ in pairs])
    return np.zeros(len(upper)), np.array(upper, dtype=float)


def _objective(p: MixProblem, opts: list[Option], auds: list[str], fixed: list[str],
               weights: list[float]) -> np.ndarray:
    rest = _n_vars(p, opts, auds, fixed) - len(opts)
    return -np.concatenate([np.asarray(weights, dtype=float), np.zeros(rest)])


def _integrality(p: MixProblem, opts: list[Option], auds: list[str], fixed: list[str]) -> np.ndarray:
    """Customers (x) are whole when ``p.integer``; "channel open" and "option used" are binary."""
    capped, pairs = _per_customer(p, opts)
    n_x, start = len(opts), len(opts) + len(auds)
    out = np.zeros(_n_vars(p, opts, auds, fixed))
    if p.integer:
        out[:n_x] = 1
    out[start:start + len(fixed) + len(capped)] = 1
    return out


def _milp(p: MixProblem, c: np.ndarray, cons: list[Constraint], lb: np.ndarray, ub: np.ndarray,
          integrality: np.ndarray, extra: list[tuple[np.ndarray, float, float]] = ()):
    rows = [k.row for k in cons] + [e[0] for e in extra]
    lo = [-np.inf] * len(cons) + [e[1] for e in extra]
    hi = [k.upper for k in cons] + [e[2] for e in extra]
    linear = LinearConstraint(np.vstack(rows), lo, hi) if rows else None
    # A 0.01 % gap: proving the last 1e-7 took 20× longer on a 20-audience plan (benchmarks/bench_optimize.py)
    # for a mix that differs by a fraction of one response.
    return milp(c, constraints=linear, integrality=integrality, bounds=Bounds(lb, ub),
                options={"time_limit": 30.0, "mip_rel_gap": 1e-4})


def solve(p: MixProblem) -> MixSolution:
    """Best mix for ``p``; among equally good mixes the one using most preferred channels."""
    opts, auds, fixed = _layout(p)
    if not opts:
        return MixSolution("empty" if not any(p.min_coverage.values()) else "infeasible",
                           message="没有可用的渠道选项")
    cons = _constraints(p, opts, auds, fixed)
    lb, ub = _bounds(p, opts, auds, fixed)
    c = _objective(p, opts, auds, fixed, [o.value for o in opts])
    integral = _integrality(p, opts, auds, fixed)
    res = _milp(p, c, cons, lb, ub, integral)
    if res.x is None:
        return MixSolution("infeasible" if res.status == 2 else "failed", message=res.message)
    best = -res.fun
    if any(o.preferred for o in opts) and best > 0:
        # second pass: keep the optimum (within a hair) and contact as many as possible on preferred channels
        keep = (-c, best - max(1e-9, abs(best) * 1e-9), np.inf)
        pref = _objective(p, opts, auds, fixed, [1.0 if o.preferred else 0.0 for o in opts])
        again = _milp(p, pref, cons, lb, ub, integral, [keep])
        if again.x is not None:
            res = again
    x = np.round(res.x, 6)
    n_x = len(opts)
    sol = MixSolution("optimal" if res.status == 0 else "time_limit")
    sol.x = x[:n_x]
    sol.z = {a: float(x[n_x + i]) for i, a in enumerate(auds)}
    sol.opened = {ch: bool(round(x[n_x + len(auds) + i])) for i, ch in enumerate(fixed)}
    sol.objective = float(sum(o.value * v for o, v in zip(opts, sol.x, strict=True)))
    sol.responses = float(sum(o.responses * v for o, v in zip(opts, sol.x, strict=True)))
    sol.cost = float(cons[0].row @ x)
    sol.message = res.message
    return sol


def _shadow_prices(p: MixProblem, sol: MixSolution) -> dict[tuple, float]:
    """Duals of the LP with the open channels fixed: objective gained per unit of each limit."""
    opts, auds, fixed = _layout(p)
    cons = _constraints(p, opts, auds, fixed)
    lb, ub = _bounds(p, opts, auds, fixed)
    for i, ch in enumerate(fixed):
        lb[len(opts) + len(auds) + i] = ub[len(opts) + len(auds) + i] = float(sol.opened.get(ch, False))
    capped, _ = _per_customer(p, opts)
    for j, i in enumerate(capped):  # the options in use stay in use, the others stay out
        at = len(opts) + len(auds) + len(fixed) + j
        lb[at] = ub[at] = float(sol.x[i] > 0.5)
    res = linprog(_objective(p, opts, auds, fixed, [o.value for o in opts]),
                  A_ub=np.vstack([k.row for k in cons]), b_ub=[k.upper for k in cons],
                  bounds=list(zip(lb, ub, strict=True)), method="highs")
    if res.status != 0:
        return {}
    prices = {k.key: float(-m) for k, m in zip(cons, res.ineqlin.marginals, strict=True)}
    for a, limit in p.max_contacts.items():  # one more contact per customer: an exact re-solve
        if ("frequency", a) in prices:
            more = solve(replace(p, max_contacts={**p.max_contacts, a: limit + 1}))
            prices[("frequency", a)] = max(more.objective - sol.objective, 0.0) if more.x is not None else 0.0
    return prices


def _solution_vector(p: MixProblem, sol: MixSolution) -> np.ndarray:
    """All variables at ``sol``: x, z, open, u (option used) and K (most contacts per customer per channel)."""
    opts, auds, fixed = _layout(p)
    capped, pairs = _per_customer(p, opts)
    used = [float(sol.x[i] > 0.5) for i in capped]
    top = [max((o.contacts for o, v in zip(opts, sol.x, strict=True) if (o.audience, o.channel) == pair and v > 0.5),
               default=0.0) for pair in pairs]
    return np.concatenate([sol.x, [sol.z[a] for a in auds], [float(sol.opened[c]) for c in fixed], used, top])


def most_contacts(p: MixProblem, sol: MixSolution) -> dict[str, float]:
    """Per audience, the most contacts any one customer can get in the mix (Σ over channels of the largest k)."""
    opts, auds, _ = _layout(p)
    out = dict.fromkeys(auds, 0.0)
    for a in auds:
        best: dict[str, float] = {}
        for o, v in zip(opts, sol.x if sol.x is not None else [], strict=False):
            if o.audience == a and v > 0.5:
                best[o.channel] = max(best.get(o.channel, 0.0), o.contacts)
        out[a] = float(sum(best.values()))
    return out


# what one more unit of a constraint's limit is: the shadow price is objective gained per this
_PER = {"budget": "元", "size": "人", "coverage": "人", "cap": "人", "frequency": "次触达"}


def constraint_table(p: MixProblem, sol: MixSolution) -> pd.DataFrame:
    """Each reported constraint at the solution: used, limit, slack, binding and shadow price.

    ``shadow_price`` is the objective gained per extra unit (``per``) of the limit, from the LP
    with the open channels and used options fixed: local, so "1,000 元 more" is re-solved exactly
    instead. For the per-customer contact cap, ``used`` is the most contacts one customer can get
    and the price is the exact gain of one more contact per customer.
    """
    opts, auds, fixed = _layout(p)
    cons = _constraints(p, opts, auds, fixed)
    vector = _solution_vector(p, sol)
    prices = _shadow_prices(p, sol)
    rows = []
    for k in cons:
        if not k.reported:
            continue
        used, limit = float(k.row @ vector), k.upper
        if k.key[0] == "coverage":  # written as −z ≤ −need: show it the way round people read it
            used, limit = -used, -limit
            slack = used - limit
        else:  # frequency: used = the most contacts one customer gets
            slack = limit - used
        step = k.step
        shadow = prices.get(k.key, 0.0)
        if k.key[0] == "coverage":
            shadow = -shadow  # per one more customer *required*: covering more can only cost
        rows.append({"constraint": k.label, "kind": k.key[0], "used": used, "limit": limit, "unit": k.unit,
                     "slack": max(slack, 0.0), "binding": bool(slack < step - 1e-9 or abs(shadow) > 1e-9),
                     "shadow_price": shadow, "per": _PER[k.key[0]]})
    return pd.DataFrame(rows, columns=["constraint", "kind", "used", "limit", "unit", "slack", "binding",
                                       "shadow_price", "per"])


def mix_table(p: MixProblem, sol: MixSolution) -> pd.DataFrame:
    """The chosen options as rows: audience, channel, contacts per customer, customers, cost, responses.

    A channel's fixed cost is booked on its first row, as in the plan table.
    """
    opts, _, _ = _layout(p)
    rows, booked = [], set()
    for o, v in zip(opts, sol.x if sol.x is not None else [], strict=False):
        if v < 0.5:
            continue
        fixed = p.fixed_costs.get(o.channel, 0.0) if o.channel not in booked else 0.0
        booked.add(o.channel)
        rows.append({"audience": o.audience, "channel": o.channel, "channel_name": p.names.get(o.channel, o.channel),
                     "contacts_per_customer": o.contacts, "customers_contacted": float(v),
                     "contacts": float(v * o.contacts), "fixed_cost": fixed, "cost": float(v * o.cost + fixed),
                     "expected_responses": float(v * o.responses), "expected_value": float(v * o.value)})
    return pd.DataFrame(rows, columns=["audience", "channel", "channel_name", "contacts_per_customer",
                                       "customers_contacted", "contacts", "fixed_cost", "cost",
                                       "expected_responses", "expected_value"])


# ------------------------------------------------------------------------------ explanations
_RELAXABLE = ("budget", "coverage", "cap", "frequency", "allowed")


def _relax(p: MixProblem, key: tuple) -> MixProblem:
    kind = key[0]
    if kind == "budget":
        return replace(p, budget=BIG_BUDGET)
    if kind == "coverage":
        return replace(p, min_coverage={a: v for a, v in p.min_coverage.items() if a != key[1]})
    if kind == "cap":
        return replace(p, caps={t: v for t, v in p.caps.items() if t != key[1]})
    if kind == "frequency":
        return replace(p, max_contacts={a: v for a, v in p.max_contacts.items() if a != key[1]})
    return replace(p, options=tuple(replace(o, allowed=True) if o.audience == key[1] else o for o in p.options))


def _relaxable(p: MixProblem) -> list[tuple]:
    keys = [("budget",)]
    keys += [("coverage", a) for a, v in p.min_coverage.items() if v and a in p.sizes]
    keys += [("cap", t) for t in p.caps]
    keys += [("frequency", a) for a in p.max_contacts if a in p.sizes]
    keys += [("allowed", a) for a in p.sizes if any(o.audience == a and not o.allowed for o in p.options)]
    return keys


def _extreme(p: MixProblem, weights_of, sense: int) -> float | None:
    """Min (sense=+1) or max (sense=−1) of a linear expression over the feasible mixes of ``p``."""
    opts, auds, fixed = _layout(p)
    if not opts:
        return None
    cons = _constraints(p, opts, auds, fixed)
    lb, ub = _bounds(p, opts, auds, fixed)
    c = np.zeros(_n_vars(p, opts, auds, fixed))
    w = weights_of(opts, auds, fixed, cons)
    c[:len(w)] = sense * w
    res = _milp(p, c, cons, lb, ub, _integrality(p, opts, auds, fixed))
    return None if res.x is None else float(sense * res.fun)


def _describe(p: MixProblem, key: tuple) -> str:
    relaxed = _relax(p, key)
    kind = key[0]
    if kind == "budget":
        need = _extreme(relaxed, lambda o, a, f, cons: cons[0].row, +1)
        if need is not None:
            return (f"渠道预算不够:在其他约束下至少需要 {need:,.0f} 元,而渠道预算只有 {p.budget:,.0f} 元"
                    f"(差 {need - p.budget:,.0f} 元)")
        return "渠道预算不够"
    if kind == "coverage":
        a = key[1]

        def coverage(o, auds, f, cons):
            w = np.zeros(len(o) + len(auds) + len(f))
            w[len(o) + auds.index(a)] = 1
            return w

        best = _extreme(relaxed, coverage, -1)
        size = p.sizes[a] or 1
        got = f"最多只能覆盖 {best / size * 100:.1f}%" if best is not None else "无法覆盖"
        return f"{a} 的最低覆盖 {p.min_coverage[a] * 100:g}% 达不到:在预算和其他约束下{got}"
    if kind == "cap":
        t = key[1]
        limit, shares = p.caps[t]

        def contacted(o, auds, f, cons):
            w = np.zeros(len(o) + len(auds) + len(f))
            for a, s in shares.items():
                if a in auds:
                    w[len(o) + auds.index(a)] = s
            return w

        least = _extreme(relaxed, contacted, +1)
        extra = f"其他约束(如最低覆盖)要求至少触达 {least:,.0f} 人," if least is not None else ""
        return f"{t} 的触达上限({limit:,.0f} 人)与其他约束冲突:{extra}超过上限"
    if kind == "frequency":
        return f"{key[1]} 的每客户触达上限 {p.max_contacts[key[1]]:g} 次太低,无法同时满足覆盖要求"
    allowed = sorted({p.names.get(o.channel, o.channel) for o in p.options if o.audience == key[1] and o.allowed})
    listed = "、".join(allowed) if allowed else "(没有可用渠道)"
    return f"{key[1]} 只允许使用 {listed},仅靠这些渠道无法满足其他约束;放开其他渠道后可行"


def explain_infeasible(p: MixProblem) -> list[str]:
    """Sentences naming the constraint(s) that cannot be met, found by relaxing them one (then two) at a time."""
    keys = _relaxable(p)
    single = [k for k in keys if solve(_relax(p, k)).status in ("optimal", "time_limit", "empty")]
    if single:
        lead = "以下任一约束放宽即可得到可行方案:" if len(single) > 1 else "无法满足的约束:"
        return [lead, *(_describe(p, k) for k in single)]
    labels = {"budget": "渠道预算", "coverage": "最低覆盖", "cap": "触达上限", "frequency": "触达次数上限",
              "allowed": "可用渠道"}

    def name(k: tuple) -> str:
        return labels[k[0]] + (f"({k[1]})" if len(k) > 1 else "")

    for a, b in itertools.combinations(keys, 2):
        if solve(_relax(_relax(p, a), b)).status in ("optimal", "time_limit", "empty"):
            return [f"单独放宽任何一项约束都不够,需要同时放宽 {name(a)} 和 {name(b)}。",
                    _describe(_relax(p, b), a), _describe(_relax(p, a), b)]
    return ["即使同时放宽任意两项约束也找不到可行方案;请检查最低覆盖、触达上限与可用渠道的设置。"]


# ------------------------------------------------------------------------------ entry point
def optimise(p: MixProblem) -> MixResult:
    """Solve ``p``; add the constraint table and the value of a little more budget (:func:`extra_step`), or why not."""
    sol = solve(p)
    if sol.status not in ("optimal", "time_limit"):
        empty = mix_table(p, MixSolution("empty"))
        reasons = explain_infeasible(p) if sol.status == "infeasible" else [sol.message or "没有可用的渠道选项"]
        return MixResult(p, sol, empty, pd.DataFrame(), None, reasons)
    step = extra_step(p.budget, p.extra_budget)
    more = solve(replace(p, budget=p.budget + step))
    extra = None
    if more.status in ("optimal", "time_limit"):
        extra = {"step": step, "budget": p.budget + step, "objective": more.objective,
                 "gain": more.objective - sol.objective, "responses_gain": more.responses - sol.responses,
                 "cost": more.cost, "mix": mix_table(p, more)}
    return MixResult(p, sol, mix_table(p, sol), constraint_table(p, sol), extra)
