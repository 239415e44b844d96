"""Loading a plan's data sources into the canonical tables of docs/CONTRACTS.md.

A source is read as strings (:mod:`planlib.data.readers`), its headers are mapped onto canonical
columns (:mod:`planlib.data.tables`), total and blank rows are set aside, and every value is parsed
(:mod:`planlib.data.parsing`). Whatever a planner has to fix — a missing column, unreadable values,
duplicate customers — is raised as one :class:`~planlib.errors.DataError` that names the file,
the row as Excel numbers it, the column and the value.

Engine (measured with ``benchmarks/bench_needs.py``): CSV bodies are parsed by pyarrow's
multi-threaded reader into strings and converted with pyarrow casts, falling back to pandas and
then to per-cell normalisation only for columns and cells the fast path cannot read. pyarrow is
already a dependency (Parquet results); at 10 million rows the stage — parsing, checks, RFM,
tiers, lifetime value — stays within a minute and under 4 GB, below plain pandas in time and
memory. DuckDB (about 4× faster end to end in the same benchmark) and Polars were measured too;
the remaining cost is mostly the checks that make one clear message per bad cell and the
lifetime model, which a new engine would not remove. DuckDB is now used underneath only for the
per-customer aggregation of large files and database sources (:mod:`planlib.data.aggregate`), where
pandas then holds one row per customer instead of every order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from planlib.data import parsing
from planlib.data.readers import (
    RawTable,
    check_data_file,
    file_format,
    header_error,
    read_csv,
    read_parquet,
)
from planlib.data.tables import (
    DIGIT_CODES,
    EMPTY_AS_BLANK,
    TABLES,
    Column,
    match_headers,
    normalise_header,
    required,
)
from planlib.data.xlsxread import read_xlsx
from planlib.errors import DataError, Problem
from planlib.plan.schema import Data, DataSource

MAX_EXAMPLES = 10
_TOTAL_WORDS_ZH = ("合计", "总计", "小计")
# Sources that cannot be empty: no customers or no orders is an export mistake, while a
# quarter without tickets or surveys is possible.
NEEDS_ROWS = frozenset({"customers", "transactions"})
_WHAT = {"date": "日期/时间", "money": "金额", "int": "整数", "bool": "是/否"}


@dataclass
class LoadResult:
    """One loaded source: the canonical frame and what was set aside on the way."""

    name: str
    path: Path | None  # None for a database source (``url``)
    frame: pd.DataFrame
    excluded: pd.DataFrame  # columns ``row`` (as Excel numbers it) and ``reason``
    encoding: str | None  # the text encoding a CSV was read with
    header_row: int = 1
    columns: dict[str, str] = field(default_factory=dict)  # canonical column → header in the file
    absent: tuple[str, ...] = ()  # optional canonical columns the file lacks (filled with NA)
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # row of each frame row
    # database sources: what was read (data.sql.fingerprint_of: masked source and query, rows, content hash)
    fingerprint: dict | None = None
    derived_from: str | None = None  # "transactions" for a customer list made from the orders


def read_raw(path: Path, label: str, table: str, source: DataSource, *, max_bytes: int | None = None) -> RawTable:
    """Read ``path`` as strings (Parquet keeps its types) with its header row located.

    Only a regular file no larger than ``max_bytes`` (default :func:`max_data_bytes`) is opened.
    """
    check_data_file(path, label, max_bytes)
    reader = {"csv": read_csv, "xlsx": read_xlsx, "parquet": read_parquet}[file_format(path, source, label)]
    return reader(path, label, table, source)


def load_source(name: str, source: DataSource, base_dir: Path, *, max_bytes: int | None = None) -> LoadResult:
    """Read the data source ``name`` (customers, transactions, …) of a plan.

    ``source.path`` is resolved against ``base_dir``, the plan file's folder; ``max_bytes`` bounds
    the file's size (default :func:`max_data_bytes`). A ``url`` source is read from its database
    (:mod:`planlib.data.sql`) and then checked exactly like a file; a folder of Parquet parts
    (:mod:`planlib.data.parts`) part by part, each exactly like a Parquet file (:func:`_load_folder`).
    """
    if name not in TABLES:
        raise ValueError(f"unknown data source {name!r}")  # a caller's bug, not the planner's
    if source.url is None and (Path(base_dir) / source.path).resolve().is_dir():
        return _load_folder(name, source, Path(base_dir), max_bytes)
    return _load_one(name, source, base_dir, max_bytes=max_bytes)


def _load_one(name: str, source: DataSource, base_dir: Path, *, max_bytes: int | None = None,
              part_of_folder: bool = False) -> LoadResult:
    """:func:`load_source` of one file or database table; ``part_of_folder``: one Parquet part,
    which may be empty (Spark writes empty parts) — the folder as a whole must have rows."""
    if source.url is not None:
        from planlib.data import sql

        label, path = sql.label_of(name, source), None
        raw, fingerprint = sql.read_raw_sql(name, source, Path(base_dir), label)
    else:
        label, fingerprint = source.path, None
        path = (Path(base_dir) / source.path).resolve()
        raw = read_raw(path, label, name, source, max_bytes=max_bytes)
    positions = _map_columns(name, raw, label, source)
    frame = raw.frame
    rows = raw.header_row + 1 + np.arange(len(frame))
    texts: dict[int, pd.Series] = {}  # each column stripped once, shared by the steps below

    def text_of(pos: int) -> pd.Series:
        if pos not in texts:
            texts[pos] = _as_text(frame[pos])
        return texts[pos]

    if not len(frame) and name in NEEDS_ROWS and not part_of_folder:
        raise DataError([Problem(label, f"第 {raw.header_row} 行(表头)", "文件只有表头,没有数据行",
                                 "确认导出时选择了数据范围(或筛选条件没有把数据全部过滤掉)")])
    keep, excluded = _set_aside(frame, positions, rows, text_of)
    if not keep.all():
        frame, rows = frame[keep], rows[keep]
        texts = {pos: t[keep] for pos, t in texts.items()}
    columns, bad_count, examples = {}, 0, []
    if raw.formulas:
        bad_count, examples = _formula_problems(label, raw, positions, set(rows.tolist()))
    for column in TABLES[name]:
        if column.name not in positions:
            columns[column.name] = _absent_values(column, len(frame))
            continue
        pos = positions[column.name]
        raw_values = frame[pos]
        text = None if raw.typed and column.kind not in ("id", "text") else text_of(pos)
        values, bad = _parse(column, raw_values, raw.typed, text)
        header = raw.headers[pos]
        if bad.any():
            bad_count += int(bad.sum())
            examples += _bad_cells(label, header, column, raw_values, bad.to_numpy(dtype=bool), rows)
        if column.kind == "id" and source.pad_ids:
            values = parsing.pad_ids(values, source.pad_ids)
        if column.kind == "id" or column.name in DIGIT_CODES:
            damaged = parsing.excel_damaged(values).to_numpy(dtype=bool) & ~bad.to_numpy(dtype=bool)
            if damaged.any():
                bad_count += int(damaged.sum())
                examples += _damaged_cells(label, header, values, damaged, rows)
        columns[column.name] = values.reset_index(drop=True)
    if bad_count:
        raise DataError(_summarise(label, bad_count, examples))
    out = pd.DataFrame(columns)
    _add_extras(out, raw, frame, positions)
    out.attrs["source"] = label  # the file a frame came from, for messages comparing two files
    if name == "customers" and not part_of_folder:  # a folder's customers are checked across its parts
        orders_like = {"order_date", "amount"} <= set(match_headers("transactions", raw.headers, {}).values())
        _check_unique(label, out["customer_id"], rows, raw.headers[positions["customer_id"]], orders_like)
    return LoadResult(
        name=name, path=path, frame=out, excluded=excluded, encoding=raw.encoding,
        header_row=raw.header_row,
        columns={c: raw.headers[i] for c, i in positions.items()},
        absent=tuple(c.name for c in TABLES[name] if c.name not in positions),
        rows=rows, fingerprint=fingerprint,
    )


def _load_folder(name: str, source: DataSource, base_dir: Path, max_bytes: int | None) -> LoadResult:
    """A folder of Parquet parts as one source: the folder checked (:func:`planlib.data.parts.folder_parts`:
    only Parquet, same columns), its columns mapped once — a missing column or a wrong ``columns:``
    entry is one line naming the folder, not one per part — then each part loaded as a Parquet file
    (its bad cells named with the part and its row), every part's problems reported together.

    Parts are loaded one by one rather than as one ``pyarrow.dataset`` table so that a message
    names the part a planner has to open, and its row there; the frames are then concatenated
    (the whole table is in memory, as for one file: ``max_bytes`` bounds the folder's total).
    """
    from planlib.data.parts import folder_parts
    from planlib.data.readers import max_data_bytes, size_text

    label = source.path
    folder = (base_dir / source.path).resolve()
    parts, headers = folder_parts(folder, label)
    total, limit = sum(p.stat().st_size for p in parts), max_data_bytes() if max_bytes is None else max_bytes
    if total > limit:
        raise DataError([Problem(label, "", f"文件夹中的 Parquet 分片共有 {size_text(total)},超过上限 {size_text(limit)}",
                                 "缩小导出的时间范围;确需读取时设置环境变量 PLANLIB_MAX_DATA_MB(兆字节),"
                                 "或让阶段 02 按客户汇总(交易表较大时自动使用 DuckDB)")])
    _map_columns(name, RawTable(headers, pd.DataFrame(), 1, None, typed=True), label, source)
    loaded, problems = [], []
    for part in parts:
        relative = (Path(source.path) / part.relative_to(folder)).as_posix()
        try:
            loaded.append(_load_one(name, source.model_copy(update={"path": relative, "format": "parquet"}), base_dir,
                                    max_bytes=limit, part_of_folder=True))
        except DataError as exc:
            problems += exc.problems
    if problems:
        raise DataError(problems)
    first = loaded[0]
    frame = pd.concat([r.frame for r in loaded], ignore_index=True)
    frame.attrs["source"] = label
    rows = np.concatenate([r.rows for r in loaded])
    if not len(frame) and name in NEEDS_ROWS:
        raise DataError([Problem(label, "", f"文件夹中的 {len(parts)} 个 Parquet 分片都没有数据行",
                                 "确认导出时选择了数据范围(或筛选条件没有把数据全部过滤掉)")])
    if name == "customers":
        places = np.concatenate([np.array([f"{Path(r.path).relative_to(folder).as_posix()} 第 {n} 行" for n in r.rows],
                                          dtype=object) for r in loaded])
        orders_like = {"order_date", "amount"} <= set(match_headers("transactions", headers, {}).values())
        _check_unique(label, frame["customer_id"], rows, first.columns["customer_id"], orders_like, places=places)
    excluded = pd.concat([r.excluded.assign(reason=[f"{why}({Path(r.path).relative_to(folder).as_posix()})"
                                                    for why in r.excluded["reason"]]).astype({"reason": str})
                          for r in loaded], ignore_index=True)
    return LoadResult(name=name, path=folder, frame=frame, excluded=excluded, encoding=None, header_row=1,
                      columns=first.columns, absent=first.absent, rows=rows)


def load_all(data: Data, base_dir: Path) -> dict[str, LoadResult]:
    """Load every data source the plan names; problems in all files are reported together.

    Without ``data.customers`` the customer list is derived from the transactions
    (:func:`customers_from_transactions`).
    """
    results, problems = {}, []
    for name in TABLES:
        source = getattr(data, name)
        if source is None:
            continue
        try:
            results[name] = load_source(name, source, base_dir)
        except DataError as exc:
            problems += exc.problems or [Problem(source.path or name, "", str(exc))]
    if problems:
        raise DataError(problems)
    if "customers" not in results and "transactions" in results:
        results["customers"] = customers_from_transactions(results["transactions"])
    return dict(sorted(results.items(), key=lambda item: list(TABLES).index(item[0])))


def customers_from_transactions(transactions: LoadResult) -> LoadResult:
    """The customer list of a plan without ``data.customers``: one row per customer_id of the orders.

    Customer columns the order export carries under a recognised header (客户名称, 手机号, 地区 …)
    are kept — the latest non-empty value per customer — so masking treats them as it treats a
    customer table's; the others are absent (NA), never invented.
    """
    tx = transactions.frame
    canonical = {c.name for c in TABLES["transactions"]}
    extras = [c for c in tx.columns if c not in canonical]
    found = {extras[i]: target for i, target in match_headers("customers", extras, {}).items()
             if target != "customer_id"}
    order = np.argsort(tx["order_date"].to_numpy(), kind="stable")
    ids = tx["customer_id"].to_numpy()[order]
    first = pd.unique(tx["customer_id"])
    out = pd.DataFrame({"customer_id": pd.Series(first, dtype="str")})
    kinds = {c.name: c for c in TABLES["customers"]}
    for header, target in found.items():
        text = _as_text(tx[header].iloc[order].reset_index(drop=True))
        if kinds[target].kind == "date":
            values, _ = parsing.parse_datetime(text)  # an unreadable date is unknown, not an error here
        else:
            values = text.where(text.ne(""))
        latest = values.groupby(ids, sort=False).last()
        out[target] = latest.reindex(first).to_numpy()
    for column in TABLES["customers"]:
        if column.name not in out.columns:
            out[column.name] = _absent_values(column, len(out))
        elif column.kind == "text":
            out[column.name] = out[column.name].astype("str")
    out = out[[c.name for c in TABLES["customers"]]]
    out.attrs["source"] = f"{tx.attrs.get('source', transactions.path.name)}(由交易表生成的客户名单)"
    positions = np.flatnonzero(~tx["customer_id"].duplicated().to_numpy())  # each customer's first row
    return LoadResult(
        name="customers", path=transactions.path, frame=out,
        excluded=pd.DataFrame({"row": pd.Series(dtype=np.int64), "reason": pd.Series(dtype=str)}),
        encoding=transactions.encoding, header_row=transactions.header_row,
        columns={"customer_id": transactions.columns.get("customer_id", "customer_id"),
                 **{target: header for header, target in found.items()}},
        absent=tuple(c.name for c in TABLES["customers"] if c.name != "customer_id" and c.name not in found.values()),
        rows=transactions.rows[positions] if len(transactions.rows) else positions,
        derived_from="transactions",
    )


def _map_columns(name: str, raw: RawTable, label: str, source: DataSource) -> dict[str, int]:
    """Canonical column → position in the file, after checking the plan's ``columns:`` mapping."""
    canonical = [c.name for c in TABLES[name]]
    headers = {normalise_header(h) for h in raw.headers}
    problems = []
    for header, target in source.columns.items():
        if target not in canonical:
            problems.append(Problem(label, f"columns: {header}: {target}",
                                    f"{target!r} 不是 {name} 表的标准列名", f"可用: {', '.join(canonical)}"))
        elif normalise_header(header) not in headers:
            shown = "、".join(h for h in raw.headers if h.strip())
            problems.append(Problem(label, f"columns: {header}: {target}",
                                    f"文件中没有列 {header!r}", f"文件的列名是: {shown}"))
    if problems:
        raise DataError(problems)
    found = match_headers(name, raw.headers, source.columns)
    if not set(required(name)) <= set(found.values()):
        raise header_error(name, label, raw.headers, raw.header_row, set(found.values()))
    return {target: i for i, target in found.items()}


def _set_aside(frame: pd.DataFrame, positions: dict[str, int], rows: np.ndarray, text_of):
    """Rows that are not data: fully blank ones and 合计/总计 lines at the bottom of reports."""
    if frame.empty:
        return np.ones(0, dtype=bool), pd.DataFrame({"row": pd.Series(dtype=np.int64), "reason": pd.Series(dtype=str)})
    # Only rows without a customer id can be blank; check all cells of those.
    ids = text_of(positions["customer_id"])
    candidates = np.flatnonzero(ids.eq("").to_numpy())
    blank = np.zeros(len(frame), dtype=bool)
    if len(candidates):
        sub = frame.iloc[candidates]
        blank[candidates] = np.logical_and.reduce([_as_text(sub[c]).eq("").to_numpy() for c in sub.columns])
    total = np.zeros(len(frame), dtype=bool)
    for pos in dict.fromkeys([positions["customer_id"], *frame.columns[:2]]):
        total |= _starts_with_total(text_of(pos))
    total &= ~blank
    excluded = pd.DataFrame({
        "row": np.concatenate([rows[blank], rows[total]]),
        "reason": ["空行"] * int(blank.sum()) + ["合计行"] * int(total.sum()),
    }).sort_values("row", ignore_index=True)
    return ~(blank | total), excluded


def _starts_with_total(text: pd.Series) -> np.ndarray:
    """Cells that start a 合计/总计/小计/Total line (pyarrow scans; Chinese words only if non-ASCII)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text, from_pandas=True)
    found = pc.starts_with(arr, "total", ignore_case=True).to_numpy(zero_copy_only=False).astype(bool)
    if not pc.all(pc.string_is_ascii(arr)).as_py():
        for word in _TOTAL_WORDS_ZH:
            found |= pc.starts_with(arr, word).to_numpy(zero_copy_only=False).astype(bool)
    return found


def _as_text(values: pd.Series) -> pd.Series:
    """Stripped strings with "" for empty cells, whatever the column's stored type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if str(values.dtype) != "str":  # Parquet columns, or object columns of mixed values
        if pd.api.types.is_float_dtype(values):
            values = values.map("{:.15g}".format, na_action="ignore")  # 1380.0 → 1380
        values = values.astype("str")
    if values.hasnans:
        values = values.fillna("")
    arr = pa.array(values, from_pandas=True)
    trimmed = pc.utf8_trim_whitespace(arr)
    if pc.sum(pc.binary_length(trimmed)).as_py() == pc.sum(pc.binary_length(arr)).as_py():
        return values  # the common clean column: nothing to strip, no copy
    return values.str.strip()


def _parse(column: Column, values: pd.Series, typed: bool, text: pd.Series | None = None
           ) -> tuple[pd.Series, pd.Series]:
    """Parsed values and the mask of cells that could not be read (or are required but empty).

    ``text`` is the column already stripped (:func:`_as_text`), when the caller has it.
    """
    kind = column.kind
    if typed:  # Parquet: keep values that already have the right type
        if kind == "date" and pd.api.types.is_datetime64_any_dtype(values):
            v = values.dt.tz_localize(None) if values.dt.tz is not None else values
            return v.astype("datetime64[ns]"), values.isna() & column.required
        if kind == "money" and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return values.astype(float), values.isna() & column.required
        if kind == "bool" and pd.api.types.is_bool_dtype(values):
            return values.fillna(False).astype(bool), pd.Series(False, index=values.index)
    text = _as_text(values) if text is None else text
    if kind == "id":
        text = parsing.normalise_ids(text)
    if kind in ("id", "text"):
        empty = text.eq("")
        out = text.where(~empty, "" if column.name in EMPTY_AS_BLANK else np.nan)
        return out, empty & column.required
    if kind == "date":
        out, bad = parsing.parse_datetime(text)
    elif kind == "money":
        out, bad = parsing.parse_money(text)
    elif kind == "int":
        out, bad = parsing.parse_int(text, column.low, column.high)
    else:
        out, bad = parsing.parse_bool(text)
    if column.required:
        bad = bad | out.isna()
    return out, bad


def _absent_values(column: Column, n: int) -> pd.Series:
    dtype = {"date": "datetime64[ns]", "money": float, "int": "Int64", "bool": bool}.get(column.kind, "str")
    if column.kind == "bool":
        return pd.Series(np.zeros(n, dtype=bool))
    if column.name in EMPTY_AS_BLANK:
        return pd.Series([""] * n, dtype="str")
    return pd.Series([None] * n, dtype=dtype)


def _bad_cells(label, header, column, raw_values, bad, rows) -> list[tuple[int, Problem]]:
    """(row, problem) for the first few unusable cells of one column."""
    out = []
    shown = np.flatnonzero(bad)[:MAX_EXAMPLES]
    for i, text in zip(shown, _as_text(raw_values.iloc[shown]), strict=True):
        if text.lower() in parsing.MISSING:
            message = "缺少值(此列必填)"
        elif column.kind == "int":
            message = f"{text[:40]!r} 不是 {column.low}–{column.high} 的整数"
        else:
            message = f"无法识别的{_WHAT[column.kind]} {text[:40]!r}"
        out.append((int(rows[i]), Problem(label, f"第 {rows[i]} 行, 列「{header}」", message)))
    return out


def _summarise(label: str, count: int, examples: list[tuple[int, Problem]]) -> list[Problem]:
    """One line with the count, then the first unusable cells in file order."""
    shown = [p for _, p in sorted(examples, key=lambda e: e[0])[:MAX_EXAMPLES]]
    more = f",以下是前 {len(shown)} 个" if count > len(shown) else ""
    head = Problem(label, "", f"有 {count} 个单元格无法使用{more}",
                   "请在文件中改正这些单元格(例如金额写成 1200.50,日期写成 2024-04-01)后重新运行")
    return [head, *shown]


def _add_extras(out: pd.DataFrame, raw: RawTable, frame: pd.DataFrame, positions: dict[str, int]) -> None:
    """Keep the file's other columns after the canonical ones, under their own headers."""
    used = set(positions.values())
    for i, header in enumerate(raw.headers):
        if i in used:
            continue
        values = frame[i]
        name = header.strip() or f"列{i + 1}"
        if not header.strip() and _as_text(values).eq("").all():
            continue  # a trailing empty column from Excel
        while name in out.columns:
            name = f"{name}_原"
        out[name] = values.to_numpy() if raw.typed else _as_text(values).to_numpy()


def _damaged_cells(label, header, values, damaged, rows) -> list[tuple[int, Problem]]:
    out = []
    for i in np.flatnonzero(damaged)[:MAX_EXAMPLES]:
        out.append((int(rows[i]), Problem(
            label, f"第 {rows[i]} 行, 列「{header}」",
            f"{values.iloc[i]!r} 是被 Excel 改成科学计数法的编号,15 位以后的数字已经丢失",
            "请从系统重新导出;用 Excel 打开 CSV 时,要在导入向导中把这一列设为“文本”")))
    return out


def _formula_problems(label: str, raw: RawTable, positions: dict[str, int], kept: set[int]):
    """XLSX formula cells without a stored result in columns the analysis reads."""
    from openpyxl.utils import get_column_letter

    used = {pos: name for name, pos in positions.items()}
    cells = [(r, c, f) for r, c, f in raw.formulas if c in used and r in kept]
    examples = [(r, Problem(label, f"第 {r} 行, 列「{raw.headers[c]}」(单元格 {get_column_letter(c + 1)}{r})",
                            f"公式 {f[:40]!r} 没有保存计算结果",
                            "用 Excel 打开该文件并保存一次(Excel 会算出公式结果),或把公式列“选择性粘贴为数值”"))
                for r, c, f in cells[:MAX_EXAMPLES]]
    return len(cells), examples


def _check_unique(label: str, ids: pd.Series, rows: np.ndarray, header: str = "客户编号",
                  orders_like: bool = False, places: np.ndarray | None = None) -> None:
    """Every customer once; IDs are compared after :func:`planlib.data.parsing.normalise_ids`.

    ``orders_like``: the file has order dates and amounts — most likely an order export named as
    the customer table, which a plan does not need. ``places``: where each row is, when row
    numbers alone do not say it (a folder's parts: "part-1.parquet 第 3 行").
    """
    if not _has_duplicates(ids):
        return
    dup = ids.duplicated(keep=False).to_numpy()
    where_rows = places[dup] if places is not None else rows[dup]
    groups = pd.Series(where_rows).groupby(ids[dup].to_numpy(), sort=False).agg(list)
    hint = ("这看起来是订单文件(有下单日期和金额列):没有客户表时删除计划中的 data.customers,"
            "客户名单会由交易表生成" if orders_like else "每个客户只能出现一次;请删除重复行,或检查导出条件")
    problems = [Problem(label, "", f"客户编号重复: {groups.size} 个编号出现不止一次"
                                   "(去掉空格、全角字符统一为半角后比较)", hint)]
    for cid, where in groups.head(MAX_EXAMPLES).items():
        shown = "、".join(where) if places is not None else f"第 {'、'.join(map(str, where))} 行"
        problems.append(Problem(label, f"客户编号 {cid}", f"出现在{shown}(列「{header}」)"))
    raise DataError(problems)


def _has_duplicates(ids: pd.Series) -> bool:
    """Whether any ID occurs twice, in pyarrow: a sorted column in one comparison, else by sorting.

    pandas' ``duplicated`` turns 10M pyarrow-backed IDs into Python strings and a hash table
    (+960 MB on bench_needs' 10M customers, the customers loader's peak); sorting indices takes
    +370 MB, and the check of an export already sorted by ID (the common case) next to nothing.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(ids) < 2:
        return False
    if ids.hasnans:  # pandas counts two missing IDs as a duplicate; arrow's comparisons do not
        return bool(ids.duplicated().any())
    arr = pa.array(ids, from_pandas=True)  # no copy of pyarrow-backed strings
    if pc.all(pc.less(arr[:-1], arr[1:])).as_py():
        return False
    ordered = arr.take(pc.sort_indices(arr))
    return bool(pc.any(pc.equal(ordered[:-1], ordered[1:])).as_py())
