"""Reading an XLSX sheet into a table of strings, as :mod:`planlib.data.readers` does for CSV.

Cells are read with their stored results (``data_only``). Three traps of real exports are
named rather than passed on:

* a formula whose result was never stored (files written by scripts or some CRM systems, not
  by Excel): openpyxl returns nothing for it; the formula cells are collected so that
  :mod:`planlib.data.load` can name them when they fall in a column the analysis uses;
* a number Excel stored as a float with 16 or more digits — an 18-digit ID number or card
  number typed into a cell: Excel keeps 15 significant digits, so the cell is passed on in
  scientific notation (``1.10101199003070E+17``) and the ID check reports it as damaged;
* a file that is not an XLSX at all (an HTML "Excel" export, an old ``.xls``, a CSV).
"""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from planlib.data.readers import RawTable, fail, find_header, header_error, sniff, wrong_container
from planlib.data.tables import match_headers
from planlib.plan.schema import DataSource

_EXACT_FLOAT_LIMIT = 1e15  # Excel's 15 significant digits: larger whole floats have lost digits
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")


def cell_text(value: object) -> str:
    """A cell's value as the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        if abs(value) >= _EXACT_FLOAT_LIMIT:
            return f"{value:.14E}"  # 1.10101199003070E+17: the digits past the 15th are gone
        return str(int(value))  # 13812341234.0 is a phone number, not a float
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet of the file holds a formula (cheap: a byte scan of the sheet XML)."""
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                with archive.open(name) as fh:
                    tail = b""
                    while chunk := fh.read(1 << 20):
                        if _FORMULA_TAG.search(tail + chunk):
                            return True
                        tail = chunk[-8:]
    return False


def _formula_cells(path: Path, sheet_name: str, blank: set[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """(row, column position, formula) of the ``blank`` cells that hold a formula."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=False)
    try:
        found = []
        for r, row in enumerate(book[sheet_name].iter_rows(values_only=True), start=1):
            for c, value in enumerate(row):
                if (r, c) not in blank:
                    continue
                text = getattr(value, "text", value)  # ArrayFormula keeps its text in .text
                if isinstance(text, str) and text.startswith("="):
                    found.append((r, c, text))
        return found
    finally:
        book.close()


def read_xlsx(path: Path, label: str, table: str, source: DataSource) -> RawTable:
    from openpyxl import load_workbook

    kind = sniff(path)
    if kind != "zip":
        raise wrong_container(label, "XLSX", kind)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or mislabelled file
        raise fail(label, f"无法作为 XLSX 打开: {exc}", "确认文件是 .xlsx 格式,并且没有在 Excel 中加密") from None
    try:
        names = book.sheetnames
        sheet = 0 if source.sheet is None else source.sheet
        if isinstance(sheet, int) and not 0 <= sheet < len(names):
            raise fail(label, f"没有第 {sheet} 个工作表(从 0 数起)", f"可用的工作表: {'、'.join(names)}")
        if isinstance(sheet, str) and sheet not in names:
            raise fail(label, f"没有名为 {sheet!r} 的工作表", f"可用的工作表: {'、'.join(names)}")
        ws = book[names[sheet] if isinstance(sheet, int) else sheet]
        title = ws.title
        rows = [[cell_text(v) for v in row] for row in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
    finally:
        book.close()
    if not any(c.strip() for row in rows for c in row):
        raise fail(label, f"工作表 {title!r} 是空的", "用 sheet 选择有数据的工作表")
    idx, best, merged = find_header(table, rows, source.columns)
    if idx < 0:
        headers = rows[best] if rows else []
        raise header_error(table, label, headers, best + 1,
                           set(match_headers(table, headers, source.columns).values()))
    headers = merged or rows[idx]
    width = len(headers)
    body = [(row + [""] * width)[:width] for row in rows[idx + 1:]]
    frame = pd.DataFrame(body, columns=range(width), dtype="str") if body else pd.DataFrame(
        {i: pd.Series(dtype="str") for i in range(width)})
    formulas: list[tuple[int, int, str]] = []
    if body and _has_formulas(path):
        blank = {(idx + 2 + i, c) for i, row in enumerate(body) for c, v in enumerate(row) if v == ""}
        formulas = _formula_cells(path, title, blank)
    return RawTable(headers, frame, idx + 1, None, formulas=formulas)
