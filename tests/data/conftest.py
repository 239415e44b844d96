"""A real PostgreSQL and a real MariaDB for the database-source tests, holding the small demo company.

``pg_server`` starts Debian's PostgreSQL in a temp folder (``tests/pgserver.py``), ``mysql_server``
Debian's MariaDB (``tests/mysqlserver.py``), each once per session, removed at the end. Without
them installed the tests that use them FAIL with the install command — ``make test`` installs both,
so a fresh machine needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_small_demo
from mysqlserver import MySqlServer, MySqlServerError, load_rows
from mysqlserver import start as start_mysql
from pgserver import PgServer, PgServerError, load_frame, start

from planlib.data.demo import ensure_demo_data
from planlib.data.load import load_source
from planlib.plan.planfile import load_plan

PASSWORD_VAR = "PLANLIB_TEST_DB_PASSWORD"


@pytest.fixture(scope="session")
def pg_server():
    try:
        server = start()
    except PgServerError as exc:
        pytest.fail(f"these tests need a real PostgreSQL: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class PgDemo:
    server: PgServer
    csv_plan: Path  # the small demo plan reading CSV files
    pg_plan: Path  # the same plan with customers and transactions from PostgreSQL
    url: str  # the SQLAlchemy URL with ${PLANLIB_TEST_DB_PASSWORD} in place of the password
    password: str


def copy_csv(server: PgServer, table: str, path: Path) -> None:
    """A CRM-like table: the CSV's own (Chinese) headers, every column text, as exported."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    cols = ", ".join('"' + c + '" text' for c in frame.columns)
    server.psql(f'DROP TABLE IF EXISTS "{table}"; CREATE TABLE "{table}" ({cols}); '
                f'ALTER TABLE "{table}" OWNER TO planlib')
    import sqlalchemy as sa

    engine = sa.create_engine(server.url)
    try:
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur, cur.copy(f'COPY "{table}" FROM STDIN WITH (FORMAT csv)') as copy:
                copy.write(frame.to_csv(index=False, header=False))
            raw.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()


def _plan_with_sources(csv_plan: Path, folder: str, sources: dict[str, list[str]]) -> Path:
    """A copy of ``csv_plan`` (and its base.yaml) whose ``data.<name>`` entries are replaced by
    ``sources[name]`` (the lines under ``  <name>:``)."""
    out, skip = [], 0
    for line in (csv_plan.parent / "base.yaml").read_text(encoding="utf-8").splitlines():
        if skip:
            skip -= 1
            continue
        name = line.strip().rstrip(":")
        if line.startswith(f"  {name}:") and line.strip().endswith(":") and name in sources:
            out += [f"  {name}:", *(f"    {entry}" for entry in sources[name])]
            skip = 1
        else:
            out.append(line)
    target = csv_plan.parent.parent / folder
    target.mkdir()
    (target / "base.yaml").write_text("\n".join(out) + "\n", encoding="utf-8")
    (target / csv_plan.name).write_text(csv_plan.read_text(encoding="utf-8"), encoding="utf-8")
    return target / csv_plan.name


@pytest.fixture(scope="session")
def pg_demo(pg_server, tmp_path_factory) -> PgDemo:
    """The demo's customers as a text table with Chinese headers (``crm_customers``) and its
    transactions as a typed table with canonical names (``orders``: text, timestamp, float)."""
    import sqlalchemy as sa

    folder = tmp_path_factory.mktemp("pgdemo")
    csv_plan = make_small_demo(folder)
    loaded = load_plan(csv_plan)
    ensure_demo_data(loaded.plan.data, loaded.base_dir)
    copy_csv(pg_server, "crm_customers", loaded.resolve(loaded.plan.data.customers.path))
    tx = load_source("transactions", loaded.plan.data.transactions, loaded.base_dir).frame
    engine = sa.create_engine(pg_server.url)
    try:
        load_frame(engine, "orders", tx[["order_id", "customer_id", "order_date", "amount"]])
    finally:
        engine.dispose()
    password = pg_server.url.split(":")[2].split("@")[0]
    url = pg_server.url.replace(f":{password}@", ":${" + PASSWORD_VAR + "}@")
    pg_plan = _plan_with_sources(csv_plan, "pg", {
        "customers": [f"url: {url}", "table: crm_customers"],
        "transactions": [f"url: {url}",
                         "query: SELECT order_id AS 订单编号, customer_id, order_date, amount FROM orders"],
    })
    return PgDemo(pg_server, csv_plan, pg_plan, url, password)


@pytest.fixture
def db_password(pg_demo, monkeypatch) -> str:
    """The demo database's password in the environment variable the plan's URL names."""
    monkeypatch.setenv(PASSWORD_VAR, pg_demo.password)
    return pg_demo.password


# ---------------------------------------------------------------------------------- MySQL (MariaDB)
@pytest.fixture(scope="session")
def mysql_server():
    """Debian's MariaDB in a temp folder (``tests/mysqlserver.py``), once per session."""
    try:
        server = start_mysql()
    except MySqlServerError as exc:
        pytest.fail(f"these tests need a real MariaDB/MySQL: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class MySqlDemo:
    server: MySqlServer
    csv_plan: Path  # the small demo plan reading CSV files
    mysql_plan: Path  # the same plan with customers and transactions from MariaDB
    url: str  # the SQLAlchemy URL with ${PLANLIB_TEST_DB_PASSWORD} in place of the password
    password: str


# The demo's orders as a MySQL table with the CRM's Chinese column names and real types.
MYSQL_ORDERS = {"订单编号": "VARCHAR(32)", "客户编号": "VARCHAR(32)", "下单日期": "DATETIME",
                "消费金额": "DECIMAL(12, 2)"}


@pytest.fixture(scope="session")
def mysql_demo(mysql_server, tmp_path_factory) -> MySqlDemo:
    """The small demo company in MariaDB: ``客户`` (the customers CSV as exported: its Chinese
    headers, every column VARCHAR), ``订单`` (the transactions typed — DATETIME, DECIMAL — under
    Chinese column names) and ``订单原文`` (the transactions CSV as exported, all VARCHAR)."""
    folder = tmp_path_factory.mktemp("mysqldemo")
    csv_plan = make_small_demo(folder)
    loaded = load_plan(csv_plan)
    ensure_demo_data(loaded.plan.data, loaded.base_dir)
    for table, name in (("客户", "customers"), ("订单原文", "transactions")):
        text = pd.read_csv(loaded.resolve(getattr(loaded.plan.data, name).path), dtype=str,
                           keep_default_na=False, encoding="utf-8-sig")
        load_rows(mysql_server, table, {c: "VARCHAR(255)" for c in text.columns}, text)
    tx = load_source("transactions", loaded.plan.data.transactions, loaded.base_dir).frame
    load_rows(mysql_server, "订单", MYSQL_ORDERS, tx[["order_id", "customer_id", "order_date", "amount"]])
    url = mysql_server.url.replace(f":{mysql_server.password}@", ":${" + PASSWORD_VAR + "}@")
    mysql_plan = _plan_with_sources(csv_plan, "mysql", {
        "customers": [f"url: {url}", "table: 客户"],
        "transactions": [f"url: {url}", "table: 订单"],
    })
    return MySqlDemo(mysql_server, csv_plan, mysql_plan, url, mysql_server.password)


@pytest.fixture
def mysql_password(mysql_demo, monkeypatch) -> str:
    """The MariaDB demo database's password in the environment variable the plan's URL names."""
    monkeypatch.setenv(PASSWORD_VAR, mysql_demo.password)
    return mysql_demo.password
