"""MySQL sources (planlib/data/sql.py, planlib/data/aggregate.py) against a real MariaDB.

The server is Debian's ``mariadb-server`` started by the ``mysql_server`` fixture
(``tests/mysqlserver.py``); the tables hold the small demo company under Chinese column names.
A MySQL server that does not answer is ``tests/data/test_sql.py::test_a_server_that_does_not_answer``.
"""

from __future__ import annotations

import pandas as pd
import pytest

from planlib.data.aggregate import customer_purchases, purchases_pandas
from planlib.data.load import load_source
from planlib.data.sql import check_source
from planlib.errors import DataError
from planlib.metrics.rfm_inputs import rfm_table_from_source
from planlib.metrics.segment import rfm_as_of, rfm_table
from planlib.plan.planfile import load_plan
from planlib.plan.schema import DataSource
from tests.data.test_aggregate import AS_OF, TRICKY
from tests.data.test_sql import _frames

CANONICAL_TX = ["order_id", "customer_id", "order_date", "amount"]
def _url(mysql_demo, database: str = "planlib") -> str:
    return mysql_demo.url.replace("/planlib?", f"/{database}?")


# ---------------------------------------------------------------------------------- reading
def test_mysql_tables_load_like_the_csv_files(mysql_demo, mysql_password, tmp_path):
    """Chinese (utf8mb4) column names as header aliases, typed and all-text tables, a query."""
    _, from_csv = _frames(mysql_demo.csv_plan)
    _, from_mysql = _frames(mysql_demo.mysql_plan)
    customers_csv = from_csv["customers"].frame
    assert len(customers_csv) > 500
    pd.testing.assert_frame_equal(from_mysql["customers"].frame, customers_csv)
    tx_csv = from_csv["transactions"].frame[CANONICAL_TX]
    pd.testing.assert_frame_equal(from_mysql["transactions"].frame[CANONICAL_TX], tx_csv)  # DATETIME, DECIMAL
    assert from_mysql["transactions"].columns["customer_id"] == "客户编号"
    as_exported = load_source("transactions", DataSource(url=mysql_demo.url, table="订单原文"), tmp_path)
    pd.testing.assert_frame_equal(as_exported.frame[CANONICAL_TX], tx_csv)  # VARCHAR, parsed as the file is
    query = DataSource(url=mysql_demo.url, query="SELECT 订单编号 AS 单号, 客户编号 AS 会员号, 下单日期 AS `时间`, "
                                                 "消费金额 AS `钱` FROM 订单",
                       columns={"时间": "order_date", "钱": "amount"})
    pd.testing.assert_frame_equal(load_source("transactions", query, tmp_path).frame[CANONICAL_TX], tx_csv)
    assert mysql_password not in repr(from_mysql["transactions"].fingerprint)


def test_a_table_name_that_needs_backticks(mysql_demo, mysql_password, tmp_path):
    """A space in a table name and a database-qualified name (库.表) are quoted with backticks."""
    mysql_demo.server.execute("CREATE DATABASE IF NOT EXISTS crm2024 CHARACTER SET utf8mb4; "
                              "DROP TABLE IF EXISTS crm2024.`订单 2024`; "
                              "CREATE TABLE crm2024.`订单 2024` AS SELECT * FROM planlib.订单; "
                              "GRANT SELECT ON crm2024.* TO 'planlib'@'127.0.0.1'")
    expected = load_source("transactions", DataSource(url=mysql_demo.url, table="订单"), tmp_path).frame
    got = load_source("transactions", DataSource(url=mysql_demo.url, table="crm2024.订单 2024"), tmp_path).frame
    pd.testing.assert_frame_equal(got, expected)
    assert check_source("transactions", DataSource(url=mysql_demo.url, table="crm2024.订单 2024"), tmp_path) == []


