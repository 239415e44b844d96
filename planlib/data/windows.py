"""The three questions KPI figures ask of the orders, answered where the orders are (issue #17).

Stages 01 and 05, the pulse and the proposal read the orders only through
:class:`planlib.metrics.orders.Orders` — purchases per customer in some windows, the net of the rows
dated in a window, the rows of a few customers. At 100M orders the rows cannot come into pandas,
so :class:`~planlib.metrics.orders.SourceOrders` asks this module, which computes each answer in
DuckDB (a large CSV/Parquet file or a folder of Parquet parts) or in the source database
(PostgreSQL, MySQL/MariaDB, a DuckDB file) and brings back one row per customer, or the few rows
asked for. The answers are :class:`~planlib.metrics.orders.FrameOrders`' on the loaded orders.

It follows the one purchase definition (:mod:`planlib.metrics.purchases`; in SQL,
:func:`planlib.data.aggregate.orders_sql`) and reads each source exactly as
:mod:`planlib.data.aggregate` does — same relation, expressions, 合计/blank rows set aside, the same
row checks (:class:`~planlib.data.aggregate.Scan`): every query counts, in its own scan, the rows
the loader would read differently, and on any raises
:class:`~planlib.data.aggregate.FastPathDeclined` — the caller then loads the orders, and the
loader names every bad cell. So does ``engine="pandas"`` (a small file: loading it is cheaper).

Amounts are read to the cent and summed in exact cents, as the aggregation does, where
:mod:`planlib.metrics.purchases` sums floats (``net > 1e-9``) and rounds to the cent: for amounts
in whole cents (currency exports) the purchases are the same and the sums differ by float
rounding only (the tests hold them to 1e-6 yuan). Exact cents also make the answer independent of
DuckDB's thread order and the same in every engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from planlib.data import aggregate
from planlib.data.aggregate import FastPathDeclined, Scan, _as_date
from planlib.plan.schema import DataSource

# ``until=None``: every row; a DATE that DuckDB, PostgreSQL and MySQL all hold
FAR_FUTURE = date(9999, 12, 31)
ROW_COLUMNS = ["customer_id", "order_id", "order_date", "amount"]
_WANTED = "planlib_wanted"  # rows_of's customer ids, registered as a view of a DuckDB connection


@dataclass(frozen=True)
class _Query:
    sql: str
    params: dict | None = None
    expanding: tuple[str, ...] = ()  # names of list parameters written out as IN (…) (MySQL)


def _between(start: date, end: date) -> str:
    """``day`` in ``[start, end]``: literals of validated dates, nothing user-typed."""
    return f"day >= DATE '{_as_date(start).isoformat()}' AND day <= DATE '{_as_date(end).isoformat()}'"


def _as_of(until) -> date:
    return FAR_FUTURE if until is None else _as_date(until)


# ---------------------------------------------------------------------------------- the questions
def purchases_in(source: DataSource, base_dir: Path, windows: Mapping[str, tuple[date, date]], *,
                 until: date | None = None, engine: str = "auto") -> pd.DataFrame:
    """:meth:`planlib.metrics.orders.FrameOrders.purchases_in` computed where the orders are.

    One row per customer with a purchase (any day; ``until`` cuts the rows first): ``customer_id``
    and per window ``n_<name>`` (int64) and ``amount_<name>`` (float, yuan). Orders are netted over
    all their rows, not cut at a window's end. One scan for all windows (conditional aggregates),
    in passes over hash buckets of the customer id when one pass would not fit in memory.
    """
    names = list(windows)
    spans = [tuple(windows[name]) for name in names]

    def query(scan: Scan, keep: str, member: str | None) -> _Query:
        columns = []
        for i, (start, end) in enumerate(spans):  # positional aliases: a window's name is not SQL
            inside = f"net > 0 AND {_between(start, end)}"
            columns += [f"COUNT(CASE WHEN {inside} THEN 1 END) AS n_{i}",
                        f"SUM(CASE WHEN {inside} THEN net ELSE 0 END) AS cents_{i}"]
        bought = "COUNT(CASE WHEN net > 0 THEN 1 END)"
        return _Query(aggregate.orders_sql(scan.relation, scan.exprs, as_of=_as_of(until), keep=keep, bad=scan.bad,
                                           dialect=scan.dialect) + f"""
