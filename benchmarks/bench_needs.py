"""Benchmark of stage 02 at 1M, 10M and 100M transaction rows: time and peak memory, against plain pandas.

Generates a CRM export like the ones planners have (UTF-8 with BOM, Chinese headers, order IDs,
customer IDs with leading letters, timestamps, 2 % refunds; one customer per ten orders) and
runs, each in a fresh subprocess so peak memory is that run's own (``os.wait4`` rusage):

* ``planlib``  — the stage's data work: ``planlib.data.load.load_source`` for customers and
  transactions (pyarrow CSV reader, header and encoding checks, value parsing, ID checks), then
  ``planlib.metrics.customers.analyse`` (RFM scores, tiers, BG/NBD + Gamma-Gamma fit, CLV, scope);
* ``pandas``   — a plain-pandas reference for the part both do: ``pd.read_csv`` with types,
  then per-customer recency/frequency/monetary and quintile scores with ``groupby``/``qcut``;
* ``duckdb`` / ``polars`` — the same reference in those engines, when importable (they are not
  planlib dependencies; put them on PYTHONPATH to compare).

With ``--aggregate`` it measures instead stage 02's per-customer data work (customers loaded,
purchases by the one definition, RFM scores) through ``planlib.metrics.rfm_inputs.rfm_table_from_source``
(:func:`planlib_rfm`: one line to swap in stage 02's own entry point) — DuckDB underneath for CSV,
Parquet and a folder of Parquet files, pushed down into PostgreSQL — against references doing the
same aggregation without planlib's checks: plain DuckDB (``duckdb-ref``, DuckDB's defaults), the
same SQL sent to PostgreSQL by hand (``postgres-ref``) and plain pandas (``pandas-ref``,
:func:`planlib.data.aggregate.purchases_pandas` on ``pd.read_csv``/``read_parquet`` or all rows of
the table; not run above :data:`PANDAS_MAX_ROWS`, the table says why). One invocation prints rows
× source (csv, parquet, folder, postgres) × engine: median wall time of N fresh processes, peak
RSS, ratios to the line's reference (duckdb-ref for files, postgres-ref for PostgreSQL), the load
average, and ``check`` (buyers/purchases/monetary/recency sums) showing every engine found the
same figures. ``postgres`` starts a throwaway PostgreSQL (``tests/pgserver.py``) per row count and
COPYs the orders in (1M/10M only).

Inputs (:mod:`benchmarks.needs_inputs`: CSV, Parquet, a folder of Parquet parts and customers,
written in chunks so 100M orders generate in a few hundred MB) go to ``--dir`` (default
/tmp/bench_needs) and are reused when present. Usage::

    .venv/bin/python benchmarks/bench_needs.py            # 1M and 10M
    .venv/bin/python benchmarks/bench_needs.py --rows 1000000
    # the table in README.md: 1M/10M from every source (median of 3), 100M from Parquet once
    .venv/bin/python benchmarks/bench_needs.py --aggregate --rows 1000000 10000000 100000000 \\
        --sources csv parquet folder postgres --repeat 3 --large-sources parquet folder --markdown
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks import needs_inputs  # noqa: E402 - run as a script: the repository root first

PLAN = ROOT / "parameters" / "demo" / "2024Q2.yaml"  # its tiers and as_of (2024-03-31)
TIME_BOUND_S, MEMORY_BOUND_MB = 60, 4096


def generate(folder: Path, rows: int) -> tuple[Path, Path]:
    """Transactions and customers CSVs for ``rows`` orders (written in chunks, reused when present)."""
    inputs = needs_inputs.generate(folder, rows)
    return inputs.csv, inputs.customers


# ---------------------------------------------------------------------------------- the runs
def run_planlib(tx: str, cust: str) -> dict:
    from planlib.data.load import load_source
    from planlib.metrics.customers import analyse
    from planlib.plan.planfile import load_plan
    from planlib.plan.schema import DataSource

    plan = load_plan(PLAN).plan
    t0 = time.perf_counter()
    customers = load_source("customers", DataSource(path=cust), Path("/")).frame
    transactions = load_source("transactions", DataSource(path=tx), Path("/")).frame
    t1 = time.perf_counter()
    result = analyse(customers, transactions, plan)
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "analyse_s": t2 - t1, "customers": len(result.customers),
            "clv_ok": result.lifetime.ok, "stage_s": t2 - t0}


def _scores(values, levels=5):
    import pandas as pd

    return pd.qcut(values.rank(method="first"), levels, labels=False) + 1


def run_pandas(tx: str, cust: str) -> dict:
    import pandas as pd

    t0 = time.perf_counter()
    customers = pd.read_csv(cust, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    df = pd.read_csv(tx, dtype={"订单编号": str, "客户编号": str, "消费金额": float}, encoding="utf-8-sig",
                     parse_dates=["下单日期"], keep_default_na=False)
    t1 = time.perf_counter()
    as_of = pd.Timestamp("2024-03-31")
    df = df[df["下单日期"] <= as_of + pd.Timedelta(days=1)]
    window = df[df["下单日期"] > as_of - pd.Timedelta(days=365)]
    bought = df[df["消费金额"] > 0]
    rfm = pd.DataFrame({
        "recency": (as_of - bought.groupby("客户编号")["下单日期"].max()).dt.days,
        "frequency": window[window["消费金额"] > 0].groupby("客户编号")["订单编号"].nunique(),
        "monetary": window.groupby("客户编号")["消费金额"].sum(),
    }).reindex(customers["客户编号"])
    rfm["r"] = _scores(-rfm["recency"].fillna(10**6))
    rfm["f"] = _scores(rfm["frequency"].fillna(0))
    rfm["m"] = _scores(rfm["monetary"].fillna(0))
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "analyse_s": t2 - t1, "customers": len(rfm), "stage_s": t2 - t0}


def run_duckdb(tx: str, cust: str) -> dict:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"create table t as select * from read_csv('{tx}', header=true, all_varchar=false)")
    con.execute(f"create table c as select * from read_csv('{cust}', header=true, all_varchar=true)")
    t1 = time.perf_counter()
    n = con.execute("""
        with b as (select * from t where 下单日期 <= timestamp '2024-04-01'),
        r as (select 客户编号,
                     date_diff('day', max(case when 消费金额 > 0 then 下单日期 end), timestamp '2024-03-31') as rec,
                     count(distinct case when 消费金额 > 0 and 下单日期 > timestamp '2023-04-01' then 订单编号 end) as f,
                     sum(case when 下单日期 > timestamp '2023-04-01' then 消费金额 else 0 end) as m
              from b group by 1)
        select count(*) from (select c.客户编号, ntile(5) over (order by -coalesce(rec, 1e9)) r,
                              ntile(5) over (order by coalesce(f, 0)) f5, ntile(5) over (order by coalesce(m, 0)) m5
                              from c left join r using (客户编号))""").fetchone()[0]
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "analyse_s": t2 - t1, "customers": n, "stage_s": t2 - t0}


def run_polars(tx: str, cust: str) -> dict:
    from datetime import datetime

    import polars as pl

    t0 = time.perf_counter()
    c = pl.read_csv(cust, infer_schema_length=0)
    t = pl.read_csv(tx, schema_overrides={"订单编号": pl.String, "客户编号": pl.String, "消费金额": pl.Float64},
                    try_parse_dates=True)
    t1 = time.perf_counter()
    as_of, start = datetime(2024, 3, 31), datetime(2023, 4, 1)
    t = t.filter(pl.col("下单日期") <= datetime(2024, 4, 1))
    r = t.group_by("客户编号").agg(
        pl.col("下单日期").filter(pl.col("消费金额") > 0).max().alias("last"),
        pl.col("订单编号").filter((pl.col("消费金额") > 0) & (pl.col("下单日期") > start)).n_unique().alias("f"),
        pl.col("消费金额").filter(pl.col("下单日期") > start).sum().alias("m"))
    out = c.join(r, on="客户编号", how="left").with_columns(
        ((pl.lit(as_of) - pl.col("last")).dt.total_days()).alias("rec"))
    out = out.with_columns([(pl.col(x).fill_null(0).rank("ordinal") * 5 // (out.height + 1) + 1).alias(x + "_s")
                            for x in ("f", "m")])
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "analyse_s": t2 - t1, "customers": out.height, "stage_s": t2 - t0}


# ---------------------------------------------------------------------------------- --aggregate
AS_OF, WINDOW_DAYS, LEVELS = "2024-03-31", 365, 5
PG_TABLE, PG_PASSWORD_VAR = "orders", "PLANLIB_BENCH_PG_PASSWORD"
_CANONICAL = {"订单编号": "order_id", "客户编号": "customer_id", "下单日期": "order_date", "消费金额": "amount"}
SOURCES = ("csv", "parquet", "folder", "postgres")
# Above this many orders pandas-ref is not run: all rows in one pandas frame. Measured here: 10M
# orders from CSV peak at ≈ 3 GB, so 100M would need ≈ 30 GB — more than this 24 GB machine has.
PANDAS_MAX_ROWS = 20_000_000
# PostgreSQL is measured at 1M and 10M orders (the scope): COPYing 100M rows in would
# take longer than the rest of the table together.
POSTGRES_MAX_ROWS = 10_000_000


def planlib_rfm(customers, source):
    """planlib's per-customer work of stage 02 on ``source`` → (a frame with frequency, monetary
    and recency_days per customer, the engine used). When stage 02's own entry point lands
    (e.g. ``planlib.metrics.customers.analyse_source``), swap it in on the marked line."""
    from datetime import date

    from planlib.metrics.rfm_inputs import rfm_table_from_source

    return rfm_table_from_source(customers, source, Path("/"), as_of=date.fromisoformat(AS_OF),  # ← the entry point
                                 window_days=WINDOW_DAYS, levels=LEVELS)


def _check(frame) -> str:
    """buyers/purchases/monetary/recency: customers with a purchase in the window, their purchases,
    net spend (refunds included) and the sum of days since each buyer's last purchase."""
    bought = frame[frame["frequency"] > 0]
    return (f"{len(bought)}/{int(frame['frequency'].sum())}/{frame['monetary'].sum():.0f}/"
            f"{frame['recency_days'].sum():.0f}")


