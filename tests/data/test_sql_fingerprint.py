"""What a run records about a database source, and ``--resume``/``--stage`` noticing it changed.

Against the real PostgreSQL of ``tests/data/conftest.py`` (and a DuckDB file): the fingerprint is
a count and a content hash computed in the database; a plan run from PostgreSQL records it per
stage and in the manifest without the password; new rows make ``batch --resume`` run the plan
again and ``run --stage`` refuse with one line; an unchanged database is skipped.
"""

from __future__ import annotations

import contextlib
import json
import shutil

import pandas as pd
import pytest
from pgserver import free_port

from planlib.cli import EXIT_INVALID, main
from planlib.data import sql
from planlib.data.load import load_source
from planlib.errors import DataError, PlanError
from planlib.plan.schema import DataSource


def _copy_table(server, new: str, old: str = "orders") -> None:
    server.psql(f"DROP TABLE IF EXISTS {new}; CREATE TABLE {new} AS SELECT * FROM {old}; "
                f"ALTER TABLE {new} OWNER TO planlib")


def _after_each_query(monkeypatch, hook) -> None:
    """Call ``hook(query text, frame)`` after every query a database connection answers."""
    real = sql.connect

    @contextlib.contextmanager
    def spying(*args, **kwargs):
        with real(*args, **kwargs) as reader:
            run = reader.run

            def hooked(text):
                frame = run(text)
                hook(text, frame)
                return frame
            reader.run = hooked
            yield reader
    monkeypatch.setattr(sql, "connect", spying)


@contextlib.contextmanager
def _counting_rows(monkeypatch):
    """Every frame a database connection returns, by its number of rows (to see what was pulled)."""
    pulled: list[int] = []
    _after_each_query(monkeypatch, lambda _text, frame: pulled.append(len(frame)))
    yield pulled


# ---------------------------------------------------------------------------------- the fingerprint
def test_postgres_fingerprint_is_one_row_from_the_database_and_follows_the_rows(pg_demo, db_password, tmp_path,
                                                                               monkeypatch):
    _copy_table(pg_demo.server, "orders_rows")
    source = DataSource(url=pg_demo.url, table="orders_rows")
    loaded = load_source("transactions", source, tmp_path)
    with _counting_rows(monkeypatch) as pulled:
        now = sql.source_fingerprint("transactions", source, tmp_path)
    assert pulled == [1]  # one aggregate row: no order was sent back to compute it
    assert now == loaded.fingerprint  # what --resume compares equals what the stage recorded
    assert now["rows"] == len(loaded.frame) > 1000
    assert now["method"].startswith("postgresql:") and len(now["sha256"]) == 64
    assert now["query"] == 'SELECT * FROM "orders_rows"' and now["source"].endswith("表 orders_rows")
    assert db_password not in json.dumps(now)

    pg_demo.server.psql("INSERT INTO orders_rows SELECT order_id || '-new', customer_id, order_date, amount "
                        "FROM orders_rows LIMIT 3")
    added = sql.source_fingerprint("transactions", source, tmp_path)
    assert added["rows"] == now["rows"] + 3 and added["sha256"] != now["sha256"]
    pg_demo.server.psql("DELETE FROM orders_rows WHERE order_id LIKE '%-new'")
    assert sql.source_fingerprint("transactions", source, tmp_path) == now  # the content, not a write marker
    pg_demo.server.psql("UPDATE orders_rows SET customer_id = NULL WHERE order_id = (SELECT min(order_id) FROM orders_rows)")
    nulled = sql.source_fingerprint("transactions", source, tmp_path)
    assert nulled["rows"] == now["rows"] and nulled["sha256"] != now["sha256"]


