"""Property: whenever `planlib validate` accepts an edited plan, `planlib run` runs it.

Random edits of the demo plan of the kind planners make in the forms (an emptied unit, dates moved,
amounts changed, a dependency added, a cap lowered, a channel over its budget line, a task starting
before its dependency ends …), two per variant, with fixed seeds so a
failure is reproducible. A variant the validator refuses is fine — that is its job; a variant it
accepts must run all five stages, or the validator missed something it could have checked.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import make_small_demo
from ruamel.yaml import YAML

from planlib.plan.planfile import load_plan, validate_files
from planlib.run.audiences import audience_data
from planlib.run.runner import run_plan

pytestmark = pytest.mark.slow

SEEDS = range(16)


def _edits(plan: dict, rng: random.Random) -> list[str]:
    """Two random edits of ``plan`` (changed in place); their names, for the failure message."""
    def unit_emptied():
        rng.choice(plan["goals"])["unit"] = ""

    def task_moved():
        task = rng.choice(plan["tasks"])
        days = timedelta(days=rng.randint(-20, 20))
        task["start"] += days
        task["end"] += days + timedelta(days=rng.randint(-5, 5))

    def budget_changed():
        line = rng.choice(plan["budget"]["lines"])
        line["planned"] = round(line["planned"] * rng.choice([0.2, 0.5, 2, 5]), 2)

    def dependency_added():
        a, b = rng.sample([t["id"] for t in plan["tasks"]], 2)
        next(t for t in plan["tasks"] if t["id"] == a).setdefault("depends_on", []).append(b)

    def contacts_changed():
        row = rng.choice(plan["channels"]["plan"])
        row["contacts_per_customer"] = rng.choice([0.5, 1, 3, 12, 40])

    def cap_lowered():
        caps = plan["channels"].setdefault("contact_caps", {})
        tier = rng.choice([t["name"] for t in plan["segmentation"]["tiers"]])
        caps[tier] = rng.choice([5, 30, 70])

    def goal_target_changed():
        goal = rng.choice(plan["goals"])
        goal["target"] = round(goal["target"] * rng.choice([0.5, 1.25, 2]), 2)

    def phase_moved():
        phase = rng.choice(plan["meta"]["phases"])
        phase["end"] += timedelta(days=rng.randint(-10, 10))

    def channel_over_budget_line():
        # the line paying for a channel shrinks (or the channel's contacts grow) past its cost
        if rng.random() < 0.5:
            line = next(x for x in plan["budget"]["lines"] if x.get("channel"))
            line["planned"] = rng.choice([10, 50, 200])
        else:
            row = next(r for r in plan["channels"]["plan"] if r["channel"] == "wecom")
            row["contacts_per_customer"] = rng.choice([20, 60, 100])

    def dependency_overlap():
        # a task moved to start before (or on) the end of a task it depends on
        task = rng.choice([t for t in plan["tasks"] if t.get("depends_on")])
        dep_id = rng.choice(task["depends_on"])
        dep = next(t for t in plan["tasks"] if t["id"] == dep_id)
        length = task["end"] - task["start"]
        task["start"] = dep["end"] - timedelta(days=rng.randint(0, 3))
        task["end"] = task["start"] + length

    edits = [unit_emptied, task_moved, budget_changed, dependency_added, contacts_changed, cap_lowered,
             goal_target_changed, phase_moved, channel_over_budget_line, dependency_overlap]
    chosen = rng.sample(edits, 2)
    for edit in chosen:
        edit()
    return [e.__name__ for e in chosen]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return make_small_demo(tmp_path_factory.mktemp("property"), customers=300)


def test_every_plan_validate_accepts_runs(demo):
    merged = load_plan(demo).data
    yaml = YAML()
    accepted = []
    for seed in SEEDS:
        plan = load_plan(demo).data  # a fresh copy of the merged plan (extends resolved)
        made = _edits(plan, random.Random(seed))
        path = demo.parent / f"variant{seed}.yaml"
        with path.open("w", encoding="utf-8") as fh:
            yaml.dump(plan, fh)
        if validate_files([path], audiences=audience_data):  # what `planlib validate` and the forms check
            continue
        accepted.append(made)
        result = run_plan(path, output_root=demo.parent.parent.parent / "outputs", log=lambda _: None)
        assert result.ok, f"seed {seed} ({', '.join(made)}): validate passed but run failed — {result.folder}"
    assert merged["goals"], "the demo plan has goals to edit"
    assert len(accepted) >= 3, f"only {len(accepted)} variants validated: the property was hardly exercised"


def test_validate_refuses_the_analysis_problems_a_stage_would_only_warn_about(demo):
    """The new edit kinds are caught by `validate` itself (before: both passed and only stage 03/04 warned)."""
    yaml = YAML()

    def problems(edit) -> list[str]:
        plan = load_plan(demo).data
        edit(plan)
        path = demo.parent / "edited.yaml"
        with path.open("w", encoding="utf-8") as fh:
            yaml.dump(plan, fh)
        return [f"{p.where}: {p.message}" for p in validate_files([path], audiences=audience_data)]

    def line_shrunk(plan):
        next(x for x in plan["budget"]["lines"] if x.get("channel") == "wecom")["planned"] = 10

    def overlap(plan):
        t5 = next(t for t in plan["tasks"] if t["id"] == "T5")
        t5["start"] -= timedelta(days=3)

    assert problems(lambda plan: None) == []
    budget = problems(line_shrunk)  # over its own line, and so over all promotion lines
    assert all(p.startswith("channels.plan[0].contacts_per_customer: ") for p in budget)
    assert "企业微信/社群的渠道成本约" in budget[0] and "超出对应的预算明细 10 元" in budget[0]
    assert "超出推广费预算 10 元" in budget[1]
    [order] = problems(overlap)
    assert order.startswith("tasks[4].start: 任务 T5 于") and "前置任务 T4" in order
