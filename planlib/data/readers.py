"""Reading a data file into a table of strings, wherever its header row is.

CSV files are decoded with a fixed list of encodings (UTF-8 with or without BOM, then GB18030,
which Excel on Chinese Windows writes, then Big5). An encoding is accepted only when the header
it yields matches the expected columns *and* the decoded text is not garbled (Big5 bytes decode
as GB18030 without error, into kana and symbols: such text is rejected instead of being passed
on as mojibake). A planner's explicit ``encoding`` that does not fit the file is reported with
the encoding that does. The header may sit below a title row, or be split over two merged rows
(common in XLSX reports); the first of the top rows that holds every required column is taken.

The body of a CSV is parsed by pyarrow's multi-threaded reader into strings (no value is
interpreted: ``NA`` stays ``"NA"``, ``000123`` stays ``"000123"``); typed parsing happens in
:mod:`planlib.data.load`. A file whose extension lies (an HTML page or CSV saved as ``.xlsx``, an
old ``.xls``) is recognised by its first bytes and named as what it is.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from planlib.data.tables import TABLES, match_headers, required
from planlib.errors import DataError, Problem
from planlib.plan.schema import DataSource

AUTO_ENCODINGS = ("utf-8-sig", "gb18030", "big5")
HEADER_SEARCH_ROWS = 30
GARBLED_SHARE = 0.15  # share of odd characters (kana, symbols, private use) that marks mojibake
_HEAD_BYTES = 256 * 1024
_DELIMITERS = (",", "\t", ";")
_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
            ".parquet": "parquet", ".pq": "parquet"}
_PYARROW_ENCODING = {"utf-8-sig": "utf8", "utf-8": "utf8"}


@dataclass
class RawTable:
    """A file's data rows as strings; ``frame`` columns are positions into ``headers``."""

    headers: list[str]
    frame: pd.DataFrame
    header_row: int  # 1-based, as Excel numbers rows
    encoding: str | None
    typed: bool = False  # Parquet: columns keep their stored types
    # XLSX formula cells that have no stored result: (row as Excel numbers it, column position, formula)
    formulas: list[tuple[int, int, str]] = field(default_factory=list)


# The largest data file read, in MB: PLANLIB_MAX_DATA_MB overrides it (a 10-million-row export
# is about 1 GB; a path pointing at something endless must not fill the memory). An XLSX is a zip:
# what it holds once unpacked is bounded by the same figure.
MAX_DATA_MB = 2048
MAX_DATA_ENV = "PLANLIB_MAX_DATA_MB"


def size_text(n: float) -> str:
    return f"{n / 1024 ** 3:.1f} GB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.1f} MB"


def max_data_bytes() -> int:
    """The size limit of one data file: :data:`MAX_DATA_MB`, or ``PLANLIB_MAX_DATA_MB`` when set."""
    text = os.environ.get(MAX_DATA_ENV, "").strip()
    try:
        megabytes = float(text) if text else MAX_DATA_MB
    except ValueError:
        raise DataError(f"环境变量 {MAX_DATA_ENV}={text!r} 不是数字 — 写成兆字节数,例如 {MAX_DATA_MB}") from None
    return int(megabytes * 1024 * 1024)


def fail(label: str, message: str, hint: str = "") -> DataError:
    return DataError([Problem(label, "", message, hint)])