def test_postgres_fingerprint_ignores_row_order_but_not_the_query(pg_demo, db_password, tmp_path):
    forward = DataSource(url=pg_demo.url, query="SELECT * FROM orders ORDER BY order_id")
    backward = DataSource(url=pg_demo.url, query="SELECT * FROM orders ORDER BY order_id DESC")
    one, two = (sql.source_fingerprint("transactions", s, tmp_path) for s in (forward, backward))
    assert one["sha256"] == two["sha256"] and one["query"] != two["query"]
    fewer = DataSource(url=pg_demo.url, query="SELECT * FROM orders WHERE amount > 0")
    assert sql.source_fingerprint("transactions", fewer, tmp_path)["sha256"] != one["sha256"]
    _copy_table(pg_demo.server, "orders_empty")
    pg_demo.server.psql("TRUNCATE orders_empty")
    empty = sql.source_fingerprint("transactions", DataSource(url=pg_demo.url, table="orders_empty"), tmp_path)
    assert empty["rows"] == 0 and len(empty["sha256"]) == 64


def test_duckdb_fingerprint_is_computed_in_the_file(tmp_path, monkeypatch):
    import duckdb

    with duckdb.connect(str(tmp_path / "crm.duckdb")) as con:
        con.execute("CREATE TABLE orders AS SELECT 'O' || i AS order_id, 'C' || (i % 7) AS customer_id, "
                    "TIMESTAMP '2024-04-01' + INTERVAL (i) HOUR AS order_date, i * 1.5 AS amount FROM range(500) t(i)")
    source = DataSource(url="duckdb:///crm.duckdb", table="orders")
    loaded = load_source("transactions", source, tmp_path)
    with _counting_rows(monkeypatch) as pulled:
        now = sql.source_fingerprint("transactions", source, tmp_path)
    assert pulled == [1] and now == loaded.fingerprint
    assert now["rows"] == 500 and now["method"].startswith("duckdb:")
    with duckdb.connect(str(tmp_path / "crm.duckdb")) as con:
        con.execute("INSERT INTO orders VALUES ('O-new', 'C1', TIMESTAMP '2024-06-01', 10.0)")
    added = sql.source_fingerprint("transactions", source, tmp_path)
    assert added["rows"] == 501 and added["sha256"] != now["sha256"]


def test_rows_fingerprint_for_other_dialects_is_order_free():
    """The fallback (a dialect without an in-database hash here): rows hashed in pandas, any order."""
    class Reader:
        quote_char, dialect = "`", "mysql"

    frame = pd.DataFrame({"order_id": ["a", "b", "c"], "amount": [1.0, None, 3.5]})
    source = DataSource(url="mysql+pymysql://u:${PW}@h/db", table="orders")
    one = sql._rows_fingerprint(Reader(), source, frame)
    assert one == sql._rows_fingerprint(Reader(), source, frame.iloc[::-1])
    assert one["query"] == "SELECT * FROM `orders`" and one["rows"] == 3
    changed = frame.assign(amount=[1.0, 2.0, 3.5])
    assert sql._rows_fingerprint(Reader(), source, changed)["sha256"] != one["sha256"]


def test_the_recorded_query_has_no_credentials(monkeypatch):
    monkeypatch.setenv("PLANLIB_FP_PW", "Geheim-77")
    source = DataSource(url="postgresql+psycopg://planner:${PLANLIB_FP_PW}@db/crm", query=(
        "SELECT * FROM dblink('host=crm user=r password=Top-Secret1', 'SELECT 1') AS t(x int) "
        "UNION SELECT * FROM ext('mysql://reader:Pw9@h/db') WHERE note <> 'Geheim-77'"))
    shown = sql.shown_query(source)
    for secret in ("Top-Secret1", "Pw9", "Geheim-77"):
        assert secret not in shown
    assert "password=***" in shown and "mysql://reader:***@h/db" in shown


# ---------------------------------------------------------------------------------- validate
@contextlib.contextmanager
def _base_edited(plan, old: str, new: str):
    base = plan.parent / "base.yaml"
    text = base.read_text(encoding="utf-8")
    assert old in text
    base.write_text(text.replace(old, new), encoding="utf-8")
    try:
        yield
    finally:
        base.write_text(text, encoding="utf-8")


def _validate_errors(plan, capsys) -> list[str]:
    assert main(["validate", str(plan)]) == EXIT_INVALID
    captured = capsys.readouterr()
    return [line for line in captured.err.splitlines() if line.strip() and not line.startswith("共 ")]


