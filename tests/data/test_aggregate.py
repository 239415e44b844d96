"""Per-customer purchases underneath (planlib/data/aggregate.py): DuckDB and the database == pandas."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from planlib.data import aggregate, sql
from planlib.data.aggregate import choose_engine, customer_purchases, purchases_pandas
from planlib.data.load import load_source
from planlib.data.sql import mask_url
from planlib.errors import DataError
from planlib.metrics.rfm_inputs import rfm_from_purchases, rfm_table_from_source
from planlib.metrics.segment import rfm_as_of, rfm_table
from planlib.plan.planfile import load_plan
from planlib.plan.schema import DataSource

AS_OF = date(2024, 3, 31)
HEADERS = ["订单编号", "客户编号", "下单日期", "消费金额"]
TRICKY = [
    # A: two orders on one day, a third later with a partial refund row on another day (same order id)
    ("o1", "A", "2024-01-10 09:00", "100"), ("o2", "A", "2024-01-10 18:00", "50"),
    ("o3", "A", "2024-02-01 10:00", "80"), ("o3", "A", "2024-02-05 10:00", "-30"),
    # B: one order fully refunded later (not a purchase), one real order split over two lines
    ("o4", "B", "2024-01-05 10:00", "200"), ("o4", "B", "2024-01-20 10:00", "-200"),
    ("o5", "B", "2024-03-01 10:00", "60.05"), ("o5", "B", "2024-03-01 10:00", "40.05"),
    # C: only refunds
    ("o6", "C", "2024-02-10 10:00", "-15.5"), ("o7", "C", "2024-02-11 10:00", "-4.5"),
    # D: a purchase, a row after as_of (ignored), two rows without order id on one day (one purchase)
    ("o8", "D", "2023-12-31 23:59", "10"), ("o9", "D", "2024-04-01 00:00", "999"),
    ("", "D", "2024-02-02 00:00", "5"), ("", "D", "2024-02-02 12:00", "7"),
    # E: net exactly 0 after cents (0.1 + 0.2 − 0.3): not a purchase
    ("o11", "E", "2024-03-30", "0.1"), ("o11", "E", "2024-03-30", "0.2"), ("o11", "E", "2024-03-31", "-0.3"),
    # 007: leading zeros kept; refunded more than bought
    ("o12", "007", "2024-03-15", "20"), ("o12", "007", "2024-03-16", "-25"),
]


def write(tmp_path, rows, kind="csv", encoding="utf-8-sig", headers=HEADERS, top=""):
    frame = pd.DataFrame(rows, columns=headers, dtype=str)
    path = tmp_path / f"t.{kind}"
    if kind == "parquet":
        frame.to_parquet(path)
    else:
        path.write_bytes((top + frame.to_csv(index=False)).encode(encoding))
    return DataSource(path=path.name)


@pytest.mark.parametrize(("engine", "kind"), [("pandas", "csv"), ("duckdb", "csv"), ("duckdb", "parquet")])
def test_the_purchase_definition_by_hand(tmp_path, engine, kind):
    out, used = customer_purchases(write(tmp_path, TRICKY, kind), tmp_path, as_of=AS_OF, window_days=None,
                                   engine=engine)
    assert used == engine
    assert list(out["customer_id"]) == ["007", "A", "B", "C", "D", "E"]
    r = out.set_index("customer_id")
    assert (r.loc["A", "frequency"], r.loc["A", "monetary"]) == (3, 200.0)  # the partial refund keeps o3
    assert (r.loc["A", "first_purchase"], r.loc["A", "last_purchase"]) == (pd.Timestamp("2024-01-10"),
                                                                          pd.Timestamp("2024-02-01"))
    assert tuple(r.loc["A", ["x", "t_x", "T", "recency_days"]]) == (1, 22, 81, 59)
    assert (r.loc["B", "frequency"], r.loc["B", "monetary"], r.loc["B", "x"]) == (1, 100.1, 0)
    assert (r.loc["C", "frequency"], r.loc["C", "monetary"]) == (0, 0.0) and math.isnan(r.loc["C", "recency_days"])
    assert tuple(r.loc["D", ["frequency", "monetary", "x", "t_x", "T"]]) == (2, 22.0, 1, 33, 91)
    assert (r.loc["E", "frequency"], r.loc["E", "monetary"]) == (0, 0.0) and math.isnan(r.loc["E", "x"])
    assert (r.loc["007", "frequency"], r.loc["007", "monetary"]) == (0, 0.0)  # refunds without a purchase: nothing


def test_a_window_counts_purchases_dated_in_it_with_their_own_refunds(tmp_path):
    """M is rfm_table's: the nets of the purchases dated in the window. A refund dated in the window
    lowers its order bought before it, which is outside — it does not lower M (it did, wrongly,
    before stage 02 used this path: M was 30 here and rfm_table's 70)."""
    rows = [("o1", "A", "2023-01-10", "100"), ("o1", "A", "2024-03-01", "-40"), ("o2", "A", "2024-03-10", "70")]
    source = write(tmp_path, rows)
    expected = rfm_table(pd.DataFrame({"customer_id": ["A"]}), load_source("transactions", source, tmp_path).frame,
                         as_of=AS_OF, window_days=90, levels=5)
    assert tuple(expected.iloc[0][["frequency", "monetary"]]) == (1, 70.0)
    for engine in ("pandas", "duckdb"):
        out, _ = customer_purchases(source, tmp_path, as_of=AS_OF, window_days=90, engine=engine)
        assert tuple(out.iloc[0][["frequency", "monetary", "x", "T"]]) == (1, 70.0, 1, 446)


def test_a_messy_gbk_export_keeps_its_meaning_in_duckdb(tmp_path):
    """GBK, a title row, ￥ amounts with thousands separators and (negative) ones, 年月日 dates,
    a 合计 row and a blank row: read by DuckDB, not handed to pandas, and equal to the loader."""
    rows = [("o1", "A", "2024年1月10日", "￥1,200.50"), ("o1", "A", "2024年1月12日", "(200.50)"),
            ("o2", "B", "2024/3/1 10:00", "¥30元"), ("", "", "", ""), ("合计", "", "", "1,030")]
    source = write(tmp_path, rows, encoding="gb18030", top="客户消费明细(导出)\n")
    source = source.model_copy(update={"encoding": "auto"})
    out, used = customer_purchases(source, tmp_path, as_of=AS_OF, window_days=None, engine="duckdb")
    assert used == "duckdb"
    loaded = load_source("transactions", source, tmp_path)
    assert set(loaded.excluded["reason"]) == {"合计行", "空行"}
    pd.testing.assert_frame_equal(out, purchases_pandas(loaded.frame, as_of=AS_OF))
    assert out.set_index("customer_id").loc["A", "monetary"] == 1000.0


@pytest.mark.parametrize("value", ["12O.5", "NA", "1e400"])
def test_a_value_duckdb_cannot_read_like_the_loader_goes_to_the_loader(tmp_path, value):
    source = write(tmp_path, [*TRICKY, ("o13", "F", "2024-03-01", value)])
    with pytest.raises(DataError, match="消费金额"):
        customer_purchases(source, tmp_path, as_of=AS_OF, window_days=None, engine="duckdb")


def test_full_width_ids_are_normalised_by_the_loader_path(tmp_path):
    rows = [*TRICKY, ("o13", "Ａ", "2024-03-01", "5")]  # full-width A: the loader makes it A
    out, used = customer_purchases(write(tmp_path, rows), tmp_path, as_of=AS_OF, window_days=None, engine="duckdb")
    assert used == "pandas"
    assert out.set_index("customer_id").loc["A", "frequency"] == 4


def test_the_engine_follows_the_source_and_its_size(tmp_path):
    source = write(tmp_path, TRICKY)
    assert choose_engine(source, tmp_path) == "pandas"  # small
    assert choose_engine(source, tmp_path, min_bytes=10) == "duckdb"
    assert choose_engine(source, tmp_path, "pandas", min_bytes=10) == "pandas"
    assert choose_engine(DataSource(path="t.xlsx"), tmp_path, min_bytes=0) == "pandas"
    assert choose_engine(DataSource(url="duckdb:///x.duckdb", table="t"), tmp_path) == "database"
    with pytest.raises(ValueError):
        choose_engine(source, tmp_path, "polars")
    assert aggregate.DUCKDB_MIN_BYTES["csv"] > aggregate.DUCKDB_MIN_BYTES["parquet"] > 1_000_000


def test_every_engine_gives_the_demo_the_same_rfm_as_rfm_table(pg_demo, db_password, tmp_path):
    """On the demo company: DuckDB on its CSV and on Parquet, PostgreSQL pushed down and a DuckDB
    database file all equal the pandas reference, and the RFM scores equal ``rfm_table``'s."""
    import duckdb

    loaded = load_plan(pg_demo.csv_plan)
    seg = loaded.plan.segmentation.rfm
    as_of = rfm_as_of(loaded.plan)
    customers = load_source("customers", loaded.plan.data.customers, loaded.base_dir).frame
    tx = load_source("transactions", loaded.plan.data.transactions, loaded.base_dir).frame
    reference = purchases_pandas(tx, as_of=as_of, window_days=seg.window_days)
    tx.to_parquet(tmp_path / "tx.parquet")
    with duckdb.connect(str(tmp_path / "crm.duckdb")) as con:
        con.register("tx", tx)
        con.execute("CREATE TABLE orders AS SELECT * FROM tx")
    sources = {
        "csv": (loaded.plan.data.transactions, loaded.base_dir, "duckdb"),
        "parquet": (DataSource(path="tx.parquet"), tmp_path, "duckdb"),
        "postgres": (DataSource(url=pg_demo.url, table="orders"), tmp_path, "database"),
        "postgres query": (DataSource(url=pg_demo.url, query="SELECT * FROM orders WHERE amount IS NOT NULL"),
                           tmp_path, "database"),
        "duckdb file": (DataSource(url="duckdb:///crm.duckdb", table="orders"), tmp_path, "database"),
    }
    for name, (source, base, expected) in sources.items():
        got, used = customer_purchases(source, base, as_of=as_of, window_days=seg.window_days, engine="duckdb")
        assert used == expected, name
        pd.testing.assert_frame_equal(got, reference, obj=name)
    assert len(reference) > 500 and reference["frequency"].sum() > 1000
    expected_rfm = rfm_table(customers, tx, as_of=as_of, window_days=seg.window_days, levels=seg.levels)
    pd.testing.assert_frame_equal(rfm_from_purchases(customers, reference, levels=seg.levels), expected_rfm)
    got_rfm, used = rfm_table_from_source(customers, DataSource(url=pg_demo.url, table="orders"), tmp_path,
                                          as_of=as_of, window_days=seg.window_days, levels=seg.levels)
    assert used == "database"
    pd.testing.assert_frame_equal(got_rfm, expected_rfm)


def test_the_definition_is_the_one_of_metrics_purchases(tmp_path):
    """DuckDB's purchases per customer are those of ``planlib.metrics.purchases`` (count, first, last)."""
    from planlib.metrics.purchases import purchases

    source = write(tmp_path, TRICKY)
    ours, used = customer_purchases(source, tmp_path, as_of=AS_OF, window_days=None, engine="duckdb")
    assert used == "duckdb"
    theirs = purchases(load_source("transactions", source, tmp_path).frame, as_of=AS_OF)
    expected = theirs.groupby("customer_id").agg(frequency=("purchase_key", "size"),
                                                 first_purchase=("purchase_date", "min"),
                                                 last_purchase=("purchase_date", "max"))
    got = ours[ours["frequency"] > 0].set_index("customer_id")[["frequency", "first_purchase", "last_purchase"]]
    assert list(got.index) == ["A", "B", "D"]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_names=False)