# ---------------------------------------------------------------------------------- pushdown
def test_customer_purchases_are_pushed_down_into_mysql(mysql_demo, mysql_password, tmp_path):
    """The per-customer aggregation runs in MariaDB (typed table, all-text table, a query) and
    equals the pandas reference on the CSV; the RFM scores equal ``rfm_table``'s."""
    loaded = load_plan(mysql_demo.csv_plan)
    seg = loaded.plan.segmentation.rfm
    as_of = rfm_as_of(loaded.plan)
    customers = load_source("customers", loaded.plan.data.customers, loaded.base_dir).frame
    tx = load_source("transactions", loaded.plan.data.transactions, loaded.base_dir).frame
    reference = purchases_pandas(tx, as_of=as_of, window_days=seg.window_days)
    assert len(reference) > 500 and reference["frequency"].sum() > 1000
    sources = {
        "typed table": DataSource(url=mysql_demo.url, table="订单"),
        "text table": DataSource(url=mysql_demo.url, table="订单原文"),
        "query": DataSource(url=mysql_demo.url, query="SELECT * FROM 订单 WHERE 消费金额 IS NOT NULL"),
        "columns mapping": DataSource(url=mysql_demo.url, query="SELECT 订单编号, 客户编号 AS 账号, 下单日期, "
                                                                "消费金额 FROM 订单", columns={"账号": "customer_id"}),
    }
    for name, source in sources.items():
        for window in (seg.window_days, None):
            got, used = customer_purchases(source, tmp_path, as_of=as_of, window_days=window)
            assert used == "database", name
            expected = reference if window == seg.window_days else purchases_pandas(tx, as_of=as_of, window_days=None)
            pd.testing.assert_frame_equal(got, expected, obj=f"{name}, window {window}")
    got_rfm, used = rfm_table_from_source(customers, sources["typed table"], tmp_path, as_of=as_of,
                                          window_days=seg.window_days, levels=seg.levels)
    assert used == "database"
    pd.testing.assert_frame_equal(got_rfm, rfm_table(customers, tx, as_of=as_of, window_days=seg.window_days,
                                                     levels=seg.levels))


def _tricky_table(mysql_demo, table: str, types: dict[str, str], rows) -> DataSource:
    from mysqlserver import load_rows

    frame = pd.DataFrame(rows, columns=list(types), dtype=object).replace("", None)
    load_rows(mysql_demo.server, table, types, frame)
    return DataSource(url=mysql_demo.url, table=table)


@pytest.mark.parametrize("typed", [True, False], ids=["typed", "text"])
def test_the_purchase_definition_holds_in_mysql(mysql_demo, mysql_password, tmp_path, typed):
    """Refunds joining their order, orders without id grouped by day, net 0 in cents, rows after
    as_of — and IDs that differ only in case stay two customers (MySQL compares text
    case-insensitively unless told otherwise)."""
    rows = [*TRICKY, ("o20", "a", "2024-03-01", "11"), ("o21", "a ", "2024-03-02", "12")]
    types = {"订单编号": "VARCHAR(32)", "客户编号": "VARCHAR(32)",
             "下单日期": "DATETIME" if typed else "VARCHAR(32)", "消费金额": "DECIMAL(12, 2)" if typed else "TEXT"}
    source = _tricky_table(mysql_demo, f"tricky_{'typed' if typed else 'text'}", types, rows)
    got, used = customer_purchases(source, tmp_path, as_of=AS_OF, window_days=60)
    assert used == "database"
    expected = purchases_pandas(load_source("transactions", source, tmp_path).frame, as_of=AS_OF, window_days=60)
    pd.testing.assert_frame_equal(got, expected)
    assert {"A", "a"} <= set(got["customer_id"]) and got.set_index("customer_id").loc["a", "frequency"] == 2


@pytest.mark.parametrize(("rows", "monetary"), [
    ([("o1", "A", "2024-01-10", "￥1,200元"), ("o2", "A", "2024-02-01", "80"), ("o3", "B", "2024-02-03", "1,000.50"),
      ("o3", "B", "2024-02-04", "(0.50)")],
     {"A": 1280.0, "B": 1000.0}),
    ([("o1", "A", "2024年1月10日", "1200"), ("o2", "A", "2024-02-01", "80"), ("o3", "B", "2024/2/3", "30")],
     {"A": 1280.0, "B": 30.0}),
], ids=["amounts", "dates"])
def test_text_mysql_cannot_cast_exactly_is_read_by_the_loader(mysql_demo, mysql_password, tmp_path, rows, monetary):
    """MySQL casts '￥1,200元' and '(0.50)' to 0, '1,000.50' to 1 and '2024年1月10日' to NULL with a warning, not an
    error: such a table is not aggregated in MySQL but read by the loader, which reads them all."""
    types = {"订单编号": "VARCHAR(32)", "客户编号": "VARCHAR(32)", "下单日期": "VARCHAR(32)", "消费金额": "VARCHAR(32)"}
    source = _tricky_table(mysql_demo, "tricky_yuan", types, rows)
    got, used = customer_purchases(source, tmp_path, as_of=AS_OF, window_days=None)
    assert used == "pandas"
    assert got.set_index("customer_id")["monetary"].to_dict() == monetary