SELECT customer_id, {''.join(c + ', ' for c in columns)}{bought} AS purchases, SUM(bad) AS bad
FROM orders
GROUP BY customer_id
HAVING {bought} > 0 OR SUM(bad) > 0
""")

    def finish(found: pd.DataFrame) -> pd.DataFrame:
        found = found[_number(found["purchases"]) > 0]
        out = pd.DataFrame({"customer_id": pd.Series(found["customer_id"].to_numpy(), dtype="str")})
        for i, name in enumerate(names):
            out[f"n_{name}"] = _number(found[f"n_{i}"]).astype(np.int64).to_numpy()
            out[f"amount_{name}"] = (_number(found[f"cents_{i}"]) / 100).to_numpy()
        return out

    return _sorted(_run(source, base_dir, engine, query, finish, buckets=True), ["customer_id"])


def row_sums(source: DataSource, base_dir: Path, start: date, end: date, *, until: date | None = None,
             engine: str = "auto") -> pd.DataFrame:
    """:meth:`planlib.metrics.orders.FrameOrders.row_sums` computed where the orders are: per customer
    with a row dated in ``[start, end]``, ``spend`` (refunds on their own day) and ``bought``."""
    def query(scan: Scan, keep: str, member: str | None) -> _Query:
        # the rows dated in the window, and the bad ones wherever they are (counted in this scan;
        # any of them declines the answer, so the sums never mix the two)
        return _Query(aggregate.rows_sql(scan.relation, scan.exprs, keep, scan.bad, _as_of(until),
                                         dialect=scan.dialect) + f"""
SELECT customer_id, SUM(amount) AS cents, MAX(CASE WHEN amount > 0 THEN 1 ELSE 0 END) AS bought,
       SUM(bad) AS bad
FROM tx
WHERE (ok = 1 AND {_between(start, end)}) OR bad = 1
GROUP BY customer_id
""")

    def finish(found: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({
            "customer_id": pd.Series(found["customer_id"].to_numpy(), dtype="str"),
            "spend": (_number(found["cents"]) / 100).to_numpy(),
            "bought": (_number(found["bought"]) > 0).to_numpy(),
        })

    return _sorted(_run(source, base_dir, engine, query, finish, buckets=True), ["customer_id"])


def rows_of(source: DataSource, base_dir: Path, customers: Iterable[str], start: date, end: date, *,
            until: date | None = None, engine: str = "auto") -> pd.DataFrame:
    """:meth:`planlib.metrics.orders.FrameOrders.rows_of` computed where the orders are: the rows of
    ``customers`` dated in ``[start, end]`` (``order_date`` is the day at midnight), sorted by
    customer, day, order id and amount.

    The ids travel as data, never as SQL text: a view registered in DuckDB, one array parameter in
    PostgreSQL, an IN list PyMySQL writes out escaped in MySQL.
    """
    ids = [str(c) for c in pd.unique(pd.Series(list(customers), dtype="str").dropna())]

    def query(scan: Scan, keep: str, member: str | None) -> _Query:
        # Identical picked rows are grouped and counted (``copies``), every other row falls into one
        # group: one scan returns the rows asked for and the count of rows the loader reads
        # differently, however many of those there are (a whole table of bad dates comes back as one row).
        return _Query(aggregate.rows_sql(scan.relation, scan.exprs, keep, scan.bad, _as_of(until),
                                         dialect=scan.dialect) + f""",
picked AS (
    SELECT customer_id, order_id, day, amount, bad,
           CASE WHEN ok = 1 AND {_between(start, end)} AND {member} THEN 1 ELSE 0 END AS pick
    FROM tx
)
SELECT CASE WHEN pick = 1 THEN customer_id END AS customer_id,
       CASE WHEN pick = 1 THEN order_id END AS order_id,
       CASE WHEN pick = 1 THEN day END AS day,
       CASE WHEN pick = 1 THEN amount END AS amount,
       COUNT(*) AS copies, SUM(bad) AS bad