# ---------------------------------------------------------------------------------- stage 02's figures
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_stage_02s_figures_in_duckdb_equal_the_pandas_reference(tmp_path, kind):
    """customer_figures: the purchases plus the lifetime model's repeat spend and what happened to
    every row, in the one scan; equal to figures_pandas, and by hand on the tricky rows."""
    from planlib.data.aggregate import OUTPUT, customer_figures, figures_pandas

    source = write(tmp_path, TRICKY, kind)
    frame = load_source("transactions", source, tmp_path).frame
    for window in (None, 30):
        got = customer_figures(source, tmp_path, as_of=AS_OF, window_days=window, engine="duckdb")
        assert got.engine == "duckdb" and got.fingerprint is None
        purchases, rows = figures_pandas(frame, as_of=AS_OF, window_days=window)
        pd.testing.assert_frame_equal(got.purchases, purchases)
        pd.testing.assert_frame_equal(got.rows, rows)
        plain, _ = customer_purchases(source, tmp_path, as_of=AS_OF, window_days=window, engine="duckdb")
        pd.testing.assert_frame_equal(got.purchases[list(OUTPUT)], plain)
    p, r = got.purchases.set_index("customer_id"), got.rows.set_index("customer_id")  # window of 30 days
    assert (p.loc["A", "mean_spend"], p.loc["D", "mean_spend"]) == (50.0, 12.0)  # repeat days only (o3 net 50)
    assert p[["mean_spend"]].drop(index=["A", "D"]).isna().all().all()  # no repeat purchase day
    assert r["rows_read"].sum() == len(TRICKY)
    assert tuple(r.loc["E", ["rows_window_purchase", "rows_window_refund", "rows_zero"]]) == (2, 1, 0)
    assert tuple(r.loc["D", ["rows_before", "rows_after"]]) == (3, 1)
    assert tuple(r.loc["A", ["rows_before", "rows_window_purchase"]]) == (4, 0)


