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


def test_sources_read_underneath_are_hashed_not_loaded_and_reported(tmp_path):
    """Stage 02's per-customer path: the orders are not loaded (nor the customer list derived from
    them), their file is still an input of the stage (for --resume), and the load report names how
    they were read, with 无数据 — not 0 — for the rows set aside that this path does not count."""
    import json

    from planlib.metrics import customers as needs
    from planlib.run.stage import sentinel_path

    plan = _orders_only_plan(tmp_path, "客户编号,客户名称,下单日期,消费金额\nC1,张三,2024-04-01,10\n"
                                       "C2,李四,2024-04-02,20\nC1,张三,2024-04-03,30\n")
    ctx = open_stage("02_needs", plan, tmp_path / "run")
    skip = needs.sources_underneath(ctx.plan, ctx.loaded.base_dir, "duckdb")
    data = ctx.all_data(skip=skip)
    assert skip == ("transactions",) and data == {} and ctx.load_notes == {}
    tx_path = ctx.loaded.resolve(ctx.plan.data.transactions.path)
    assert any(key.endswith(tx_path.name) for key in ctx.inputs)
    analysis = needs.analyse_data(data, ctx.plan, ctx.loaded.base_dir, "duckdb")
    assert analysis.engine == "duckdb" and list(data["customers"]["customer_id"]) == ["C1", "C2"]
    ctx.record_source(analysis.source_note)
    row = ctx.load_report().iloc[0]
    assert row["source"] == "交易表(由 DuckDB 按客户汇总,未整表读入)" and row["rows"] == 3
    assert row["excluded"] == "无数据" and row["path"] == tx_path.name
    ctx.finish()
    assert json.loads(sentinel_path(ctx.run_dir, "02_needs").read_text(encoding="utf-8"))["sources"] == {}
    ctx.record_source(None)  # the pandas path records nothing
