"""SMART check and baselines (stage 01) on the demo plan and small hand-made frames.

Period 2024-04-01~2024-06-30 (91 days), so the history windows are
1: 2024-01-01~2024-03-31, 2: 2023-10-02~2023-12-31, 3: 2023-07-03~2023-10-01, 4: 2023-04-03~2023-07-02.
"""

from __future__ import annotations

import math
from copy import deepcopy
from datetime import date

import pandas as pd
import pytest
from conftest import deep_merge, demo_dict

from planlib.data import results
from planlib.data.results import SPECS
from planlib.plan.schema import Plan
from planlib.stages.goals.smart import historical_range, segment_members, smart_check

CAMP = "2024Q2-reactivation"


def make_plan(**changes) -> Plan:
    """The demo plan with G1's baseline left for the data to measure, and ``changes`` merged in."""
    data = demo_dict()
    data["goals"][0].pop("baseline", None)
    return Plan.model_validate(deep_merge(data, deepcopy(changes)))


def goal(**changes) -> dict:
    g = {"id": "G9", "name": "季度内目标客户满意度提升到4.5分", "metric": "csat", "segment": "沉睡中价值客户",
         "target": 4.5, "direction": "increase", "unit": "分", "deadline": date(2024, 6, 30),
         "relevance": "满意度决定激活后能否留住客户"}
    return {**g, **changes}


def customers_result() -> pd.DataFrame:
    # S01–S08 in scope (S08 control), P01–P04 potential tier out of scope
    ids = [f"S{i:02d}" for i in range(1, 9)] + [f"P{i:02d}" for i in range(1, 5)]
    return pd.DataFrame({
        "customer_id": ids,
        "tier": ["中价值客户"] * 8 + ["潜力客户"] * 4,
        "recency_days": [200.0] * 8 + [10.0] * 4,
        "frequency": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 2, 1],
        "monetary": [3000.0] * 12,
        "in_scope": [True] * 8 + [False] * 4,
        "control": [False] * 7 + [True] + [False] * 4,
    })


def data() -> dict[str, pd.DataFrame]:
    rows = [  # in-scope CSAT per window: w1 mean 4.2, w2 4.0, w3 4.4, w4 none
        *[("S01", "2024-02-01", s) for s in (4, 4, 5, 4, 4)],
        *[("S02", "2023-11-01", s) for s in (4, 4)],
        *[("S03", "2023-08-01", s) for s in (4, 5, 4, 5, 4)],
        ("P01", "2024-02-01", 2), ("P02", "2024-03-01", 3),  # the 潜力客户 tier: mean 2.5 in w1
        ("S04", "2024-05-01", 1),  # inside the period: never part of a baseline
    ]
    surveys = pd.DataFrame({
        "customer_id": [r[0] for r in rows], "survey_date": pd.to_datetime([r[1] for r in rows]),
        "nps": pd.array([None] * len(rows), dtype="Int64"), "csat": pd.array([r[2] for r in rows], dtype="Int64"),
        "comment": [""] * len(rows),
    })
    interactions = pd.DataFrame({  # the campaign only exists inside the period
        "customer_id": ["S01"], "campaign": [CAMP], "channel": ["sms"], "variant": [""],
        "sent_at": [pd.Timestamp("2024-04-10")], "opened_at": [pd.NaT], "clicked_at": [pd.NaT],
        "responded_at": [pd.NaT],
    })
    transactions = pd.DataFrame({"order_id": ["O1"], "customer_id": ["S01"],
                                 "order_date": [pd.Timestamp("2023-01-10")], "amount": [100.0]})
    return {"surveys": surveys, "interactions": interactions, "transactions": transactions}


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("goal_id")


def test_result_has_the_goals_columns():
    out = smart_check(make_plan())
    assert set(SPECS["goals"].columns) <= set(out.columns)
    assert out["goal_id"].tolist() == ["G1", "G2", "G3"]


def test_result_passes_the_stage_handover(tmp_path):
    out = smart_check(make_plan(), data(), customers_result())
    results.save(tmp_path, "goals", out)
    assert results.load(tmp_path, "goals")["smart_ok"].tolist() == [False, True, True]


def test_demo_goals_without_data():
    out = by_id(smart_check(make_plan()))
    g2 = out.loc["G2"]  # baseline 0 from the plan: relative change not judged, everything else holds
    assert g2["smart_ok"] and g2["baseline"] == 0 and g2["baseline_source"] == "计划填写" and g2["notes"] == ""
    g1 = out.loc["G1"]
    assert math.isnan(g1["baseline"])
    assert g1["baseline_source"] == "无法测算: 未提供数据或阶段02的客户分层结果"
    assert not g1["achievable"] and not g1["smart_ok"]
    assert g1[["specific", "measurable", "relevant", "time_bound"]].all()
    assert g1["notes"].startswith("A: 缺少基线")