def test_stage_02s_figures_pushed_down_into_postgres_equal_the_pandas_reference(pg_demo, db_password, tmp_path):
    from planlib.data.aggregate import customer_figures, figures_pandas

    loaded = load_plan(pg_demo.csv_plan)
    as_of, window = rfm_as_of(loaded.plan), loaded.plan.segmentation.rfm.window_days
    tx = load_source("transactions", loaded.plan.data.transactions, loaded.base_dir).frame
    got = customer_figures(DataSource(url=pg_demo.url, table="orders"), tmp_path, as_of=as_of, window_days=window)
    assert got.engine == "database"
    purchases, rows = figures_pandas(tx, as_of=as_of, window_days=window)
    pd.testing.assert_frame_equal(got.purchases, purchases)
    pd.testing.assert_frame_equal(got.rows, rows)
    # the fingerprint --resume compares, computed with the figures (same snapshot)
    assert got.fingerprint == sql.source_fingerprint("transactions", DataSource(url=pg_demo.url, table="orders"),
                                                     tmp_path)
    assert got.fingerprint["rows"] == len(tx) and got.fingerprint["source"] == f"{mask_url(pg_demo.url)} 表 orders"
    assert db_password not in repr(got.fingerprint)


def test_postgres_rows_the_loader_reads_differently_are_left_to_it(pg_demo, db_password, tmp_path):
    """The pushdown's row checks (planlib.data.aggregate._database_checks) in PostgreSQL: an ID the
    loader rewrites ('C 001' is C001) gives the loader's customers, a missing date its message."""
    pg_demo.server.psql(
        "DROP TABLE IF EXISTS orders_odd; CREATE TABLE orders_odd (订单编号 text, 客户编号 text, 下单日期 timestamp, "
        "消费金额 numeric(12, 2)); INSERT INTO orders_odd VALUES ('o1', 'C001', '2024-01-10', 10), "
        "('o2', 'C 001', '2024-02-10', 20), ('o3', 'C002', '2024-02-11', 5); ALTER TABLE orders_odd OWNER TO planlib")
    source = DataSource(url=pg_demo.url, table="orders_odd")
    got, used = customer_purchases(source, tmp_path, as_of=AS_OF, window_days=None)
    assert used == "pandas"
    pd.testing.assert_frame_equal(got, purchases_pandas(load_source("transactions", source, tmp_path).frame,
                                                        as_of=AS_OF, window_days=None))
    assert got.set_index("customer_id").loc["C001", "frequency"] == 2
    pg_demo.server.psql("UPDATE orders_odd SET 客户编号 = 'C001', 下单日期 = NULL WHERE 订单编号 = 'o2'")
    with pytest.raises(DataError, match="列「下单日期」.*缺少值"):
        customer_purchases(source, tmp_path, as_of=AS_OF, window_days=None)


