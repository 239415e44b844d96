"""planlib.stages.review.design: the outcome against the evaluation design registered before the quarter."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from planlib.stages.review import design as D
from planlib.stages.review.uplift import COLUMNS, ITT
from tests.conftest import demo_plan


def effects(n1: int, n0: int, uplift: float, low: float, high: float, significant: bool | None,
            spend: tuple[float, float, float] = (5.0, -20.0, 30.0)) -> pd.DataFrame:
    rows = []
    for metric, (u, lo, hi) in (("repurchase", (uplift, low, high)), ("spend", spend)):
        row = dict.fromkeys(COLUMNS)
        row.update(metric=metric, comparison=ITT, group_customers=n1, control_customers=n0, uplift=u, ci_low=lo,
                   ci_high=hi, p_value=0.5, significant=significant if metric == "repurchase" else False,
                   outcome="复购率" if metric == "repurchase" else "人均消费")
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("group_customers", "control_customers"):
        frame[col] = frame[col].astype("Int64")
    frame["significant"] = frame["significant"].astype("boolean")
    return frame


def g1(check: pd.DataFrame) -> pd.Series:
    return check.set_index("goal_id").loc["G1"]


def test_power_at_the_achieved_sample_matches_statsmodels():
    plan = demo_plan()  # G1: repurchase 5 % → 12 %, control share 20 %
    row = g1(D.design_check(plan, effects(400, 100, 3.0, -2.0, 8.0, False)))
    h = proportion_effectsize(0.12, 0.05)
    assert row["power"] == pytest.approx(NormalIndPower().power(h, nobs1=400, alpha=0.05, ratio=100 / 400), abs=1e-6)
    assert row["planned_change"] == pytest.approx(7.0)
    assert row["planned_share"] == 20 and row["achieved_share"] == pytest.approx(20.0) and row["share_kept"]


def test_not_significant_with_too_little_power_is_not_no_effect():
    plan = demo_plan()
    row = g1(D.design_check(plan, effects(160, 40, 3.0, -5.0, 11.0, False)))
    assert row["power"] < 0.8 and not row["sample_ok"] and row["needed"] > 200
    assert "不代表没有效果" in row["conclusion"] and f"{int(row['needed']):,} 人" in row["conclusion"]


def test_not_significant_with_enough_power_means_smaller_than_planned():
    plan = demo_plan()
    row = g1(D.design_check(plan, effects(4000, 1000, 0.5, -1.0, 2.0, False)))
    assert row["power"] >= 0.8 and row["sample_ok"]
    assert "很可能小于计划" in row["conclusion"] and "不代表没有效果" not in row["conclusion"]


def test_significant_says_the_effect_is_real():
    row = g1(D.design_check(demo_plan(), effects(4000, 1000, 6.0, 4.0, 8.0, True)))
    assert row["conclusion"].startswith("效果真实") and "高 6.0 个百分点" in row["conclusion"]


def test_a_control_share_off_the_plan_is_said():
    row = g1(D.design_check(demo_plan(), effects(4500, 500, 0.5, -1.0, 2.0, False)))  # 10 % instead of 20 %
    assert not row["share_kept"] and row["achieved_share"] == pytest.approx(10.0)
    assert row["conclusion"].startswith("对照组比例偏离计划(计划 20%,实际 10.0%)")


def test_small_groups_get_no_verdict():
    row = g1(D.design_check(demo_plan(), effects(20, 5, 3.0, -5.0, 11.0, None)))
    assert "样本不足" in row["conclusion"]


def test_measured_baseline_from_stage_01_wins():
    goals = pd.DataFrame({"goal_id": ["G1"], "baseline": [8.0]})
    row = g1(D.design_check(demo_plan(), effects(400, 100, 3.0, -2.0, 8.0, False), goals))
    assert row["planned_change"] == pytest.approx(4.0)


def test_spend_goals_get_the_detectable_difference_from_the_interval():
    plan = demo_plan(goals=[{"id": "G9", "name": "人均消费", "metric": "roi", "segment": "沉睡中价值客户",
                             "target": 50, "direction": "increase", "unit": "%", "deadline": date(2024, 6, 30)}])
    check = D.design_check(plan, effects(400, 100, 3.0, -2.0, 8.0, False, spend=(5.0, -19.6, 29.6)))
    row = check.iloc[0]
    assert row["effect"] == "spend" and row["mde"] == pytest.approx((1.959964 + 0.841621) * 12.55, rel=1e-3)
    assert "无法确认" in row["conclusion"]


def test_display_and_summary_rows():
    check = D.design_check(demo_plan(), effects(160, 40, 3.0, -5.0, 11.0, False))
    shown = D.display_frame(check).set_index("检查项")
    assert list(shown.index) == list(D.LABELS.values()) and list(shown.columns) == ["G1"]
    assert shown.loc[D.LABELS["share_text"], "G1"] == "20% / 20.0%(按计划)"
    assert shown.loc[D.LABELS["sample_text"], "G1"].endswith("(不足)")
    assert shown.loc[D.LABELS["power_text"], "G1"] == f"{check['power'][0]:.0%}"
    rows = D.summary_rows(check)
    assert rows[0]["goal_id"] == "G1" and rows[0]["sample_ok"] is False and isinstance(rows[0]["power"], float)


def test_workbook_view_shows_table_conclusion_and_settings_or_why_nothing(monkeypatch):
    from planlib.stages.review import views

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append(obj["text/html"]))
    views.show_design_check(D.design_check(demo_plan(), effects(160, 40, 3.0, -5.0, 11.0, False)))
    assert len(shown) == 3 and "评估设计检查(计划 vs 实际)" in shown[0]
    assert "不代表没有效果" in shown[1] and "功效 80%" in shown[2]
    shown.clear()
    views.show_design_check(D.design_check(demo_plan(goals=[demo_plan().goals[1].model_dump()]), effects(
        160, 40, 3.0, -5.0, 11.0, False)))  # participation is not compared against the control group
    assert len(shown) == 1 and "无需检查评估设计" in shown[0]
