"""planlib.proposal.evaluation: the evaluation design written before the quarter."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from planlib.metrics import power
from planlib.plan.planfile import load_plan
from planlib.proposal import evaluation as E

NIP = NormalIndPower()


@pytest.fixture
def plan(root):
    return load_plan(root / "parameters" / "demo" / "2024Q3.yaml").plan


def _goal(plan, **changes):
    return plan.goals[0].model_copy(update=changes)


def test_goal_not_compared_with_control_says_so(plan):
    g = E.design_goal(plan, _goal(plan, metric="participation_rate", target=72.0), 64.7, 5000)
    assert not g.compared and g.status == "not_compared" and not g.undetectable
    assert "不做对照检验" in g.text


def test_detectable_goal_uses_the_control_group_drawn(plan):
    # repurchase 15 % -> 20 % on 5,000 customers with 1,013 drawn into control (planned 20 %)
    g = E.design_goal(plan, _goal(plan, target=20.0), 15.0, 5000, n_control=1013)
    assert (g.n_treated, g.n_control) == (3987, 1013)
    assert g.status == "detectable" and not g.fix
    h = proportion_effectsize(0.20, 0.15)
    ref = NIP.power(h, nobs1=3987, alpha=0.05, ratio=1013 / 3987)
    assert g.design.power_at_target == pytest.approx(ref, rel=1e-9)
    # the MDE is the change with exactly 80 % power at this split
    p1 = 0.15 + g.design.mde_pp / 100
    assert NIP.power(proportion_effectsize(p1, 0.15), nobs1=3987, alpha=0.05, ratio=1013 / 3987) == pytest.approx(0.8, abs=1e-6)


def test_raise_control_share_names_the_share(plan):
    plan.review.control_share = 5
    g = E.design_goal(plan, _goal(plan, target=12.0), 5.0, 700)
    assert g.status == "raise_control_share" and g.undetectable
    assert "把对照组比例从 5% 提高到 22%" in g.fix  # scratch/16's measured case: 700 customers, 5 % -> 12 %


def test_cannot_within_audience_is_said_plainly(plan):
    g = E.design_goal(plan, _goal(plan, target=20.0), 15.91, 461, n_control=94)
    assert g.status == "cannot_within_audience"
    assert "本受众(461 人)内无法检测" in g.fix
    d = g.design
    assert d.power_at_half < 0.8 and d.audience_needed > 461
    assert f"{d.audience_needed:,} 人" in g.fix


def test_no_control_group_and_no_baseline_are_not_judged(plan):
    plan.review.control_share = 0
    g = E.design_goal(plan, _goal(plan), 15.0, 500)
    assert g.status == "invalid" and "review.control_share" in g.fix
    plan.review.control_share = 20
    g = E.design_goal(plan, _goal(plan), None, 500)
    assert g.status == "invalid" and "baseline" in g.fix


def test_ab_test_sizes_match_statsmodels(plan):
    table = E.ab_test_table(plan, {"sms": 367.0, "wecom": 367.0})
    assert list(table["测试"]) == [t.name for t in plan.review.ab_tests]
    for row, test in zip(table.itertuples(), plan.review.ab_tests, strict=True):
        ch = next(c for c in plan.channels.catalogue if c.id == test.channel)
        p0 = ch.reach_rate * ch.open_rate / 100 if test.metric == "open_rate" else \
            ch.reach_rate * ch.open_rate * ch.response_rate / 10_000
        ratio = test.share_b / (100 - test.share_b)
        ref = NIP.solve_power(proportion_effectsize(p0 / 100 + test.mde / 100, p0 / 100), nobs1=None, alpha=0.05,
                              power=0.8, ratio=ratio)
        assert row[8] == f"{math.ceil(ref):,}"  # A 版样本
        n_total = int(row[10].replace(",", ""))
        assert row[12].startswith("样本足够") == (n_total <= 367)


def test_meetings_month_end_workdays_and_review_within_three_workdays(plan):
    m = E.meetings_table(plan)
    days = dict(zip(m["会议"], m["日期"], strict=True))
    assert days["7月数据复盘"] == date(2024, 7, 31) and days["8月数据复盘"] == date(2024, 8, 30)  # 08-31 is a Saturday
    assert days["活动复盘会"] == date(2024, 9, 18)  # 执行期 ends Sun 09-15: Mon, Tue, Wed
    assert (m["负责人"] == plan.meta.owner).all()
    assert list(m["日期"]) == sorted(m["日期"])


def test_template4_has_targets_and_empty_actuals(plan):
    t4 = E.template4(plan)
    assert list(t4.columns) == ["评估维度", "核心指标", "目标值", "实际值", "达成情况", "分析与改进建议"]
    assert (t4[["实际值", "达成情况", "分析与改进建议"]] == "").all().all()
    assert "≤45元/人" in set(t4["目标值"]) and "≥72%" in set(t4["目标值"])


def test_kpi_table_has_formula_source_window_and_direction(plan):
    k = E.kpi_table(plan).set_index("指标")
    assert k.loc["单客户成本", "方向"] == "越低越好"
    assert k.loc["活动后30天复购率", "数据来源"] == "客户表、互动记录、交易表"
    assert "参与后 30 天内" in k.loc["活动后30天复购率", "测量窗口"]
    assert k.loc["目标客户参与率", "测量窗口"].endswith("2024-09-15")  # G2's deadline


def test_verdict_names_the_undetectable_goal(plan):
    customers = pd.DataFrame({"customer_id": [f"C{i}" for i in range(461)], "in_scope": True,
                              "control": [i < 94 for i in range(461)]})
    design = E.evaluation_design(plan, customers)
    assert [g.goal.id for g in design.undetectable] == ["G1"]
    assert design.verdict().startswith("与对照组比较的 1 个目标中 1 个(G1)按计划无法可靠检测")
    assert (design.control_size, design.treated_size) == (94, 367)
    assert power.split_audience(461, 94 / 461) == (367, 94)


def test_spend_goal_gets_the_smallest_difference_in_yuan(plan):
    from statsmodels.stats.power import TTestIndPower

    rng = np.random.default_rng(3)
    ids = pd.Series([f"C{i:04d}" for i in range(600)])
    buyers = ids.sample(300, random_state=1)
    tx = pd.DataFrame({"customer_id": buyers.to_numpy(), "amount": rng.gamma(2.0, 150.0, 300),
                       "order_date": pd.Timestamp("2024-06-20")})
    early = tx.assign(order_date=pd.Timestamp("2024-05-01"))  # outside the 30-day window: not counted
    mean, sd = E.spend_per_customer(pd.concat([tx, early]), ids, date(2024, 6, 30), 30)
    values = tx.set_index("customer_id")["amount"].reindex(ids, fill_value=0.0)
    assert mean == pytest.approx(values.mean()) and sd == pytest.approx(values.std(ddof=1))

    g = E.design_goal(plan, _goal(plan, metric="roi", target=150.0), None, 600, n_control=120, spend=(mean, sd))
    d = TTestIndPower().solve_power(nobs1=480, ratio=120 / 480, alpha=0.05, power=0.8)
    assert g.status == "mde_only" and not g.undetectable
    assert g.spend_mde == pytest.approx(sd * d, rel=1e-3)
    assert f"人均 {g.spend_mde:,.0f} 元" in g.text
    no_data = E.design_goal(plan, _goal(plan, metric="roi", target=150.0), None, 600, n_control=120, spend=(0.0, 0.0))
    assert no_data.status == "invalid" and no_data.undetectable
