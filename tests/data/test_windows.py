"""The KPI questions answered where the orders are (planlib/data/windows.py) == FrameOrders on the same rows.

Every source is compared with :class:`planlib.metrics.orders.FrameOrders` over the loader's reading
of that same source: DuckDB over CSV, Parquet and a folder of Parquet parts, a DuckDB database
file, PostgreSQL and MariaDB (real servers, tests/data/conftest.py).
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from mysqlserver import load_rows
from pgserver import load_frame

from planlib.data import aggregate, windows
from planlib.data.aggregate import FastPathDeclined
from planlib.data.load import load_source
from planlib.metrics.orders import FrameOrders, SourceOrders
from planlib.plan.planfile import load_plan
from planlib.plan.schema import DataSource
from tests.data.conftest import MYSQL_ORDERS
from tests.data.test_aggregate import HEADERS, write

ROWS = [
    # A: o1 bought in Q1, partly refunded in April — after the window, it still nets the order in it;
    # o2 bought and fully refunded in Q1 (not a purchase); o3 in April, over three lines (two alike)
    ("o1", "A", "2024-03-20 10:00", "100"), ("o1", "A", "2024-04-05 09:00", "-40"),
    ("o2", "A", "2024-02-01", "50"), ("o2", "A", "2024-02-03", "-50"),
    ("o3", "A", "2024-04-10", "30.10"), ("o3", "A", "2024-04-10", "0.20"), ("o3", "A", "2024-04-10", "0.20"),
    # B: no order id (empty) and a blank one (spaces): one purchase per day
    ("", "B", "2024-01-15 08:00", "12.5"), ("  ", "B", "2024-01-15 20:00", "7.5"), ("", "B", "2024-03-02", "9.99"),
    # C: bought on the last day of Q1, fully refunded in May (a purchase until then)
    ("o4", "C", "2024-03-31 23:59", "80"), ("o4", "C", "2024-05-02", "-80"),
    # D: a refund of an order not in the export
    ("o5", "D", "2024-02-10", "-15"),
    # E: 0.1 + 0.2 − 0.3 (no purchase) and a zero row
    ("o7", "E", "2024-03-30", "0.1"), ("o7", "E", "2024-03-30", "0.2"), ("o7", "E", "2024-03-31", "-0.3"),
    ("o8", "E", "2024-01-05", "0"),
    # a quote in an id (travels as data, never as SQL text); leading zeros
    ("o6", "O'Neil", "2024-05-20", "42"), ("o9", "007", "2024-01-02", "5"),
]
WINDOWS = {"q1": (date(2024, 1, 1), date(2024, 3, 31)), "jan": (date(2024, 1, 1), date(2024, 1, 31)),
           "apr": (date(2024, 4, 1), date(2024, 4, 30)), "empty": (date(2019, 1, 1), date(2019, 12, 31)),
           "all": (date(2020, 1, 1), date(2030, 12, 31))}
UNTILS = (None, date(2024, 4, 30))
CLOSE = {"check_exact": False, "atol": 1e-6, "rtol": 0}


def parts(folder, frame: pd.DataFrame, n: int = 3) -> DataSource:
    """``frame`` as a folder of Parquet parts (one in a Hive-style subfolder)."""
    target = folder / "parts"
    (target / "year=2024").mkdir(parents=True)
    step = -(-len(frame) // n)
    for i in range(n):
        frame.iloc[i * step:(i + 1) * step].to_parquet((target / "year=2024" if i == 0 else target) / f"p{i}.parquet")
    return DataSource(path="parts")


def loaded(source: DataSource, base) -> pd.DataFrame:
    return load_source("transactions", source, base).frame


def as_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """FrameOrders.rows_of's rows as windows.rows_of gives them: the day, in a fixed order."""
    frame = frame.assign(order_date=frame["order_date"].dt.normalize())
    return frame.sort_values(["customer_id", "order_date", "order_id", "amount"], ignore_index=True,
                             na_position="first")


