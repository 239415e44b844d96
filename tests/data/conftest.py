"""A real PostgreSQL for the database-source tests, holding the small demo company.

``pg_server`` starts Debian's PostgreSQL in a temp folder (``tests/pgserver.py``) once per session
and removes it at the end. Without PostgreSQL installed the tests that use it FAIL with the
install command — ``make test`` installs it, so a fresh machine needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_small_demo
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
    base = (csv_plan.parent / "base.yaml").read_text(encoding="utf-8")
    lines = base.splitlines()
    out, skip = [], 0
    for line in lines:
        if skip:
            skip -= 1
            continue
        if line.strip() == "customers:" and line.startswith("  customers:"):
            out += ["  customers:", f"    url: {url}", "    table: crm_customers"]
            skip = 1
        elif line.startswith("  transactions:"):
            out += ["  transactions:", f"    url: {url}",
                    "    query: SELECT order_id AS 订单编号, customer_id, order_date, amount FROM orders"]
            skip = 1
        else:
            out.append(line)
    pg_folder = csv_plan.parent.parent / "pg"
    pg_folder.mkdir()
    (pg_folder / "base.yaml").write_text("\n".join(out) + "\n", encoding="utf-8")
    (pg_folder / "2024Q2.yaml").write_text(csv_plan.read_text(encoding="utf-8"), encoding="utf-8")
    return PgDemo(pg_server, csv_plan, pg_folder / "2024Q2.yaml", url, password)


@pytest.fixture
def db_password(pg_demo, monkeypatch) -> str:
    """The demo database's password in the environment variable the plan's URL names."""
    monkeypatch.setenv(PASSWORD_VAR, pg_demo.password)
    return pg_demo.password