def _folder(tmp_path, rows, parts=3):
    """TRICKY split over Parquet parts in a folder (one in a Hive-style subfolder), plus a writer's
    bookkeeping files that must be skipped."""
    folder = tmp_path / "orders"
    (folder / "year=2024").mkdir(parents=True)
    frame = pd.DataFrame(rows, columns=HEADERS, dtype=str)
    step = -(-len(frame) // parts)
    for i in range(parts):
        where = folder / "year=2024" if i == 0 else folder
        frame.iloc[i * step:(i + 1) * step].to_parquet(where / f"part-{i}.parquet")
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-1.parquet.crc").write_text("x")
    return DataSource(path="orders")


@pytest.mark.parametrize("engine", ["pandas", "duckdb", "auto"])
def test_a_folder_of_parquet_parts_is_one_source(tmp_path, engine):
    """A folder of parts gives exactly the single file's purchases, on either path; an order whose
    refund sits in another part still nets against it (o3, o4, o11 cross the part boundaries)."""
    whole, _ = customer_purchases(write(tmp_path, TRICKY, "parquet"), tmp_path, as_of=AS_OF, window_days=90,
                                  engine="pandas")
    out, used = customer_purchases(_folder(tmp_path, TRICKY), tmp_path, as_of=AS_OF, window_days=90,
                                   engine=engine, min_bytes=0 if engine == "auto" else None)
    assert used == ("pandas" if engine == "pandas" else "duckdb")
    pd.testing.assert_frame_equal(out, whole)


def test_a_folder_source_declined_by_duckdb_goes_to_the_loader_part_by_part(tmp_path):
    rows = [*TRICKY, ("o13", "Ａ", "2024-03-01", "5")]  # full-width A: only the loader reads it as A
    out, used = customer_purchases(_folder(tmp_path, rows), tmp_path, as_of=AS_OF, window_days=None,
                                   engine="duckdb")
    assert used == "pandas"
    assert out.set_index("customer_id").loc["A", "frequency"] == 4


def test_a_folder_with_other_files_or_no_parts_is_refused_in_one_line(tmp_path):
    source = _folder(tmp_path, TRICKY)
    (tmp_path / "orders" / "notes.csv").write_text("a,b\n")
    for engine in ("auto", "pandas"):
        with pytest.raises(DataError, match=r"orders.*notes\.csv.*把其他文件移出这个文件夹"):
            customer_purchases(source, tmp_path, as_of=AS_OF, window_days=None, engine=engine)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="没有 Parquet 文件"):
        customer_purchases(DataSource(path="empty"), tmp_path, as_of=AS_OF, window_days=None)


