"""Per-customer purchase figures, computed where the rows are: DuckDB, the source database, or pandas.

Only one row per customer comes back to pandas, so stage 02's RFM inputs of 10 million orders fit
in a small memory. The engine is chosen per source (:func:`choose_engine`):

* a database source (``url``) — the GROUP BY is pushed down into the database (PostgreSQL, MySQL
  through SQLAlchemy; a DuckDB file directly): the same SQL, with the few differences (quoting,
  cast types, MySQL's case-insensitive text and silent casts) in one :class:`Dialect` each;
* a Parquet or CSV file of at least :data:`DUCKDB_MIN_BYTES` — DuckDB reads it; a folder of
  Parquet files (a warehouse export in parts, Spark/Hive style) is one source, read as one table;
  a file too large for one pass within :data:`DUCKDB_MEMORY_LIMIT` (100M orders) is aggregated in
  passes over hash buckets of the customer id (:func:`_passes`), each exact for its customers;
* anything else (small files, XLSX) — pandas on the canonical table of
  :func:`planlib.data.load.load_source`.

The DuckDB/SQL paths keep the loader's meaning: header row and encoding are found as the loader
finds them (GBK/GB18030/Big5 files are transcoded to UTF-8 first, DuckDB reading only UTF-8
offline), 合计/总计/小计/Total rows and blank rows are set aside, amounts like ``￥1,200元`` or
``(300)`` and dates like ``2024年4月1日`` are read as :mod:`planlib.data.parsing` reads them. A
source with anything the fast path does not read exactly like the loader — a value it cannot
parse, a full-width or spaced ID, an Excel-damaged number, a two-row header, a missing required
cell — is handed to the pandas path instead, whose loader names every bad cell in Chinese.

The one purchase definition
---------------------------
Only rows with a customer, a date and an amount, dated on or before ``as_of``, are used.

1. An **order** is the rows sharing ``(customer_id, order_id)``; rows without an order id (the
   column is absent, NULL or blank) are grouped by ``(customer_id, calendar day)`` instead.
   Refund rows (negative amounts) that carry the order id of their purchase join that order,
   whatever day they are dated.
2. An order's **net** is the sum of its rows' amounts, in exact cents (DECIMAL(18,2); amounts
   are rounded half away from zero to the cent first). An order with net ≤ 0 (fully refunded,
   or a refund-only group) is **not a purchase**.
3. A purchase's **day** is the earliest day of its positive rows (a later refund does not move it).

Per customer (one row for every customer with at least one usable row, refund-only customers
included; ordered by customer_id): ``frequency`` — purchases whose day lies in the window
(``as_of - window_days < day <= as_of``; all history when ``window_days`` is None); ``monetary``
— the nets of those purchases (a refund lowers the order it belongs to, whatever day it is dated;
a refund-only group or a fully refunded order adds nothing), as :func:`planlib.metrics.segment.rfm_table`;
``first_purchase``, ``last_purchase`` (NaT when none); ``recency_days`` = as_of − last purchase;
BG/NBD inputs over the whole history in days: ``x`` = distinct purchase days − 1, ``t_x`` =
last − first purchase day, ``T`` = as_of − first purchase day (NaN when none).

Stage 02 (:func:`customer_figures`) also needs ``mean_spend`` — the mean net spend of the repeat
purchase days (NaN without one), :func:`planlib.metrics.clv.purchase_history`'s — and, per customer
ID, how many rows were read, purchases and refunds in the window, zero amounts, non-zero rows
before the window and rows after ``as_of`` (:data:`ROW_COUNTS`), so the coverage table and the ID
check are the pandas path's without its rows.
"""

from __future__ import annotations

import codecs
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from planlib.data.parts import folder_parts, parquet_parts
from planlib.data.tables import match_headers, required
from planlib.errors import PlanError
from planlib.plan.schema import DataSource

OUTPUT = ("customer_id", "frequency", "monetary", "first_purchase", "last_purchase", "recency_days",
          "x", "t_x", "T")
# What happened to the rows of each customer (``full``): read, purchase and refund rows in the RFM
# window, zero amounts, non-zero rows before the window and rows after as_of.
ROW_COUNTS = ("rows_read", "rows_window_purchase", "rows_window_refund", "rows_zero", "rows_before", "rows_after")
ENGINES = ("auto", "duckdb", "pandas")
# Below this size the pandas loader is fast enough (and names every bad cell); above it DuckDB
# reads the file (benchmarks/bench_needs.py --aggregate: 1M orders ≈ 50 MB of CSV, 18 MB of Parquet).
DUCKDB_MIN_BYTES = {"csv": 20 * 2**20, "parquet": 5 * 2**20}
DUCKDB_MEMORY_LIMIT = "1GB"  # spills to a temp folder beyond it
# Rows of the source one DuckDB pass may aggregate per MB of the memory limit (see _passes). The
# GROUP BYs spill, but the per-customer result and COUNT(DISTINCT)'s sets stay in memory: 10M
# orders (0.8M customers) stop with "Out of Memory Error" at 100 MB in one pass, as 100M orders
# (7.2M customers) did at 1 GB (bench_needs.py's files); in 2 passes 10M orders complete at 100 MB,
# i.e. 50,000 rows per MB. Half of that keeps a 2× margin: 10M orders at 1 GB stay one pass, 100M
# take 4.
PASS_ROWS_PER_MB = 25_000
# A CSV's row count is not known before it is read: its size over this (bench_needs' orders CSV
# has 47 bytes a row; a smaller guess means more passes, never a wrong figure).
CSV_BYTES_PER_ROW = 32
_TOTAL_PREFIXES = ("合计", "总计", "小计")
# The loader's date pattern (planlib.data.parsing._DATE) in RE2 syntax, groups y, m, d first.
_DATE_RE = (r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
            r"(?:[ T]*(\d{1,2})[:时点](\d{1,2})(?:[:分](\d{1,2}(?:\.\d+)?)秒?)?分?)?$")
_MONEY_JUNK = r"[\s,￥¥$]|元|RMB|CNY|人民币"
_NUMBER_RE = r"^[-+]?(\d+\.?\d*|\.\d+)$"
_PAREN_RE = r"^\((\d+\.?\d*|\.\d+)\)$"
_SCIENTIFIC_RE = r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$"  # planlib.data.parsing._SCIENTIFIC


class FastPathDeclined(Exception):  # noqa: N818 - a signal, not an error: use the pandas path
    """The source holds something only the pandas loader reads exactly (and explains)."""