def assert_answers(source: DataSource, base, customers: list[str], engine: str = "duckdb", until=UNTILS) -> None:
    """Every question, several windows in one call, each ``until``: the same as FrameOrders on the
    loader's reading of ``source``; rows_of with no ids, an unknown one, and ``customers``."""
    frame = loaded(source, base)
    for cut in until:
        ref = FrameOrders(frame, cut)
        got = windows.purchases_in(source, base, WINDOWS, until=cut, engine=engine)
        pd.testing.assert_frame_equal(got, ref.purchases_in(WINDOWS), **CLOSE, obj=f"purchases_in until {cut}")
        for name in ("q1", "apr", "empty"):
            got = windows.row_sums(source, base, *WINDOWS[name], until=cut, engine=engine)
            pd.testing.assert_frame_equal(got, ref.row_sums(*WINDOWS[name]), **CLOSE, obj=f"row_sums {name} {cut}")
        for ids in ([], ["nobody"], customers):
            for name in ("apr", "all"):
                got = windows.rows_of(source, base, ids, *WINDOWS[name], until=cut, engine=engine)
                want = as_rows(ref.rows_of(ids, *WINDOWS[name]))
                pd.testing.assert_frame_equal(got, want, **CLOSE, obj=f"rows_of {ids[:3]} {name} {cut}")


# ---------------------------------------------------------------------------------- DuckDB over files
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_the_answers_by_hand(tmp_path, kind):
    """The definition on the hand-made rows, figure by figure (and FrameOrders agrees)."""
    source = write(tmp_path, ROWS, kind)
    got = windows.purchases_in(source, tmp_path, WINDOWS, engine="duckdb").set_index("customer_id")
    assert list(got.index) == ["007", "A", "B", "O'Neil"]  # C refunded in full, D and E never bought
    assert tuple(got.loc["A", ["n_q1", "amount_q1", "n_apr", "amount_apr"]]) == (1, 60.0, 1, 30.5)
    assert tuple(got.loc["B", ["n_jan", "amount_jan", "n_q1", "amount_q1"]]) == (1, 20.0, 2, 29.99)
    assert got["n_empty"].sum() == 0 and got["amount_empty"].dtype == float and got["n_empty"].dtype == np.int64
    cut = windows.purchases_in(source, tmp_path, WINDOWS, until=date(2024, 4, 30), engine="duckdb").set_index("customer_id")
    assert tuple(cut.loc["C", ["n_q1", "amount_q1"]]) == (1, 80.0)  # its refund is after the cut
    assert "O'Neil" not in cut.index
    early = windows.purchases_in(source, tmp_path, WINDOWS, until=date(2024, 3, 31), engine="duckdb")
    assert early.set_index("customer_id").loc["A", "amount_q1"] == 100.0  # the April refund not there yet
    sums = windows.row_sums(source, tmp_path, *WINDOWS["q1"], engine="duckdb").set_index("customer_id")
    assert list(sums.index) == ["007", "A", "B", "C", "D", "E"]
    assert tuple(sums.loc["A"]) == (100.0, True) and tuple(sums.loc["D"]) == (-15.0, False)
    assert tuple(sums.loc["E"]) == (pytest.approx(0.0, abs=1e-9), True)
    rows = windows.rows_of(source, tmp_path, ["A", "O'Neil", "A"], *WINDOWS["apr"], engine="duckdb")
    assert rows.to_dict("list") == {"customer_id": ["A"] * 4, "order_id": ["o1", "o3", "o3", "o3"],
                                    "order_date": [pd.Timestamp("2024-04-05"), *[pd.Timestamp("2024-04-10")] * 3],
                                    "amount": [-40.0, 0.2, 0.2, 30.1]}
    assert_answers(source, tmp_path, ["A", "B", "O'Neil"], until=(*UNTILS, date(2024, 3, 31)))


def test_a_folder_of_parquet_parts_and_a_duckdb_file(tmp_path):
    """Refunds in another part than their order still net it."""
    frame = loaded(write(tmp_path, ROWS), tmp_path)
    assert_answers(parts(tmp_path, frame), tmp_path, ["A", "C"])
    with duckdb.connect(str(tmp_path / "crm.duckdb")) as con:
        con.register("tx", frame)
        con.execute("CREATE TABLE orders AS SELECT * FROM tx")
    source = DataSource(url="duckdb:///crm.duckdb", table="orders")
    assert aggregate.choose_engine(source, tmp_path) == "database"
    assert_answers(source, tmp_path, ["A", "C", "O'Neil"])


