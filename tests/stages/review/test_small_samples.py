"""The one small-sample rule (planlib.plan.kpis.MIN_BASE = 30) through the review: a figure on fewer
than 30 customers, orders or scores gets no verdict and no ratio headline — 样本不足 in template 4,
its chart, the diagnosis, the summary, the funnel, the uplift and the A/B tests.

The scenario: 60 in-scope customers, 20 of them held out (control), so 40 treatment customers; 12
take part. Before the campaign window the target group placed only 15 orders (100 元 each), in it 40
orders of 85.7 元: 客单价提升率 −14.3 % from 15 orders before, which must not be a finding.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import demo_plan

from planlib.plan.kpis import MIN_BASE, SMALL_SAMPLE, small_sample_text, status, too_small
from planlib.stages.review import charts
from planlib.stages.review.analysis import actions, analyse, kpi_display
from stages.review.test_analysis import CAMP

IDS = [f"C{i:03d}" for i in range(60)]
TREATMENT = IDS[:40]


def scenario():
    cr = pd.DataFrame({"customer_id": IDS, "tier": "中价值客户", "in_scope": True,
                       "control": [i >= 40 for i in range(60)]})
    inter = pd.DataFrame({"customer_id": TREATMENT, "campaign": CAMP, "channel": "sms", "variant": "",
                          "sent_at": pd.Timestamp("2024-04-10 09:00"),
                          "opened_at": pd.Timestamp("2024-04-10 10:00"), "clicked_at": pd.Timestamp("2024-04-10 10:05"),
                          "responded_at": [pd.Timestamp("2024-04-12") if i < 12 else pd.NaT for i in range(40)]})
    before = pd.DataFrame({"customer_id": IDS[:15], "order_date": pd.Timestamp("2024-02-01"), "amount": 100.0})
    during = pd.DataFrame({"customer_id": IDS[:40], "order_date": pd.Timestamp("2024-05-01"), "amount": 85.7})
    tx = pd.concat([before, during], ignore_index=True)
    tx.insert(0, "order_id", [f"O{i}" for i in range(len(tx))])
    plan = demo_plan(kpis=[{"kpi": "aov_uplift", "target": 5}, {"kpi": "participation_rate", "target": 70},
                           {"kpi": "repurchase_30d", "target": 12}])
    return plan, {"interactions": inter, "transactions": tx}, cr


def test_the_rule_is_stated_once():
    assert MIN_BASE == 30
    assert too_small(29) and not too_small(30) and not too_small(None) and not too_small(float("nan"))
    assert status("aov_uplift", 5, -14.3, base=15) == SMALL_SAMPLE
    assert status("aov_uplift", 5, -14.3, base=30) == "未达成"
    assert status("aov_uplift", 5, -14.3) == "未达成"  # a manual actual has no base to judge
    assert small_sample_text(15) == "样本不足(n=15,少于 30)"


@pytest.fixture(scope="module")
def review():
    plan, data, cr = scenario()
    return plan, analyse(plan, data, cr)


def test_a_ratio_from_15_orders_before_is_no_finding(review):
    plan, r = review
    aov = r.values["aov_uplift"]
    assert aov.value == pytest.approx(-14.3) and aov.base == 15
    row = r.table.set_index("kpi").loc["aov_uplift"]
    assert row["status"] == SMALL_SAMPLE and row["advice"] == ""
    assert row["suggestion"].startswith("样本不足: 客单价提升率只基于 15 个样本(少于 30)")
    shown = kpi_display(r.table).set_index("kpi")
    assert shown.loc["aov_uplift", "actual_text"] == "样本不足(n=15,少于 30)"
    assert "aov_uplift" not in set(actions(plan, r.table)["kpi"])  # no action on a non-finding
    # the summary: counted as 样本不足, never a 未达成 headline with −14.3 %
    assert r.summary["status_counts"][SMALL_SAMPLE] == 2  # aov_uplift and repurchase_30d (12 participants)
    assert not any("客单价" in h or "-14.3" in h for h in r.summary["headlines"])
    # the participation rate rests on 40 customers: a real verdict
    assert r.table.set_index("kpi").loc["participation_rate", "status"] == "未达成"
    assert any("参与 12 人,参与率 30%" in h for h in r.summary["headlines"])


def test_charts_say_small_sample_instead_of_a_ratio(review):
    _, r = review
    fig = charts.kpi_attainment(r.table)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts.count(SMALL_SAMPLE) == 2 and "-286%" not in texts  # −14.3 / 5 would read −286 %
    steps = r.funnel.set_index("step")
    assert steps.loc["参与", "rate_of_previous"] == pytest.approx(100 * 12 / 40)  # base 40: a rate
    assert pd.isna(steps.loc["复购", "rate_of_previous"])  # base 12 participants: none
    from planlib.stages.review.views import funnel_wide

    sms = funnel_wide(r.by_channel).set_index("渠道").loc["短信"]
    assert sms["参与"] == "12(30%)" and sms["复购"].endswith(f"({SMALL_SAMPLE})")  # 12 participants: no rate
    funnel_texts = [t.get_text() for ax in charts.funnel(r.funnel).axes for t in ax.texts]
    assert any(t.startswith(f"较上一步 —({SMALL_SAMPLE})") for t in funnel_texts)


def test_uplift_on_a_control_group_of_20_has_no_verdict(review):
    _, r = review
    assert r.uplift["significant"].isna().all()  # control 20 < 30 in every comparison
    assert r.uplift["note"].str.startswith(SMALL_SAMPLE).all()
    assert r.summary["effect"] == {}
    assert any("复购率 样本不足(实验组 40 人、对照组 20 人),不下结论" in h for h in r.summary["headlines"])
    from planlib.stages.review.analysis import budget_figures

    assert budget_figures(r.values, r.uplift)["ROI(增量:对比对照组)"] == "样本不足(实验组 40 人、对照组 20 人),不计算"
    assert budget_figures(r.values, r.uplift)["ROI(毛收入:参与客户归因收入)"] == "样本不足(n=12,少于 30)"
    fig = charts.uplift_ci(r.uplift)  # drawn, in the 样本不足 colour, without raising on the NA verdict
    assert any(t.get_text() == f"{SMALL_SAMPLE},不下结论" for t in fig.legends[0].get_texts())


def test_breakdowns_say_small_sample():
    from planlib.metrics.measure import breakdown_wide

    plan, data, cr = scenario()
    # tier B: treatment C030–C039 (none took part) and 10 control customers; tier A: the rest
    tiers = ["B" if 30 <= i < 40 or i >= 50 else "A" for i in range(60)]
    r = analyse(plan, data, cr.assign(tier=tiers))
    wide = breakdown_wide(r.kpi_values, "tier").set_index("指标")
    assert wide.loc["目标客户参与率", "B"] == "样本不足(n=10,少于 30)"  # not "0%"
    assert wide.loc["目标客户参与率", "A"] == "40%"  # 12 of A's 30 treatment customers
