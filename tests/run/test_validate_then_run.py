"""Property: whenever `planlib validate` accepts an edited plan, `planlib run` runs it.

Random edits of the demo plan of the kind planners make in the forms (an emptied unit, dates moved,
amounts changed, a dependency added, a cap lowered …), two per variant, with fixed seeds so a
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

    edits = [unit_emptied, task_moved, budget_changed, dependency_added, contacts_changed, cap_lowered,
             goal_target_changed, phase_moved]
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
        if validate_files([path]):
            continue
        accepted.append(made)
        result = run_plan(path, output_root=demo.parent.parent.parent / "outputs", log=lambda _: None)
        assert result.ok, f"seed {seed} ({', '.join(made)}): validate passed but run failed — {result.folder}"
    assert merged["goals"], "the demo plan has goals to edit"
    assert len(accepted) >= 3, f"only {len(accepted)} variants validated: the property was hardly exercised"