def test_a_missing_required_cell_is_left_to_the_loader_which_names_it(mysql_demo, mysql_password, tmp_path):
    """A NULL order date: the pushdown does not silently drop the row; the loader names the cell."""
    types = {"订单编号": "VARCHAR(32)", "客户编号": "VARCHAR(32)", "下单日期": "DATETIME", "消费金额": "DECIMAL(12, 2)"}
    rows = [("o1", "A", pd.Timestamp("2024-01-10"), 10.0), ("o2", "A", None, 20.0)]
    source = _tricky_table(mysql_demo, "tricky_null", types, rows)
    with pytest.raises(DataError, match="列「下单日期」.*缺少值"):
        customer_purchases(source, tmp_path, as_of=AS_OF, window_days=None)


# ---------------------------------------------------------------------------------- the fingerprint
def test_mysql_fingerprint_is_computed_in_the_database_and_follows_the_rows(mysql_demo, mysql_password, tmp_path,
                                                                           monkeypatch):
    """Count and content hash computed in MariaDB (the column names, then one aggregate row come
    back — no order is pulled into Python); it stays while nothing changes and moves when a row is
    added, a value changes, a value becomes NULL, or two identical rows are added (XOR would cancel them)."""
    from planlib.data import sql
    from tests.data.test_sql_fingerprint import _counting_rows

    mysql_demo.server.execute("DROP TABLE IF EXISTS 订单_fp; CREATE TABLE 订单_fp AS SELECT * FROM 订单")
    source = DataSource(url=mysql_demo.url, table="订单_fp")
    loaded = load_source("transactions", source, tmp_path)
    with _counting_rows(monkeypatch) as pulled:
        now = sql.source_fingerprint("transactions", source, tmp_path)
    assert pulled == [0, 1]  # LIMIT 0 for the column names, then the one aggregate row
    assert now == loaded.fingerprint  # what --resume compares equals what the stage recorded
    assert now["rows"] == len(loaded.frame) > 1000 and now["method"].startswith("mysql: count(*)")
    assert now["query"] == "SELECT * FROM `订单_fp`" and mysql_password not in repr(now)
    assert sql.source_fingerprint("transactions", source, tmp_path) == now  # nothing changed

    def fingerprint_after(statement: str) -> dict:
        mysql_demo.server.execute(statement)
        return sql.source_fingerprint("transactions", source, tmp_path)

    added = fingerprint_after("INSERT INTO 订单_fp VALUES ('o-new', 'C0001', '2024-05-01 10:00:00', 12.50)")
    assert added["rows"] == now["rows"] + 1 and added["sha256"] != now["sha256"]
    assert fingerprint_after("DELETE FROM 订单_fp WHERE 订单编号 = 'o-new'") == now  # the content, not a write marker
    first = mysql_demo.server.execute("SELECT MIN(订单编号) FROM 订单_fp")[0][0]
    changed = fingerprint_after(f"UPDATE 订单_fp SET 消费金额 = 消费金额 + 0.01 WHERE 订单编号 = '{first}'")
    assert changed["rows"] == now["rows"] and changed["sha256"] not in (now["sha256"], added["sha256"])
    nulled = fingerprint_after(f"UPDATE 订单_fp SET 客户编号 = NULL WHERE 订单编号 = '{first}'")
    assert nulled["rows"] == now["rows"] and nulled["sha256"] != changed["sha256"]
    twice = fingerprint_after("INSERT INTO 订单_fp VALUES ('o-2', 'C1', '2024-05-01', 1), ('o-2', 'C1', '2024-05-01', 1)")
    assert twice["rows"] == now["rows"] + 2 and twice["sha256"] != nulled["sha256"]


