"""Loading a plan's data sources into the canonical tables of docs/CONTRACTS.md.

A source is read as strings (:mod:`planlib.readers`), its headers are mapped onto canonical
columns (:mod:`planlib.tables`), total and blank rows are set aside, and every value is parsed
(:mod:`planlib.parsing`). Whatever a planner has to fix — a missing column, unreadable values,
duplicate customers — is raised as one :class:`~planlib.errors.DataError` that names the file,
the row as Excel numbers it, the column and the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import parsing
from .errors import DataError, Problem
from .readers import RawTable, header_error, read_raw
from .schema import Data, DataSource
from .tables import EMPTY_AS_BLANK, TABLES, Column, match_headers, normalise_header, required

MAX_EXAMPLES = 10
_TOTAL_WORDS = ("合计", "总计", "小计", "Total", "TOTAL", "total")
_WHAT = {"date": "日期/时间", "money": "金额", "int": "整数", "bool": "是/否"}


@dataclass
class LoadResult:
    """One loaded source: the canonical frame and what was set aside on the way."""

    name: str
    path: Path
    frame: pd.DataFrame
    excluded: pd.DataFrame  # columns ``row`` (as Excel numbers it) and ``reason``
    encoding: str | None  # the text encoding a CSV was read with
    header_row: int = 1
    columns: dict[str, str] = field(default_factory=dict)  # canonical column → header in the file
    absent: tuple[str, ...] = ()  # optional canonical columns the file lacks (filled with NA)
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # row of each frame row


def load_source(name: str, source: DataSource, base_dir: Path) -> LoadResult:
    """Read the data source ``name`` (customers, transactions, …) of a plan.

    ``source.path`` is resolved against ``base_dir``, the plan file's folder.
    """
    if name not in TABLES:
        raise ValueError(f"unknown data source {name!r}")  # a caller's bug, not the planner's
    label = source.path
    path = (Path(base_dir) / source.path).resolve()
    raw = read_raw(path, label, name, source)
    positions = _map_columns(name, raw, label, source)
    frame = raw.frame
    rows = raw.header_row + 1 + np.arange(len(frame))
    keep, excluded = _set_aside(frame, positions, rows)
    frame, rows = frame[keep], rows[keep]
    columns, bad_count, examples = {}, 0, []
    for column in TABLES[name]:
        if column.name not in positions:
            columns[column.name] = _absent_values(column, len(frame))
            continue
        raw_values = frame[positions[column.name]]
        values, bad = _parse(column, raw_values, raw.typed)
        if bad.any():
            header = raw.headers[positions[column.name]]
            bad_count += int(bad.sum())
            examples += _bad_cells(label, header, column, raw_values, bad.to_numpy(dtype=bool), rows)
        columns[column.name] = values.reset_index(drop=True)
    if bad_count:
        raise DataError(_summarise(label, bad_count, examples))
    out = pd.DataFrame(columns)
    _add_extras(out, raw, frame, positions)
    if name == "customers":
        _check_unique(label, out["customer_id"], rows)
    return LoadResult(
        name=name, path=path, frame=out, excluded=excluded, encoding=raw.encoding,
        header_row=raw.header_row,
        columns={c: raw.headers[i] for c, i in positions.items()},
        absent=tuple(c.name for c in TABLES[name] if c.name not in positions),
        rows=rows,
    )


def load_all(data: Data, base_dir: Path) -> dict[str, LoadResult]:
    """Load every data source the plan names; problems in all files are reported together."""
    results, problems = {}, []
    for name in TABLES:
        source = getattr(data, name)
        if source is None:
            continue
        try:
            results[name] = load_source(name, source, base_dir)
        except DataError as exc:
            problems += exc.problems or [Problem(source.path, "", str(exc))]
    if problems:
        raise DataError(problems)
    return results


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


def _set_aside(frame: pd.DataFrame, positions: dict[str, int], rows: np.ndarray):
    """Rows that are not data: fully blank ones and 合计/总计 lines at the bottom of reports."""
    if frame.empty:
        return np.ones(0, dtype=bool), pd.DataFrame({"row": pd.Series(dtype=np.int64), "reason": pd.Series(dtype=str)})
    # Only rows without a customer id can be blank; check all cells of those.
    candidates = np.flatnonzero(_as_text(frame[positions["customer_id"]]).eq("").to_numpy())
    blank = np.zeros(len(frame), dtype=bool)
    if len(candidates):
        sub = frame.iloc[candidates]
        blank[candidates] = np.logical_and.reduce([_as_text(sub[c]).eq("").to_numpy() for c in sub.columns])
    total = np.zeros(len(frame), dtype=bool)
    for pos in dict.fromkeys([positions["customer_id"], *frame.columns[:2]]):
        total |= _as_text(frame[pos]).str.startswith(_TOTAL_WORDS).to_numpy()
    total &= ~blank
    excluded = pd.DataFrame({
        "row": np.concatenate([rows[blank], rows[total]]),
        "reason": ["空行"] * int(blank.sum()) + ["合计行"] * int(total.sum()),
    }).sort_values("row", ignore_index=True)
    return ~(blank | total), excluded


def _as_text(values: pd.Series) -> pd.Series:
    """Stripped strings with "" for empty cells, whatever the column's stored type."""
    if str(values.dtype) != "str":  # Parquet columns, or object columns of mixed values
        if pd.api.types.is_float_dtype(values):
            values = values.map("{:.15g}".format, na_action="ignore")  # 1380.0 → 1380
        values = values.astype("str")
    return values.fillna("").str.strip()


def _parse(column: Column, values: pd.Series, typed: bool) -> tuple[pd.Series, pd.Series]:
    """Parsed values and the mask of cells that could not be read (or are required but empty)."""
    kind = column.kind
    if typed:  # Parquet: keep values that already have the right type
        if kind == "date" and pd.api.types.is_datetime64_any_dtype(values):
            v = values.dt.tz_localize(None) if values.dt.tz is not None else values
            return v.astype("datetime64[ns]"), values.isna() & column.required
        if kind == "money" and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return values.astype(float), values.isna() & column.required
        if kind == "bool" and pd.api.types.is_bool_dtype(values):
            return values.fillna(False).astype(bool), pd.Series(False, index=values.index)
    text = _as_text(values)
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


def _check_unique(label: str, ids: pd.Series, rows: np.ndarray) -> None:
    dup = ids.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    groups = pd.Series(rows[dup]).groupby(ids[dup].to_numpy(), sort=False).agg(list)
    problems = [Problem(label, "", f"客户编号重复: {groups.size} 个编号出现不止一次",
                        "每个客户只能出现一次;请删除重复行,或检查导出条件")]
    for cid, where in groups.head(MAX_EXAMPLES).items():
        problems.append(Problem(label, f"客户编号 {cid}", f"出现在第 {'、'.join(map(str, where))} 行"))
    raise DataError(problems)