def _pg_url(url: str) -> str:
    return url.replace("${" + PG_PASSWORD_VAR + "}", os.environ.get(PG_PASSWORD_VAR, ""))


def agg_planlib(tx: str, cust: str) -> dict:
    from planlib.data.load import load_source
    from planlib.plan.schema import DataSource

    t0 = time.perf_counter()
    customers = load_source("customers", DataSource(path=cust), Path("/")).frame
    source = DataSource(url=tx, table=PG_TABLE) if "://" in tx else DataSource(path=tx)
    rfm, used = planlib_rfm(customers, source)
    return {"stage_s": time.perf_counter() - t0, "customers": len(rfm), "engine": used, "check": _check(rfm)}


def _ref_exprs(dialect: str = "duckdb") -> dict:
    from planlib.data import aggregate

    return aggregate._typed_exprs({v: k for k, v in _CANONICAL.items()}, getattr(aggregate, dialect.upper()))


def agg_duckdb_ref(tx: str, cust: str) -> dict:
    """Plain DuckDB (its defaults: all cores, 80 % of RAM): the same GROUP BY over the file or
    folder, customers read by DuckDB, no checks."""
    import duckdb

    from planlib.data.aggregate import _finish, aggregation_sql

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if os.path.isdir(tx):
        relation = f"read_parquet('{tx}/*.parquet')"
    elif tx.endswith(".parquet"):
        relation = f"read_parquet('{tx}')"
    else:
        relation = f"read_csv('{tx}', header = true, types = {{'订单编号': 'VARCHAR', '客户编号': 'VARCHAR'}})"
    agg = con.execute(aggregation_sql(relation, _ref_exprs(), as_of=AS_OF, window_days=WINDOW_DAYS)).df()
    purchases = _finish(agg, AS_OF)
    customers = con.execute(f"SELECT * FROM read_csv('{cust}', header = true, all_varchar = true)").df()
    n = len(purchases.set_index("customer_id").reindex(customers["客户编号"]))
    return {"stage_s": time.perf_counter() - t0, "customers": n, "engine": "duckdb", "check": _check(purchases)}