def test_a_source_without_order_ids_keys_purchases_by_day(tmp_path):
    rows = [r[1:] for r in ROWS]
    source = write(tmp_path, rows, headers=HEADERS[1:])
    got = windows.purchases_in(source, tmp_path, WINDOWS, engine="duckdb").set_index("customer_id")
    # o2's refund is dated two days after it: without an order id it cannot offset it
    assert got.loc["A", "n_q1"] == 2 and got.loc["A", "amount_q1"] == 150.0
    assert_answers(source, tmp_path, ["A", "B"])


def test_a_gbk_export_with_a_total_row_reads_as_the_loader_reads_it(tmp_path):
    """GBK, a title row, ￥ amounts with thousands separators, (negative) amounts, 年月日 dates, a 合计
    row and a blank row: DuckDB reads it (no decline) exactly as the loader does."""
    rows = [("o1", "A", "2024年1月10日", "￥1,200.50"), ("o1", "A", "2024年4月12日", "(200.50)"),
            ("o2", "B", "2024/3/1 10:00", "¥30元"), ("", "", "", ""), ("合计", "", "", "1,030")]
    source = write(tmp_path, rows, encoding="gb18030", top="客户消费明细(导出)\n").model_copy(update={"encoding": "auto"})
    got = windows.purchases_in(source, tmp_path, WINDOWS, engine="duckdb").set_index("customer_id")
    assert list(got.index) == ["A", "B"] and got.loc["A", "amount_q1"] == 1000.0
    assert_answers(source, tmp_path, ["A", "B"])


def test_a_row_the_loader_reads_differently_declines_every_question(tmp_path):
    """A full-width ID (the loader makes it 'Z') of a customer not asked for, with no purchase, dated
    outside the window: still counted in the one scan, and SourceOrders then answers from the
    loaded orders."""
    source = write(tmp_path, [*ROWS, ("o10", "Ｚ", "2023-06-01", "-5")])
    for ask in (lambda: windows.purchases_in(source, tmp_path, WINDOWS, engine="duckdb"),
                lambda: windows.row_sums(source, tmp_path, *WINDOWS["q1"], engine="duckdb"),
                lambda: windows.rows_of(source, tmp_path, ["B"], *WINDOWS["q1"], engine="duckdb")):
        with pytest.raises(FastPathDeclined):
            ask()
    ref = FrameOrders(loaded(source, tmp_path))
    fallback = SourceOrders(source, tmp_path, engine="duckdb")
    pd.testing.assert_frame_equal(fallback.purchases_in(WINDOWS), ref.purchases_in(WINDOWS))
    assert list(fallback.rows_of(["Z"], *WINDOWS["all"])["amount"]) == [-5.0]


def test_the_pandas_engine_declines(tmp_path):
    """Small files (engine auto) and engine="pandas": the caller loads the orders."""
    source = write(tmp_path, ROWS)
    for engine in ("auto", "pandas"):
        with pytest.raises(FastPathDeclined):
            windows.purchases_in(source, tmp_path, WINDOWS, engine=engine)
        with pytest.raises(FastPathDeclined):
            windows.rows_of(source, tmp_path, [], *WINDOWS["q1"], engine=engine)


