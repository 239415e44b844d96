"""Reading a data file into a table of strings, wherever its header row is.

CSV files are decoded with a fixed list of encodings (UTF-8 with or without BOM, then GB18030,
which Excel on Chinese Windows writes). An encoding is accepted only when the header it yields
matches the expected columns, so a wrong guess ends as a clear error instead of mojibake. The
header may sit below a title row (common in XLSX reports); the first of the top rows that holds
every required column is taken.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from .errors import DataError, Problem
from .schema import DataSource
from .tables import TABLES, match_headers, required

AUTO_ENCODINGS = ("utf-8-sig", "gb18030")
HEADER_SEARCH_ROWS = 30
_HEAD_BYTES = 256 * 1024
_DELIMITERS = (",", "\t", ";")
_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
            ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class RawTable:
    """A file's data rows as strings; ``frame`` columns are positions into ``headers``."""

    headers: list[str]
    frame: pd.DataFrame
    header_row: int  # 1-based, as Excel numbers rows
    encoding: str | None
    typed: bool = False  # Parquet: columns keep their stored types


def _fail(label: str, message: str, hint: str = "") -> DataError:
    return DataError([Problem(label, "", message, hint)])


def file_format(path: Path, source: DataSource, label: str) -> str:
    if source.format != "auto":
        return source.format
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise _fail(label, "不支持旧版 Excel (.xls) 文件", "请在 Excel 中另存为 .xlsx 或 CSV UTF-8")
    if suffix not in _FORMATS:
        raise _fail(label, f"无法从扩展名 {suffix!r} 判断文件格式",
                    "请在计划中写明 format: csv、xlsx 或 parquet")
    return _FORMATS[suffix]


def _find_header(table: str, rows: list[list[str]], mapping: dict[str, str]) -> tuple[int, int]:
    """(row index of the header or −1, index of the best-matching row for error messages)."""
    needed = set(required(table))
    best, best_score = 0, 0
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        found = set(match_headers(table, row, mapping).values())
        if needed <= found:
            return i, i
        if len(found) > best_score:
            best, best_score = i, len(found)
    if best_score == 0:  # nothing recognised: show the first non-empty row
        best = next((i for i, row in enumerate(rows) if any(c.strip() for c in row)), 0)
    return -1, best


def header_error(table: str, label: str, headers: list[str], row: int, found: set[str],
                 extra_hint: str = "") -> DataError:
    """One problem per missing required column, naming the headers that were found."""
    shown = "、".join(h for h in headers if h.strip()) or "(空)"
    columns = {c.name: c for c in TABLES[table]}
    problems = []
    for name in required(table):
        if name in found:
            continue
        usual = "/".join(columns[name].aliases[:3])
        problems.append(Problem(
            label, f"第 {row} 行(表头)",
            f"缺少必需的列 {name}(常见列名: {usual});找到的列名: {shown}",
            f"在计划的 columns 中加映射,例如 columns: {{实际列名: {name}}}{extra_hint}",
        ))
    return DataError(problems)


def read_csv(path: Path, label: str, table: str, source: DataSource) -> RawTable:
    encodings = AUTO_ENCODINGS if source.encoding == "auto" else (source.encoding,)
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
        complete = not fh.read(1)
    if complete and not head.strip(b"\xef\xbb\xbf \t\r\n,;"):
        raise _fail(label, "文件是空的", "重新导出数据,确认导出时选择了数据行")
    first_failure: tuple[list[str], int, set[str], bool] | None = None
    for n, encoding in enumerate(encodings):
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
        except UnicodeDecodeError:
            continue
        for delimiter in _DELIMITERS:
            rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
            if not complete:
                rows = rows[:-1]  # the last line may be cut off
            idx, best = _find_header(table, rows, source.columns)
            if idx >= 0:
                try:
                    return _read_csv_body(path, label, encoding, delimiter, idx)
                except UnicodeDecodeError:
                    break  # a later part of the file is not in this encoding: try the next one
            if first_failure is None and rows:
                found = set(match_headers(table, rows[best], source.columns).values())
                # Valid UTF-8 is almost never mojibake; text that only GB18030 accepts may be.
                first_failure = (rows[best], best + 1, found, n > 0)
    if first_failure is None:
        names = "、".join(encodings)
        hint = "请在 Excel 中另存为“CSV UTF-8(逗号分隔)”"
        raise _fail(label, f"文件无法按 {names} 解码",
                    hint if source.encoding == "auto" else hint + ",或把计划中的 encoding 改为 auto")
    headers, row, found, maybe_garbled = first_failure
    hint = ";若列名是乱码,说明文件编码不对,请另存为“CSV UTF-8”" if maybe_garbled else ""
    raise header_error(table, label, headers, row, found, hint)