def test_validate_says_wrong_password_in_one_line_per_source(pg_demo, db_password, capsys, monkeypatch):
    monkeypatch.setenv("PLANLIB_TEST_DB_PASSWORD", "Wrong-pw-0815")
    lines = _validate_errors(pg_demo.pg_plan, capsys)
    assert len(lines) == 2, lines  # customers and transactions
    assert all("数据库拒绝了用户名或密码" in line and "密码环境变量" in line for line in lines)
    assert "data.customers(" in lines[0] and "data.transactions(" in lines[1]
    assert not any("Wrong-pw-0815" in line or db_password in line for line in lines)


def test_validate_says_the_server_is_down_once_per_source_after_one_attempt(pg_demo, db_password, capsys,
                                                                              monkeypatch):
    attempts = []
    real = sql.connect
    monkeypatch.setattr(sql, "connect", lambda *args, **kwargs: attempts.append(args[0]) or real(*args, **kwargs))
    port = pg_demo.url.rsplit(":", 1)[1].split("/")[0]
    with _base_edited(pg_demo.pg_plan, f":{port}/", f":{free_port()}/"):
        lines = _validate_errors(pg_demo.pg_plan, capsys)
    assert len(lines) == 2 and all("连接不上数据库服务器" in line and "确认数据库已启动" in line for line in lines)
    assert "data.customers(" in lines[0] and "data.transactions(" in lines[1]
    assert attempts == ["customers"]  # one server, one connection timeout at most


def test_validate_names_a_missing_mapped_column_and_an_unset_variable(pg_demo, db_password, capsys, monkeypatch):
    with _base_edited(pg_demo.pg_plan, "    table: crm_customers",
                      "    table: crm_customers\n    columns: {会员等级: region}"):
        lines = _validate_errors(pg_demo.pg_plan, capsys)
    assert len(lines) == 1 and "表中没有列 '会员等级'" in lines[0] and "表的列名是" in lines[0]
    monkeypatch.delenv("PLANLIB_TEST_DB_PASSWORD")
    lines = _validate_errors(pg_demo.pg_plan, capsys)
    assert len(lines) == 2 and all("环境变量 PLANLIB_TEST_DB_PASSWORD 没有设置" in line for line in lines)


# ---------------------------------------------------------------------------------- runs and --resume
@pytest.fixture(scope="module")
def pg_run(pg_demo, tmp_path_factory):
    """One full run of a plan whose customers and orders live in their own PostgreSQL tables."""
    from planlib.run.runner import run_plan

    server = pg_demo.server
    _copy_table(server, "resume_orders")
    _copy_table(server, "resume_customers", "crm_customers")
    folder = pg_demo.pg_plan.parent.parent / "pgresume"
    folder.mkdir()
    base = (pg_demo.pg_plan.parent / "base.yaml").read_text(encoding="utf-8")
    base = base.replace("table: crm_customers", "table: resume_customers").replace("FROM orders", "FROM resume_orders")
    (folder / "base.yaml").write_text(base, encoding="utf-8")
    plan = folder / "2024Q2.yaml"
    shutil.copy(pg_demo.pg_plan, plan)
    outputs = tmp_path_factory.mktemp("pgresume") / "outputs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLANLIB_TEST_DB_PASSWORD", pg_demo.password)
        lines: list[str] = []
        result = run_plan(plan, output_root=outputs, log=lines.append)
    assert result.status == "ok", result.stages
    return plan, outputs, result, lines


