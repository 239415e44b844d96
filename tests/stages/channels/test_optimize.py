"""The channel-mix solver on small problems whose optimum is worked out by hand in each test."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from planlib.stages.channels.optimize import (
    MixProblem,
    MixSolution,
    Option,
    explain_infeasible,
    extra_step,
    most_contacts,
    optimise,
    solve,
)


def opt(channel, value, cost, k=1, audience="a", **kw) -> Option:
    return Option(audience, channel, k, value, value, cost, **kw)


def test_budget_knapsack_fills_the_best_value_per_yuan_first():
    # A: 0.5 per customer for 1 元 (0.5/元), B: 0.8 for 2 元 (0.4/元); 100 customers, 150 元.
    # All 100 on A (100 元, 50), the 50 元 left buy 25 on B (20): 70.
    p = MixProblem(sizes={"a": 100}, options=(opt("A", 0.5, 1.0), opt("B", 0.8, 2.0)), budget=150,
                   extra_budget=1000.0)
    r = optimise(p)
    assert r.solution.status == "optimal"
    assert r.solution.objective == pytest.approx(70)
    assert r.solution.cost == pytest.approx(150)
    assert r.mix.set_index("channel")["customers_contacted"].to_dict() == {"A": 100, "B": 25}
    budget = r.constraints.set_index("kind").loc["budget"]
    assert budget["binding"] and budget["shadow_price"] == pytest.approx(0.4)  # the next yuan goes to B
    # 1,000 元 more: B to all 100 customers (another 150 元 of B) → 50 + 80 = 130, the rest is unusable
    assert r.extra["gain"] == pytest.approx(60)
    assert r.extra["cost"] == pytest.approx(300)


def test_fixed_cost_opens_a_channel_only_when_it_pays():
    # B is better per customer (0.9 for 1 元) but costs 100 元 to open. With 150 元: A alone gives
    # 50; opening B leaves 50 元 → 45. With 300 元: A (100) + B opened (100 + 100) → 50 + 90 = 140.
    options = (opt("A", 0.5, 1.0), opt("B", 0.9, 1.0))
    tight = MixProblem(sizes={"a": 100}, options=options, budget=150, fixed_costs={"B": 100.0})
    sol = solve(tight)
    assert sol.objective == pytest.approx(50) and sol.opened == {"B": False}
    roomy = solve(replace(tight, budget=300))
    assert roomy.objective == pytest.approx(140) and roomy.opened == {"B": True}
    mix = optimise(replace(tight, budget=300)).mix.set_index("channel")
    assert mix.loc["B", "fixed_cost"] == 100 and mix.loc["B", "cost"] == 200  # fixed cost booked once


def test_frequency_levels_trade_depth_for_breadth():
    # k=1: 0.3 for 1 元, k=2: 0.5 for 2 元, at most one level per customer, 10 customers, 15 元.
    # Vertices: 10×k1 = 3.0; 5×k1 + 5×k2 = 4.0; 7×k2 (+1 k1) = 3.8 → 5 and 5.
    p = MixProblem(sizes={"a": 10}, options=(opt("A", 0.3, 1.0, k=1), opt("A", 0.5, 2.0, k=2)), budget=15)
    r = optimise(p)
    assert r.solution.objective == pytest.approx(4.0)
    assert sorted(zip(r.mix["contacts_per_customer"], r.mix["customers_contacted"], strict=True)) == [(1, 5), (2, 5)]


def test_contact_cap_limits_the_tier():
    # free contacts, but the tier may be contacted at most 70 of 100: 70 × 0.5 = 35
    p = MixProblem(sizes={"a": 100}, options=(opt("A", 0.5, 0.0),), budget=0, caps={"高价值": (70.0, {"a": 1.0})})
    r = optimise(p)
    assert r.solution.objective == pytest.approx(35)
    cap = r.constraints.set_index("kind").loc["cap"]
    assert cap["binding"] and cap["used"] == pytest.approx(70)


def test_cap_counts_a_segment_by_its_share_of_the_tier():
    # audience s is half in the tier: contacting 100 of s uses 50 of the tier's cap of 30 → at most 60 of s
    p = MixProblem(sizes={"s": 100}, options=(opt("A", 1.0, 0.0, audience="s"),), budget=0,
                   caps={"t": (30.0, {"s": 0.5})})
    assert solve(p).objective == pytest.approx(60)


def test_contact_limit_holds_for_every_customer_not_on_average():
    # two channels, 2 contacts each, ≤ 3 contacts per customer. On average the limit allows A to
    # all 100 and B to 50 (2·100 + 2·50 = 3 × 100 → 60), but then 50 customers get 4 contacts.
    # Per customer only one of the two fits: 100 × 0.4 = 40. (k=4 is above the limit: not offered.)
    p = MixProblem(sizes={"a": 100}, options=(opt("A", 0.4, 0.0, k=2), opt("B", 0.4, 0.0, k=2),
                                              opt("A", 0.9, 0.0, k=4)),
                   budget=0, max_contacts={"a": 3.0})
    r = optimise(p)
    assert r.solution.objective == pytest.approx(40)
    assert most_contacts(p, r.solution) == {"a": 2.0}
    average_only = MixSolution("optimal", x=np.array([100.0, 50.0]), z={"a": 100.0})
    assert most_contacts(p, average_only) == {"a": 4.0}  # what the average rule would have allowed
    freq = r.constraints.set_index("kind").loc["frequency"]
    assert freq["used"] == pytest.approx(2.0) and freq["limit"] == 3 and freq["unit"] == "次/人"
    # one more contact per customer (4): A four times (0.9) to all 100 → 90, 50 more than now
    assert freq["binding"] and freq["shadow_price"] == pytest.approx(50)


def test_contact_limit_per_customer_on_a_larger_mix():
    # four channels, levels 1/2/4/8, cap 10, free contacts, values rising with k: the best mix
    # gives every customer as much as fits, and no customer gets more than 10 in any assignment
    options = tuple(opt(ch, v * (1 - 0.7 ** k), 0.0, k=k) for ch, v in (("A", 0.5), ("B", 0.4), ("C", 0.3),
                                                                         ("D", 0.2)) for k in (1, 2, 4, 8))
    p = MixProblem(sizes={"a": 50}, options=options, budget=0, max_contacts={"a": 10.0})
    r = optimise(p)
    assert r.ok and most_contacts(p, r.solution)["a"] <= 10
    assert r.mix.groupby("channel")["contacts_per_customer"].max().sum() <= 10
    loose = optimise(replace(p, max_contacts={}))  # without the limit everybody gets 8 on every channel
    assert most_contacts(p, loose.solution)["a"] == 32 and loose.solution.objective > r.solution.objective


def test_preferred_channel_wins_a_tie():
    base = MixProblem(sizes={"a": 100}, options=(opt("A", 0.5, 1.0), opt("B", 0.5, 1.0, preferred=True)), budget=100)
    mix = optimise(base).mix.set_index("channel")["customers_contacted"]
    assert mix.to_dict() == {"B": 100}
    flipped = replace(base, options=(opt("A", 0.5, 1.0, preferred=True), opt("B", 0.5, 1.0)))
    assert optimise(flipped).mix.set_index("channel")["customers_contacted"].to_dict() == {"A": 100}


def test_disallowed_channels_are_not_used():
    p = MixProblem(sizes={"a": 100}, options=(opt("A", 0.5, 1.0), opt("B", 0.9, 1.0, allowed=False)), budget=100)
    r = optimise(p)
    assert set(r.mix["channel"]) == {"A"} and r.solution.objective == pytest.approx(50)


def test_infeasible_budget_says_how_much_is_missing():
    # covering 80 of 100 at 2 元 each needs 160 元, there are 100: relaxing the budget or the coverage helps
    p = MixProblem(sizes={"a": 100}, options=(opt("A", 0.5, 2.0),), budget=100, min_coverage={"a": 0.8})
    r = optimise(p)
    assert not r.ok and r.solution.status == "infeasible"
    text = "\n".join(r.infeasible)
    assert "至少需要 160 元" in text and "只有 100 元" in text and "差 60 元" in text
    assert "最低覆盖 80% 达不到" in text and "最多只能覆盖 50.0%" in text


def test_infeasible_because_of_allowed_channels_names_them():
    # only B (fixed 1,000 元) is allowed and the budget is 500: all 10 customers cannot be covered.
    # Fixes: allow A (10 元), or a budget of 1,000 + 10 × 1 = 1,010 元, or drop the coverage.
    p = MixProblem(sizes={"a": 10}, options=(opt("A", 0.5, 1.0, allowed=False), opt("B", 0.5, 1.0)),
                   budget=500, fixed_costs={"B": 1000.0}, min_coverage={"a": 1.0}, names={"A": "短信", "B": "线下活动"})
    reasons = explain_infeasible(p)
    assert reasons[0] == "以下任一约束放宽即可得到可行方案:" and len(reasons) == 4
    assert any("只允许使用 线下活动" in r for r in reasons)
    assert any("至少需要 1,010 元" in r for r in reasons)


def test_cap_against_coverage_conflict_names_both_sides():
    p = MixProblem(sizes={"a": 100}, options=(opt("A", 0.5, 0.0),), budget=0,
                   min_coverage={"a": 0.9}, caps={"高价值": (70.0, {"a": 1.0})})
    text = "\n".join(optimise(p).infeasible)
    assert "高价值 的触达上限(70 人)" in text and "至少触达 90 人" in text
    assert "最多只能覆盖 70.0%" in text


def test_single_fix_and_fixes_that_only_work_together():
    # coverage 60% meets a cap of 50 and a budget worth 50 customers: relaxing the budget alone
    # leaves the cap, relaxing the cap alone leaves the budget; relaxing the coverage fixes both.
    p = MixProblem(sizes={"a": 100}, options=(opt("A", 0.5, 2.0),), budget=100,
                   caps={"t": (50.0, {"a": 1.0})}, min_coverage={"a": 0.6})
    reasons = explain_infeasible(p)
    assert reasons[0] == "无法满足的约束:" and "最低覆盖 60% 达不到" in reasons[1]
    # two audiences each breaking their own cap: no single relaxation is enough, a pair is
    p2 = MixProblem(sizes={"a": 100, "b": 100},
                    options=(opt("A", 0.5, 0.0), opt("A", 0.5, 0.0, audience="b")), budget=0,
                    caps={"t": (50.0, {"a": 1.0}), "u": (50.0, {"b": 1.0})},
                    min_coverage={"a": 0.6, "b": 0.6})
    reasons = explain_infeasible(p2)
    assert reasons[0].startswith("单独放宽任何一项约束都不够")


def test_nothing_to_choose_is_not_an_error():
    p = MixProblem(sizes={"a": 100}, options=(opt("A", 0.5, 1.0, allowed=False),), budget=100)
    r = optimise(p)
    assert r.solution.status == "empty" and r.mix.empty


def test_the_marginal_budget_question_follows_the_budget():
    # 10 % of the channel budget on a 1-2-5 step, unless the plan names the amount
    assert [extra_step(b) for b in (150, 2_000, 2_129, 25_000, 640_000)] == [10, 200, 200, 2_000, 50_000]
    assert extra_step(2_000, 1_000) == 1_000
    p = MixProblem(sizes={"a": 100}, options=(opt("A", 0.5, 1.0), opt("B", 0.8, 2.0)), budget=150)
    r = optimise(p)
    assert r.extra["step"] == 10 and r.extra["budget"] == 160
    assert r.extra["gain"] == pytest.approx(4.0)  # the budget's shadow price is 0.4 per yuan