def check_data_file(path: Path, label: str, max_bytes: int | None = None) -> None:
    """Refuse before opening anything but a regular file of at most ``max_bytes`` (an XLSX also
    at most ``max_bytes`` once unpacked).

    A FIFO would block the read for ever and a device such as ``/dev/zero`` never ends, so only
    regular files (a symlink counts as what it points to) are opened.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise fail(label, f"找不到数据文件 {path}", "检查计划中的路径(相对于计划文件所在的目录)") from None
    except OSError as exc:
        raise fail(label, f"无法读取数据文件 {path}: {exc.strerror}", "检查路径和读取权限") from None
    if stat.S_ISDIR(info.st_mode):
        raise fail(label, f"{path} 是一个文件夹,不是数据文件", "写出文件夹里某个 CSV、XLSX 或 Parquet 文件的路径")
    if not stat.S_ISREG(info.st_mode):
        raise fail(label, f"{path} 不是普通文件(管道、设备或套接字),没有读取",
                   "请指向导出的 CSV、XLSX 或 Parquet 文件")
    limit = max_data_bytes() if max_bytes is None else max_bytes
    if info.st_size > limit:
        raise fail(label, f"数据文件有 {size_text(info.st_size)},超过上限 {size_text(limit)}",
                   f"缩小导出的时间范围或拆分文件;确需读取时设置环境变量 {MAX_DATA_ENV}(兆字节)")
    if zipfile.is_zipfile(path):  # an XLSX: what it unpacks to counts (a zip bomb is a few KB)
        try:
            with zipfile.ZipFile(path) as archive:
                unpacked = sum(i.file_size for i in archive.infolist())
        except (zipfile.BadZipFile, OSError):
            return  # the reader names a damaged file
        if unpacked > limit:
            raise fail(label, f"XLSX 解压后有 {size_text(unpacked)},超过上限 {size_text(limit)}",
                       f"在 Excel 中另存为 CSV UTF-8 或拆分文件;确需读取时设置环境变量 {MAX_DATA_ENV}(兆字节)")


_fail = fail  # older name


def file_format(path: Path, source: DataSource, label: str) -> str:
    if source.format != "auto":
        return source.format
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise fail(label, "不支持旧版 Excel (.xls) 文件", "请在 Excel 中另存为 .xlsx 或 CSV UTF-8")
    if suffix not in _FORMATS:
        raise fail(label, f"无法从扩展名 {suffix!r} 判断文件格式",
                   "请在计划中写明 format: csv、xlsx 或 parquet")
    return _FORMATS[suffix]


def sniff(path: Path) -> str:
    """What the first bytes say the file is: zip (xlsx), ole (old .xls or encrypted), parquet, html, text."""
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "ole"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # Excel's "Unicode text" (tab-separated)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<html", b"<!doctype", b"<table", b"<?xml", b"<meta")):
        return "html"
    return "text" if b"\x00" not in head else "binary"


def wrong_container(label: str, expected: str, found: str) -> DataError:
    """A file whose content is not the format its name or the plan claims."""
    what = {
        "ole": "旧版 Excel (.xls) 文件或加密的 Excel 文件",
        "html": "网页(HTML/XML)表格——很多系统导出的“Excel”其实是网页",
        "text": "文本文件(CSV 等)",
        "zip": "压缩包(可能是 .xlsx)",
        "parquet": "Parquet 文件",
        "binary": "无法识别的二进制文件",
    }[found]
    if found == "text":
        hint = "把计划中的 format 改为 csv(或把文件扩展名改为 .csv)"
    elif found in ("zip", "parquet"):
        hint = f"把计划中的 format 改为 {'xlsx' if found == 'zip' else 'parquet'}"
    else:
        hint = "请在 Excel 中打开它,另存为 .xlsx(Excel 工作簿)或 CSV UTF-8,并确认没有设置密码"
    return fail(label, f"文件不是 {expected} 格式,实际是{what}", hint)


def garbled_share(text: str) -> tuple[int, float]:
    """(non-ASCII characters, share of them that are kana, symbols or private-use characters).

    Chinese text, correctly decoded, is ideographs and CJK/full-width punctuation; Big5 bytes
    read as GB18030 come out as Japanese kana, box drawing and private-use characters.
    """
    total = odd = 0
    for ch in text:
        o = ord(ch)
        if o < 128:
            continue
        total += 1
        if not (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x3000 <= o <= 0x303F
                or 0xFF00 <= o <= 0xFFEF or 0x2000 <= o <= 0x206F or 0x80 <= o <= 0xFF):
            odd += 1
    return total, (odd / total if total else 0.0)


def _is_garbled(text: str) -> bool:
    total, share = garbled_share(text)
    return total >= 4 and share > GARBLED_SHARE


def _header_row_of_two(upper: list[str], lower: list[str]) -> list[str]:
    """One header from two header rows: each column's lower cell, else the (merged) upper one.

    Covers a group row above the column names (订单信息 | 金额信息 over 订单编号 | 消费金额) and
    vertically merged cells, whose text sits in the upper row only.
    """
    width = max(len(upper), len(lower))
    upper = upper + [""] * (width - len(upper))
    lower = lower + [""] * (width - len(lower))
    return [bottom.strip() or top.strip() for top, bottom in zip(upper, lower, strict=True)]


def find_header(table: str, rows: list[list[str]], mapping: dict[str, str]) -> tuple[int, int, list[str] | None]:
    """(last row index of the header or −1, best-matching row for errors, merged header or None).

    A header split over two rows (a merged group row above the column names, or vertically
    merged cells) is found when neither row alone holds every required column.
    """
    needed = set(required(table))
    best, best_score = 0, 0
    top = rows[:HEADER_SEARCH_ROWS]
    for i, row in enumerate(top):
        found = set(match_headers(table, row, mapping).values())
        if needed <= found:
            return i, i, None
        if len(found) > best_score:
            best, best_score = i, len(found)
    for i in range(len(top) - 1):
        if not any(c.strip() for c in top[i]):
            continue
        merged = _header_row_of_two(top[i], top[i + 1])
        if needed <= set(match_headers(table, merged, mapping).values()):
            return i + 1, i + 1, merged
    if best_score == 0:  # nothing recognised: show the first non-empty row
        best = next((i for i, row in enumerate(rows) if any(c.strip() for c in row)), 0)
    return -1, best, None


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


@dataclass
class _Attempt:
    """What one encoding made of the start of a CSV file."""

    encoding: str
    text: str | None = None  # None: the bytes are not valid in this encoding
    rows: list[list[str]] = field(default_factory=list)
    delimiter: str = ","
    header: int = -1
    best: int = 0
    merged: list[str] | None = None

    @property
    def ok(self) -> bool:
        return self.header >= 0 and not _is_garbled(self.text or "")


def _attempt(head: bytes, complete: bool, encoding: str, table: str, mapping: dict[str, str]) -> _Attempt:
    attempt = _Attempt(encoding)
    try:
        attempt.text = codecs.getincrementaldecoder(encoding)().decode(head, final=complete)
    except UnicodeDecodeError:
        return attempt
    for delimiter in _DELIMITERS:
        # newline=None: old Mac exports end lines with a bare CR, which csv would refuse
        rows = list(csv.reader(io.StringIO(attempt.text, newline=None), delimiter=delimiter))
        if not complete:
            rows = rows[:-1]  # the last line may be cut off
        idx, best, merged = find_header(table, rows, mapping)
        if idx >= 0 or not attempt.rows:
            attempt.rows, attempt.delimiter, attempt.header, attempt.best, attempt.merged = (
                rows, delimiter, idx, best, merged)
        if idx >= 0:
            break
    return attempt


def read_csv(path: Path, label: str, table: str, source: DataSource) -> RawTable:
    kind = sniff(path)
    if kind not in ("text", "utf-16"):
        raise wrong_container(label, "CSV", kind)
    declared = source.encoding != "auto"
    encodings = (source.encoding,) if declared else ("utf-16",) if kind == "utf-16" else AUTO_ENCODINGS
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
        complete = not fh.read(1)
    if complete and not head.strip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n,;"):
        raise fail(label, "文件是空的", "重新导出数据,确认导出时选择了数据行")
    attempts = []
    for encoding in encodings:
        attempt = _attempt(head, complete, encoding, table, source.columns)
        attempts.append(attempt)
        if attempt.ok:
            try:
                return _read_csv_body(path, label, attempt)
            except UnicodeDecodeError:
                continue  # a later part of the file is not in this encoding: try the next one
    if declared:  # the planner named an encoding: say which one would have worked
        for encoding in AUTO_ENCODINGS:
            if encoding != source.encoding and _attempt(head, complete, encoding, table, source.columns).ok:
                raise fail(label, f"文件不是计划中写的 encoding: {source.encoding} 编码,按 {encoding} 可以正确读取",
                           f"把计划中的 encoding 改为 {encoding} 或 auto")
    decoded = [a for a in attempts if a.text is not None]
    if not decoded:
        names = "、".join(encodings)
        hint = "请在 Excel 中另存为“CSV UTF-8(逗号分隔)”"
        raise fail(label, f"文件无法按 {names} 解码",
                   hint if not declared else hint + ",或把计划中的 encoding 改为 auto")
    garbled = [a for a in decoded if a.header >= 0]
    if garbled:
        a = garbled[0]
        raise fail(label, f"按 {a.encoding} 解码后内容是乱码(例如 {_odd_sample(a.text)!r})",
                   "文件的编码不是 UTF-8、GBK/GB18030 或 Big5;请在 Excel 中另存为“CSV UTF-8(逗号分隔)”")
    first = decoded[0]
    headers = first.rows[first.best] if first.rows else []
    found = set(match_headers(table, headers, source.columns).values())
    # Valid UTF-8 is almost never mojibake; text that only GB18030/Big5 accept may be.
    maybe_garbled = first.encoding not in ("utf-8-sig", "utf-8") or _is_garbled(first.text or "")
    hint = ";若列名是乱码,说明文件编码不对,请另存为“CSV UTF-8”" if maybe_garbled else ""
    raise header_error(table, label, headers, first.best + 1, found, hint)


def _odd_sample(text: str | None, size: int = 12) -> str:
    """A short stretch of the garbled text, for the error message."""
    text = text or ""
    for i, ch in enumerate(text):
        if ord(ch) > 127:
            return text[i:i + size].replace("\n", " ")
    return text[:size]


def _read_csv_body(path: Path, label: str, attempt: _Attempt) -> RawTable:
    """The rows below the header as strings, parsed by pyarrow (multi-threaded, no inference).

    As ``large_string``, the type pandas' ``str`` columns hold: read as ``string``, ``to_pandas``
    copied every column (10M customers: a 1.19 GB peak instead of 1.05 GB)."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    idx = attempt.header
    headers = [str(h).replace("\ufeff", "") for h in (attempt.merged or attempt.rows[idx])]
    names = [f"c{i}" for i in range(len(headers))]
    invalid: list[tuple[int | None, str, int, int]] = []

    def on_invalid(row) -> str:
        invalid.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    def read(threads: bool):
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                use_threads=threads, skip_rows=idx + 1, column_names=names, block_size=16 << 20,
                encoding=_PYARROW_ENCODING.get(attempt.encoding, attempt.encoding)),
            parse_options=pacsv.ParseOptions(delimiter=attempt.delimiter, newlines_in_values=True,
                                              ignore_empty_lines=False, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.large_string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False, null_values=[]),
        )

    try:
        data = read(True)
        if invalid:  # read again on one thread, which knows the line numbers
            invalid.clear()
            read(False)
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise UnicodeDecodeError(attempt.encoding, b"", 0, 1, str(exc)) from None
        raise fail(label, f"CSV 格式错误: {exc}", "检查分隔符和引号是否成对") from None
    except UnicodeDecodeError:
        raise
    if invalid:
        problems = [Problem(label, f"第 {n} 行" if n else "某一行",
                            f"有 {actual} 列,表头有 {expected} 列: {text[:60]!r}",
                            "检查该行的分隔符和引号是否成对(文本中的逗号要放在双引号内)")
                    for n, text, expected, actual in invalid[:10]]
        if len(invalid) > 10:
            problems.insert(0, Problem(label, "", f"共 {len(invalid)} 行的列数与表头不一致,以下是前 10 行"))
        raise DataError(problems)
    frame = data.to_pandas()
    frame.columns = range(len(headers))
    return RawTable(headers, frame, idx + 1, attempt.encoding)


def read_parquet(path: Path, label: str, table: str, source: DataSource) -> RawTable:
    kind = sniff(path)
    if kind != "parquet":
        raise wrong_container(label, "Parquet", kind)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow's errors for a damaged file vary
        raise fail(label, f"无法作为 Parquet 读取: {exc}", "确认文件是 Parquet 格式") from None
    headers = [str(c) for c in frame.columns]
    found = set(match_headers(table, headers, source.columns).values())
    if not set(required(table)) <= found:
        raise header_error(table, label, headers, 1, found)
    frame.columns = range(frame.shape[1])
    return RawTable(headers, frame, 1, None, typed=True)