def test_mysql_fingerprint_tells_null_from_text_and_ignores_row_order(mysql_demo, mysql_password, tmp_path):
    """Columns are quoted before joining: ('a,b', NULL) is not ('a', 'b,NULL'); a query with
    ORDER BY is the same data in any order."""
    from planlib.data import sql

    mysql_demo.server.execute("DROP TABLE IF EXISTS fp_pairs; CREATE TABLE fp_pairs (x VARCHAR(8), y VARCHAR(8)); "
                              "INSERT INTO fp_pairs VALUES ('a,b', NULL), ('c', 'd')")

    def of(query: str) -> dict:
        return sql.source_fingerprint("transactions", DataSource(url=mysql_demo.url, query=query), tmp_path)

    one = of("SELECT x, y FROM fp_pairs")
    mysql_demo.server.execute("UPDATE fp_pairs SET x = 'a', y = 'b,NULL' WHERE x = 'a,b'")
    assert of("SELECT x, y FROM fp_pairs")["sha256"] != one["sha256"]
    forward, backward = of("SELECT * FROM 订单 ORDER BY 订单编号"), of("SELECT * FROM 订单 ORDER BY 订单编号 DESC")
    assert {k: v for k, v in forward.items() if k != "query"} == {k: v for k, v in backward.items() if k != "query"}


# ---------------------------------------------------------------------------------- errors
def _one_line_error(source: DataSource, tmp_path, *secrets: str) -> str:
    with pytest.raises(DataError) as caught:
        load_source("transactions", source, tmp_path)
    text = str(caught.value)
    assert len(caught.value.problems) == 1 and "\n" not in text
    assert "Traceback" not in text and caught.value.__cause__ is None
    for secret in secrets:
        assert secret not in text
    assert "planlib:***@" in text and "data.transactions(" in text
    return text