def agg_postgres_ref(tx: str, cust: str) -> dict:
    """Plain PostgreSQL: the same GROUP BY sent by hand (psycopg, no planlib source checks), the
    reference for the pushed-down path (DuckDB's postgres extension is a download, not offline)."""
    import pandas as pd
    import psycopg

    from planlib.data.aggregate import POSTGRESQL, _finish, aggregation_sql

    t0 = time.perf_counter()
    customers = pd.read_csv(cust, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    with psycopg.connect(_pg_url(tx).replace("postgresql+psycopg://", "postgresql://")) as conn:
        cur = conn.execute(aggregation_sql(PG_TABLE, _ref_exprs("postgresql"), as_of=AS_OF,
                                           window_days=WINDOW_DAYS, dialect=POSTGRESQL))
        agg = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    purchases = _finish(agg, AS_OF)
    n = len(purchases.set_index("customer_id").reindex(customers["客户编号"]))
    return {"stage_s": time.perf_counter() - t0, "customers": n, "engine": "database", "check": _check(purchases)}


def agg_pandas_ref(tx: str, cust: str) -> dict:
    """Plain pandas: every row read into a frame, then purchases_pandas."""
    import pandas as pd

    from planlib.data.aggregate import purchases_pandas

    t0 = time.perf_counter()
    customers = pd.read_csv(cust, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    if "://" in tx:
        import sqlalchemy as sa

        engine = sa.create_engine(_pg_url(tx))
        with engine.connect() as conn:
            result = conn.execute(sa.text(f"SELECT * FROM {PG_TABLE}"))
            frame = pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys())).rename(columns=_CANONICAL)
    elif os.path.isdir(tx) or tx.endswith(".parquet"):
        frame = pd.read_parquet(tx).rename(columns=_CANONICAL)
    else:
        frame = pd.read_csv(tx, dtype={"订单编号": str, "客户编号": str, "消费金额": float}, encoding="utf-8-sig",
                            parse_dates=["下单日期"], keep_default_na=False).rename(columns=_CANONICAL)
    purchases = purchases_pandas(frame, as_of=AS_OF, window_days=WINDOW_DAYS)
    n = len(purchases.set_index("customer_id").reindex(customers["客户编号"]))
    return {"stage_s": time.perf_counter() - t0, "customers": n, "engine": "pandas", "check": _check(purchases)}


