"""The demo company's orders as a shop system exports them: the only file an orders-only unit has.

Made from the demo company's customers and transactions (same seed, same story), shaped like a
real export rather than a clean table: a title row and a blank row above the header, no
order-number column (a purchase is a customer's buying day), dates written ``2024年4月1日``,
amounts as text ``￥1,234.50`` (refunds ``-￥259.16``), the customer's name and mobile number on
every row, and a 合计 row at the bottom. :func:`write_orders_export` writes it as XLSX, or as a CSV
in GBK (what Excel saves as "CSV" on Chinese Windows). The same seed gives the same bytes.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd

HEADER = ["下单日期", "客户编号", "客户名称", "手机号", "商品", "消费金额", "支付方式"]
_PRODUCTS = ("洗护套装", "保温杯", "蓝牙耳机", "床品四件套", "咖啡豆", "运动鞋", "护肤礼盒", "收纳箱")
_PAYMENTS = ("微信支付", "支付宝", "银行卡")
_FIXED_TIME = datetime(2024, 7, 5, 9, 0, 0)  # the export's date: keeps the XLSX bytes identical across runs


def _yuan(amount: float) -> str:
    return f"-￥{-amount:,.2f}" if amount < 0 else f"￥{amount:,.2f}"


def export_rows(customers: pd.DataFrame, transactions: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """(title, rows) of the export from the demo's customers and transactions tables (Chinese headers)."""
    people = customers.set_index("客户编号")
    tx = transactions.sort_values(["下单日期", "客户编号"], kind="stable")
    day = pd.to_datetime(tx["下单日期"])
    amount = tx["消费金额"].astype(float)
    pick = tx["订单编号"].map(lambda s: sum(map(ord, s)))  # deterministic, varied
    rows = [
        [f"{d.year}年{d.month}月{d.day}日", cid, people.at[cid, "客户名称"], people.at[cid, "手机号"],
         _PRODUCTS[p % len(_PRODUCTS)], _yuan(a), _PAYMENTS[p % len(_PAYMENTS)]]
        for d, cid, a, p in zip(day, tx["客户编号"], amount, pick, strict=True)
    ]
    total = ["合计", "", "", "", f"{len(rows)} 笔", _yuan(float(amount.sum())), ""]
    first, last = day.min(), day.max()
    title = f"演示商城 订单明细({first:%Y-%m-%d} 至 {last:%Y-%m-%d},导出于 {_FIXED_TIME:%Y-%m-%d})"
    return [title], [HEADER, *rows, total]


def write_orders_export(out: Path, customers: pd.DataFrame, transactions: pd.DataFrame) -> Path:
    """Write the export to ``out``: ``.xlsx`` as a workbook, ``.csv`` as GBK text. Atomic."""
    out = Path(out)
    title, rows = export_rows(customers, transactions)
    if out.suffix.lower() == ".xlsx":
        data = _xlsx_bytes(title, rows)
    elif out.suffix.lower() == ".csv":
        lines = [title[0], "", *(",".join(_csv_cell(c) for c in row) for row in rows)]
        data = ("\r\n".join(lines) + "\r\n").encode("gbk")
    else:
        raise ValueError(f"orders export must be .xlsx or .csv, not {out.suffix!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return out


def _csv_cell(text: str) -> str:
    return f'"{text}"' if any(c in text for c in ',"\n') else text


def _xlsx_bytes(title: list[str], rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = "订单明细"
    ws.append(title)
    ws.append([])
    for row in rows:
        ws.append(row)
    ws.column_dimensions["A"].width = 16
    book.properties.created = book.properties.modified = _FIXED_TIME
    raw = io.BytesIO()
    book.save(raw)
    # openpyxl stamps each zip entry with the current time: re-pack with a fixed one
    fixed = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl writes the save time as "modified"
                stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                body = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, body)
            dst.writestr(entry, body)
    return fixed.getvalue()