def test_passes_over_customer_buckets_give_the_one_pass_answers(tmp_path, monkeypatch):
    """A file too large for one pass is answered in passes over hash buckets of the customer id;
    an order's rows (and its refunds) are all in one customer's bucket, so the answers are the same."""
    rng = np.random.default_rng(17)
    n = 3000
    rows = [(("" if o % 7 == 0 else f"o{o}"), f"C{c:04d}", f"2024-{m:02d}-{d:02d}", f"{a:.2f}")
            for c, o, m, d, a in zip(rng.integers(0, 300, n), rng.integers(0, 900, n), rng.integers(1, 7, n),
                                     rng.integers(1, 29, n), np.round(rng.normal(80, 60, n), 2), strict=True)]
    source = write(tmp_path, [*ROWS, *rows], "parquet")
    one = (windows.purchases_in(source, tmp_path, WINDOWS, engine="duckdb"),
           windows.row_sums(source, tmp_path, *WINDOWS["q1"], engine="duckdb"))
    checked = []
    real = windows._checked
    monkeypatch.setattr(windows, "_checked", lambda found: checked.append(len(found)) or real(found))
    monkeypatch.setattr(aggregate, "_passes", lambda rows, limit: 3)
    three = (windows.purchases_in(source, tmp_path, WINDOWS, engine="duckdb"),
             windows.row_sums(source, tmp_path, *WINDOWS["q1"], engine="duckdb"))
    assert len(checked) == 6 and min(checked) > 50  # three passes each, every bucket holding customers
    assert sum(checked[:3]) == len(one[0])
    for a, b in zip(one, three, strict=True):
        pd.testing.assert_frame_equal(a, b)
    ref = FrameOrders(loaded(source, tmp_path))
    pd.testing.assert_frame_equal(three[0], ref.purchases_in(WINDOWS), **CLOSE)
    pd.testing.assert_frame_equal(three[1], ref.row_sums(*WINDOWS["q1"]), **CLOSE)


# ---------------------------------------------------------------------------------- the demo company
@pytest.fixture(scope="module")
def demo(pg_demo):
    """The small demo company's transactions: its plan's source and the loaded orders."""
    plan = load_plan(pg_demo.csv_plan)
    source = plan.plan.data.transactions
    return source, plan.base_dir, loaded(source, plan.base_dir)


def test_the_demo_in_duckdb_over_csv_parquet_and_parts(demo, tmp_path):
    source, base, frame = demo
    assert frame["amount"].lt(0).sum() > 50  # refunds
    ids = sorted(frame["customer_id"].unique())[:40]
    assert_answers(source, base, ids)
    frame.to_parquet(tmp_path / "tx.parquet")
    assert_answers(DataSource(path="tx.parquet"), tmp_path, ids)
    assert_answers(parts(tmp_path, frame), tmp_path, ids)
    got = windows.purchases_in(source, base, WINDOWS, engine="duckdb")
    assert got["n_q1"].sum() > 300 and got["n_empty"].sum() == 0


def test_a_long_list_of_ids_travels_as_data(demo, pg_demo, mysql_demo, monkeypatch, tmp_path):
    """rows_of with 20,000+ ids (each with a quote): a registered view (DuckDB), one array
    parameter (PostgreSQL), an IN list PyMySQL writes out (MariaDB) — each FrameOrders' rows."""
    from tests.data.conftest import PASSWORD_VAR

    source, base, frame = demo
    ids = [*frame["customer_id"].unique(), *(f"X{i:05d}'" for i in range(20_000))]
    ref = as_rows(FrameOrders(frame).rows_of(ids, *WINDOWS["all"]))
    assert len(ref) == len(frame)
    for where, base_dir, password in ((source, base, ""),
                                      (DataSource(url=pg_demo.url, table="orders"), tmp_path, pg_demo.password),
                                      (DataSource(url=mysql_demo.url, table="订单"), tmp_path, mysql_demo.password)):
        monkeypatch.setenv(PASSWORD_VAR, password)
        got = windows.rows_of(where, base_dir, ids, *WINDOWS["all"], engine="duckdb")
        pd.testing.assert_frame_equal(got, ref, **CLOSE, obj=str(where.url or where.path))