def test_baseline_is_measured_in_the_window_before_the_period():
    out = by_id(smart_check(make_plan(), data(), customers_result()))
    g3 = out.loc["G3"]
    assert g3["baseline"] == pytest.approx(4.2)
    assert g3["baseline_source"] == "数据测算(2024-01-01~2024-03-31)"
    assert (g3["history_min"], g3["history_max"]) == pytest.approx((4.0, 4.4))
    assert g3["smart_ok"], g3["notes"]
    g1 = out.loc["G1"]  # the campaign did not run before the period: no 30-day repurchase to measure
    assert g1["baseline_source"].startswith("无法测算: 2024-01-01~2024-03-31 内没有活动 2024Q2-reactivation")


def test_baseline_falls_back_to_the_newest_window_with_data():
    frames = data()
    frames["surveys"] = frames["surveys"][frames["surveys"]["survey_date"] < "2024-01-01"]
    row = by_id(smart_check(make_plan(), frames, customers_result())).loc["G3"]
    assert row["baseline"] == pytest.approx(4.0)
    assert row["baseline_source"] == "数据测算(2023-10-02~2023-12-31;紧邻计划的窗口无数据)"


def test_historical_range_newest_first():
    hist = historical_range(make_plan(), "csat", data(), customers_result())
    assert hist["window_start"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-01", "2023-10-02", "2023-07-03", "2023-04-03"]
    assert hist["value"].iloc[:3].tolist() == pytest.approx([4.2, 4.0, 4.4])
    assert math.isnan(hist["value"].iloc[3]) and hist["explanation"].iloc[3].startswith("无数据")


def test_baseline_for_a_tier_segment():
    plan = make_plan(goals=[goal(segment="潜力客户", target=3.0)])
    row = smart_check(plan, data(), customers_result()).iloc[0]
    assert row["baseline"] == pytest.approx(2.5)  # P01 2, P02 3


def test_target_beyond_the_widened_history_is_not_achievable():
    # 4.9 is +16.7 % on 4.2 (under the 50 % limit) but beyond the best 4.4 + max(spread 0.4, 10 % of 4.4)
    row = smart_check(make_plan(goals=[goal(target=4.9)]), data(), customers_result()).iloc[0]
    assert not row["achievable"]
    assert "远超近3期历史范围 4~4.4" in row["notes"]


@pytest.mark.parametrize(("changes", "letter", "phrase"), [
    ({"segment": "不存在的客群"}, "specific", "未在 scope/segmentation 中定义"),
    ({"unit": "%"}, "measurable", "单位 '%' 与指标目录的单位 '分' 不一致"),
    ({"direction": "decrease", "target": 4.0, "baseline": 4.2}, "measurable", "方向 decrease 与指标方向(越高越好)相反"),
    ({"relevance": "  "}, "relevant", "缺少相关性说明"),
    ({"deadline": date(2024, 7, 15)}, "time_bound", "截止日期 2024-07-15 不在计划周期 2024-04-01~2024-06-30 内"),
    ({"baseline": 2.0}, "achievable", "相对基线变化 +125.0%,超过 ±50% 的合理幅度"),
    ({"baseline": 4.6}, "achievable", "目标值 4.5 未高于基线 4.6"),
    ({"baseline": 4.0, "target": 6.0}, "achievable", "超出该指标可能的取值范围 1~5"),
])
def test_each_smart_failure_is_flagged_and_explained(changes, letter, phrase):
    row = smart_check(make_plan(goals=[goal(**changes)])).iloc[0]
    assert not row[letter] and not row["smart_ok"]
    assert phrase in row["notes"]
    others = {"specific", "measurable", "achievable", "relevant", "time_bound"} - {letter}
    if letter != "achievable":  # an unknown baseline also fails A; keep the other letters clean
        others -= {"achievable"}
    assert row[list(others)].all()


def test_nps_goal_in_points_passes_m():
    plan = make_plan(goals=[goal(metric="nps", unit="分", baseline=40.0, target=50.0)])
    row = smart_check(plan).iloc[0]
    assert row["smart_ok"], row["notes"]


def test_segment_members_evaluates_rules_and_tiers():
    plan = make_plan(segmentation={"segments": [
        {"name": "沉睡中价值客户", "tiers": ["中价值客户"], "recency_days": ">=180"},
        {"name": "高频中价值", "tiers": ["中价值客户"], "frequency": ">=3"}]})
    cr = customers_result()
    assert cr.loc[segment_members(plan, cr, "高频中价值"), "customer_id"].tolist() == ["S05", "S06", "S07", "S08"]
    assert segment_members(plan, cr, "潜力客户").sum() == 4
    assert segment_members(plan, cr, "沉睡中价值客户").sum() == 8  # the scope segment: stage 02's in_scope
    assert segment_members(plan, cr, "不存在") is None


@pytest.mark.parametrize("unit", [None, "", "  "])
def test_a_goal_unit_left_empty_uses_the_catalogue_unit(unit):
    # the form's hint says 留空则用 KPI 目录中的单位: an empty unit is no SMART failure and no crash
    changed = goal(unit=unit)
    out = by_id(smart_check(make_plan(goals=[changed])))
    assert "单位" not in out.loc["G9", "notes"]
