"""A kernel running several stages reuses the parsed plan and data, never stale or shared."""

from __future__ import annotations

import pytest
from conftest import make_small_demo

from planlib.data.demo import ensure_demo_data
from planlib.plan.planfile import load_plan
from planlib.run import stage
from planlib.run.stage import open_stage


@pytest.fixture
def plan(tmp_path):
    path = make_small_demo(tmp_path, customers=200)
    loaded = load_plan(path)
    ensure_demo_data(loaded.plan.data, loaded.base_dir)
    stage._PLAN_CACHE.clear()
    stage._SOURCE_CACHE.clear()
    return path


def test_the_plan_is_read_once_while_its_files_are_unchanged(plan, tmp_path, monkeypatch):
    reads = []
    real = stage.load_plan
    monkeypatch.setattr(stage, "load_plan", lambda p: reads.append(p) or real(p))
    first = open_stage("01_goals", plan, tmp_path / "run")
    second = open_stage("02_needs", plan, tmp_path / "run")
    assert len(reads) == 1
    assert first.plan == second.plan and first.plan is not second.plan  # each stage its own copy
    second.plan.meta.owner = "别人"
    assert open_stage("03_channels", plan, tmp_path / "run").plan.meta.owner == first.plan.meta.owner


def test_an_edited_plan_or_base_file_is_read_again(plan, tmp_path, monkeypatch):
    reads = []
    real = stage.load_plan
    monkeypatch.setattr(stage, "load_plan", lambda p: reads.append(p) or real(p))
    before = open_stage("01_goals", plan, tmp_path / "run").plan
    plan.write_text(plan.read_text(encoding="utf-8") + "\n# 已复核\n", encoding="utf-8")
    assert open_stage("02_needs", plan, tmp_path / "run").plan == before
    assert len(reads) == 2  # a comment changes no value, but the file was read again
    base = plan.parent / "base.yaml"
    base.write_text(base.read_text(encoding="utf-8").replace("owner: 市场部经理", "owner: 新负责人", 1), encoding="utf-8")
    assert open_stage("03_channels", plan, tmp_path / "run").plan.meta.owner == "新负责人"
    assert len(reads) == 3


def test_data_is_parsed_once_and_each_stage_gets_its_own_frame(plan, tmp_path, monkeypatch):
    calls = []
    import planlib.data.load

    real = planlib.data.load.load_source
    monkeypatch.setattr(planlib.data.load, "load_source", lambda *a: calls.append(a[0]) or real(*a))
    first = open_stage("01_goals", plan, tmp_path / "run").data("customers")
    first.loc[:, "customer_id"] = "改掉"
    second = open_stage("02_needs", plan, tmp_path / "run").data("customers")
    assert calls == ["customers"]
    assert (second["customer_id"] != "改掉").all()


def test_changed_data_is_parsed_again(plan, tmp_path):
    ctx = open_stage("01_goals", plan, tmp_path / "run")
    before = ctx.data("customers")
    source = ctx.loaded.resolve(ctx.plan.data.customers.path)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    source.write_text("".join(lines[:-1]), encoding="utf-8")  # one customer fewer
    after = open_stage("02_needs", plan, tmp_path / "run").data("customers")
    assert len(after) == len(before) - 1