def test_duckdb_running_out_of_memory_is_not_handed_to_the_loader(tmp_path, monkeypatch):
    """An engine failure keeps its traceback; the loader would answer with something unrelated (at
    100M orders: "file over 2 GB") or, on a small file, silently compute on another path."""
    import duckdb

    def out_of_memory(*args, **kwargs):
        raise duckdb.OutOfMemoryException("could not allocate block")

    monkeypatch.setattr(aggregate, "_duckdb_file", out_of_memory)
    with pytest.raises(duckdb.OutOfMemoryException):
        customer_purchases(write(tmp_path, TRICKY, "parquet"), tmp_path, as_of=AS_OF, window_days=None,
                           engine="duckdb")


# ---------------------------------------------------------------------------------- passes over buckets
def _many_customers(tmp_path, kind: str, n_rows: int = 3000, seed: int = 7) -> DataSource:
    """TRICKY plus random orders of 300 customers: blank order ids, split lines, refunds, rows after
    as_of — enough customers that every bucket of a few passes holds some."""
    import numpy as np

    rng = np.random.default_rng(seed)
    customers = rng.integers(0, 300, n_rows)
    orders = rng.integers(0, 900, n_rows)
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 470, n_rows), unit="D")
    amounts = np.round(rng.normal(80, 60, n_rows), 2)
    rows = [(("" if o % 7 == 0 else f"o{o}"), f"C{c:04d}", d.strftime("%Y-%m-%d"), f"{a:.2f}")
            for c, o, d, a in zip(customers, orders, days, amounts, strict=True)]
    return write(tmp_path, [*TRICKY, *rows], kind)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_passes_over_customer_buckets_give_exactly_the_one_pass_figures(tmp_path, kind, monkeypatch):
    """Issue 17: a file too large for one pass within the memory limit is aggregated in passes over
    hash buckets of the customer id; a customer's rows all land in one bucket, so every figure and
    every row count is the one pass's (and the pandas reference's)."""
    from pathlib import Path

    from planlib.data.aggregate import figures_pandas

    source = _many_customers(tmp_path, kind)
    path = Path((tmp_path / source.path).resolve())
    expected = figures_pandas(load_source("transactions", source, tmp_path).frame, as_of=AS_OF, window_days=90)
    per_pass: list[int] = []
    finish = aggregate._finish
    monkeypatch.setattr(aggregate, "_finish", lambda agg, as_of: per_pass.append(len(agg)) or finish(agg, as_of))
    with aggregate.connect() as con:
        one = aggregate._duckdb_file(con, path, source, kind, AS_OF, 90, full=True, passes=1)
        four = aggregate._duckdb_file(con, path, source, kind, AS_OF, 90, full=True, passes=4)
        plain = aggregate._duckdb_file(con, path, source, kind, AS_OF, 90, full=False, passes=4)[0]
    assert per_pass[0] == 306 and len(per_pass) == 9 and min(per_pass[1:]) >= 40  # the passes split it
    assert sum(per_pass[1:5]) == 306
    for got, want in zip((*one, *four), (*expected, *expected), strict=True):
        pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(plain, expected[0][list(aggregate.OUTPUT)])
    assert four[1]["rows_read"].sum() == 3000 + len(TRICKY)