def start_postgres(inputs: needs_inputs.Inputs):
    """A throwaway server with the orders COPYed in; returns (server, URL with ${password var}, s)."""
    import io

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    import sqlalchemy as sa

    sys.path.insert(0, str(ROOT / "tests"))
    from pgserver import start

    t0 = time.perf_counter()
    server = start()
    engine = sa.create_engine(server.url)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute(f"CREATE TABLE {PG_TABLE} (订单编号 text, 客户编号 text, 下单日期 timestamp, 消费金额 float8)")
            with cur.copy(f"COPY {PG_TABLE} FROM STDIN WITH (FORMAT csv)") as copy:
                for batch in pq.ParquetFile(inputs.parquet).iter_batches(500_000):
                    buf = io.BytesIO()
                    pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=False))
                    copy.write(buf.getvalue())
            cur.execute(f"ANALYZE {PG_TABLE}")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    password = server.url.split(":")[2].split("@")[0]
    os.environ[PG_PASSWORD_VAR] = password
    url = server.url.replace(f":{password}@", ":${" + PG_PASSWORD_VAR + "}@")
    return server, url, time.perf_counter() - t0


def _median_run(engine: str, target: str, cust: str, repeat: int) -> dict:
    """The run with the median wall time of ``repeat`` fresh-process runs (a busy machine varies)."""
    runs = sorted((measure(engine, target, cust) for _ in range(repeat)), key=lambda f: f["wall_s"])
    return runs[len(runs) // 2]


NAMES = {"agg-duckdb": "duckdb-ref", "agg-postgres": "postgres-ref", "agg-pandas": "pandas-ref",
         "agg-planlib": "planlib"}
HEADER = ("rows", "source", "engine", "used", "N", "work s", "wall s", "peak MB", "time × ref", "memory × ref",
          "load", "check: buyers/purchases/monetary/recency")


def _cells(rows: int, source: str, engine: str, n: int, figures: dict | None, ref: dict | None,
           note: str = "") -> list[str]:
    if figures is None:
        return [f"{rows:,}", source, NAMES[engine], "—", "—", "—", "—", "—", "—", "—", "—", note]
    ratio_t = f"{figures['wall_s'] / ref['wall_s']:.2f}" if ref else "—"
    ratio_m = f"{figures['peak_mb'] / ref['peak_mb']:.2f}" if ref else "—"
    return [f"{rows:,}", source, NAMES[engine], figures["engine"], str(n), f"{figures['stage_s']:.2f}",
            f"{figures['wall_s']:.2f}", f"{figures['peak_mb']:.0f}", ratio_t, ratio_m, f"{figures['load']:.1f}",
            figures["check"]]


_WIDTHS = (11, 8, 12, 8, 2, 8, 8, 8, 10, 12, 5, 0)


def _line(cells: list[str]) -> str:
    return " ".join(c.rjust(w) if i not in (1, 2, 3, 11) else c.ljust(w)
                    for i, (c, w) in enumerate(zip(cells, _WIDTHS, strict=True))).rstrip()


def main_aggregate(rows_list: list[int], folder: Path, sources: list[str], engines_wanted: list[str],
                   repeat: int = 1, large_rows: int = 20_000_000, large_sources: tuple[str, ...] = ("parquet",),
                   large_repeat: int = 1) -> list[list[str]]:
    """Print the table line by line (and return its cells): rows × source × engine.

    ``repeat`` runs per cell (the median is shown) up to ``large_rows`` orders; above it only
    ``large_sources``, ``large_repeat`` runs each. The reference of a line (``× ref``) is
    duckdb-ref for files and postgres-ref for PostgreSQL, on the same rows.
    """
    print(f"# {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GB RAM;"
          f" load = 1-minute load average after the cell; wall s = median of N fresh processes (start-up"
          f" included), work s = that run's time inside the process", flush=True)
    print(_line(list(HEADER)), flush=True)
    table = []
    pandas_peaks: dict[int, float] = {}
    for rows in rows_list:
        inputs = needs_inputs.generate(folder, rows)
        large = rows > large_rows
        n = large_repeat if large else repeat
        for source in (s for s in sources if not large or s in large_sources):
            server = None
            if source == "postgres":
                if rows > POSTGRES_MAX_ROWS:
                    continue
                server, target, copy_s = start_postgres(inputs)
                print(f"# {rows:,} orders COPYed into PostgreSQL in {copy_s:.0f} s", flush=True)
                engines = ("agg-postgres", "agg-planlib", "agg-pandas")
            else:
                target = str(inputs.source(source))
                engines = ("agg-duckdb", "agg-planlib", "agg-pandas")
            try:
                ref = None
                for engine in engines:
                    if _role(engine) not in engines_wanted:
                        continue
                    if engine == "agg-pandas" and rows > PANDAS_MAX_ROWS:
                        cells = _cells(rows, source, engine, n, None, None, _pandas_skipped(rows, pandas_peaks))
                    else:
                        try:
                            figures = _median_run(engine, target, str(inputs.customers), n)
                        except SystemExit as failed:  # a failed cell is a line of the table, not the end of it
                            cells = _cells(rows, source, engine, n, None, None, f"FAILED: {_last_line(failed)}")
                            table.append(cells)
                            print(_line(cells), flush=True)
                            continue
                        figures["load"] = os.getloadavg()[0]
                        if engine in ("agg-duckdb", "agg-postgres"):
                            ref = figures
                        if engine == "agg-pandas":
                            pandas_peaks[rows] = max(pandas_peaks.get(rows, 0), figures["peak_mb"])
                        cells = _cells(rows, source, engine, n, figures, ref)
                    table.append(cells)
                    print(_line(cells), flush=True)
            finally:
                if server is not None:
                    server.stop()
    return table


def _last_line(failed: SystemExit) -> str:
    """The exception line of a failed run's stderr (its traceback's last line)."""
    lines = [ln for ln in str(failed).splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "failed"


def _role(engine: str) -> str:
    return {"agg-duckdb": "ref", "agg-postgres": "ref"}.get(engine, engine.removeprefix("agg-"))


def _pandas_skipped(rows: int, peaks: dict[int, float]) -> str:
    """Why pandas-ref is not run at ``rows``: its measured peak scaled, or the bound."""
    if peaks:
        base = max(peaks)
        estimate = peaks[base] * rows / base / 1024
        return (f"skipped: all rows in one pandas frame ≈ {estimate:.0f} GB (its {base:,}-row peak × "
                f"{rows / base:.0f}) — over this machine's RAM")
    return f"skipped: all rows in one pandas frame; above {PANDAS_MAX_ROWS:,} rows that exceeds this machine's RAM"


def markdown(table: list[list[str]]) -> str:
    """The table for README.md."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in table)])


RUNNERS = {"planlib": run_planlib, "pandas": run_pandas, "duckdb": run_duckdb, "polars": run_polars,
           "agg-planlib": agg_planlib, "agg-duckdb": agg_duckdb_ref, "agg-pandas": agg_pandas_ref,
           "agg-postgres": agg_postgres_ref}


def measure(engine: str, tx: Path, cust: str) -> dict | None:
    """Run one engine in a fresh interpreter; wall time and that process's peak RSS."""
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.bench_needs import RUNNERS; "
            f"print(json.dumps(RUNNERS[{engine!r}]({str(tx)!r}, {str(cust)!r})))")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, peak RSS included
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        if "ModuleNotFoundError" in stderr and engine in ("duckdb", "polars"):
            return None
        raise SystemExit(f"{engine}: {stderr.strip() or 'failed'}")
    figures = json.loads([ln for ln in stdout.splitlines() if ln.startswith("{")][-1])
    figures.update(wall_s=wall, peak_mb=usage.ru_maxrss / 1024)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench_needs"))
    parser.add_argument("--aggregate", action="store_true", help="per-customer data work: planlib vs references")
    parser.add_argument("--sources", nargs="*", default=["csv", "parquet"], choices=SOURCES,
                        help=f"--aggregate: folder = the Parquet rows as {needs_inputs.PARTS} files in a folder")
    parser.add_argument("--engines", nargs="*", default=["ref", "pandas", "planlib"],
                        choices=["ref", "pandas", "planlib"],
                        help="--aggregate: which to run (ref: duckdb-ref for files, postgres-ref for PostgreSQL)")
    parser.add_argument("--repeat", type=int, default=1, help="--aggregate: runs per cell, the median is shown")
    parser.add_argument("--large-rows", type=int, default=20_000_000,
                        help="--aggregate: above this many orders only --large-sources, --large-repeat runs each")
    parser.add_argument("--large-sources", nargs="*", default=["parquet"], choices=SOURCES)
    parser.add_argument("--large-repeat", type=int, default=1)
    parser.add_argument("--markdown", action="store_true", help="--aggregate: also print the table as Markdown")
    args = parser.parse_args(argv)
    if args.aggregate:
        table = main_aggregate(args.rows, args.dir, args.sources, args.engines, args.repeat, args.large_rows,
                               tuple(args.large_sources), args.large_repeat)
        if args.markdown:
            print("\n" + markdown(table))
        return
    print(f"{'rows':>11} {'engine':8} {'load s':>7} {'analyse s':>9} {'stage s':>8} {'wall s':>7} {'peak MB':>8}"
          f" {'time × pandas':>13} {'memory × pandas':>15}")
    for rows in args.rows:
        tx, cust = generate(args.dir, rows)
        results = {}
        # pandas first: the reference every other line is divided by
        for engine in ("pandas", "planlib", "duckdb", "polars"):
            figures = measure(engine, tx, str(cust))
            if figures is None:
                print(f"{rows:>11,} {engine:8} (not installed)")
                continue
            results[engine] = figures
            ref = results["pandas"]
            print(f"{rows:>11,} {engine:8} {figures['load_s']:7.2f} {figures['analyse_s']:9.2f} "
                  f"{figures['stage_s']:8.2f} {figures['wall_s']:7.2f} {figures['peak_mb']:8.0f} "
                  f"{figures['wall_s'] / ref['wall_s']:13.2f} {figures['peak_mb'] / ref['peak_mb']:15.2f}",
                  flush=True)
        mine = results["planlib"]
        ok = mine["wall_s"] < TIME_BOUND_S and mine["peak_mb"] < MEMORY_BOUND_MB
        print(f"{rows:>11,} planlib stage (CSV parsing, RFM, tiers, CLV) {mine['wall_s']:.1f} s, peak "
              f"{mine['peak_mb']:.0f} MB: {'within' if ok else 'OUTSIDE'} the bounds "
              f"(< {TIME_BOUND_S} s, < {MEMORY_BOUND_MB} MB)", flush=True)


if __name__ == "__main__":
    main()
