"""The stage context of an orders-only plan (planlib.run.stage): the customer list comes from the orders."""

from __future__ import annotations

from data.test_contract import _orders_only_plan

from planlib.data import contract
from planlib.run.stage import open_stage


def test_a_plan_without_a_customer_table_gets_one_from_the_orders(tmp_path):
    plan = _orders_only_plan(tmp_path, "客户编号,客户名称,下单日期,消费金额\nC1,张三,2024-04-01,10\n"
                                       "C2,李四,2024-04-02,20\nC1,张三,2024-04-03,30\n")
    ctx = open_stage("02_needs", plan, tmp_path / "run")
    assert ctx.has_data("customers") and not ctx.has_data("interactions")
    data = ctx.all_data()
    assert list(data) == ["customers", "transactions"]
    assert list(data["customers"]["customer_id"]) == ["C1", "C2"]
    report = ctx.load_report().set_index("source")
    assert report.loc["客户表(由交易表生成)", "rows"] == 2
    gaps = contract.stage_gaps("02_needs", ctx)
    assert "needs.names" not in gaps  # the orders carry the names
    assert "缺少服务工单" in gaps["needs.complaints"]


def test_stage_01_names_goals_the_data_cannot_measure(tmp_path):
    plan = _orders_only_plan(tmp_path, "客户编号,下单日期,消费金额\nC1,2024-04-01,10\n")
    ctx = open_stage("01_goals", plan, tmp_path / "run")
    ctx.all_data()
    notes = contract.goal_gaps(ctx)
    assert len(notes) == 1  # G1 (repurchase_rate) is measured from the orders; G2 needs interactions
    assert notes[0].startswith("目标 G2 的指标「目标客户参与率」无法由数据计算,复盘时为无数据: 缺少互动记录(interactions)")
