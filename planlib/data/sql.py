"""Data sources in a database: ``{url: ..., table: ...}`` or ``{url: ..., query: ...}``.

* PostgreSQL (``postgresql+psycopg://``, psycopg 3) and MySQL (``mysql+pymysql://``, PyMySQL) go
  through SQLAlchemy 2; DuckDB database files (``duckdb:///path/file.duckdb``, relative to the
  plan file's folder) are opened directly with DuckDB, read-only.
* Credentials only through environment variables named in the URL
  (``postgresql+psycopg://planner:${PLANLIB_DB_PASSWORD}@host/db``): they are expanded when
  connecting and never appear in labels, messages, the manifest or logs (:func:`mask_url`). The
  plan schema refuses a password written into the URL.
* The rows come back as a typed table (like Parquet) and go through the same header mapping,
  ``columns:`` mapping, 合计-row handling and value checks as files (:mod:`planlib.data.load`).
* Whatever goes wrong — the server does not answer, a password or permission is refused, the
  table or a column is missing — is one Chinese line naming the source and the fix
  (:class:`~planlib.errors.DataError`, no traceback, no password).
* :func:`check_sources` is what ``planlib validate`` asks of each database source: it answers
  and has the needed columns (``LIMIT 0``: no rows are read).
* :func:`fingerprint_of` — the query run, row count and an order-free content hash, computed in
  the database (PostgreSQL, MySQL/MariaDB, DuckDB) in the same snapshot as the rows — is recorded in
  :class:`planlib.data.load.LoadResult` ``.fingerprint`` for the stage records and the manifest;
  :func:`source_fingerprint` is what ``--resume``/``--stage`` compare it with later.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from planlib.data.readers import RawTable, fail, header_error
from planlib.data.tables import TABLES, match_headers, normalise_header, required
from planlib.errors import DataError, Problem
from planlib.plan.schema import Data, DataSource

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@?#]*):(?P<pw>[^@]*)@")
CONNECT_TIMEOUT_S = 10
_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql"}
_INSTALL = {"psycopg": "psycopg[binary]", "pymysql": "PyMySQL"}


# ---------------------------------------------------------------------------------- URLs
def mask_url(url: str) -> str:
    """``url`` with its password (expanded or ``${VAR}``, also ``?password=``) shown as ``***``."""
    url = _PASSWORD.sub(lambda m: f"{m['head']}:***@", url)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url, flags=re.IGNORECASE)


def describe(source: DataSource) -> str:
    """Where a database source reads from, safe to print: masked URL and table (or "查询")."""
    return f"{mask_url(source.url or '')} {('表 ' + source.table) if source.table else '查询'}"


def label_of(name: str, source: DataSource) -> str:
    return f"data.{name}({describe(source)})"


def expand_url(url: str, label: str) -> str:
    """``${NAME}`` replaced by the environment variable ``NAME`` (a missing one is the planner's fix)."""
    def value(match: re.Match) -> str:
        found = os.environ.get(match[1])
        if found is None:
            raise fail(label, f"环境变量 {match[1]} 没有设置(数据库地址中写的是 ${{{match[1]}}})",
                       f"运行前设置它,例如 export {match[1]}='密码';密码不要写进计划文件")
        from urllib.parse import quote

        return quote(found, safe="")  # a password with @ or / must not break the URL
    return _VAR.sub(value, url)


def _secrets(url: str) -> list[str]:
    """Values of the environment variables a URL names (to scrub them from driver messages)."""
    out = []
    for name in _VAR.findall(url):
        value = os.environ.get(name)
        if value:
            from urllib.parse import quote

            out += [value, quote(value, safe="")]
    return out


def _quote(name: str, quote_char: str = '"') -> str:
    """A possibly schema-qualified table name (``schema.table``), each part quoted."""
    return ".".join(quote_char + part.replace(quote_char, quote_char * 2) + quote_char for part in name.split("."))


def _select(source: DataSource, quote_char: str, limit0: bool = False) -> str:
    if source.table is not None:
        sql = f"SELECT * FROM {_quote(source.table, quote_char)}"
    else:
        sql = f"SELECT * FROM ({source.query.strip().rstrip(';')}) AS planlib_source"
    return sql + (" LIMIT 0" if limit0 else "")


# ---------------------------------------------------------------------------------- connecting
def _is_duckdb(url: str) -> bool:
    return url.lower().startswith("duckdb:")


def _duckdb_path(url: str, base_dir: Path) -> Path:
    rest = url.split(":", 1)[1]
    rest = rest[3:] if rest.startswith("///") else rest.lstrip("/")
    return (Path(base_dir) / rest).resolve()


class _Reader:
    """One open connection that runs a SELECT and returns (headers, pandas frame).

    ``dialect`` ("postgresql", "mysql", "duckdb") picks the in-database fingerprint
    (:func:`fingerprint_of`) and :mod:`planlib.data.aggregate`'s SQL hooks.

    ``run(sql, params=None, expanding=())``: values travel as bound parameters, never in the SQL
    text — ``:name`` in PostgreSQL/MySQL (a list for PostgreSQL's ``= ANY(:name)``; a name in
    ``expanding`` is a list for ``IN :name``, which PyMySQL writes out escaped on the client, so
    there is no limit of 65,535 placeholders), ``$name`` in DuckDB. ``register(name, table)``
    (DuckDB only, else None) makes a pyarrow table or DataFrame a view of this connection, for a
    long list of values to join with.
    """

    def __init__(self, run, quote_char: str, dialect: str = "", register=None):
        self.run, self.quote_char, self.dialect, self.register = run, quote_char, dialect, register

    def read(self, source: DataSource, limit0: bool = False) -> pd.DataFrame:
        return self.run(_select(source, self.quote_char, limit0))


@contextlib.contextmanager
def connect(name: str, source: DataSource, base_dir: Path) -> Iterator[_Reader]:
    """An open connection to ``source``'s database; every failure a one-line :class:`DataError`."""
    label = label_of(name, source)
    url = source.url or ""
    if _is_duckdb(url):
        import duckdb

        path = _duckdb_path(url, base_dir)
        if not path.is_file():
            raise fail(label, f"找不到 DuckDB 数据库文件 {path}", "检查 url 中的路径(相对于计划文件所在的目录)")
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            raise fail(label, f"无法打开 DuckDB 数据库: {_first_line(exc, [])}",
                       "确认文件是 DuckDB 数据库,且没有被其他程序以写方式占用") from None
        try:
            yield _Reader(lambda sql, params=None, expanding=(): _duckdb_frame(con, sql, name, source, params),
                          '"', "duckdb", register=con.register)
        finally:
            con.close()
        return
    import sqlalchemy as sa

    full = expand_url(url, label)
    try:
        sa_url = sa.engine.make_url(full)
    except sa.exc.ArgumentError:
        raise fail(label, "数据库地址的格式不对",
                   "例如 postgresql+psycopg://用户:${PLANLIB_DB_PASSWORD}@主机:5432/库名") from None
    backend = sa_url.get_backend_name()
    if backend not in _DRIVERS:
        raise fail(label, f"不支持的数据库类型 {backend!r}",
                   "可用: postgresql+psycopg://、mysql+pymysql://、duckdb:///文件路径")
    if sa_url.get_driver_name() != _DRIVERS[backend]:
        sa_url = sa_url.set(drivername=f"{backend}+{_DRIVERS[backend]}")
    if backend == "mysql" and "charset" not in sa_url.query:
        # Chinese column names and values need utf8mb4 (MySQL's "utf8" is 3 bytes: no 𠮷, no emoji)
        sa_url = sa_url.update_query_dict({"charset": "utf8mb4"})
    try:
        # REPEATABLE READ: everything one connection runs sees one snapshot — the fingerprint and the
        # rows (:func:`read_raw_sql`), or the per-customer figures, row counts and fingerprint
        # (planlib.data.aggregate._database) — so rows inserted meanwhile are in all or in none
        engine = sa.create_engine(sa_url, poolclass=sa.pool.NullPool, isolation_level="REPEATABLE READ",
                                  connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    except ImportError:
        package = _INSTALL[_DRIVERS[backend]]
        raise fail(label, f"缺少数据库驱动 {package}", f"安装: pip install '{package}'") from None
    secrets = _secrets(url)
    try:
        with engine.connect() as conn:
            if backend == "mysql":
                # InnoDB's REPEATABLE READ takes its snapshot at the first read; starting it here makes
                # every statement of this connection (figures, row counts, fingerprint) see one snapshot
                conn.execute(sa.text("START TRANSACTION WITH CONSISTENT SNAPSHOT"))

            def run(sql: str, params: dict | None = None, expanding: tuple[str, ...] = ()) -> pd.DataFrame:
                statement = sa.text(sql)
                if expanding:
                    statement = statement.bindparams(*(sa.bindparam(n, expanding=True) for n in expanding))
                try:
                    result = conn.execute(statement, params) if params else conn.execute(statement)
                    return pd.DataFrame.from_records(result.fetchall(), columns=list(result.keys()))
                except sa.exc.DBAPIError as exc:
                    raise _database_error(label, exc, source, secrets) from None
            yield _Reader(run, engine.dialect.identifier_preparer.initial_quote, backend)
    except sa.exc.DBAPIError as exc:  # connecting
        raise _database_error(label, exc, source, secrets) from None
    finally:
        engine.dispose()


def _duckdb_frame(con, sql: str, name: str, source: DataSource, params: dict | None = None) -> pd.DataFrame:
    import duckdb

    try:
        return con.execute(sql, params).df() if params else con.execute(sql).df()
    except duckdb.CatalogException as exc:
        raise _missing(label_of(name, source), source, str(exc)) from None
    except duckdb.Error as exc:
        raise fail(label_of(name, source), f"查询失败: {_first_line(exc, [])}",
                   "检查 table/query 是否正确") from None


def _first_line(exc: BaseException, secrets: list[str]) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for secret in secrets:
        text = text.replace(secret, "***")
    return mask_url(text)[:200]


def _missing(label: str, source: DataSource, detail: str) -> DataError:
    if source.table is not None and ("does not exist" in detail or "doesn't exist" in detail
                                     or "Table with name" in detail):
        return fail(label, f"数据库中没有表 {source.table}", "检查 table 的拼写(可写成 模式.表名),或确认连接的是正确的库")
    return fail(label, f"查询引用了不存在的表或列: {detail.splitlines()[0][:160]}", "检查 query 中的表名和列名")


def _database_name(detail: str) -> str:
    """The database a driver message names ('…database "crm"…', "Unknown database 'crm'")."""
    found = re.search(r"database ['\"`]([^'\"`]+)['\"`]", detail)
    return found[1] if found else ""


def _database_error(label: str, exc, source: DataSource, secrets: list[str]) -> DataError:
    """One line for what a planner (or the database administrator) can fix."""
    orig = getattr(exc, "orig", exc)
    state = getattr(orig, "sqlstate", None) or ""
    code = orig.args[0] if getattr(orig, "args", None) and isinstance(orig.args[0], int) else None
    detail = _first_line(exc, secrets)
    low = detail.lower()
    if state in ("42P01", "42703") or code in (1146, 1054):
        return _missing(label, source, detail)
    if state == "42501" or code in (1142, 1143):
        return fail(label, "数据库用户没有读取权限", "请数据库管理员授予该用户对此表的 SELECT 权限")
    if state in ("28P01", "28000") or code == 1045 or "password authentication failed" in low:
        return fail(label, "数据库拒绝了用户名或密码", "检查 url 中的用户名和密码环境变量的值")
    if code == 1044:  # MySQL answers so for a database the user may not use *or that does not exist*
        return fail(label, f"数据库用户不能访问库 {_database_name(detail)}(或者这个库不存在)",
                    "检查 url 最后的库名;库名无误时,请数据库管理员授予该用户对此库的 SELECT 权限")
    if state == "3D000" or code == 1049:
        return fail(label, f"数据库中没有这个库 {_database_name(detail)}".rstrip(), "检查 url 最后的库名")
    if state.startswith("42") or code == 1064:
        return fail(label, f"查询语句有错误: {detail}", "检查 query(只写一条 SELECT 语句)")
    if "timeout" in low or "timed out" in low:
        return fail(label, f"连接数据库超时({CONNECT_TIMEOUT_S} 秒)", "检查主机名、端口和网络(防火墙、VPN)")
    if "connection refused" in low or "could not translate host" in low or "name or service" in low \
            or code in (2003, 2005) or "connection failed" in low or "can't connect" in low:
        return fail(label, "连接不上数据库服务器", "检查 url 中的主机名和端口,确认数据库已启动且允许本机连接")
    return fail(label, f"数据库报错: {detail}", "检查 url、table/query,或把这行信息交给数据库管理员")


# ---------------------------------------------------------------------------------- reading
def read_raw_sql(name: str, source: DataSource, base_dir: Path, label: str) -> tuple[RawTable, dict]:
    """The rows of the source as a typed table (columns are positions into ``headers``), and the
    :func:`fingerprint_of` what was read (same connection and snapshot, before the rows)."""
    with connect(name, source, base_dir) as reader:
        read = fingerprint_of(reader, source)
        frame = reader.read(source)
    headers = [str(c) for c in frame.columns]
    found = set(match_headers(name, headers, source.columns).values())
    if not set(required(name)) <= found:
        raise header_error(name, label, headers, 1, found)
    frame.columns = range(frame.shape[1])
    return RawTable(headers, frame, 1, None, typed=True), read


def headers_of(name: str, source: DataSource, base_dir: Path) -> list[str]:
    """The column names of the table or query (``LIMIT 0``: no rows are read)."""
    with connect(name, source, base_dir) as reader:
        return [str(c) for c in reader.read(source, limit0=True).columns]


def check_source(name: str, source: DataSource, base_dir: Path) -> list[Problem]:
    """Does the database answer, and does the table/query have the needed columns? (``LIMIT 0``)"""
    label = label_of(name, source)
    try:
        headers = headers_of(name, source, base_dir)
    except DataError as exc:
        return exc.problems
    problems = []
    present = {normalise_header(h) for h in headers}
    canonical = [c.name for c in TABLES[name]]
    for header, target in source.columns.items():
        if target not in canonical:
            problems.append(Problem(label, f"columns: {header}: {target}", f"{target!r} 不是 {name} 表的标准列名",
                                    f"可用: {', '.join(canonical)}"))
        elif normalise_header(header) not in present:
            problems.append(Problem(label, f"columns: {header}: {target}", f"表中没有列 {header!r}",
                                    f"表的列名是: {'、'.join(headers)}"))
    found = set(match_headers(name, headers, source.columns).values())
    if not set(required(name)) <= found:
        problems += header_error(name, label, headers, 1, found).problems
    return problems


def check_sources(data: Data, base_dir: Path) -> list[Problem]:
    """:func:`check_source` for every database source of a plan (file sources are not read).

    Each database is first connected to once: when it cannot be reached (server down, wrong
    password, unset variable), every source on it gets that one line, without waiting for the
    connection timeout once per source.
    """
    import dataclasses

    problems: list[Problem] = []
    unreachable: dict[str, list[Problem]] = {}
    for name in TABLES:
        source = getattr(data, name)
        if source is None or source.url is None:
            continue
        if source.url not in unreachable:
            try:
                with connect(name, source, base_dir):
                    unreachable[source.url] = []
            except DataError as exc:
                unreachable[source.url] = exc.problems
                problems += exc.problems
                continue
        elif unreachable[source.url]:
            problems += [dataclasses.replace(p, file=label_of(name, source)) for p in unreachable[source.url]]
            continue
        problems += check_source(name, source, base_dir)
    return problems


# ---------------------------------------------------------------------------------- fingerprints
# What ``--resume`` and ``--stage`` compare to know whether a database source changed since a stage
# read it. Row count and a content hash computed *in the database*: one aggregate pass, no rows
# sent back, so checking a 10-million-row table costs a scan, not a transfer.
#
# The hash is order-free — a sum of per-row hashes, as exact integers — because a table or a query
# without ORDER BY has no row order: the same rows in another order are the same data.
# PostgreSQL: the 128-bit md5 of ``row::text`` (two 64-bit halves summed), stable across versions.
# MySQL/MariaDB: the first 64 bits of the md5 of the row written out as its quoted columns (there
# is no ``row::text``; see :func:`_mysql_fingerprint_sql` for why not CHECKSUM TABLE or CRC32).
# DuckDB: its built-in 64-bit ``hash()`` of the row, fast but not promised stable across DuckDB
# versions — after an upgrade a source may look changed once, and the plan runs again (the safe
# side: never a skip on changed data).
#
# No last-modified marker is used: PostgreSQL keeps none per row or table by default
# (``track_commit_timestamp`` is off; ``pg_stat_user_tables`` counters are statistics, reset by a
# crash, and say nothing about a query over several tables); a DuckDB file's mtime moves on every
# checkpoint without the data changing; MySQL's ``information_schema.TABLES.UPDATE_TIME`` is empty
# after a restart for InnoDB. A content hash is right for all of them and cheap enough.
_FINGERPRINT_SQL = {
    "postgresql": ("SELECT count(*) AS n, "
                   "sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric) AS hi, "
                   "sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric) AS lo "
                   "FROM (SELECT md5(planlib_row::text) AS h FROM ({select}) AS planlib_row) AS planlib_hashes"),
    # DuckDB's own 64-bit hash of each row: ~13x faster than md5 of the row's text, which took
    # longer than reading all rows (benchmarks/bench_fingerprint.py); see the note above on versions
    "duckdb": ("SELECT count(*) AS n, sum(hash(planlib_row)) AS hi, 0 AS lo FROM ({select}) AS planlib_row"),
}
_SECRET_IN_SQL = re.compile(r"\b(password|passwd|pwd)(\s*=\s*)('[^']*'|\"[^\"]*\"|[^\s;&'\")]+)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s'\"]*):([^@\s'\"]*)@")


def shown_query(source: DataSource, quote_char: str = '"') -> str:
    """The SELECT planlib runs for ``source``, safe to record: a password (``password=…`` in a
    connection string, ``user:pw@`` in a URL, or the value of a variable the URL names) is ``***``."""
    text = _select(source, quote_char)
    text = _URL_PASSWORD.sub(r"\1:***@", text)
    text = _SECRET_IN_SQL.sub(r"\1\2***", text)
    for secret in _secrets(source.url or ""):
        text = text.replace(secret, "***")
    return text


def _record(source: DataSource, quote_char: str, method: str, rows: int, parts: tuple) -> dict:
    digest = hashlib.sha256("|".join(map(str, (method, rows, *parts))).encode()).hexdigest()
    return {"source": describe(source), "query": shown_query(source, quote_char), "rows": int(rows),
            "sha256": digest, "method": method}


_METHODS = {"postgresql": "count(*) + sum(md5(row::text))", "duckdb": "count(*) + sum(hash(row))",
            "mysql": "count(*) + sum(md5(quoted columns)[:64 bits])"}


def _mysql_fingerprint_sql(select: str, columns: list[str], quote_char: str) -> str:
    """The fingerprint in MySQL/MariaDB: the first 64 bits of each row's md5, summed exactly.

    The row is its columns as binary strings, each passed through ``QUOTE`` (``NULL`` unquoted, a
    quote or backslash inside escaped), joined by commas: unambiguous, so ``('a,b', NULL)`` and
    ``('a', 'b,NULL')`` differ, and free of "illegal mix of collations" between columns. ``SUM``
    of ``BIGINT UNSIGNED`` is an exact DECIMAL in MySQL and MariaDB.

    Why this hash (1M rows in MariaDB on the shared 2-core machine, load average ~12, so ranges:
    ``benchmarks/bench_fingerprint.py --mariadb`` gives this fingerprint 4.2–7.3 s, ``SUM(CRC32)``
    of the same rows 1.4–2.2 s, reading the rows 33–45 s; the bare queries: COUNT(*) 0.5 s,
    SUM(CRC32) 1.2 s, this 3.9 s, both md5 halves as PostgreSQL sums them 13.5 s — MariaDB
    computes the md5 once per use of a merged derived column):

    * not ``CHECKSUM TABLE``: it works for a table only (not a ``query:``), runs outside the
      transaction's snapshot, and its value changes with the row format and server version;
    * not ``BIT_XOR(CRC32(…))``: XOR cancels pairs, so two identical rows added (an order exported
      twice) would leave it unchanged;
    * not ``SUM(CRC32(…))``: about 3× cheaper, but 32 bits per row, and CRC is affine, so a second
      CRC of a salted row adds no independent bits; a missed change publishes stale results, while
      a few seconds per million rows only delay a ``--resume`` check that still costs under a
      fifth of reading the rows.
    """
    def q(name: str) -> str:
        return quote_char + name.replace(quote_char, quote_char * 2) + quote_char

    row = ", ".join(f"QUOTE(CAST({q(c)} AS CHAR CHARACTER SET binary))" for c in columns) or "''"
    return ("SELECT COUNT(*) AS n, "
            f"SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS(',', {row})), 1, 16), 16, 10) AS UNSIGNED)) AS hi, 0 AS lo "
            f"FROM ({select}) AS planlib_row")


def fingerprint_of(reader: _Reader, source: DataSource) -> dict:
    """Row count and content hash of what ``source`` returns now, computed in its database
    (one aggregate row comes back), in the reader's transaction: the same snapshot as whatever
    else the reader runs (rows, per-customer figures).

    ``{"source": masked URL and table, "query": the SELECT (masked), "rows": n, "sha256": hash
    of the count and the summed row hashes, "method": how it was computed}``.
    """
    select = _select(source, reader.quote_char)
    if reader.dialect == "mysql":  # the columns are named one by one: ask for them (LIMIT 0)
        columns = [str(c) for c in reader.read(source, limit0=True).columns]
        query = _mysql_fingerprint_sql(select, columns, reader.quote_char)
    else:
        query = _FINGERPRINT_SQL[reader.dialect].format(select=select)
    found = reader.run(query)
    n, hi, lo = (found.iloc[0, i] for i in range(3))
    parts = tuple(str(int(v)) if v is not None and not pd.isna(v) else "0" for v in (hi, lo))
    return _record(source, reader.quote_char, f"{reader.dialect}: {_METHODS[reader.dialect]}", int(n), parts)


def _rows_fingerprint(reader: _Reader, source: DataSource, frame: pd.DataFrame | None = None) -> dict:
    """The same record from the rows themselves (read here unless ``frame`` is given), pulled
    into Python: not used by planlib any more (every dialect hashes in its database); kept as
    the reference benchmarks/bench_fingerprint.py compares the in-database hashes with.
    Order-free like the others (pandas' row hashes summed modulo 2**64 under two keys)."""
    if frame is None:
        frame = reader.read(source)
    parts = []
    for key in ("planlibfp-hi-000", "planlibfp-lo-000"):  # 16 bytes each, as pandas wants
        rows = pd.util.hash_pandas_object(frame, index=False, hash_key=key) if len(frame) else pd.Series([], dtype="uint64")
        parts.append(str(int(rows.to_numpy().sum(dtype="uint64"))))
    names = ",".join(map(str, frame.columns))
    return _record(source, reader.quote_char, f"{reader.dialect or 'rows'}: rows read, hashed", len(frame),
                   (*parts, names))


def source_fingerprint(name: str, source: DataSource, base_dir: Path) -> dict:
    """:func:`fingerprint_of` the database source as it is now (what ``--resume`` compares with a
    stage's record). Failures are one-line :class:`DataError`\\ s like any read of the source."""
    with connect(name, source, base_dir) as reader:
        return fingerprint_of(reader, source)