# ---------------------------------------------------------------------------------- dialects
@dataclass(frozen=True)
class Dialect:
    """What differs between the engines the one aggregation SQL runs on (:func:`aggregation_sql`).

    Everything else — the two GROUP BY levels, DATE literals, CASE, COUNT DISTINCT, CTEs — is
    the same SQL in DuckDB, PostgreSQL and MySQL/MariaDB.
    """

    name: str
    quote: str = '"'  # identifier quote
    text: str = "VARCHAR"  # CAST target for text
    double: str = "DOUBLE PRECISION"  # CAST target for a float
    exact: str = "{}"  # wraps a text cast so that = and GROUP BY compare it character for character
    byte_length: str = "octet_length"  # bytes of a text; differs from char_length for non-ASCII
    tab: str = "chr(9)"
    regex: str = "{x} ~ '{pattern}'"  # the patterns are anchored (^…$)
    # A cast of text that is not a date/number gives NULL or 0 with a warning, not an error:
    # text date/amount columns are checked against plain patterns first (see _database_checks).
    casts_silently: bool = False
    # A DATE the database holds but no calendar has (MySQL's '0000-00-00', '2024-00-10'): the
    # driver hands it over as text, so such rows are left to the loader, which names them.
    impossible_date: str = ""

    def quote_name(self, name: str) -> str:
        return self.quote + name.replace(self.quote, self.quote * 2) + self.quote


DUCKDB = Dialect("duckdb", byte_length="strlen", regex="regexp_full_match({x}, '{pattern}')")
POSTGRESQL = Dialect("postgresql", text="TEXT")
# MySQL and MariaDB: CAST(… AS CHAR) in the connection's utf8mb4 with a binary collation, since the
# default collations (utf8mb4_general_ci, utf8mb4_0900_ai_ci) make 'a' = 'A' — two customers would
# become one; no DOUBLE PRECISION in CAST; and '￥1,200' casts to 0, '2024年4月1日' to NULL silently.
MYSQL = Dialect("mysql", quote="`", text="CHAR CHARACTER SET utf8mb4", double="DOUBLE",
                exact="{} COLLATE utf8mb4_bin", byte_length="LENGTH", tab="CHAR(9 USING utf8mb4)",
                regex="{x} REGEXP '{pattern}'", casts_silently=True,
                impossible_date="MONTH({day}) = 0 OR DAYOFMONTH({day}) = 0")
DIALECTS = {d.name: d for d in (DUCKDB, POSTGRESQL, MYSQL)}


# ---------------------------------------------------------------------------------- the SQL
def _quote(name: str) -> str:
    return DUCKDB.quote_name(name)


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def rows_sql(relation: str, exprs: Mapping[str, str], keep: str, bad: str, as_of: date, extra: str = "",
              dialect: Dialect | None = None) -> str:
    """The ``tx`` CTE: the kept rows as customer_id, order_id, day, amount in cents, bad, ok (usable)."""
    return f"""
WITH tx AS (
    SELECT customer_id, order_id, day, CAST(amount * 100 AS {(dialect or DUCKDB).double}) AS amount, bad,
           CASE WHEN customer_id IS NOT NULL AND day IS NOT NULL AND amount IS NOT NULL
                     AND day <= DATE '{as_of}' THEN 1 ELSE 0 END AS ok{extra}
    FROM (SELECT {exprs['customer_id']} AS customer_id, {exprs['order_id']} AS order_id,
                 {exprs['day']} AS day, {exprs['amount']} AS amount, {bad} AS bad
          FROM {relation}
          WHERE {keep}) AS rows_kept
)"""


def orders_sql(relation: str, exprs: Mapping[str, str], *, as_of, keep: str = "1 = 1", bad: str = "0",
               dialect: Dialect | None = None) -> str:
    """The ``tx`` and ``orders`` CTEs: one row per order (steps 1–3 of the definition above) with
    its customer_id, purchase ``day`` (earliest positive row), ``net`` in cents (> 0: a purchase),
    ``usable`` and ``bad`` — shared by :func:`aggregation_sql` and :mod:`planlib.data.windows`."""
    return rows_sql(relation, exprs, keep, bad, _as_date(as_of), dialect=dialect) + """,
orders AS (
    SELECT customer_id,
           MIN(CASE WHEN ok = 1 AND amount > 0 THEN day END) AS day,
           SUM(CASE WHEN ok = 1 THEN amount END) AS net,
           MAX(ok) AS usable, MAX(bad) AS bad
    FROM tx
    GROUP BY customer_id, order_id, CASE WHEN order_id IS NULL THEN day END
)"""


def aggregation_sql(relation: str, exprs: Mapping[str, str], *, as_of, window_days: int | None = None,
                    keep: str = "1 = 1", bad: str = "0", full: bool = False, dialect: Dialect | None = None) -> str:
    """The two-level GROUP BY as one SELECT, for DuckDB, PostgreSQL and MySQL alike.

    ``exprs`` maps customer_id, order_id (VARCHAR or NULL), day (DATE) and amount (DECIMAL) to SQL
    expressions over ``relation``; ``keep`` is an extra row condition (合计/blank rows); ``bad``
    flags (1/0) a row the fast path would read differently from the loader — counted in the same
    scan (column ``bad``), so a file is read once. Returns customer_id, frequency, monetary,
    first_purchase, last_purchase, purchase_days, usable (rows used), bad (see :func:`_finish`).
    ``full`` (stage 02's whole analysis, :func:`customer_figures`) groups the orders by purchase
    day before the customers, for the lifetime model's spend: ``spend`` (cents of all purchases)
    and ``first_spend`` (cents of the first purchase day's) — DuckDB's ``arg_min``, or a window
    in other databases (``dialect``, DuckDB by default; in DuckDB the window made the query 2.6× the
    CPU time on 1M orders). The expressions are the caller's, built for the same dialect.
    Dates are literals of a validated ``date``; nothing user-typed is inlined.
    """
    dialect = dialect or DUCKDB
    as_of = _as_date(as_of)
    start = f"DATE '{as_of - timedelta(days=window_days)}'" if window_days is not None else None
    in_window = f"day > {start}" if start is not None else "1 = 1"
    # Two levels, each read once: rows -> orders -> customers. Amounts are summed as whole cents
    # (rounded through DECIMAL(18, 2), held in a DOUBLE: exact below 2^53 cents, and an 8-byte sum
    # where a DECIMAL sum takes 16 — the order level has one group per order), so "net <= 0" and
    # the totals do not depend on summation order (threads) and agree between engines. Rows that
    # cannot be used stay in the groups but add nothing (so ``bad`` is counted in this scan).
    orders = orders_sql(relation, exprs, as_of=as_of, keep=keep, bad=bad, dialect=dialect)
    if not full:
        return orders + f"""
SELECT customer_id,
       COUNT(CASE WHEN net > 0 AND {in_window} THEN 1 END) AS frequency,
       SUM(CASE WHEN net > 0 AND {in_window} THEN net ELSE 0 END) / 100 AS monetary,
       MIN(CASE WHEN net > 0 THEN day END) AS first_purchase,
       MAX(CASE WHEN net > 0 THEN day END) AS last_purchase,
       COUNT(DISTINCT CASE WHEN net > 0 THEN day END) AS purchase_days,
       MAX(usable) AS usable, SUM(bad) AS bad
FROM orders
GROUP BY customer_id
"""
    # Purchase days (orders that are not purchases share one NULL day per customer): the lifetime
    # model counts days, and its spend leaves the first purchase day out.
    if dialect.name == "duckdb":
        ranked, first_spend = "days", "arg_min(spend, day)"  # the spend of the earliest (non-NULL) day
    else:  # MIN … OVER: PostgreSQL and MySQL 8 alike
        ranked = "(SELECT days.*, MIN(day) OVER (PARTITION BY customer_id) AS first_day FROM days) AS ranked"
        first_spend = "SUM(CASE WHEN day = first_day THEN spend END)"
    return orders + f""",
days AS (
    SELECT customer_id, CASE WHEN net > 0 THEN day END AS day,
           SUM(CASE WHEN net > 0 THEN 1 ELSE 0 END) AS purchases,
           SUM(CASE WHEN net > 0 THEN net END) AS spend,
           MAX(usable) AS usable, MAX(bad) AS bad
    FROM orders
    GROUP BY customer_id, CASE WHEN net > 0 THEN day END
)
SELECT customer_id,
       SUM(CASE WHEN day IS NOT NULL AND {in_window} THEN purchases ELSE 0 END) AS frequency,
       SUM(CASE WHEN day IS NOT NULL AND {in_window} THEN spend ELSE 0 END) / 100 AS monetary,
       MIN(day) AS first_purchase, MAX(day) AS last_purchase, COUNT(day) AS purchase_days,
       SUM(spend) AS spend, {first_spend} AS first_spend,
       MAX(usable) AS usable, SUM(bad) AS bad
FROM {ranked}
GROUP BY customer_id
"""