@pytest.mark.slow
def test_the_manifest_records_each_database_source_without_the_password(pg_run, pg_demo):
    plan, outputs, result, lines = pg_run
    manifest = json.loads((result.folder / "manifest.json").read_text(encoding="utf-8"))
    data = {entry["source"]: entry for entry in manifest["data"]}
    orders = data["transactions"]
    assert orders["query"].startswith("SELECT * FROM (SELECT order_id AS 订单编号") and "resume_orders" in orders["query"]
    assert orders["rows"] > 1000 and len(orders["sha256"]) == 64 and orders["method"].startswith("postgresql:")
    assert data["customers"]["query"] == 'SELECT * FROM "resume_customers"'
    stages = {s["stage"]: s for s in manifest["stages"]}
    assert stages["02_needs"]["sources"]["transactions"] == {"source": orders["url"],
                                                             **{k: orders[k] for k in ("query", "rows", "sha256", "method")}}
    assert set(stages["03_channels"]["sources"]) == {"customers"}  # what that stage read, nothing more
    assert "planlib:***@" in orders["url"]
    secret = pg_demo.password.encode()
    files = [p for p in result.folder.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:  # manifest, report, notebooks, results, kernel.log …
        assert secret not in path.read_bytes(), path
    assert not any(pg_demo.password in line for line in lines)


@pytest.mark.slow
def test_resume_skips_an_unchanged_database_and_notices_new_rows(pg_run, pg_demo, monkeypatch, capsys):
    from planlib.run.batch import _unchanged_since_success, resume_reason, run_batch
    from planlib.run.runner import run_plan

    plan, outputs, _, _ = pg_run
    monkeypatch.setenv("PLANLIB_TEST_DB_PASSWORD", pg_demo.password)
    skipped = run_batch([plan], workers=1, resume=True, output_root=outputs)
    assert [o.status for o in skipped.outcomes] == ["skipped"]
    assert main(["run", str(plan), "--resume", "--output-root", str(outputs)]) == 0
    assert "跳过" in capsys.readouterr().out

    pg_demo.server.psql("INSERT INTO resume_orders SELECT order_id || '-late', customer_id, order_date, amount "
                        "FROM resume_orders ORDER BY order_id LIMIT 5")
    try:
        reason = resume_reason(plan, outputs)  # batch/run --resume run the plan again, and say why
        assert reason.startswith("data.transactions(postgresql+psycopg://planlib:***@")
        assert "自阶段 01_goals 上次运行以来数据库中的数据已变化(行数" in reason and pg_demo.password not in reason
        with pytest.raises(PlanError) as refused:
            run_plan(plan, stages=["05_review"], output_root=outputs, log=lambda line: None)
        text = str(refused.value)
        assert "\n" not in text and pg_demo.password not in text
        assert text.startswith("data.transactions(postgresql+psycopg://planlib:***@")
        assert "自阶段 01_goals 上次运行以来数据库中的数据已变化(行数" in text and "去掉 --stage" in text
        rows = json.loads((outputs / "demo" / "2024Q2" / "manifest.json").read_text(encoding="utf-8"))["data"]
        before = next(r["rows"] for r in rows if r["source"] == "transactions")
        assert f"行数 {before} → {before + 5}" in text
    finally:
        pg_demo.server.psql("DELETE FROM resume_orders WHERE order_id LIKE '%-late'")
    assert _unchanged_since_success(plan, outputs)  # the same rows again: nothing to re-run


@pytest.mark.slow
def test_stage_rerun_on_an_unchanged_database_keeps_the_records_for_resume(pg_run, pg_demo, monkeypatch):
    from planlib.run.batch import _unchanged_since_success, resume_reason
    from planlib.run.runner import run_plan

    plan, outputs, _, _ = pg_run
    monkeypatch.setenv("PLANLIB_TEST_DB_PASSWORD", pg_demo.password)
    result = run_plan(plan, stages=["05_review"], output_root=outputs, log=lambda line: None)
    assert result.status == "ok", result.stages
    stages = {s["stage"]: s for s in json.loads((result.folder / "manifest.json").read_text(encoding="utf-8"))["stages"]}
    assert stages["01_goals"]["status"] == "reused" and "transactions" in stages["01_goals"]["sources"]
    assert "transactions" in stages["05_review"]["sources"]
    assert _unchanged_since_success(plan, outputs)
    pg_demo.server.psql("UPDATE resume_customers SET \"地区\" = \"地区\" || '省' WHERE \"客户编号\" = 'C000001'")
    try:
        assert not _unchanged_since_success(plan, outputs)  # a changed value, same number of rows
    finally:
        pg_demo.server.psql("UPDATE resume_customers SET \"地区\" = left(\"地区\", -1) WHERE \"客户编号\" = 'C000001'")
    assert _unchanged_since_success(plan, outputs)

    # a manifest from before fingerprints were kept: nothing says what stage 02 read from the database
    path = result.folder / "manifest.json"
    kept = path.read_text(encoding="utf-8")
    older = json.loads(kept)
    del older["stages"][1]["sources"]
    path.write_text(json.dumps(older), encoding="utf-8")
    try:
        assert resume_reason(plan, outputs) == f"{result.folder}: 上次运行没有记录阶段 02_needs 读取的数据库数据"
        with pytest.raises(PlanError, match="上次运行没有记录阶段 02_needs 读取的数据库数据.*请完整运行所有阶段"):
            run_plan(plan, stages=["05_review"], output_root=outputs, log=lambda line: None)
    finally:
        path.write_text(kept, encoding="utf-8")


def test_a_stage_records_a_source_it_reads_without_loading_its_rows(pg_demo, db_password, tmp_path):
    """``ctx.source`` (for the aggregation pushed down into the database) records the fingerprint too."""
    from planlib.plan.planfile import load_plan
    from planlib.run.stage import StageContext

    loaded = load_plan(pg_demo.pg_plan)
    ctx = StageContext("02_needs", loaded, tmp_path)
    assert ctx.source("transactions") == loaded.plan.data.transactions
    record = ctx.finish()
    assert record["sources"] == {"transactions": sql.source_fingerprint(
        "transactions", loaded.plan.data.transactions, loaded.base_dir)}
    assert ctx.source("surveys").path is not None  # a file source: recorded by its hash, not here
    assert set(record["sources"]) == set(ctx.finish()["sources"]) == {"transactions"}


@contextlib.contextmanager
def _writing_after_the_figures(monkeypatch, write):
    """``write()`` (from another connection) right after the per-customer aggregation query returns,
    before anything else the stage asks of the database: the moment a writer could slip in."""
    done: list[str] = []

    def then_write(text, _frame):
        if not done and "GROUP BY customer_id, order_id" in text:
            write()
            done.append(text)
    _after_each_query(monkeypatch, then_write)
    yield done


@pytest.mark.parametrize("server", ["postgresql", "mysql"])
def test_the_manifest_describes_the_rows_stage_02_aggregated(server, request, tmp_path, monkeypatch):
    """Rows inserted by another connection between stage 02's figures and its fingerprint: the
    row count and hash the stage records (and the manifest shows) are those of the snapshot the
    figures came from — one REPEATABLE READ (PostgreSQL) / consistent-snapshot (MariaDB)
    transaction — not of the table a moment later."""
    from planlib.metrics.customers import analyse_data
    from planlib.plan.planfile import load_plan
    from planlib.run.folder import data_files
    from planlib.run.stage import StageContext

    if server == "postgresql":
        demo = request.getfixturevalue("pg_demo")
        request.getfixturevalue("db_password")
        _copy_table(demo.server, "orders_snap")
        source = DataSource(url=demo.url, table="orders_snap")

        def write():
            demo.server.psql("INSERT INTO orders_snap SELECT order_id || '-late', customer_id, order_date, amount "
                             "FROM orders_snap LIMIT 3")

        def count() -> int:
            return int(demo.server.psql("SELECT count(*) FROM orders_snap").strip().splitlines()[-1])
        plan = demo.pg_plan
    else:
        demo = request.getfixturevalue("mysql_demo")
        request.getfixturevalue("mysql_password")
        demo.server.execute("DROP TABLE IF EXISTS 订单_snap; CREATE TABLE 订单_snap AS SELECT * FROM 订单")
        source = DataSource(url=demo.url, table="订单_snap")

        def write():
            demo.server.execute("INSERT INTO 订单_snap SELECT CONCAT(订单编号, '-late'), 客户编号, 下单日期, 消费金额 "
                                "FROM 订单_snap LIMIT 3")

        def count() -> int:
            return int(demo.server.execute("SELECT COUNT(*) FROM 订单_snap")[0][0])
        plan = demo.mysql_plan
    loaded = load_plan(plan)
    loaded.plan.data.transactions = source
    before = count()
    ctx = StageContext("02_needs", loaded, tmp_path)
    with _writing_after_the_figures(monkeypatch, write) as written:
        analysis = analyse_data({}, loaded.plan, loaded.base_dir)  # no orders loaded: the per-customer path
        ctx.record_source(analysis.source_note)
    assert written and analysis.engine == "database" and count() == before + 3
    aggregated = int(analysis.coverage.set_index("item").loc["交易记录", "rows"])
    recorded = ctx.finish()["sources"]["transactions"]
    assert recorded["rows"] == aggregated == analysis.source_note["rows"] == before
    manifest = next(e for e in data_files(loaded, {"transactions": recorded}) if e["source"] == "transactions")
    assert manifest["rows"] == aggregated and manifest["sha256"] == recorded["sha256"]
    # the hash is the one of those rows: the table as it is now (3 rows more) has another
    assert sql.source_fingerprint("transactions", source, tmp_path)["sha256"] != recorded["sha256"]


def test_a_stage_reading_other_data_than_an_earlier_stage_fails_the_run(pg_demo):
    from planlib.plan.planfile import load_plan
    from planlib.run.runner import StageRun, _database_changed_during_run

    loaded = load_plan(pg_demo.pg_plan)
    first = {"source": "s", "query": "q", "rows": 10, "sha256": "a" * 64}
    seen: dict = {}
    assert _database_changed_during_run(StageRun("01_goals", sources={"transactions": first}), seen, loaded) is None
    same = StageRun("02_needs", sources={"transactions": dict(first)})
    assert _database_changed_during_run(same, seen, loaded) is None
    later = StageRun("05_review", sources={"transactions": {**first, "rows": 12, "sha256": "b" * 64}})
    text = _database_changed_during_run(later, seen, loaded)
    assert text.startswith("data.transactions(postgresql+psycopg://planlib:***@")
    assert "在运行期间数据库中的数据发生了变化(行数 10 → 12)" in text and "WHERE order_date" in text
    edited = StageRun("05_review", sources={"transactions": {**first, "sha256": "c" * 64}})
    assert "(行数仍为 10,但内容不同)" in _database_changed_during_run(edited, seen, loaded)


def test_resume_cannot_confirm_a_database_it_cannot_reach(pg_demo, tmp_path, monkeypatch):
    """A database that does not answer: its one line, without the password; nothing is skipped."""
    from planlib.plan.planfile import load_plan
    from planlib.run.folder import CurrentFingerprints, changed_database

    loaded = load_plan(pg_demo.pg_plan)
    current = CurrentFingerprints(loaded)
    assert set(current.sources) == {"customers", "transactions"}
    assert changed_database({}, current) is None  # a stage that read no database source
    monkeypatch.setenv("PLANLIB_TEST_DB_PASSWORD", "Wrong-pw-0815")
    with pytest.raises(DataError, match="数据库拒绝了用户名或密码") as caught:
        changed_database({"customers": {"sha256": "x"}}, current)
    assert "Wrong-pw-0815" not in str(caught.value) and pg_demo.password not in str(caught.value)


def test_batch_progress_says_why_a_plan_runs_again():
    import io

    from planlib.run.progress import BatchProgress

    out = io.StringIO()
    BatchProgress(1, stream=out, live=False)({"kind": "rerun", "plan": "p/east/2024Q2.yaml",
                                              "reason": "data.transactions(…): 自阶段 01_goals 上次运行以来数据库中的数据已变化"})
    assert out.getvalue() == "重新运行 p/east/2024Q2.yaml:data.transactions(…): 自阶段 01_goals 上次运行以来数据库中的数据已变化\n"


def test_run_resume_is_refused_with_stage_or_as_of(pg_demo, capsys):
    assert main(["run", str(pg_demo.pg_plan), "--resume", "--stage", "05"]) != 0
    assert main(["run", str(pg_demo.pg_plan), "--resume", "--as-of", "2024-05-01"]) != 0
    err = capsys.readouterr().err
    assert "请只用其中一个" in err and "不能与 --as-of" in err