# ---------------------------------------------------------------------------------- PostgreSQL
def test_postgres_answers_as_frame_orders(pg_demo, db_password, demo, tmp_path):
    """The demo's orders table and a query over it, and the hand-made rows as a typed table (NULL
    and blank order ids, a quote in an id)."""
    _, _, frame = demo
    ids = sorted(frame["customer_id"].unique())[:40]
    assert_answers(DataSource(url=pg_demo.url, table="orders"), tmp_path, ids)
    assert_answers(DataSource(url=pg_demo.url, query="SELECT order_id AS 订单编号, customer_id, order_date, amount "
                                                      "FROM orders"), tmp_path, ids)
    hand = loaded(write(tmp_path, ROWS), tmp_path)[["order_id", "customer_id", "order_date", "amount"]]
    hand.loc[hand["order_date"] == pd.Timestamp("2024-01-15 20:00"), "order_id"] = "  "
    engine = sa.create_engine(pg_demo.server.url)
    try:
        load_frame(engine, "windows_hand", hand)
    finally:
        engine.dispose()
    assert_answers(DataSource(url=pg_demo.url, table="windows_hand"), tmp_path, ["A", "B", "O'Neil"])


def test_postgres_rows_the_loader_reads_differently_decline(pg_demo, db_password, tmp_path):
    pg_demo.server.psql(
        "DROP TABLE IF EXISTS windows_odd; CREATE TABLE windows_odd (订单编号 text, 客户编号 text, 下单日期 timestamp, "
        "消费金额 numeric(12, 2)); INSERT INTO windows_odd VALUES ('o1', 'C001', '2024-01-10', 10), "
        "('o2', 'C 001', '2023-02-10', 20); ALTER TABLE windows_odd OWNER TO planlib")
    source = DataSource(url=pg_demo.url, table="windows_odd")
    with pytest.raises(FastPathDeclined):
        windows.purchases_in(source, tmp_path, WINDOWS)
    with pytest.raises(FastPathDeclined):
        windows.rows_of(source, tmp_path, ["C001"], *WINDOWS["q1"])
    pg_demo.server.psql("UPDATE windows_odd SET 客户编号 = 'C002' WHERE 订单编号 = 'o2'")
    assert list(windows.rows_of(source, tmp_path, ["C001"], *WINDOWS["q1"])["amount"]) == [10.0]


# ---------------------------------------------------------------------------------- MariaDB
def test_mariadb_answers_as_frame_orders(mysql_demo, mysql_password, demo, tmp_path):
    """The demo's typed orders (DATETIME, DECIMAL under Chinese names), the CSV as exported (all
    VARCHAR), and the hand-made rows (NULL and blank order ids, a quote in an id)."""
    _, _, frame = demo
    ids = sorted(frame["customer_id"].unique())[:40]
    assert_answers(DataSource(url=mysql_demo.url, table="订单"), tmp_path, ids)
    assert_answers(DataSource(url=mysql_demo.url, table="订单原文"), tmp_path, ids)
    hand = loaded(write(tmp_path, ROWS), tmp_path)[["order_id", "customer_id", "order_date", "amount"]]
    hand.loc[hand["order_date"] == pd.Timestamp("2024-01-15 20:00"), "order_id"] = "  "
    load_rows(mysql_demo.server, "窗口订单", MYSQL_ORDERS, hand)
    assert_answers(DataSource(url=mysql_demo.url, table="窗口订单"), tmp_path, ["A", "B", "O'Neil", "o'neil"])


def test_mariadb_rows_the_loader_reads_differently_decline(mysql_demo, mysql_password, tmp_path):
    """A 年月日 date in a VARCHAR column: MariaDB would cast it to NULL silently; the loader reads it."""
    text = pd.DataFrame(ROWS + [("o10", "Z", "2023年6月1日", "5")], columns=HEADERS)
    load_rows(mysql_demo.server, "窗口原文", {c: "VARCHAR(64)" for c in HEADERS}, text)
    source = DataSource(url=mysql_demo.url, table="窗口原文")
    with pytest.raises(FastPathDeclined):
        windows.row_sums(source, tmp_path, *WINDOWS["q1"])
    with pytest.raises(FastPathDeclined):
        windows.rows_of(source, tmp_path, ["A"], *WINDOWS["q1"])
    ref = FrameOrders(loaded(source, tmp_path))
    pd.testing.assert_frame_equal(SourceOrders(source, tmp_path).row_sums(*WINDOWS["q1"]), ref.row_sums(*WINDOWS["q1"]))