def row_counts_sql(relation: str, exprs: Mapping[str, str], *, as_of, window_days: int | None = None,
                   keep: str = "1 = 1", dialect: Dialect | None = None) -> str:
    """What happened to the rows of each customer (:data:`ROW_COUNTS`), in one GROUP BY.

    A query of its own rather than sums carried through the orders and days of
    :func:`aggregation_sql`: measured on 1M orders, 0.35 s of CPU from Parquet against about 1 s
    the carried sums added to the lifetime query; a CSV is parsed again (0.84 s, the lifetime
    query 1.50 s, the RFM-only query 1.38 s). The categories are metrics.customers.transaction_coverage's,
    with NULL days/amounts falling where pandas' comparisons put them (a NaN compares False).
    """
    as_of = _as_date(as_of)
    after = f"COALESCE(day > DATE '{as_of}', FALSE)"
    before = (f"COALESCE(day <= DATE '{as_of - timedelta(days=window_days)}', FALSE)"
              if window_days is not None else "FALSE")
    inside = f"NOT {after} AND NOT {before}"
    flags = {"rows_window_purchase": f"{inside} AND COALESCE(amount > 0, FALSE)",
             "rows_window_refund": f"{inside} AND COALESCE(amount < 0, FALSE)",
             "rows_zero": f"NOT {after} AND COALESCE(amount = 0, FALSE)",
             "rows_before": f"{before} AND NOT COALESCE(amount = 0, FALSE)",
             "rows_after": after}
    sums = ", ".join(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {name}" for name, cond in flags.items())
    return rows_sql(relation, exprs, keep, "0", as_of, dialect=dialect) + f"""
SELECT customer_id, COUNT(*) AS rows_read, {sums}
FROM tx
GROUP BY customer_id
"""


def _typed_exprs(cols: Mapping[str, str], dialect: Dialect = DUCKDB) -> dict[str, str]:
    """Expressions for typed columns (Parquet, database tables, DataFrames)."""
    q = {k: dialect.quote_name(v) for k, v in cols.items()}

    def text(x: str) -> str:
        return "NULLIF(TRIM(" + dialect.exact.format(f"CAST({x} AS {dialect.text})") + "), '')"

    return {
        "customer_id": text(q["customer_id"]),
        "order_id": text(q["order_id"]) if "order_id" in q else f"CAST(NULL AS {dialect.text})",
        "day": f"CAST({q['order_date']} AS DATE)",
        # through DOUBLE, as the loader holds amounts: half away from zero on the float's value
        "amount": f"CAST(CAST({q['amount']} AS {dialect.double}) AS DECIMAL(18, 2))",
    }


def _text_exprs(cols: Mapping[str, str]) -> dict[str, str]:
    """DuckDB expressions that read text columns as :mod:`planlib.data.parsing` does."""
    t = {k: f"TRIM(CAST({_quote(v)} AS VARCHAR))" for k, v in cols.items()}
    d = t["order_date"]
    part = [f"regexp_extract({d}, '{_DATE_RE}', {i})" for i in (1, 2, 3)]
    money = f"regexp_replace({t['amount']}, '{_MONEY_JUNK}', '', 'g')"
    # The common clean cell takes a plain cast (ISO date/time up to seconds, a plain number);
    # only the others pay for the loader's patterns.
    plain_day = f"CASE WHEN length({d}) <= 19 THEN CAST(TRY_CAST({d} AS TIMESTAMP) AS DATE) END"
    plain_money = f"TRY_CAST({t['amount']} AS DOUBLE)"
    return {
        "customer_id": f"NULLIF({t['customer_id']}, '')",
        "order_id": f"NULLIF({t['order_id']}, '')" if "order_id" in t else "CAST(NULL AS VARCHAR)",
        "day": (f"COALESCE({plain_day}, TRY_CAST({part[0]} || '-' || lpad({part[1]}, 2, '0') || '-' "
                f"|| lpad({part[2]}, 2, '0') AS DATE))"),
        "amount": (f"CAST(COALESCE({plain_money}, CASE WHEN regexp_full_match({money}, '{_PAREN_RE}') "
                   f"THEN -TRY_CAST(trim({money}, '()') AS DOUBLE) ELSE TRY_CAST({money} AS DOUBLE) END) "
                   f"AS DECIMAL(18, 2))"),
        "_plain_money": plain_money,
        "_money": money,
        "_date": d,
    }


def _text_checks(cols: Mapping[str, str], exprs: Mapping[str, str]) -> str:
    """A row the fast path would read differently from the loader (count must be 0); the ID
    checks come first so that the common clean row is decided by cheap comparisons."""
    t = {k: f"TRIM(CAST({_quote(v)} AS VARCHAR))" for k, v in cols.items()}
    bad = [
        f"COALESCE({t['customer_id']}, '') = ''", *_id_checks(t["customer_id"]),
        f"COALESCE({exprs['_date']}, '') = '' OR {exprs['day']} IS NULL",
        f"{exprs['_plain_money']} IS NULL AND NOT (regexp_full_match({exprs['_money']}, '{_NUMBER_RE}') "
        f"OR regexp_full_match({exprs['_money']}, '{_PAREN_RE}'))",
        f"NOT isfinite(CAST({exprs['amount']} AS DOUBLE)) OR {exprs['amount']} IS NULL",
    ]
    if "order_id" in t:
        bad += _id_checks(t["order_id"])
    return _as_flag(bad)


def _id_checks(x: str) -> list[str]:
    """IDs the loader would change or refuse: non-ASCII, spaces or tabs (``normalise_ids``) and
    Excel's scientific notation (``excel_damaged``), tested the loader's way (cheap tests first)."""
    return [f"strlen({x}) <> length({x}) OR contains({x}, ' ') OR contains({x}, chr(9))",
            f"(contains({x}, 'E+') OR contains({x}, 'e+')) AND regexp_full_match({x}, '{_SCIENTIFIC_RE}')"]


def _as_flag(conditions: list[str]) -> str:
    return "CASE WHEN " + " OR ".join(f"({c})" for c in conditions) + " THEN 1 ELSE 0 END"


def _keep_sql(all_columns: list[str], cols: Mapping[str, str], types: Mapping[str, str] | None = None) -> str:
    """Not a blank row and not a 合计/总计/小计/Total row (the loader's ``_set_aside``).

    Only text columns can hold 合计 (``types``: Parquet's column types; None: all text). Blank
    rows are looked for only among rows without a customer id, as the loader does.
    """
    def text(c: str) -> str:
        return f"COALESCE(TRIM(CAST({_quote(c)} AS VARCHAR)), '')"

    cid = text(cols["customer_id"])
    blank = " AND ".join(f"{text(c)} = ''" for c in all_columns if c != cols["customer_id"]) or "1 = 1"
    looked = [c for c in dict.fromkeys([cols["customer_id"], *all_columns[:2]])
              if types is None or types[c] == "VARCHAR"]
    total = []
    for c in looked:
        x = f"ltrim({_quote(c)})"
        total.append(f"{x} ILIKE 'total%'")
        total += [f"{x} LIKE '{w}%'" for w in _TOTAL_PREFIXES]
    total_sql = " OR ".join(total) or "1 = 0"
    return f"NOT ({cid} = '' AND {blank}) AND NOT COALESCE({total_sql}, FALSE)"


def _finish(agg: pd.DataFrame, as_of) -> pd.DataFrame:
    """Day differences and dtypes, the same for every engine; sorted by customer_id.

    Raises :class:`FastPathDeclined` when the aggregation counted rows it would misread. With the
    ``full`` aggregation's ``spend``/``first_spend`` (cents) it adds ``mean_spend``: the mean
    spend of the repeat purchase days in yuan (NaN without a repeat day), as
    :func:`planlib.metrics.clv.purchase_history` defines it.
    """
    as_of = pd.Timestamp(_as_date(as_of))
    full = "spend" in agg.columns
    if "usable" in agg.columns:
        if pd.to_numeric(agg["bad"]).sum() > 0:
            raise FastPathDeclined(f"{int(pd.to_numeric(agg['bad']).sum())} rows the loader reads differently")
        usable = pd.to_numeric(agg["usable"]) > 0
        if not usable.all():  # a copy of every column otherwise
            agg = agg[usable]
    if agg.empty:
        agg = pd.DataFrame({c: pd.Series(dtype=object) for c in
                            ("customer_id", "frequency", "monetary", "first_purchase", "last_purchase",
                             "purchase_days", *(("spend", "first_spend") if full else ()))})
    out = pd.DataFrame({"customer_id": agg["customer_id"].astype("str")})
    out["frequency"] = agg["frequency"].astype(np.int64).to_numpy()
    out["monetary"] = pd.to_numeric(agg["monetary"].astype(float)).round(2).to_numpy()
    first = pd.to_datetime(agg["first_purchase"]).astype("datetime64[ns]")
    last = pd.to_datetime(agg["last_purchase"]).astype("datetime64[ns]")
    out["first_purchase"] = first.to_numpy()
    out["last_purchase"] = last.to_numpy()
    out["recency_days"] = (as_of - last).dt.days.astype(float).to_numpy()
    days = agg["purchase_days"].astype(float).to_numpy()
    out["x"] = np.where(days > 0, days - 1, np.nan)
    out["t_x"] = (last - first).dt.days.astype(float).to_numpy()
    out["T"] = (as_of - first).dt.days.astype(float).to_numpy()
    if full:
        repeat = (agg["spend"].astype(float) - agg["first_spend"].astype(float)).to_numpy() / 100
        with np.errstate(invalid="ignore", divide="ignore"):
            out["mean_spend"] = np.where(days > 1, repeat / (days - 1), np.nan)
    if out["customer_id"].is_monotonic_increasing:  # DuckDB sorted it (byte order, as pandas sorts)
        return out.reset_index(drop=True)
    return out.sort_values("customer_id", ignore_index=True)


def _row_counts(agg: pd.DataFrame) -> pd.DataFrame:
    """The ``full`` aggregation's :data:`ROW_COUNTS` per customer id, every id seen (NA for rows
    without one), sorted by id."""
    ids = agg["customer_id"].astype(object)
    out = pd.DataFrame({"customer_id": ids.where(ids.isna(), ids.astype(str)).to_numpy()})
    for name in ROW_COUNTS:
        out[name] = pd.to_numeric(agg[name]).fillna(0).astype(np.int64).to_numpy()
    return out.sort_values("customer_id", ignore_index=True, na_position="last")


# ---------------------------------------------------------------------------------- pandas reference
def _cents(amount: pd.Series) -> np.ndarray:
    """Amounts in whole cents, half away from zero (as CAST(CAST(x AS DOUBLE) AS DECIMAL(18, 2)))."""
    a = amount.to_numpy(dtype=float)
    return (np.sign(a) * np.floor(np.abs(a) * 100 + 0.5)).astype(np.int64)


def purchases_pandas(frame: pd.DataFrame, *, as_of, window_days: int | None = None) -> pd.DataFrame:
    """The definition in plain pandas, on canonical transactions (docs/CONTRACTS.md)."""
    return _pandas(frame, as_of=as_of, window_days=window_days, full=False)[0]


def figures_pandas(frame: pd.DataFrame, *, as_of, window_days: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`customer_figures`' purchases and row counts in plain pandas, on canonical transactions."""
    return _pandas(frame, as_of=as_of, window_days=window_days, full=True)


def _pandas(frame: pd.DataFrame, *, as_of, window_days: int | None, full: bool
            ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    as_of_ts = pd.Timestamp(_as_date(as_of))
    df = pd.DataFrame({
        "customer_id": frame["customer_id"],
        "day": pd.to_datetime(frame["order_date"]).dt.normalize(),
        "amount": pd.to_numeric(frame["amount"]),
    })
    if "order_id" in frame.columns:
        oid = frame["order_id"]
        oid = oid.where(oid.isna(), oid.astype("str").str.strip())
        df["order_id"] = oid.where(oid != "")
    else:
        df["order_id"] = pd.Series(np.nan, index=frame.index, dtype="str")
    start = as_of_ts - pd.Timedelta(days=window_days) if window_days is not None else None
    counts = _row_counts_pandas(df, as_of_ts, start) if full else None
    df = df[df["customer_id"].notna() & df["day"].notna() & df["amount"].notna() & (df["day"] <= as_of_ts)]
    df = df.assign(customer_id=df["customer_id"].astype("str"), cents=_cents(df["amount"]))
    # 1. orders: (customer, order id) or, without an id, (customer, day)
    orders = pd.DataFrame({
        "customer_id": df["customer_id"], "order_id": df["order_id"].fillna(""),
        "day_key": df["day"].where(df["order_id"].isna()).fillna(pd.Timestamp(0)),
        "pos_day": df["day"].where(df["cents"] > 0), "cents": df["cents"],
    }).groupby(["customer_id", "order_id", "day_key"], sort=False).agg(day=("pos_day", "min"), net=("cents", "sum"))
    bought = orders[orders["net"] > 0].reset_index()
    # 2. per customer
    bought["in_window"] = bought["day"] > start if start is not None else True
    per = bought.groupby("customer_id").agg(
        frequency=("in_window", "sum"), first_purchase=("day", "min"), last_purchase=("day", "max"),
        purchase_days=("day", "nunique"))
    kept = bought[bought["in_window"]] if start is not None else bought
    monetary = (kept.groupby("customer_id")["net"].sum().reindex(pd.unique(df["customer_id"]), fill_value=0)
                .rename("monetary") / 100)
    agg = monetary.to_frame().join(per, how="left")
    agg["frequency"] = agg["frequency"].fillna(0)
    agg["purchase_days"] = agg["purchase_days"].fillna(0)
    if full:  # cents of all purchases and of the first purchase day's, as the SQL's days level
        by_day = bought.groupby(["customer_id", "day"])["net"].sum().reset_index()
        first_day = by_day.groupby("customer_id")["day"].transform("min")
        agg["spend"] = by_day.groupby("customer_id")["net"].sum().reindex(agg.index)
        agg["first_spend"] = by_day[by_day["day"] == first_day].groupby("customer_id")["net"].sum().reindex(agg.index)
    return _finish(agg.rename_axis("customer_id").reset_index(), as_of), counts


def _row_counts_pandas(df: pd.DataFrame, as_of: pd.Timestamp, start: pd.Timestamp | None) -> pd.DataFrame:
    """:data:`ROW_COUNTS` per customer id over every row (before any row is dropped)."""
    cents = pd.Series(_cents(df["amount"].fillna(0)), index=df.index).where(df["amount"].notna())
    after = (df["day"] > as_of).to_numpy()
    before = (df["day"] <= start).to_numpy() if start is not None else np.zeros(len(df), dtype=bool)
    inside = ~after & ~before
    flags = pd.DataFrame({
        "rows_read": 1,
        "rows_window_purchase": inside & (cents > 0).to_numpy(),
        "rows_window_refund": inside & (cents < 0).to_numpy(),
        "rows_zero": ~after & (cents == 0).to_numpy(),
        "rows_before": before & ~(cents == 0).to_numpy(),
        "rows_after": after,
    }, index=df.index).astype(np.int64)
    ids = df["customer_id"].astype(object)
    flags["customer_id"] = ids.where(ids.isna(), ids.astype(str))
    summed = flags.groupby("customer_id", dropna=False, sort=False)[list(ROW_COUNTS)].sum().reset_index()
    return _row_counts(summed)


# ---------------------------------------------------------------------------------- a folder of Parquet
# ---------------------------------------------------------------------------------- DuckDB
@contextmanager
def connect(threads: int | None = None, memory_limit: str | None = DUCKDB_MEMORY_LIMIT, database: str = ":memory:",
            read_only: bool = False) -> Iterator:
    """A DuckDB connection with bounded memory, spilling to a temp folder of its own, and no
    progress bar; the folder is removed with the connection (one shared folder grew with every
    killed run, and two processes spilled into the same place)."""
    import duckdb

    spill = tempfile.mkdtemp(prefix="planlib-duckdb-")
    config = {"preserve_insertion_order": False, "temp_directory": spill}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    try:
        con = duckdb.connect(database, read_only=read_only, config=config)
        try:
            con.execute("SET enable_progress_bar = false")  # it prints to stdout past 2 s; a session option
            yield con
        finally:
            con.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _sql_string(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def transcode_to_utf8(path: Path, encoding: str, chunk: int = 1 << 22) -> Path:
    """Stream ``path`` from ``encoding`` (gb18030, big5, …) into a UTF-8 temp file; memory ~ chunk.

    DuckDB reads only UTF-8/UTF-16/Latin-1 without its ``encodings`` extension (a download), and
    Latin-1 "succeeds" on GBK bytes with garbled headers — never use it as a fallback.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    fd, out = tempfile.mkstemp(suffix=".csv", prefix="planlib-")
    try:
        with open(path, "rb") as src, os.fdopen(fd, "w", encoding="utf-8", newline="") as dst:
            while block := src.read(chunk):
                dst.write(decoder.decode(block))
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        Path(out).unlink(missing_ok=True)
        raise FastPathDeclined("not in one encoding") from None
    return Path(out)


def _mapping(headers: list[str], source: DataSource) -> dict[str, str]:
    """canonical column → source column name, as the loader maps headers (aliases, ``columns:``)."""
    found = {target: headers[i] for i, target in match_headers("transactions", headers, source.columns).items()}
    if not set(required("transactions")) <= set(found):
        raise FastPathDeclined("required columns missing")  # the loader names them
    return {k: v for k, v in found.items() if k in ("order_id", "customer_id", "order_date", "amount")}


def _csv_relation(path: Path, source: DataSource, cleanup: list[Path]) -> tuple[str, list[str]]:
    """read_csv(...) of a CSV export with the loader's encoding and header row; its header names."""
    from planlib.data.readers import _HEAD_BYTES, AUTO_ENCODINGS, _attempt, sniff

    if sniff(path) != "text":
        raise FastPathDeclined("not a plain text file")
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
        complete = not fh.read(1)
    encodings = (source.encoding,) if source.encoding != "auto" else AUTO_ENCODINGS
    attempt = next((a for a in (_attempt(head, complete, e, "transactions", source.columns) for e in encodings)
                    if a.ok), None)
    if attempt is None or attempt.merged is not None:
        raise FastPathDeclined("header not found, or over two rows")
    headers = attempt.rows[attempt.header]
    if attempt.encoding not in ("utf-8", "utf-8-sig"):
        path = transcode_to_utf8(path, attempt.encoding)
        cleanup.append(path)
    names = ", ".join(_sql_string(f"c{i}") for i in range(len(headers)))
    relation = (f"read_csv({_sql_string(str(path))}, header = true, skip = {attempt.header}, "
                f"delim = {_sql_string(attempt.delimiter)}, quote = '\"', all_varchar = true, "
                f"names = [{names}], encoding = 'utf-8', strict_mode = true)")
    return relation, headers


def memory_bytes(limit: str) -> int:
    """Bytes of a DuckDB memory limit such as ``"1GB"``, ``"512MB"``, ``"1.5GiB"``."""
    number = limit.strip().rstrip("iBb").rstrip()
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    unit = number[-1:].upper()
    return int(float(number[:-1]) * units[unit]) if unit in units else int(float(number))


def _passes(rows: int, memory_limit: str | None) -> int:
    """How many passes over hash buckets of the customer id keep one pass within ``memory_limit``.

    DuckDB's hash aggregates spill to the temp folder, but not everything this query holds does
    (the per-customer result, COUNT(DISTINCT)'s sets): in one pass, 100M orders stopped with "Out
    of Memory Error" at a 1 GB limit (and at 2 and 3 GB). A customer's rows all hash to one
    bucket, so each pass computes complete, exact figures for its customers.
    """
    if not memory_limit:
        return 1
    per_pass = max(1, memory_bytes(memory_limit) // 2**20 * PASS_ROWS_PER_MB)
    return max(1, -(-rows // per_pass))


def _row_estimate(con, kind: str, files: list[Path]) -> int:
    """Rows of the source: Parquet's footers say; a CSV's is estimated from its size."""
    if kind == "parquet":
        listed = ", ".join(_sql_string(str(p)) for p in files)
        return int(con.execute(f"SELECT COALESCE(SUM(num_rows), 0) FROM parquet_file_metadata([{listed}])"
                               ).fetchone()[0])
    return sum(p.stat().st_size for p in files) // CSV_BYTES_PER_ROW


def concat_passes(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One frame of the passes' frames, sorted by customer_id as one pass returns it.

    Empties ``frames`` (the caller's list), so that the parts are freed once concatenated: at 10M
    customers each copy of the figures is ≈ 0.7 GB, and parts, whole and sorted whole at once
    would be three.
    """
    kept = [f for f in frames if not f.empty] or frames[:1]
    frames.clear()
    out = kept[0] if len(kept) == 1 else pd.concat(kept, ignore_index=True)
    kept.clear()
    if out["customer_id"].is_monotonic_increasing:
        return out.reset_index(drop=True)
    return out.sort_values("customer_id", ignore_index=True, na_position="last")


@dataclass(frozen=True)
class Scan:
    """A transactions source as the fast path reads it, the loader's meaning kept (module docstring).

    ``relation`` is the FROM item; ``exprs`` read customer_id, order_id, day and amount from it
    (for :func:`rows_sql`); ``bad`` flags (1/0) a row the loader reads differently — every query
    counts them in its own scan and declines on any; ``keep`` leaves out 合计 and blank rows.
    ``files`` and ``kind``: the files DuckDB reads, whose row count sizes the passes.
    """

    relation: str
    exprs: Mapping[str, str]
    bad: str
    keep: str = "1 = 1"
    dialect: Dialect = DUCKDB
    files: tuple[Path, ...] = ()
    kind: str = ""

    def bucket(self, i: int, passes: int) -> str:
        """``keep`` for pass ``i`` of ``passes``: the rows whose customer id hashes to bucket ``i``
        (DuckDB). hash() of the grouping key itself: NULL ids hash alike too, so every row is in
        one pass, and a customer's rows all in the same one."""
        return self.keep if passes == 1 else f"({self.keep}) AND hash({self.exprs['customer_id']}) % {passes} = {i}"

    def passes(self, con, memory_limit: str | None) -> int:
        """How many passes over customer buckets keep one within ``memory_limit`` (:func:`_passes`)."""
        return _passes(_row_estimate(con, self.kind, list(self.files)), memory_limit)


def source_file(source: DataSource, base_dir: Path) -> tuple[Path, str]:
    """The resolved path of a file source and how DuckDB reads it: "csv" or "parquet" (a folder of parts)."""
    from planlib.data.readers import file_format

    path = (Path(base_dir) / source.path).resolve()
    return path, ("parquet" if path.is_dir() else file_format(path, source, source.path))


@contextmanager
def file_scan(con, path: Path, source: DataSource, kind: str) -> Iterator[Scan]:
    """The :class:`Scan` of a CSV/Parquet file or a folder of Parquet parts in DuckDB connection
    ``con``; a GBK/Big5 CSV is transcoded to a temp file removed afterwards."""
    cleanup: list[Path] = []
    try:
        if kind == "parquet":
            files = folder_parts(path, source.path)[0] if path.is_dir() else [path]
            relation = f"read_parquet([{', '.join(_sql_string(str(p)) for p in files)}])"
            described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
            headers = [r[0] for r in described]
            types = {r[0]: r[1].upper() for r in described}
            positional = dict(zip(headers, headers, strict=True))
        else:
            files = [path]
            relation, headers = _csv_relation(path, source, cleanup)
            types = {}
            positional = {h: f"c{i}" for i, h in enumerate(headers)}
        cols = {k: positional[v] for k, v in _mapping(headers, source).items()}
        all_columns = list(positional.values())
        if _typed_enough(types, cols):
            exprs, checks = _typed_exprs(cols), _typed_checks(cols, types)
        else:
            exprs = _text_exprs(cols)
            checks = _text_checks(cols, exprs)
        keep = _keep_sql(all_columns, cols, types or None)
        exprs = {k: v for k, v in exprs.items() if not k.startswith("_")}
        yield Scan(relation, exprs, checks, keep, DUCKDB, tuple(files), kind)
    finally:
        for p in cleanup:
            p.unlink(missing_ok=True)


def _duckdb_file(con, path: Path, source: DataSource, kind: str, as_of, window_days, full: bool = False,
                 passes: int | None = None, memory_limit: str | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The aggregation of a CSV/Parquet file or folder in DuckDB, in ``passes`` passes over hash
    buckets of the customer id (None: as many as :func:`_passes` says for ``memory_limit``)."""
    with file_scan(con, path, source, kind) as scan:
        if passes is None:
            passes = scan.passes(con, memory_limit)
        found, counted = [], []
        for i in range(passes):
            part = scan.bucket(i, passes)
            agg = con.execute(aggregation_sql(scan.relation, scan.exprs, as_of=as_of, window_days=window_days,
                                              keep=part, bad=scan.bad, full=full)).df()
            found.append(_finish(agg, as_of))  # declines before the next query when the loader must read it
            del agg
            if full:
                counts = con.execute(row_counts_sql(scan.relation, scan.exprs, as_of=as_of, window_days=window_days,
                                                    keep=part)).df()
                counted.append(_row_counts(counts))
        return concat_passes(found), (concat_passes(counted) if full else None)


def _typed_enough(types: Mapping[str, str], cols: Mapping[str, str]) -> bool:
    """Parquet columns that need no text parsing: a date/timestamp and a number."""
    if not types:
        return False
    date_ok = types[cols["order_date"]].startswith(("DATE", "TIMESTAMP"))
    money_ok = types[cols["amount"]].split("(")[0] in ("DOUBLE", "FLOAT", "DECIMAL", "INTEGER", "BIGINT",
                                                        "SMALLINT", "HUGEINT", "REAL")
    ids_ok = all(types[cols[c]] == "VARCHAR" for c in ("customer_id", "order_id") if c in cols)
    return date_ok and money_ok and ids_ok


def _typed_checks(cols: Mapping[str, str], types: Mapping[str, str]) -> str:
    """Typed Parquet: required cells present, IDs as the loader leaves them."""
    q = {k: _quote(v) for k, v in cols.items()}
    bad = [f"{q['customer_id']} IS NULL OR TRIM({q['customer_id']}) = ''", *_id_checks(f"TRIM({q['customer_id']})"),
           f"{q['order_date']} IS NULL", f"{q['amount']} IS NULL",
           f"NOT isfinite(CAST({q['amount']} AS DOUBLE))"]
    if "order_id" in q:
        bad += _id_checks(f"TRIM({q['order_id']})")
    if types[cols["order_date"]].startswith("TIMESTAMP WITH"):
        bad.append("1 = 1")  # time zones: the loader drops them; leave it to the loader
    return _as_flag(bad)


# ---------------------------------------------------------------------------------- databases
# A text date or amount MySQL casts exactly as the loader reads it (else the loader reads the table).
_PLAIN_DATE_RE = r"^[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}([ T][0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}([.][0-9]+)?)?)?$"
_PLAIN_NUMBER_RE = r"^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
# _SCIENTIFIC_RE without backslashes: MySQL reads '\d' in a string literal as 'd'.
_PLAIN_SCIENTIFIC_RE = r"^[+-]?[0-9]+([.][0-9]+)?[eE][+-]?[0-9]+$"


def _database_checks(cols: Mapping[str, str], exprs: Mapping[str, str], dialect: Dialect) -> str:
    """A row the database would read differently from the loader (their count must be 0):

    a required cell missing (the loader names it), an ID the loader rewrites (non-ASCII, spaces,
    tabs — ``normalise_ids``) or refuses (Excel's scientific notation); in MySQL, a zero date and a
    date or amount that is not plainly written (it casts silently). A typed DATETIME or DECIMAL
    column passes the plain patterns as the database writes it out as text.
    """
    q = {k: dialect.quote_name(v) for k, v in cols.items()}

    def ids(x: str) -> list[str]:
        return [f"{dialect.byte_length}({x}) <> char_length({x}) OR {x} LIKE '% %' "
                f"OR {x} LIKE CONCAT('%', {dialect.tab}, '%')",
                f"({x} LIKE '%E+%' OR {x} LIKE '%e+%') AND "
                + dialect.regex.format(x=x, pattern=_PLAIN_SCIENTIFIC_RE)]

    bad = [f"{exprs['customer_id']} IS NULL", *ids(exprs["customer_id"]),
           f"{q['order_date']} IS NULL OR {exprs['day']} IS NULL", f"{q['amount']} IS NULL"]
    if "order_id" in cols:
        bad += ids(exprs["order_id"])
    if dialect.impossible_date:
        bad.append(dialect.impossible_date.format(day=exprs["day"]))
    if dialect.casts_silently:
        for column, pattern in (("order_date", _PLAIN_DATE_RE), ("amount", _PLAIN_NUMBER_RE)):
            text = f"TRIM(CAST({q[column]} AS {dialect.text}))"
            bad.append("NOT (" + dialect.regex.format(x=text, pattern=pattern) + ")")
    return _as_flag(bad)


def database_scan(reader, source: DataSource) -> Scan:
    """The :class:`Scan` of a database table or query, on ``reader`` (:func:`planlib.data.sql.connect`):
    its columns asked with ``LIMIT 0``, typed expressions and checks in the reader's dialect."""
    from planlib.data import sql

    dialect = DIALECTS[reader.dialect]
    headers = [str(c) for c in reader.read(source, limit0=True).columns]
    cols = _mapping(headers, source)
    relation = (sql._quote(source.table, dialect.quote) if source.table is not None
                else f"({source.query.strip().rstrip(';')}) AS planlib_source")
    exprs = _typed_exprs(cols, dialect)
    return Scan(relation, exprs, _database_checks(cols, exprs, dialect), dialect=dialect)


def _database(source: DataSource, base_dir: Path, as_of, window_days, full: bool = False
              ) -> tuple[pd.DataFrame, pd.DataFrame | None, dict | None]:
    """The aggregation pushed down into the source's database; one row per customer comes back.

    With ``full`` (stage 02) also the row counts and the source's fingerprint
    (:func:`planlib.data.sql.fingerprint_of`: row count and content hash), all on one connection
    in one transaction — REPEATABLE READ in PostgreSQL, a consistent snapshot in MySQL, DuckDB's
    own — so rows written meanwhile are in all three or in none, and the manifest describes the
    rows the figures were computed from.
    """
    from planlib.data import sql

    with sql.connect("transactions", source, base_dir) as reader:
        scan = database_scan(reader, source)
        query = aggregation_sql(scan.relation, scan.exprs, as_of=as_of, window_days=window_days, full=full,
                                bad=scan.bad, dialect=scan.dialect)
        try:
            agg = reader.run(query)
            counts = (reader.run(row_counts_sql(scan.relation, scan.exprs, as_of=as_of, window_days=window_days,
                                                dialect=scan.dialect)) if full else None)
        except Exception as exc:  # a text date or ￥ amount the database cannot cast: the loader reads it
            raise FastPathDeclined(str(exc)[:200]) from None
        purchases = _finish(agg, as_of)  # declines before the fingerprint when the loader must read it
        fingerprint = sql.fingerprint_of(reader, source) if full else None
    return purchases, (_row_counts(counts) if full else None), fingerprint


# ---------------------------------------------------------------------------------- the switch
@contextmanager
def duckdb_declines() -> Iterator[None]:
    """DuckDB refusing the data (its CSV reader and a ragged row, say) as :class:`FastPathDeclined`:
    the loader explains. Running out of memory or temp space is not a data problem the loader could
    explain, so those keep their traceback: handed on, a 100M-row file came back as the loader's
    "file over 2 GB" (bench_needs.py, 100M)."""
    import duckdb

    resource = (duckdb.OutOfMemoryException, duckdb.InterruptException, duckdb.FatalException,
                duckdb.InternalException)
    try:
        yield
    except duckdb.Error as exc:
        if isinstance(exc, resource):
            raise
        raise FastPathDeclined(str(exc)[:200]) from None


def choose_engine(source: DataSource, base_dir: Path, engine: str = "auto",
                  min_bytes: int | None = None) -> str:
    """"database", "duckdb" or "pandas" for ``source`` (``engine`` forces duckdb or pandas)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}")
    if engine == "pandas":
        return "pandas"
    if source.pad_ids:
        return "pandas"  # the loader pads all-digit IDs (data.<source>.pad_ids); the SQL does not
    if source.url is not None:
        return "database"
    from planlib.data.readers import file_format

    path = (Path(base_dir) / source.path).resolve()
    try:
        if path.is_dir():  # a folder of Parquet parts: their total size
            kind, size = "parquet", sum(p.stat().st_size for p in parquet_parts(path, source.path))
        else:
            kind = file_format(path, source, source.path)
            size = path.stat().st_size
    except OSError:
        return "pandas"  # the loader says what is missing
    if kind not in ("csv", "parquet"):
        return "pandas"
    limit = DUCKDB_MIN_BYTES[kind] if min_bytes is None else min_bytes
    return "duckdb" if engine == "duckdb" or size >= limit else "pandas"


def customer_purchases(source: DataSource, base_dir: Path, *, as_of, window_days: int | None,
                       engine: str = "auto", min_bytes: int | None = None) -> tuple[pd.DataFrame, str]:
    """Per-customer purchases of the transactions ``source`` and the engine that computed them.

    The engine is :func:`choose_engine`'s; when the fast path declines (see the module
    docstring) the pandas path runs, and its loader reports the planner's mistakes.
    """
    purchases, _, used, _ = _compute(source, base_dir, as_of, window_days, engine, min_bytes, full=False)
    return purchases, used


@dataclass
class CustomerFigures:
    """Everything stage 02 needs from the orders, one row per customer (:func:`customer_figures`)."""

    purchases: pd.DataFrame  # OUTPUT + mean_spend: one row per customer with a usable row
    rows: pd.DataFrame  # customer_id (NA: rows without one) + ROW_COUNTS: every id seen
    engine: str  # "database", "duckdb" or "pandas"
    # database sources: data.sql.fingerprint_of (masked source and query, rows, content hash) of the
    # snapshot the figures were computed from — what the stage records and --resume compares
    fingerprint: dict | None = None


_KEPT: dict[tuple, CustomerFigures] = {}  # at most one: see customer_figures(keep=True)


def _files_key(source: DataSource, base_dir: Path, *settings) -> tuple | None:
    """What a file source is now — every file's (path, size, mtime_ns), with the source's settings
    and ``settings`` — or None for a database source (its rows may change between two stages)."""
    if source.url is not None:
        return None
    path = (Path(base_dir) / source.path).resolve()
    try:
        files = parquet_parts(path, source.path) if path.is_dir() else [path]
        stats = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    except (OSError, PlanError):  # missing, or a folder the parts check refuses: the reader says why
        return None
    return (source.model_dump_json(), *settings, stats)


def customer_figures(source: DataSource, base_dir: Path, *, as_of, window_days: int | None,
                     engine: str = "auto", min_bytes: int | None = None, keep: bool = False) -> CustomerFigures:
    """:func:`customer_purchases` plus the lifetime model's spend (``mean_spend``) and what
    happened to every row (:data:`ROW_COUNTS` per customer id), computed in the same scan; for a
    database source its fingerprint from the same snapshot (``fingerprint``).

    ``keep``: remember the figures of a file source for the next call with the same file (same
    size and modification time) and settings, which takes them — stage 01 computes the customer
    table that stage 02 computes again in the same kernel, and at 100M orders the aggregation is
    ten minutes. Only one is remembered, and only until it is taken; a database is asked again.
    """
    key = _files_key(source, base_dir, str(as_of), window_days, engine, min_bytes)
    if key is not None and key in _KEPT:
        return _KEPT.pop(key)
    purchases, rows, used, fingerprint = _compute(source, base_dir, as_of, window_days, engine, min_bytes, full=True)
    figures = CustomerFigures(purchases, rows, used, fingerprint)
    _KEPT.clear()
    if keep and key is not None:
        _KEPT[key] = figures
    return figures


def _compute(source: DataSource, base_dir: Path, as_of, window_days: int | None, engine: str,
             min_bytes: int | None, full: bool) -> tuple[pd.DataFrame, pd.DataFrame | None, str, dict | None]:
    """(purchases, row counts or None, engine used, fingerprint of a database source or None)."""
    chosen = choose_engine(source, base_dir, engine, min_bytes)
    try:
        if chosen == "database":
            purchases, counts, fingerprint = _database(source, Path(base_dir), as_of, window_days, full)
            return purchases, counts, "database", fingerprint
        if chosen == "duckdb":
            path, kind = source_file(source, base_dir)
            with duckdb_declines(), connect() as con:
                return (*_duckdb_file(con, path, source, kind, as_of, window_days, full,
                                      memory_limit=DUCKDB_MEMORY_LIMIT), "duckdb", None)
    except FastPathDeclined:
        pass
    from planlib.data.load import load_source

    loaded = load_source("transactions", source, Path(base_dir))  # a database: rows and fingerprint in one snapshot
    return (*_pandas(loaded.frame, as_of=as_of, window_days=window_days, full=full), "pandas", loaded.fingerprint)
