"""Reading the values of messy CRM exports: money, dates, scores and yes/no flags.

Every parser takes a Series of stripped strings (``""`` is an empty cell) and returns the parsed
Series plus a mask of the non-empty cells it could not read, so the caller can name them. Clean
values go through one vectorised call (the fast path); only the cells it could not read are
normalised (full-width digits, ``￥1,200``, ``(1,200)``, ``2024年4月1日`` …) and parsed again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Full-width digits and punctuation that Chinese input methods produce.
_HALFWIDTH = str.maketrans("０１２３４５６７８９．，－＋：／（）　−", "0123456789.,-+:/() -")
# Cells that mean "no value" in numeric, date and flag columns (never in ID or text columns,
# where "NA" may be a real code).
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "--", "—", "/", "无"})

_TRUE = {"是", "y", "yes", "true", "t", "1", "1.0", "√", "✓", "有"}
_FALSE = {"否", "n", "no", "false", "f", "0", "0.0", "×", "✗", "不是"}
BOOL_WORDS = {**{w: True for w in _TRUE}, **{w: False for w in _FALSE}}

_DATE = (
    r"^(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?"
    r"(?:[ T]*(?P<H>\d{1,2})[:时点](?P<M>\d{1,2})(?:[:分](?P<S>\d{1,2}(?:\.\d+)?)秒?)?分?)?$"
)
_EXCEL_SERIAL = r"^\d{5}(?:\.\d+)?$"  # days since 1899-12-30, as Excel stores dates


def missing_mask(values: pd.Series) -> pd.Series:
    """True for cells that hold no value (empty or a placeholder such as ``NA`` or ``-``)."""
    return values.isna() | values.eq("") | (values.str.len().le(4) & values.str.lower().isin(MISSING))


def halfwidth(values: pd.Series) -> pd.Series:
    return values.str.translate(_HALFWIDTH)


def parse_money(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Amounts in yuan: ``1200.5``, ``￥1,200``, ``¥1,200.50元``, ``(1,200)`` (negative), full-width."""
    empty = missing_mask(values)
    out = pd.to_numeric(values.where(~empty), errors="coerce")
    retry = out.isna() & ~empty
    if retry.any():
        text = halfwidth(values[retry]).str.replace(r"[\s,￥¥$]|元|RMB|CNY|人民币", "", regex=True)
        negative = text.str.match(r"^\(.*\)$")
        number = pd.to_numeric(text.str.strip("()"), errors="coerce")
        out[retry] = number.where(~negative, -number)
    out = out.astype(float)
    out[~np.isfinite(out)] = np.nan
    return out, out.isna() & ~empty


def parse_datetime(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates and times: ISO (``2024-04-01 10:05``), ``2024/4/1``, ``2024年4月1日``, Excel serials."""
    empty = missing_mask(values)
    try:
        out = pd.to_datetime(values.where(~empty), format="ISO8601", errors="coerce")
        if getattr(out.dt, "tz", None) is not None:
            raise ValueError("time zones")  # offsets in the export: read them the slow way
    except (ValueError, TypeError):
        out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    out = out.astype("datetime64[ns]")
    retry = out.isna() & ~empty
    if retry.any():
        out[retry] = _slow_datetime(halfwidth(values[retry]).str.strip())
    return out, out.isna() & ~empty


def _slow_datetime(text: pd.Series) -> pd.Series:
    parts = text.str.extract(_DATE)
    stamp = (
        parts["y"] + "-" + parts["m"].str.zfill(2) + "-" + parts["d"].str.zfill(2) + " "
        + parts["H"].fillna("0").str.zfill(2) + ":" + parts["M"].fillna("0").str.zfill(2) + ":"
        + parts["S"].fillna("0").str.split(".").str[0].str.zfill(2)
    )
    out = pd.to_datetime(stamp, format="%Y-%m-%d %H:%M:%S", errors="coerce").astype("datetime64[ns]")
    serial = text.str.match(_EXCEL_SERIAL) & out.isna()
    if serial.any():
        days = pd.to_numeric(text[serial], errors="coerce")
        out[serial] = pd.Timestamp("1899-12-30") + pd.to_timedelta(days, unit="D").dt.round("s")
    return out


def parse_int(values: pd.Series, low: int, high: int) -> tuple[pd.Series, pd.Series]:
    """Whole numbers in ``[low, high]`` (scores such as NPS 0–10); ``4.0`` and ``４`` are read."""
    empty = missing_mask(values)
    number = pd.to_numeric(values.where(~empty), errors="coerce")
    retry = number.isna() & ~empty
    if retry.any():
        number[retry] = pd.to_numeric(halfwidth(values[retry]).str.strip(), errors="coerce")
    number = number.astype(float)
    ok = number.notna() & (number == np.round(number)) & number.between(low, high)
    return number.where(ok).astype("Int64"), ~ok & ~empty


def parse_bool(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Yes/no flags: 是/否, 1/0, true/false, y/n, √/×; an empty cell is "no"."""
    empty = missing_mask(values)
    words = values.str.lower().map(BOOL_WORDS)
    bad = words.isna() & ~empty
    return words.where(~bad & ~empty, False).astype(bool), bad
