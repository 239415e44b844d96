"""Tier movement against last quarter (planlib.stages.needs.movement) and the sales lists (planlib.stages.needs.tierlists)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import rfm_plan
from openpyxl import load_workbook

from planlib.errors import PlanError
from planlib.stages.needs import charts as charts_needs
from planlib.stages.needs import movement, tierlists


def seg(**movement_options):
    plan = rfm_plan(tiers=[{"name": "高价值", "monetary": ">=1000"}, {"name": "流失风险", "recency_days": ">90"},
                            {"name": "活跃", "frequency": ">=1"}],
                     movement=movement_options or {"order": ["高价值", "活跃", "一般", "流失风险"],
                                                   "at_risk": ["流失风险"]})
    return plan


def frames():
    previous = pd.DataFrame({"customer_id": ["A", "B", "C", "D", "E", "F"],
                             "tier": ["活跃", "高价值", "活跃", "活跃", "一般", "高价值"],
                             "frequency": [2, 5, 1, 3, 0, 4], "clv": [100.0, 900, 50, 70, 0, 800]})
    current = pd.DataFrame({"customer_id": ["A", "B", "C", "D", "E", "G"],
                            "tier": ["高价值", "活跃", "流失风险", "活跃", "一般", "活跃"],
                            "frequency": [3, 2, 0, 1, 0, 1], "clv": [300.0, 400, 5, 60, 0, 40],
                            "recency_days": [3.0, 20, 200, 10, np.nan, 5]})
    people = pd.DataFrame({"customer_id": list("ABCDEFG"), "name": ["张三", "李四", "王五", "赵六", "钱七", "孙八", "周九"],
                           "phone": ["13812341234"] * 7})
    return previous, current, people


def test_previous_quarter_and_where_its_result_lives(tmp_path):
    assert movement.previous_quarter("2024Q1") == "2023Q4" and movement.previous_quarter("2024Q3") == "2024Q2"
    run = tmp_path / "outputs" / "demo" / ".2024Q3.staging"
    assert movement.previous_result_path(run, "2024Q3") == (
        tmp_path / "outputs" / "demo" / "2024Q2" / "results" / "customers.parquet")


def test_every_customer_gets_one_movement():
    previous, current, _ = frames()
    moves = movement.transitions(previous, current, seg().segmentation).set_index("customer_id")
    assert moves["movement"].to_dict() == {
        "A": "升级", "B": "降级", "C": "流失", "D": "不变", "E": "不变", "F": "流失", "G": "新进入"}
    assert moves.loc["F", "tier"] == movement.GONE and moves.loc["G", "previous_tier"] == movement.NEW


def test_newly_at_risk_without_losing_the_customer():
    previous, current, _ = frames()
    current.loc[current["customer_id"] == "C", "frequency"] = 1  # still buying, but now in the risk tier
    moves = movement.transitions(previous, current, seg().segmentation).set_index("customer_id")
    assert moves.loc["C", "movement"] == "新增风险"


def test_matrix_summary_and_the_customers_behind_a_cell():
    previous, current, people = frames()
    plan = seg()
    moves = movement.transitions(previous, current, plan.segmentation)
    matrix = movement.transition_matrix(moves, plan.segmentation)
    assert matrix.loc["活跃", "高价值"] == 1 and matrix.loc["高价值", movement.GONE] == 1
    assert matrix.loc["合计", "合计"] == 7 and list(matrix.index)[-2] == movement.NEW
    summary = movement.movement_summary(moves).set_index("movement")
    assert summary.loc["流失", "customers"] == 2 and summary.loc["升级", "main_paths"] == "活跃→高价值 1"
    cell = movement.members(moves, people, previous_tier="高价值", tier="活跃")
    assert cell["customer_id"].tolist() == ["B"] and cell["name"].tolist() == ["李四"]
    lost = movement.members(moves, people, movement="流失")
    assert lost["customer_id"].tolist() == ["F", "C"]  # last quarter's CLV first for customers who left


def test_default_order_puts_risk_tiers_last_and_unknown_tiers_are_reported():
    plan = seg(at_risk=["流失风险"])
    assert movement.tier_order(plan.segmentation) == ["高价值", "活跃", "一般", "流失风险"]
    with pytest.raises(PlanError, match="层级 不存在 没有定义"):
        movement.tier_order(seg(order=["不存在"]).segmentation)


def test_compare_without_a_previous_run_says_so(tmp_path):
    _, current, people = frames()
    plan = seg()
    result = movement.compare(tmp_path / "demo" / "2024Q3", "2024Q3", current, plan.segmentation)
    assert not result.found and "2024Q2" in result.note and result.matrix.empty
    # where to look, as a reviewer reading the report elsewhere can find it: no machine path
    assert f"{tmp_path.name}/demo/2024Q2" in result.note and str(tmp_path.parent) not in result.note
    assert result.examples(people).empty
    charts_needs.tier_transition(result.matrix)  # an empty matrix still draws a "no data" chart


def test_compare_with_a_synthetic_previous_result(tmp_path):
    previous, current, people = frames()
    folder = tmp_path / "demo" / "2024Q2" / "results"
    folder.mkdir(parents=True)
    previous.to_parquet(folder / "customers.parquet")
    plan = seg()
    result = movement.compare(tmp_path / "demo" / ".2024Q3.staging", "2024Q3", current, plan.segmentation)
    assert result.found and result.summary.set_index("movement").loc["升级", "customers"] == 1
    assert result.note.endswith(f"{tmp_path.name}/demo/2024Q2/results/customers.parquet")
    assert str(tmp_path.parent) not in result.note
    examples = result.examples(people)
    assert set(examples["movement"]) == {"升级", "降级", "流失"}
    fig = charts_needs.tier_transition(result.matrix)
    assert fig.axes[0].get_title().startswith("层级变动")


def test_tier_lists_are_masked_per_tier_and_safe_in_excel(tmp_path):
    previous, current, people = frames()
    plan = seg()
    current = current.assign(tier_rule="规则", monetary=[10.0] * 6, rfm_score="111", p_alive=0.5,
                             expected_purchases=1.0, complaints=0.0, in_scope=False, control=False)
    people.loc[0, "name"] = "=HYPERLINK(\"http://x\")"
    moves = movement.transitions(previous, current, plan.segmentation)
    path = tierlists.export_tier_lists(current, people, tmp_path, plan, moves=moves)
    assert path == tmp_path / "exports" / "客户分层名单_t_2024Q2.xlsx"
    book = load_workbook(path)
    assert book.sheetnames == ["高价值", "流失风险", "活跃", "一般", "层级变动"]
    rows = list(book["活跃"].iter_rows(values_only=True))
    assert rows[0][:3] == ("客户编号", "客户名称", "手机号")
    assert {r[0] for r in rows[1:]} == {"B", "D", "G"} and rows[1][2] == "138****1234"
    assert all(r[1].endswith("*") for r in rows[1:])
    first = book["高价值"]["B2"]
    assert first.data_type == "s" and "HYPERLINK" not in str(first.value)  # masked, and never a formula
    info = tierlists.describe_export(path, current, plan)
    assert info["文件"] == "exports/客户分层名单_t_2024Q2.xlsx" and "脱敏" in info["脱敏"]


def test_lifetime_charts_draw():
    values = pd.DataFrame({"tier": ["高价值", "一般"], "customers": [2, 3], "avg_clv": [500.0, np.nan],
                           "clv_share": [100.0, np.nan]})
    assert charts_needs.clv_by_tier(values).axes
    customers = pd.DataFrame({"tier": ["高价值", "一般", "一般"], "frequency": [3, 1, 0],
                              "p_alive": [0.9, 0.4, np.nan]})
    assert charts_needs.p_alive_by_tier(customers, ["高价值", "一般"]).axes
    assert charts_needs.clv_by_tier(values.iloc[0:0]).axes  # no data: a "无数据" chart