def _read_csv_body(path: Path, label: str, encoding: str, delimiter: str, idx: int) -> RawTable:
    try:
        frame = pd.read_csv(path, sep=delimiter, encoding=encoding, dtype=str, keep_default_na=False,
                            skiprows=idx, header=0, skip_blank_lines=False)
    except pd.errors.ParserError as exc:
        raise _fail(label, f"CSV 格式错误: {exc}", "检查该行的分隔符和引号是否成对") from None
    headers = [str(h).replace("\ufeff", "") for h in frame.columns]
    frame.columns = range(frame.shape[1])
    return RawTable(headers, frame, idx + 1, encoding)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 13812341234.0 is a phone number, not a float
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def read_xlsx(path: Path, label: str, table: str, source: DataSource) -> RawTable:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or mislabelled file
        raise _fail(label, f"无法作为 XLSX 打开: {exc}", "确认文件是 .xlsx 格式,并且没有在 Excel 中加密") from None
    try:
        names = book.sheetnames
        sheet = 0 if source.sheet is None else source.sheet
        if isinstance(sheet, int) and not 0 <= sheet < len(names):
            raise _fail(label, f"没有第 {sheet} 个工作表(从 0 数起)", f"可用的工作表: {'、'.join(names)}")
        if isinstance(sheet, str) and sheet not in names:
            raise _fail(label, f"没有名为 {sheet!r} 的工作表", f"可用的工作表: {'、'.join(names)}")
        ws = book[names[sheet] if isinstance(sheet, int) else sheet]
        rows = [[_cell_text(v) for v in row] for row in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
    finally:
        book.close()
    if not any(c.strip() for row in rows for c in row):
        raise _fail(label, f"工作表 {ws.title!r} 是空的", "用 sheet 选择有数据的工作表")
    idx, best = _find_header(table, rows, source.columns)
    if idx < 0:
        headers = rows[best] if rows else []
        raise header_error(table, label, headers, best + 1,
                           set(match_headers(table, headers, source.columns).values()))
    headers = rows[idx]
    width = len(headers)
    body = [(row + [""] * width)[:width] for row in rows[idx + 1:]]
    frame = pd.DataFrame(body, columns=range(width), dtype="str") if body else pd.DataFrame(
        {i: pd.Series(dtype="str") for i in range(width)})
    return RawTable(headers, frame, idx + 1, None)


def read_parquet(path: Path, label: str, table: str, source: DataSource) -> RawTable:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow's errors for a damaged file vary
        raise _fail(label, f"无法作为 Parquet 读取: {exc}", "确认文件是 Parquet 格式") from None
    headers = [str(c) for c in frame.columns]
    found = set(match_headers(table, headers, source.columns).values())
    if not set(required(table)) <= found:
        raise header_error(table, label, headers, 1, found)
    frame.columns = range(frame.shape[1])
    return RawTable(headers, frame, 1, None, typed=True)


def read_raw(path: Path, label: str, table: str, source: DataSource) -> RawTable:
    """Read ``path`` as strings (Parquet keeps its types) with its header row located."""
    if not path.is_file():
        raise _fail(label, f"找不到数据文件 {path}", "检查计划中的路径(相对于计划文件所在的目录)")
    reader = {"csv": read_csv, "xlsx": read_xlsx, "parquet": read_parquet}[file_format(path, source, label)]
    return reader(path, label, table, source)
