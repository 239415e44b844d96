"""The review on a real (small) demo run: what reviewers read, and the loop into next quarter."""

from __future__ import annotations

import pytest

from planlib.data import results
from planlib.plan.planfile import load_plan
from planlib.quarters.compare import trend_report
from planlib.quarters.nextquarter import new_plan

pytestmark = pytest.mark.slow


def test_review_results_are_published(demo_run):
    result, _, _ = demo_run
    kpis = results.load(result.folder, "kpis").set_index("kpi")
    assert kpis.loc["repurchase_30d", "effect_text"].endswith("]")  # uplift with its 95 % interval
    assert (kpis["status"] == "未达成").any()
    missed = kpis[kpis["status"] == "未达成"]
    assert (missed["suggestion"].str.len() > 20).all() and missed["advice"].ne("").all()
    uplift = results.load(result.folder, "uplift")
    assert set(uplift["metric"]) == {"repurchase", "spend"} and uplift["ci_low"].notna().all()
    tests = results.load(result.folder, "abtests")
    assert set(tests["channel"]) == {"sms"} and tests["mde"].notna().all()  # the demo's SMS timing test
    assert set(results.load(result.folder, "funnel")["by"]) == {"overall", "channel", "tier"}
    assert "open" in set(results.load(result.folder, "actions")["status"])


def test_report_shows_template_4_with_the_effect_check(demo_run):
    result, _, _ = demo_run
    html = result.report.read_text(encoding="utf-8")
    for text in ("效果检验(与对照组比较)", "分析与改进建议", "提升 [95%置信区间]", "最小可检测效应", "互动优化行动计划"):
        assert text in html, text


def test_new_quarter_from_the_run_validates_and_carries_the_open_action(demo_run):
    result, folder, _ = demo_run
    made = new_plan(result.plan, "2024Q3", output_root=folder / "outputs")
    assert made.ok, made.problems
    plan = load_plan(made.path).plan
    carried = [a for a in plan.review.actions if a.owner == "客服专员"]
    assert carried and carried[0].problem == "目标客户参与率未达70%"
    assert plan.goals[0].baseline == round(results.load(result.folder, "kpis").set_index("kpi")
                                           .loc["repurchase_30d", "actual"], 2)
    assert trend_report("demo", root=folder / "outputs").exists()
