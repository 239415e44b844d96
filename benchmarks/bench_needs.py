"""Benchmark of stage 02 at 1M and 10M transaction rows: time and peak memory, against plain pandas.

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
purchases by the one definition, RFM scores) the way ``planlib.metrics.rfm_inputs`` does it —
DuckDB underneath for CSV/Parquet, pushed down into PostgreSQL — against two references doing the
same aggregation without planlib's checks: plain DuckDB (``duckdb-ref``) and plain pandas
(``pandas-ref``, :func:`planlib.data.aggregate.purchases_pandas` on ``pd.read_csv``/``read_parquet``
or all rows of the table). Ratios are to ``duckdb-ref`` of the same rows and source; ``check``
(customers with a purchase, purchases, monetary sum) shows every engine found the same figures.
``--sources postgres`` starts a throwaway PostgreSQL (``tests/pgserver.py``) and COPYs the orders in.

Inputs go to ``--dir`` (default /tmp/bench_needs) and are reused when present. Usage::

    .venv/bin/python benchmarks/bench_needs.py            # 1M and 10M
    .venv/bin/python benchmarks/bench_needs.py --rows 1000000
    .venv/bin/python benchmarks/bench_needs.py --aggregate --rows 1000000 --sources csv parquet postgres
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
PLAN = ROOT / "parameters" / "demo" / "2024Q2.yaml"  # its tiers and as_of (2024-03-31)
TIME_BOUND_S, MEMORY_BOUND_MB = 60, 4096


def generate(folder: Path, rows: int) -> tuple[Path, Path]:
    """Write transactions and customers CSVs for ``rows`` orders (reused when present)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    folder.mkdir(parents=True, exist_ok=True)
    customers = max(rows // 10, 100)
    tx_path, cust_path = folder / f"transactions_{rows}.csv", folder / f"customers_{rows}.csv"
    if tx_path.exists() and cust_path.exists():
        return tx_path, cust_path
    rng = np.random.default_rng(20240401)
    ids = np.char.add("C", np.char.zfill(np.arange(customers).astype("U8"), 8))
    # a few heavy buyers and many occasional ones, as in retail
    weights = rng.gamma(0.6, 1.0, customers)
    cust = rng.choice(customers, size=rows, p=weights / weights.sum())
    day = np.datetime64("2022-01-01") + rng.integers(0, 820, rows).astype("timedelta64[D]")
    stamp = day.astype("datetime64[s]") + rng.integers(8 * 3600, 22 * 3600, rows).astype("timedelta64[s]")
    amount = np.round(rng.gamma(2.0, 150.0, rows), 2)
    amount[rng.random(rows) < 0.02] *= -1
    table = pa.table({
        "订单编号": pa.array(np.char.add("O", np.arange(rows).astype("U10"))),
        "客户编号": pa.array(ids[cust]),
        "下单日期": pa.array(stamp).cast(pa.string()),
        "消费金额": pa.array(amount).cast(pa.string()),
    })
    people = pa.table({
        "客户编号": pa.array(ids),
        "客户名称": pa.array(np.char.add("张", (np.arange(customers) % 97).astype("U2"))),
        "手机号": pa.array(np.char.add("138", np.char.zfill((np.arange(customers) % 10**8).astype("U8"), 8))),
        "地区": pa.array(np.array(["华东", "华南", "华北", "西南"])[np.arange(customers) % 4]),
        "注册日期": pa.array(np.full(customers, "2021-06-01")),
    })
    for path, data in ((tx_path, table), (cust_path, people)):
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            fh.write(b"\xef\xbb\xbf")  # Excel's "CSV UTF-8"
            pacsv.write_csv(data, fh, pacsv.WriteOptions(quoting_style="none"))
        tmp.replace(path)
    return tx_path, cust_path


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


def parquet_of(tx: Path) -> Path:
    """The transactions as typed Parquet (text IDs, timestamps, float amounts), written once."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = tx.with_suffix(".parquet")
    if not path.exists():
        types = {"订单编号": pa.string(), "客户编号": pa.string(), "下单日期": pa.timestamp("s"), "消费金额": pa.float64()}
        table = pacsv.read_csv(tx, convert_options=pacsv.ConvertOptions(column_types=types))
        pq.write_table(table, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
    return path


def _check(purchases) -> str:
    bought = purchases[purchases["frequency"] > 0]
    return f"{len(bought)}/{int(purchases['frequency'].sum())}/{purchases['monetary'].sum():.0f}"


def agg_planlib(tx: str, cust: str) -> dict:
    from datetime import date

    from planlib.data.aggregate import customer_purchases
    from planlib.data.load import load_source
    from planlib.metrics.rfm_inputs import rfm_from_purchases
    from planlib.plan.schema import DataSource

    t0 = time.perf_counter()
    customers = load_source("customers", DataSource(path=cust), Path("/")).frame
    source = DataSource(url=tx, table=PG_TABLE) if "://" in tx else DataSource(path=tx)
    purchases, used = customer_purchases(source, Path("/"), as_of=date.fromisoformat(AS_OF), window_days=WINDOW_DAYS)
    rfm = rfm_from_purchases(customers, purchases, levels=LEVELS)
    return {"stage_s": time.perf_counter() - t0, "customers": len(rfm), "engine": used, "check": _check(purchases)}


def agg_duckdb_ref(tx: str, cust: str) -> dict:
    """Plain DuckDB: the same GROUP BY over the file, customers read by DuckDB, no checks."""
    import duckdb

    from planlib.data.aggregate import _finish, _typed_exprs, aggregation_sql

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    reader = "read_parquet" if tx.endswith(".parquet") else "read_csv"
    relation = f"{reader}('{tx}')" if reader == "read_parquet" else \
        f"read_csv('{tx}', header = true, types = {{'订单编号': 'VARCHAR', '客户编号': 'VARCHAR'}})"
    exprs = _typed_exprs({v: k for k, v in _CANONICAL.items()})
    agg = con.execute(aggregation_sql(relation, exprs, as_of=AS_OF, window_days=WINDOW_DAYS)).df()
    purchases = _finish(agg, AS_OF)
    customers = con.execute(f"SELECT * FROM read_csv('{cust}', header = true, all_varchar = true)").df()
    n = len(purchases.set_index("customer_id").reindex(customers["客户编号"]))
    return {"stage_s": time.perf_counter() - t0, "customers": n, "engine": "duckdb", "check": _check(purchases)}


def agg_pandas_ref(tx: str, cust: str) -> dict:
    """Plain pandas: every row read into a frame, then purchases_pandas."""
    import pandas as pd

    from planlib.data.aggregate import purchases_pandas

    t0 = time.perf_counter()
    customers = pd.read_csv(cust, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    if "://" in tx:
        import sqlalchemy as sa

        engine = sa.create_engine(tx.replace("${" + PG_PASSWORD_VAR + "}", os.environ[PG_PASSWORD_VAR]))
        with engine.connect() as conn:
            result = conn.execute(sa.text(f"SELECT * FROM {PG_TABLE}"))
            frame = pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys())).rename(columns=_CANONICAL)
    elif tx.endswith(".parquet"):
        frame = pd.read_parquet(tx).rename(columns=_CANONICAL)
    else:
        frame = pd.read_csv(tx, dtype={"订单编号": str, "客户编号": str, "消费金额": float}, encoding="utf-8-sig",
                            parse_dates=["下单日期"], keep_default_na=False).rename(columns=_CANONICAL)
    purchases = purchases_pandas(frame, as_of=AS_OF, window_days=WINDOW_DAYS)
    n = len(purchases.set_index("customer_id").reindex(customers["客户编号"]))
    return {"stage_s": time.perf_counter() - t0, "customers": n, "engine": "pandas", "check": _check(purchases)}


def start_postgres(tx: Path):
    """A throwaway server with the orders COPYed in; returns (server, URL with ${password var})."""
    sys.path.insert(0, str(ROOT / "tests"))
    import pyarrow.parquet as pq
    import sqlalchemy as sa
    from pgserver import start

    server = start()
    engine = sa.create_engine(server.url)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute(f"CREATE TABLE {PG_TABLE} (订单编号 text, 客户编号 text, 下单日期 timestamp, 消费金额 float8)")
            with cur.copy(f"COPY {PG_TABLE} FROM STDIN WITH (FORMAT csv)") as copy:
                for batch in pq.ParquetFile(parquet_of(tx)).iter_batches(200_000):
                    copy.write(batch.to_pandas().to_csv(index=False, header=False))
            cur.execute(f"ANALYZE {PG_TABLE}")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    password = server.url.split(":")[2].split("@")[0]
    os.environ[PG_PASSWORD_VAR] = password
    return server, server.url.replace(f":{password}@", ":${" + PG_PASSWORD_VAR + "}@")


def _median_run(engine: str, target: str, cust: str, repeat: int) -> dict:
    """The run with the median wall time of ``repeat`` fresh-process runs (a busy machine varies)."""
    runs = sorted((measure(engine, target, cust) for _ in range(repeat)), key=lambda f: f["wall_s"])
    return runs[len(runs) // 2]


def main_aggregate(rows_list: list[int], folder: Path, sources: list[str], engines_wanted: list[str],
                   repeat: int = 1) -> None:
    print(f"{'rows':>11} {'source':9} {'engine':11} {'used':9} {'stage s':>8} {'wall s':>7} {'peak MB':>8}"
          f" {'time × duckdb-ref':>17} {'memory × duckdb-ref':>19}  check (buyers/purchases/monetary)")
    for rows in rows_list:
        tx, cust = generate(folder, rows)
        for source in sources:
            server = None
            if source == "postgres":
                server, target = start_postgres(tx)
                engines = ("agg-pandas", "agg-planlib")
            else:
                target = str(parquet_of(tx) if source == "parquet" else tx)
                engines = ("agg-duckdb", "agg-pandas", "agg-planlib")
            engines = [e for e in engines if e.removeprefix("agg-") in engines_wanted]
            try:
                results = {}
                for engine in engines:
                    figures = _median_run(engine, target, str(cust), repeat)
                    results[engine] = figures
                    ref = results.get("agg-duckdb")
                    ratio_t = f"{figures['wall_s'] / ref['wall_s']:17.2f}" if ref else f"{'—':>17}"
                    ratio_m = f"{figures['peak_mb'] / ref['peak_mb']:19.2f}" if ref else f"{'—':>19}"
                    name = {"agg-duckdb": "duckdb-ref", "agg-pandas": "pandas-ref", "agg-planlib": "planlib"}[engine]
                    print(f"{rows:>11,} {source:9} {name:11} {figures['engine']:9} {figures['stage_s']:8.2f} "
                          f"{figures['wall_s']:7.2f} {figures['peak_mb']:8.0f} {ratio_t} {ratio_m}  "
                          f"{figures['check']}", flush=True)
            finally:
                if server is not None:
                    server.stop()


RUNNERS = {"planlib": run_planlib, "pandas": run_pandas, "duckdb": run_duckdb, "polars": run_polars,
           "agg-planlib": agg_planlib, "agg-duckdb": agg_duckdb_ref, "agg-pandas": agg_pandas_ref}


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
    parser.add_argument("--sources", nargs="*", default=["csv", "parquet"], choices=["csv", "parquet", "postgres"])
    parser.add_argument("--engines", nargs="*", default=["duckdb", "pandas", "planlib"],
                        choices=["duckdb", "pandas", "planlib"], help="--aggregate: which of the three to run")
    parser.add_argument("--repeat", type=int, default=1, help="--aggregate: runs per cell, the median is shown")
    args = parser.parse_args(argv)
    if args.aggregate:
        main_aggregate(args.rows, args.dir, args.sources, args.engines, args.repeat)
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
