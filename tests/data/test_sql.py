"""Database sources (planlib/data/sql.py) against a real PostgreSQL, a DuckDB file and a refused MySQL port."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pgserver import free_port
from pydantic import ValidationError

from planlib.cli import EXIT_INVALID, main
from planlib.data.load import load_source
from planlib.data.sql import check_source, mask_url
from planlib.errors import DataError, PlanValidationError
from planlib.metrics.customers import analyse
from planlib.metrics.measure import compute_kpis
from planlib.plan.planfile import load_plan
from planlib.plan.schema import DataSource

CANONICAL_TX = ["order_id", "customer_id", "order_date", "amount"]


# ---------------------------------------------------------------------------------- the schema
@pytest.mark.parametrize(("fields", "message"), [
    ({}, "path(文件)或 url(数据库)其中一个"),
    ({"path": "a.csv", "url": "duckdb:///x.duckdb", "table": "t"}, "path(文件)或 url(数据库)其中一个"),
    ({"url": "duckdb:///x.duckdb"}, "table(表名)或 query(查询语句)其中一个"),
    ({"url": "duckdb:///x.duckdb", "table": "t", "query": "SELECT 1"}, "table(表名)或 query(查询语句)其中一个"),
    ({"path": "a.csv", "table": "t"}, "table/query 只用于数据库数据源"),
])
def test_a_source_is_one_file_or_one_table_or_query(fields, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DataSource(**fields)


def test_a_password_written_into_the_url_is_refused_without_being_repeated(tmp_path):
    DataSource(url="postgresql+psycopg://planner:${PLANLIB_DB_PASSWORD}@db/crm", table="t")  # allowed
    DataSource(url="postgresql+psycopg://planner@db/crm?password=${PW}", table="t")
    with pytest.raises(ValidationError, match="不能直接写密码"):
        DataSource(url="postgresql+psycopg://planner@db/crm?sslmode=require&password=S3cretPw", table="t")
    plan = tmp_path / "p.yaml"
    from conftest import plan_dict
    from ruamel.yaml import YAML

    data = plan_dict()
    data["data"]["transactions"] = {"url": "postgresql+psycopg://planner:S3cretPw@db/crm", "table": "t"}
    YAML().dump(data, plan)
    with pytest.raises(PlanValidationError) as caught:
        load_plan(plan)
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "不能直接写密码" in text and "${PLANLIB_DB_PASSWORD}" in text
    assert "S3cretPw" not in text


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg://planner:${PW}@db:5432/crm", "postgresql+psycopg://planner:***@db:5432/crm"),
    ("mysql+pymysql://u:p%40ss@h/db?charset=utf8mb4", "mysql+pymysql://u:***@h/db?charset=utf8mb4"),
    ("postgresql+psycopg://planner@db/crm", "postgresql+psycopg://planner@db/crm"),
    ("duckdb:///data/crm.duckdb", "duckdb:///data/crm.duckdb"),
    ("postgresql+psycopg://u@h/db?sslmode=require&password=${PW}", "postgresql+psycopg://u@h/db?sslmode=require&password=***"),
])
def test_mask_url(url, shown):
    assert mask_url(url) == shown


def test_an_unset_password_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("PLANLIB_NOT_SET_PW", raising=False)
    source = DataSource(url="postgresql+psycopg://planner:${PLANLIB_NOT_SET_PW}@127.0.0.1/crm", table="t")
    with pytest.raises(DataError) as caught:
        load_source("transactions", source, tmp_path)
    assert len(caught.value.problems) == 1
    assert "环境变量 PLANLIB_NOT_SET_PW 没有设置" in str(caught.value)
    assert "planner:***@" in str(caught.value)


# ---------------------------------------------------------------------------------- PostgreSQL
def _frames(plan_path):
    loaded = load_plan(plan_path)
    data = loaded.plan.data
    return loaded, {name: load_source(name, getattr(data, name), loaded.base_dir)
                    for name in ("customers", "transactions", "interactions", "surveys", "tickets")}


def test_postgres_tables_load_like_the_csv_files(pg_demo, db_password):
    _, from_csv = _frames(pg_demo.csv_plan)
    _, from_pg = _frames(pg_demo.pg_plan)
    customers_csv, customers_pg = from_csv["customers"].frame, from_pg["customers"].frame
    assert len(customers_pg) > 500
    pd.testing.assert_frame_equal(customers_pg, customers_csv)  # Chinese headers, all columns text
    tx_csv, tx_pg = from_csv["transactions"].frame, from_pg["transactions"].frame
    # typed columns (timestamp, float), one renamed to its Chinese header in the query
    pd.testing.assert_frame_equal(tx_pg[CANONICAL_TX], tx_csv[CANONICAL_TX])
    assert from_pg["transactions"].columns["order_id"] == "订单编号"
    assert from_pg["transactions"].path is None
    assert db_password not in repr(from_pg["transactions"].fingerprint)


@pytest.mark.parametrize("demo, plan, password", [("pg_demo", "pg_plan", "db_password"),
                                                   ("mysql_demo", "mysql_plan", "mysql_password")])
def test_tiers_clv_and_kpis_from_the_database_equal_those_from_csv(demo, plan, password, request):
    demo = request.getfixturevalue(demo)
    request.getfixturevalue(password)  # the password in the environment variable the URL names
    loaded, from_csv = _frames(demo.csv_plan)
    _, from_pg = _frames(getattr(demo, plan))
    results = []
    for frames in (from_csv, from_pg):
        data = {name: r.frame for name, r in frames.items()}
        needs = analyse(data["customers"], data["transactions"], loaded.plan, data["tickets"])
        kpis = compute_kpis(loaded.plan, data, needs.customers)
        results.append((needs.customers, kpis))
    (cust_csv, kpis_csv), (cust_pg, kpis_pg) = results
    pd.testing.assert_frame_equal(cust_pg, cust_csv)
    assert cust_csv["tier"].nunique() > 1 and cust_csv["clv"].notna().any()
    assert {k: (v.value, v.parts) for k, v in kpis_pg.items()} == {k: (v.value, v.parts) for k, v in kpis_csv.items()}
    assert any(v.value for v in kpis_csv.values())


def test_fingerprint_changes_with_the_table_content(pg_demo, db_password, tmp_path):
    pg_demo.server.psql("DROP TABLE IF EXISTS orders_fp; CREATE TABLE orders_fp AS SELECT * FROM orders; "
                        "ALTER TABLE orders_fp OWNER TO planlib")
    source = DataSource(url=pg_demo.url, table="orders_fp")
    first = load_source("transactions", source, tmp_path)
    again = load_source("transactions", source, tmp_path)
    assert first.fingerprint == again.fingerprint
    assert first.fingerprint["rows"] == len(first.frame)
    assert first.fingerprint["source"] == f"{mask_url(pg_demo.url)} 表 orders_fp"
    pg_demo.server.psql("UPDATE orders_fp SET amount = amount + 1 WHERE order_id = "
                        "(SELECT min(order_id) FROM orders_fp)")
    changed = load_source("transactions", source, tmp_path)
    assert changed.fingerprint["rows"] == first.fingerprint["rows"]
    assert changed.fingerprint["sha256"] != first.fingerprint["sha256"]


def _one_line_error(source: DataSource, tmp_path, *secrets: str) -> str:
    with pytest.raises(DataError) as caught:
        load_source("transactions", source, tmp_path)
    text = str(caught.value)
    assert len(caught.value.problems) == 1 and "\n" not in text
    assert "Traceback" not in text and caught.value.__cause__ is None
    for secret in secrets:
        assert secret not in text
    return text


def test_a_wrong_password_is_one_line_without_the_password(pg_demo, db_password, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANLIB_TEST_DB_PASSWORD", "Wrong-pw-4711")
    text = _one_line_error(DataSource(url=pg_demo.url, table="orders"), tmp_path, "Wrong-pw-4711", db_password)
    assert "数据库拒绝了用户名或密码" in text and "data.transactions(" in text and "planlib:***@" in text


def test_a_missing_table_is_named(pg_demo, db_password, tmp_path):
    text = _one_line_error(DataSource(url=pg_demo.url, table="no_such_orders"), tmp_path, db_password)
    assert "数据库中没有表 no_such_orders" in text


def test_a_missing_column_in_a_query_is_named(pg_demo, db_password, tmp_path):
    text = _one_line_error(DataSource(url=pg_demo.url, query="SELECT customer_id, no_such FROM orders"),
                           tmp_path, db_password)
    assert "不存在的表或列" in text and "no_such" in text


def test_a_table_without_select_permission(pg_demo, db_password, tmp_path):
    pg_demo.server.psql("DROP TABLE IF EXISTS locked_orders; CREATE TABLE locked_orders AS SELECT * FROM orders")
    text = _one_line_error(DataSource(url=pg_demo.url, table="locked_orders"), tmp_path, db_password)
    assert "没有读取权限" in text and "SELECT 权限" in text


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
def test_a_server_that_does_not_answer(scheme, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANLIB_TEST_DB_PASSWORD", "Pw-not-shown-1")
    url = f"{scheme}://planlib:${{PLANLIB_TEST_DB_PASSWORD}}@127.0.0.1:{free_port()}/planlib"
    text = _one_line_error(DataSource(url=url, table="orders"), tmp_path, "Pw-not-shown-1")
    assert "连接不上数据库服务器" in text and "主机名和端口" in text


def test_check_source_reads_no_rows_and_names_missing_columns(pg_demo, db_password, tmp_path):
    assert check_source("transactions", DataSource(url=pg_demo.url, table="orders"), tmp_path) == []
    problems = check_source("transactions", DataSource(url=pg_demo.url, query="SELECT customer_id FROM orders"),
                            tmp_path)
    missing = sorted(p.message.split("(")[0] for p in problems)
    assert missing == ["缺少必需的列 amount", "缺少必需的列 order_date"]


@pytest.mark.parametrize("demo, password, plan, table, wrong", [
    ("pg_demo", "db_password", "pg_plan", "crm_customers", "crm_kunden"),
    ("mysql_demo", "mysql_password", "mysql_plan", "客户", "客户表"),
])
def test_validate_checks_each_database_source(demo, password, plan, table, wrong, request, capsys):
    plan, password = getattr(request.getfixturevalue(demo), plan), request.getfixturevalue(password)
    assert main(["validate", str(plan)]) == 0
    base = plan.parent / "base.yaml"
    text = base.read_text(encoding="utf-8")
    try:
        base.write_text(text.replace(f"table: {table}", f"table: {wrong}"), encoding="utf-8")
        assert main(["validate", str(plan)]) == EXIT_INVALID
    finally:
        base.write_text(text, encoding="utf-8")
    err = capsys.readouterr().err
    assert f"数据库中没有表 {wrong}" in err and password not in err


# ---------------------------------------------------------------------------------- DuckDB files
def test_a_duckdb_file_loads_like_the_csv(pg_demo, tmp_path):
    import duckdb

    loaded, from_csv = load_plan(pg_demo.csv_plan), None
    from_csv = load_source("transactions", loaded.plan.data.transactions, loaded.base_dir).frame[CANONICAL_TX]
    with duckdb.connect(str(tmp_path / "crm.duckdb")) as con:
        con.register("tx", from_csv.rename(columns={"customer_id": "客户编号"}))
        con.execute("CREATE SCHEMA sales; CREATE TABLE sales.orders AS SELECT * FROM tx")
    source = DataSource(url="duckdb:///crm.duckdb", table="sales.orders")
    result = load_source("transactions", source, tmp_path)
    pd.testing.assert_frame_equal(result.frame[CANONICAL_TX], from_csv)
    text = _one_line_error(DataSource(url="duckdb:///crm.duckdb", table="sales.nope"), tmp_path)
    assert "数据库中没有表 sales.nope" in text


# ---------------------------------------------------------------------------------- a whole run
@pytest.mark.slow
def test_planlib_run_from_postgres_publishes_what_the_csv_run_does(pg_demo, db_password, demo_run, tmp_path):
    """``planlib run`` with customers and transactions in PostgreSQL (the kernels get the password
    from the environment): tiers, CLV, segments and KPIs equal the CSV run of the same company, and
    neither the manifest, the report nor the notebooks hold the password."""
    from planlib.data.results import load
    from planlib.run.runner import run_plan

    csv_result = demo_run[0]
    result = run_plan(pg_demo.pg_plan, output_root=tmp_path / "outputs", log=lambda line: None)
    assert result.status == "ok" == csv_result.status, result.stages
    # stage 01's baselines and stage 05's figures asked the database (metrics.orders.SourceOrders)
    for name in ("customers", "tier_summary", "segments", "goals", "kpi_values", "kpis", "uplift"):
        pd.testing.assert_frame_equal(load(result.folder, name), load(csv_result.folder, name), obj=name)
    manifest = (result.folder / "manifest.json").read_text(encoding="utf-8")
    assert "planlib:***@" in manifest
    for path in result.folder.rglob("*"):
        if path.is_file():
            assert db_password.encode() not in path.read_bytes(), path
    # each stage's sentinel records the fingerprints of the database sources it read (for the manifest)
    from planlib.run.stage import sentinel_path

    needs = json.loads(sentinel_path(result.folder, "02_needs").read_text(encoding="utf-8"))
    for stage in ("01_goals", "05_review"):  # they read the orders in the database too: --resume must know
        sources = json.loads(sentinel_path(result.folder, stage).read_text(encoding="utf-8"))["sources"]
        assert len(sources["transactions"]["sha256"]) == 64, stage
    assert needs["sources"]["customers"]["rows"] == len(load(result.folder, "customers"))
    assert needs["sources"]["customers"]["source"].endswith("表 crm_customers")
    assert len(needs["sources"]["transactions"]["sha256"]) == 64 and needs["sources"]["transactions"]["rows"] > 1000
    report = (result.folder / "report.html").read_text(encoding="utf-8")
    assert "crm_customers" in report  # the load report names the table the customers came from
    # stage 02 took the per-customer path: the orders were aggregated in PostgreSQL, not loaded
    assert "交易表(由数据库按客户汇总,未整表读入)" in report
    csv = load_plan(pg_demo.csv_plan)
    assert needs["sources"]["transactions"]["rows"] == len(
        load_source("transactions", csv.plan.data.transactions, csv.base_dir).frame)


def test_the_run_folder_records_a_database_source_without_its_password(pg_demo, db_password):
    from planlib.run.folder import data_files, inputs_digest

    loaded = load_plan(pg_demo.pg_plan)
    files = {f["source"]: f for f in data_files(loaded)}
    assert files["transactions"] == {"source": "transactions", "url": f"{mask_url(pg_demo.url)} 查询",
                                     "query": "SELECT * FROM (SELECT order_id AS 订单编号, customer_id, order_date, "
                                              "amount FROM orders) AS planlib_source"}
    assert files["customers"]["url"].endswith("表 crm_customers")
    assert db_password not in repr(files) and "${" not in repr(files)
    assert inputs_digest(pg_demo.pg_plan, loaded) != inputs_digest(pg_demo.csv_plan)


def test_peek_reads_a_database_sources_columns_without_rows(pg_demo, db_password, tmp_path):
    from planlib.data.contract import peek

    found = peek("transactions", DataSource(url=pg_demo.url, table="orders"), tmp_path)
    assert {"order_id", "customer_id", "order_date", "amount"} <= found.found and found.problem == ""
    assert found.sample.empty and "planlib:***@" in found.label
    missing = peek("transactions", DataSource(url=pg_demo.url, table="no_orders"), tmp_path)
    assert "数据库中没有表 no_orders" in missing.problem and db_password not in missing.problem


def test_validate_reads_no_whole_table_or_large_file_for_the_channel_checks(pg_demo, monkeypatch):
    """The channel-cost and contact-cap checks need audience sizes; validate gets them from small
    files only — a database is asked whether it answers (LIMIT 0), a large file is left to stage 03."""
    from planlib.data import aggregate, sql
    from planlib.plan.planfile import load_plan
    from planlib.run.audiences import audience_data

    def no_connection(*_args, **_kwargs):
        raise AssertionError("audience_data connected to the database")

    monkeypatch.setattr(sql, "connect", no_connection)
    loaded = load_plan(pg_demo.pg_plan)
    note = audience_data(loaded.plan, loaded.base_dir)
    assert isinstance(note, str) and "客户数据来自数据库" in note and "阶段 03" in note
    files = load_plan(pg_demo.csv_plan)
    assert not isinstance(audience_data(files.plan, files.base_dir), str)  # small files: sizes read
    monkeypatch.setattr(aggregate, "DUCKDB_MIN_BYTES", {"csv": 0, "parquet": 0})
    note = audience_data(files.plan, files.base_dir)
    assert isinstance(note, str) and "交易数据量大" in note


def test_an_orders_only_unit_with_its_orders_in_postgres_runs_as_from_its_export(pg_demo, db_password, tmp_path):
    """The shop unit (only an order export: title rows, ￥ text, no order id, no customer table) with
    its orders in PostgreSQL instead: every stage reads them in the database — the customer list
    from stage 02's result (stage 03 on), baselines and KPIs from metrics.orders.SourceOrders — and
    the figures equal those of the run from the export."""
    import shutil

    import sqlalchemy as sa
    from conftest import ROOT
    from pgserver import load_frame

    from planlib.data.demo import ensure_demo_data
    from planlib.data.results import load
    from planlib.run.runner import run_plan

    unit = tmp_path / "parameters" / "shop"
    shutil.copytree(ROOT / "parameters" / "shop", unit)
    (tmp_path / "workbooks").mkdir()
    base = (unit / "base.yaml").read_text(encoding="utf-8").replace("customers: 1500", "customers: 600")
    (unit / "base.yaml").write_text(base, encoding="utf-8")
    export = load_plan(unit / "2024Q2.yaml")
    ensure_demo_data(export.plan.data, export.base_dir)
    orders = load_source("transactions", export.plan.data.transactions, export.base_dir).frame
    engine = sa.create_engine(pg_demo.server.url)
    try:
        load_frame(engine, "shop_orders", orders[["customer_id", "order_date", "amount"]])
    finally:
        engine.dispose()
    in_db = tmp_path / "parameters" / "shop_db"
    shutil.copytree(unit, in_db)
    text = (in_db / "base.yaml").read_text(encoding="utf-8")
    text = text.replace("    path: ../../outputs/demo_data/shop/orders.xlsx",
                        f"    url: {pg_demo.url}\n    table: shop_orders")
    (in_db / "base.yaml").write_text(text, encoding="utf-8")

    runs = [run_plan(plan, output_root=tmp_path / name, log=lambda line: None)
            for plan, name in ((unit / "2024Q2.yaml", "from_export"), (in_db / "2024Q2.yaml", "from_db"))]
    assert [r.status for r in runs] == ["ok", "ok"], [r.stages for r in runs]
    # the same customers and figures; the list from the export keeps the export's order, the
    # database's is sorted by ID (as stage 02's per-customer path lists them)
    tables = [load(r.folder, "customers").sort_values("customer_id", ignore_index=True) for r in runs]
    figures = [c for c in tables[0].columns if c not in ("name", "phone")]
    pd.testing.assert_frame_equal(tables[1][figures], tables[0][figures])
    for name in ("goals", "channel_plan", "kpis", "kpi_values", "uplift"):
        pd.testing.assert_frame_equal(load(runs[1].folder, name), load(runs[0].folder, name), obj=name)
    kpis = load(runs[1].folder, "kpis").set_index("kpi")
    assert kpis.loc["repurchase_rate", "actual"] > 0 and kpis.loc["churn_rate", "actual"] > 0
    report = (runs[1].folder / "report.html").read_text(encoding="utf-8")
    assert "交易表(由数据库按客户汇总,未整表读入)" in report