def test_the_number_of_passes_follows_the_rows_and_the_memory_limit(tmp_path, monkeypatch):
    """One pass for what fits (10M orders at 1 GB: the 10M target's single scan), more above; and
    customer_figures takes the passes the file's size asks for, with the same figures."""
    from planlib.data.aggregate import _passes, customer_figures, memory_bytes

    assert memory_bytes("1GB") == 2**30 and memory_bytes("512MB") == 2**29 and memory_bytes("1.5GiB") == 3 * 2**29
    assert _passes(10_000_000, "1GB") == 1 and _passes(1_000, None) == 1
    assert 2 <= _passes(100_000_000, "1GB") <= 8 and _passes(100_000_000, "4GB") < _passes(100_000_000, "1GB")
    source = _many_customers(tmp_path, "parquet")
    before = customer_figures(source, tmp_path, as_of=AS_OF, window_days=90, engine="duckdb")
    asked = []
    monkeypatch.setattr(aggregate, "_passes", lambda rows, limit: asked.append(rows) or 3)
    after = customer_figures(source, tmp_path, as_of=AS_OF, window_days=90, engine="duckdb")
    assert asked == [3000 + len(TRICKY)]  # the Parquet footers' row count
    pd.testing.assert_frame_equal(after.purchases, before.purchases)
    pd.testing.assert_frame_equal(after.rows, before.rows)


def test_duckdb_spills_into_a_folder_of_its_own_removed_afterwards():
    """Each connection spills into its own temp folder (one shared folder grew with every killed
    run), which goes with the connection — also when the query fails."""
    import os

    with aggregate.connect() as con:
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
        assert os.path.isdir(spill) and os.path.basename(spill).startswith("planlib-duckdb-")
        with aggregate.connect() as other:
            assert other.execute("SELECT current_setting('temp_directory')").fetchone()[0] != spill
    assert not os.path.exists(spill)
    with pytest.raises(RuntimeError), aggregate.connect(memory_limit="64MB") as con:
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
        con.execute("SELECT COUNT(*) FROM (SELECT DISTINCT i::VARCHAR || 'x' FROM range(3000000) t(i))").fetchone()
        assert os.listdir(spill)  # it spilled there
        raise RuntimeError("a failing stage")
    assert not os.path.exists(spill)


def test_kept_figures_are_handed_out_once_and_only_for_the_same_file(tmp_path, monkeypatch):
    """Stage 01 keeps its per-customer figures for stage 02 in the same kernel: one aggregation."""
    import os

    from planlib.data import aggregate

    source = write(tmp_path, TRICKY, "parquet")
    calls = []
    real = aggregate._compute
    monkeypatch.setattr(aggregate, "_compute", lambda *a, **k: calls.append(1) or real(*a, **k))

    def figures(**kw):
        return aggregate.customer_figures(source, tmp_path, as_of=AS_OF, window_days=365, engine="duckdb", **kw)

    kept = figures(keep=True)
    assert figures() is kept and len(calls) == 1  # taken by the next call, not computed again
    assert figures() is not kept and len(calls) == 2  # handed out once
    figures(keep=True)
    assert aggregate.customer_figures(source, tmp_path, as_of=AS_OF, window_days=30, engine="duckdb") is not kept
    assert len(calls) == 4  # other settings: computed, and the kept one is let go
    figures(keep=True)
    path = tmp_path / source.path
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))  # the file was rewritten
    figures()
    assert len(calls) == 6 and not aggregate._KEPT
