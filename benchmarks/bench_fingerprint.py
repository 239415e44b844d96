"""What ``--resume`` pays to know whether a database source changed: the in-database fingerprint.

For each size, a throwaway PostgreSQL (``tests/pgserver.py``) and a DuckDB file get an orders
table generated inside the database (``generate_series``/``range``: text ids, timestamp, float
amount, like a CRM export). Measured, each once, wall time in this process:

* ``fingerprint`` — :func:`planlib.data.sql.source_fingerprint`: connect, ``count(*)`` and the
  summed md5 of every row, computed in the database; one row comes back;
* ``read rows``   — the same connection reading every row into pandas (what a stage's
  :func:`planlib.data.load.load_source` starts with, before any checks);
* ``hash in pandas`` — the rows hashed in Python instead (what MySQL sources did before they were
  hashed in the database; :func:`planlib.data.sql._rows_fingerprint` on the rows already read).

The ratio fingerprint / read rows is what checking instead of re-reading saves. With ``--mariadb``
the same for a throwaway MariaDB (``tests/mysqlserver.py``; the table from its ``seq_1_to_N``
sequence), plus ``sum(crc32)`` — the cheaper hash :func:`planlib.data.sql._mysql_fingerprint_sql`
did not choose — run on the same rows, to show what md5 costs over it. Usage::

    .venv/bin/python benchmarks/bench_fingerprint.py --rows 1000000 10000000
    .venv/bin/python benchmarks/bench_fingerprint.py --rows 1000000 --mariadb
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD_VAR = "PLANLIB_BENCH_DB_PASSWORD"
ORDERS_SQL = ("SELECT 'O' || i AS order_id, 'C' || (i % {customers}) AS customer_id, "
              "{start} + (i % 365) * INTERVAL '1 day' AS order_date, (i % 1000) * 1.25 - 10 AS amount "
              "FROM {series}")


def _time(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _measure(label: str, source, base: Path, rows: int) -> None:
    from planlib.data import sql

    warm = source.model_copy(update={"table": None, "query": "SELECT 1 AS x"})
    sql.source_fingerprint("transactions", warm, base)  # imports and first connection out of the figures
    fp_s, found = _time(lambda: sql.source_fingerprint("transactions", source, base))
    assert found["rows"] == rows, found

    def read():
        with sql.connect("transactions", source, base) as reader:
            return reader.read(source)

    read_s, frame = _time(read)
    hash_s, _ = _time(lambda: sql._rows_fingerprint(type("R", (), {"quote_char": '"', "dialect": ""})(),
                                                     source, frame))
    print(f"{label:<10} {rows:>11,} {fp_s:>12.2f} {read_s:>10.2f} {hash_s:>15.2f} {fp_s / read_s:>8.2f}", flush=True)


def _mariadb(row_counts: list[int]) -> None:
    """The MariaDB rows: in-database md5 fingerprint, sum(crc32) over the same rows, rows read."""
    from mysqlserver import start

    from planlib.plan.schema import DataSource

    print(f"{'source':<10} {'rows':>11} {'fingerprint':>12} {'sum(crc32)':>11} {'read rows':>10} {'ratio':>8}")
    server = start()
    try:
        os.environ[PASSWORD_VAR] = server.password
        url = server.url.replace(f":{server.password}@", ":${" + PASSWORD_VAR + "}@")
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            for rows in row_counts:
                server.execute(
                    "DROP TABLE IF EXISTS orders; CREATE TABLE orders AS SELECT CONCAT('O', seq) AS order_id, "
                    f"CONCAT('C', seq % {max(rows // 10, 1)}) AS customer_id, "
                    "TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (seq % 365) DAY AS order_date, "
                    f"(seq % 1000) * 1.25 - 10 AS amount FROM seq_1_to_{rows}")
                _measure_mariadb(DataSource(url=url, table="orders"), base, rows)
    finally:
        server.stop()


def _measure_mariadb(source, base: Path, rows: int) -> None:
    from planlib.data import sql

    sql.source_fingerprint("transactions", source, base)  # warm: imports, connection, buffer pool
    fp_s, found = _time(lambda: sql.source_fingerprint("transactions", source, base))
    assert found["rows"] == rows, found
    crc = ("SELECT COUNT(*), SUM(CRC32(CONCAT_WS(',', QUOTE(order_id), QUOTE(customer_id), "
           "QUOTE(order_date), QUOTE(amount)))) FROM orders")

    def crc32():
        with sql.connect("transactions", source, base) as reader:
            return reader.run(crc)

    def read():
        with sql.connect("transactions", source, base) as reader:
            return reader.read(source)

    crc_s, _ = _time(crc32)
    read_s, _ = _time(read)
    print(f"{'mariadb':<10} {rows:>11,} {fp_s:>12.2f} {crc_s:>11.2f} {read_s:>10.2f} {fp_s / read_s:>8.2f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--mariadb", action="store_true", help="measure a throwaway MariaDB instead")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    if args.mariadb:
        _mariadb(args.rows)
        return
    import duckdb
    from pgserver import start

    from planlib.plan.schema import DataSource

    print(f"{'source':<10} {'rows':>11} {'fingerprint':>12} {'read rows':>10} {'hash in pandas':>15} {'ratio':>8}")
    server = start()
    try:
        password = server.url.split(":")[2].split("@")[0]
        os.environ[PASSWORD_VAR] = password
        url = server.url.replace(f":{password}@", ":${" + PASSWORD_VAR + "}@")
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            for rows in args.rows:
                customers = max(rows // 10, 1)
                server.psql("DROP TABLE IF EXISTS orders; CREATE TABLE orders AS "
                            + ORDERS_SQL.format(customers=customers, start="TIMESTAMP '2024-01-01'",
                                                series=f"generate_series(1, {rows}) AS s(i)")
                            + "; ALTER TABLE orders OWNER TO planlib")
                server.psql("VACUUM ANALYZE orders")  # not inside the transaction psql -c makes
                _measure("postgres", DataSource(url=url, table="orders"), base, rows)
                with duckdb.connect(str(base / "crm.duckdb")) as con:
                    con.execute("CREATE OR REPLACE TABLE orders AS " + ORDERS_SQL.format(
                        customers=customers, start="TIMESTAMP '2024-01-01'", series=f"range(1, {rows} + 1) t(i)"))
                _measure("duckdb", DataSource(url="duckdb:///crm.duckdb", table="orders"), base, rows)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