FROM picked
WHERE pick = 1 OR bad = 1
GROUP BY 1, 2, 3, 4
""")

    def finish(found: pd.DataFrame) -> pd.DataFrame:
        found = found[found["customer_id"].notna()]
        found = found.loc[found.index.repeat(_number(found["copies"]).astype(np.int64))]
        order_id = found["order_id"].astype(object)
        return pd.DataFrame({
            "customer_id": pd.Series(found["customer_id"].to_numpy(), dtype="str"),
            "order_id": pd.Series(order_id.where(order_id.notna(), None).to_numpy(), dtype="str"),
            "order_date": pd.to_datetime(found["day"]).astype("datetime64[ns]").to_numpy(),
            "amount": (_number(found["amount"]) / 100).to_numpy(),
        })

    if aggregate.choose_engine(source, base_dir, engine) != "pandas" and not ids:
        return finish(pd.DataFrame({c: pd.Series(dtype=object) for c in ("customer_id", "order_id", "day", "amount",
                                                                        "copies")}))
    out = _run(source, base_dir, engine, query, finish, buckets=False, ids=ids)
    return _sorted(out, ["customer_id", "order_date", "order_id", "amount"])[ROW_COLUMNS]


# ---------------------------------------------------------------------------------- running them
def _run(source: DataSource, base_dir: Path, engine: str, query: Callable[[Scan, str, str | None], _Query],
         finish: Callable[[pd.DataFrame], pd.DataFrame], *, buckets: bool, ids: list[str] | None = None
         ) -> pd.DataFrame:
    """``query`` run on the source's engine, each result checked (:func:`_checked`) and ``finish``\\ ed.

    DuckDB over files runs it in the passes over customer buckets the file's size asks for
    (``buckets``; :meth:`Scan.passes`, as stage 02's aggregation), each pass's frame finished
    before the next is read and the passes concatenated once (:func:`aggregate.concat_passes`).
    """
    base_dir = Path(base_dir)
    chosen = aggregate.choose_engine(source, base_dir, engine)
    if chosen == "pandas":
        raise FastPathDeclined("the pandas engine: the orders are loaded")
    if chosen == "database":
        return _in_database(source, base_dir, query, finish, ids)
    path, kind = aggregate.source_file(source, base_dir)
    found: list[pd.DataFrame] = []
    with aggregate.duckdb_declines(), aggregate.connect() as con, aggregate.file_scan(con, path, source, kind) as scan:
        member = None
        if ids is not None:
            import pyarrow as pa

            con.register(_WANTED, pa.table({"customer_id": pa.array(ids, pa.string())}))
            member = f"customer_id IN (SELECT customer_id FROM {_WANTED})"
        passes = scan.passes(con, aggregate.DUCKDB_MEMORY_LIMIT) if buckets else 1
        for i in range(passes):
            found.append(finish(_checked(con.execute(query(scan, scan.bucket(i, passes), member).sql).df())))
    return aggregate.concat_passes(found)


def _in_database(source: DataSource, base_dir: Path, query, finish, ids: list[str] | None) -> pd.DataFrame:
    """``query`` pushed down into the source's database, one result (the database manages its memory)."""
    from planlib.data import sql

    with sql.connect("transactions", source, base_dir) as reader:
        scan = aggregate.database_scan(reader, source)
        member, params, expanding = None, None, ()
        if ids is not None:
            if reader.dialect == "duckdb":
                import pyarrow as pa

                reader.register(_WANTED, pa.table({"customer_id": pa.array(ids, pa.string())}))
                member = f"customer_id IN (SELECT customer_id FROM {_WANTED})"
            elif reader.dialect == "postgresql":  # one text[] parameter, whatever the number of ids
                member, params = "customer_id = ANY(CAST(:ids AS TEXT[]))", {"ids": ids}
            else:  # MySQL: no array type; PyMySQL writes the list out escaped (no placeholder limit)
                member, params, expanding = "customer_id IN :ids", {"ids": ids}, ("ids",)
        asked = query(scan, scan.keep, member)
        try:
            found = reader.run(asked.sql, params, expanding)
        except Exception as exc:  # a text date or ￥ amount the database cannot cast: the loader reads it
            raise FastPathDeclined(str(exc)[:200]) from None
    return finish(_checked(found))


def _checked(found: pd.DataFrame) -> pd.DataFrame:
    """``found`` unless it counted rows the loader reads differently (then the loader reads them)."""
    bad = _number(found["bad"]).fillna(0).sum()
    if bad > 0:
        raise FastPathDeclined(f"{int(bad)} rows the loader reads differently")
    return found


def _number(values: pd.Series) -> pd.Series:
    """A numeric column as float (PostgreSQL's sums come back as Decimal, empty results as object)."""
    return pd.to_numeric(values.astype(object), errors="raise").astype(float)


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    if by == ["customer_id"] and frame["customer_id"].is_monotonic_increasing:
        return frame.reset_index(drop=True)
    return frame.sort_values(by, ignore_index=True, na_position="first")