def test_a_wrong_mysql_password_is_one_line_without_either_password(mysql_demo, mysql_password, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("PLANLIB_TEST_DB_PASSWORD", "Wrong-pw-4711")
    text = _one_line_error(DataSource(url=mysql_demo.url, table="订单"), tmp_path, "Wrong-pw-4711", mysql_password)
    assert "数据库拒绝了用户名或密码" in text


def test_an_unknown_mysql_database(mysql_demo, mysql_password, tmp_path):
    """The planner's user may not see other databases, so MySQL answers "access denied" for a
    database that does not exist: the message names both causes and the database."""
    text = _one_line_error(DataSource(url=_url(mysql_demo, "crm_nope"), table="订单"), tmp_path, mysql_password)
    assert "crm_nope" in text and "库名" in text
    mysql_demo.server.execute("GRANT SELECT ON *.* TO 'planlib'@'127.0.0.1'")  # now it may see every database
    try:
        text = _one_line_error(DataSource(url=_url(mysql_demo, "crm_nope"), table="订单"), tmp_path, mysql_password)
        assert "数据库中没有这个库 crm_nope" in text
    finally:
        mysql_demo.server.execute("REVOKE SELECT ON *.* FROM 'planlib'@'127.0.0.1'")


def test_a_missing_mysql_table_is_named(mysql_demo, mysql_password, tmp_path):
    text = _one_line_error(DataSource(url=mysql_demo.url, table="订单_2099"), tmp_path, mysql_password)
    assert "数据库中没有表 订单_2099" in text


def test_a_missing_mysql_column_is_named(mysql_demo, mysql_password, tmp_path):
    text = _one_line_error(DataSource(url=mysql_demo.url, query="SELECT 客户编号, 折扣 FROM 订单"),
                           tmp_path, mysql_password)
    assert "不存在的表或列" in text and "折扣" in text
    problems = check_source("transactions", DataSource(url=mysql_demo.url, query="SELECT 客户编号 FROM 订单"), tmp_path)
    assert sorted(p.message.split("(")[0] for p in problems) == ["缺少必需的列 amount", "缺少必需的列 order_date"]


def test_a_mysql_table_without_select_permission(mysql_demo, mysql_password, tmp_path):
    mysql_demo.server.execute("CREATE DATABASE IF NOT EXISTS finance; DROP TABLE IF EXISTS finance.orders; "
                              "CREATE TABLE finance.orders AS SELECT * FROM planlib.订单; "
                              "GRANT INSERT ON finance.orders TO 'planlib'@'127.0.0.1'")
    text = _one_line_error(DataSource(url=mysql_demo.url, table="finance.orders"), tmp_path, mysql_password)
    assert "没有读取权限" in text and "SELECT 权限" in text
    with pytest.raises(DataError, match="没有读取权限"):  # the pushdown says the same
        customer_purchases(DataSource(url=mysql_demo.url, table="finance.orders"), tmp_path, as_of=AS_OF,
                           window_days=None)


def test_a_zero_date_is_named_not_a_traceback(mysql_demo, mysql_password, tmp_path):
    """MySQL's '0000-00-00' (and a 0 month or day) in a DATETIME column: the loader names the cell,
    and the pushdown leaves it to the loader instead of aggregating an impossible date."""
    mysql_demo.server.execute(
        "SET SESSION sql_mode = ''; DROP TABLE IF EXISTS tricky_zero; "
        "CREATE TABLE tricky_zero (订单编号 VARCHAR(32), 客户编号 VARCHAR(32), 下单日期 DATETIME, 消费金额 DOUBLE); "
        "INSERT INTO tricky_zero VALUES ('o1', 'A', '2024-01-10 10:00:00', 10), ('o2', 'A', '0000-00-00 00:00:00', 20), "
        "('o3', 'B', '2024-00-10 00:00:00', 5)")
    source = DataSource(url=mysql_demo.url, table="tricky_zero")
    for read in (lambda: load_source("transactions", source, tmp_path),
                 lambda: customer_purchases(source, tmp_path, as_of=AS_OF, window_days=None)):
        with pytest.raises(DataError) as caught:
            read()
        text = str(caught.value)
        assert "列「下单日期」" in text and "0000-00-00" in text and "2024-00-10" in text, text


def test_the_test_server_is_its_own_and_not_root(mysql_server):
    """tests/mysqlserver.py: data, socket and port are the temp folder's, and mariadbd does not run
    as root (it refuses to; as root the fixture starts it with --user=mysql)."""
    import os
    import pwd
    from pathlib import Path

    datadir, socket, port = mysql_server.execute("SELECT @@datadir, @@socket, @@port", database=None)[0]
    assert Path(datadir).resolve().is_relative_to(mysql_server.root.resolve())
    assert Path(socket) == mysql_server.socket and port == mysql_server.port
    status = Path(f"/proc/{mysql_server.process.pid}/status").read_text()
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    assert uid != 0 and (os.geteuid() != 0 or uid == pwd.getpwnam("mysql").pw_uid)


def test_stage_02s_figures_pushed_down_into_mysql_equal_the_pandas_reference(mysql_demo, mysql_password, tmp_path):
    """customer_figures (stage 02: lifetime spend by a window function, row counts) in MariaDB."""
    from planlib.data.aggregate import customer_figures, figures_pandas

    loaded = load_plan(mysql_demo.csv_plan)
    as_of, window = rfm_as_of(loaded.plan), loaded.plan.segmentation.rfm.window_days
    tx = load_source("transactions", loaded.plan.data.transactions, loaded.base_dir).frame
    purchases, rows = figures_pandas(tx, as_of=as_of, window_days=window)
    for table in ("订单", "订单原文"):
        got = customer_figures(DataSource(url=mysql_demo.url, table=table), tmp_path, as_of=as_of, window_days=window)
        assert got.engine == "database", table
        pd.testing.assert_frame_equal(got.purchases, purchases, obj=table)
        pd.testing.assert_frame_equal(got.rows, rows, obj=table)
        assert got.fingerprint["rows"] == len(tx) and mysql_password not in repr(got.fingerprint)


# ---------------------------------------------------------------------------------- a whole run
@pytest.mark.slow
def test_planlib_run_from_mysql_publishes_what_the_csv_run_does(mysql_demo, mysql_password, demo_run, tmp_path):
    """``planlib run`` with customers and transactions in MariaDB under Chinese column names:
    tiers, CLV, segments and KPIs equal the CSV run; stage 02 aggregated the orders in MariaDB;
    no published file holds the password."""
    from planlib.data.results import load
    from planlib.run.runner import run_plan

    csv_result = demo_run[0]
    result = run_plan(mysql_demo.mysql_plan, output_root=tmp_path / "outputs", log=lambda line: None)
    assert result.status == "ok" == csv_result.status, result.stages
    for name in ("customers", "tier_summary", "segments", "kpi_values"):
        pd.testing.assert_frame_equal(load(result.folder, name), load(csv_result.folder, name), obj=name)
    for path in result.folder.rglob("*"):
        if path.is_file():
            assert mysql_password.encode() not in path.read_bytes(), path
    report = (result.folder / "report.html").read_text(encoding="utf-8")
    assert "交易表(由数据库按客户汇总,未整表读入)" in report and "planlib:***@" in report
