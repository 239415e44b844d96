"""Masking personal information (PIPL) before it is shown in a table, chart or report.

Names, mobile numbers, ID-card numbers and e-mail addresses are masked the way Chinese
customer-facing systems usually do (``张*``, ``138****1234``, ``110***********0021``,
``z***@example.com``). A value whose format is not recognised is masked whole (``****``) rather
than shown: when unsure, hide. Empty cells stay empty. The Series functions are vectorised;
the scalar ones are for single values in text.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from planlib.data.tables import normalise_header

# Canonical columns of planlib.data.tables that hold personal information → masking kind
# (name, phone, id, email, all — see planlib.data.masking.MASKERS).
PII_COLUMNS: dict[str, dict[str, str]] = {
    "customers": {"name": "name", "phone": "phone"},
    "transactions": {},
    "interactions": {},
    "surveys": {},
    "tickets": {},
}

# Headers (as planlib.data.tables.normalise_header sees them) of personal columns that are not
# canonical: exports carry them, planlib.data.load keeps them as extra columns.
PII_HEADERS: dict[str, str] = {
    **dict.fromkeys(("客户名称", "客户姓名", "姓名", "会员姓名", "联系人", "收货人", "customer_name",
                     "contact_name", "full_name"), "name"),
    **dict.fromkeys(("手机号", "手机", "手机号码", "电话", "联系电话", "电话号码", "移动电话", "收货电话",
                     "phone", "mobile", "tel", "phone_number"), "phone"),
    **dict.fromkeys(("身份证号", "身份证", "身份证号码", "证件号", "证件号码", "身份证件号", "id_card",
                     "id_number", "idcard", "id_no"), "id"),
    **dict.fromkeys(("邮箱", "电子邮箱", "电子邮件", "邮件地址", "email", "e-mail", "mail"), "email"),
    **dict.fromkeys(("地址", "住址", "家庭住址", "联系地址", "收货地址", "详细地址", "通讯地址", "address",
                     "street", "home_address"), "all"),
}

FULL_MASK = "****"
# Common two-character surnames; the whole surname stays visible (欧阳娜娜 → 欧阳**).
COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "百里", "呼延", "澹台", "公冶", "太史",
    "申屠", "钟离", "闻人", "赫连", "万俟", "司空", "单于", "濮阳", "淳于", "仲孙", "左丘", "东郭",
})
# Which columns hold personal information is declared in planlib.run.contacts (PII_COLUMNS, PII_HEADERS).
# Values that are already masked stay as they are, so masking twice never hides more.
_MASKED_PHONE = r"1[3-9]\d\*{4}\d{4}"
_MASKED_ID = r"\d{3}\*{11}[\dX]{4}|\d{3}\*{8}\d{4}"

_HALFWIDTH = str.maketrans("０１２３４５６７８９＋－（）　ｘＸ", "0123456789+-() xX")


def _text(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Values as stripped strings, and the mask of cells that hold something."""
    if pd.api.types.is_float_dtype(values):  # phone numbers that went through a spreadsheet
        values = values.map(lambda v: str(int(v)) if float(v).is_integer() else str(v), na_action="ignore")
    text = values.astype("str").str.strip()
    return text, text.notna() & text.ne("")


def _finish(values: pd.Series, present: pd.Series, masked: pd.Series) -> pd.Series:
    return masked.where(present, values.astype("str"))


def mask_phones(values: pd.Series) -> pd.Series:
    """Mainland mobile numbers as ``138****1234`` (after removing +86, spaces, dashes, full-width)."""
    text, present = _text(values)
    digits = text.str.translate(_HALFWIDTH).str.replace(r"[\s\-()]", "", regex=True)
    digits = digits.str.replace(r"^(?:\+|00)?86(?=1\d{10}$)", "", regex=True)
    mobile = digits.str.fullmatch(r"1[3-9]\d{9}").fillna(False).astype(bool)
    masked = (digits.str[:3] + "****" + digits.str[-4:]).where(mobile, FULL_MASK)
    masked = masked.mask(digits.str.fullmatch(_MASKED_PHONE).fillna(False).astype(bool), digits)
    return _finish(values, present, masked)


def mask_names(values: pd.Series) -> pd.Series:
    """Keep the surname (one character, or a common compound surname), mask the rest: ``张*``."""
    text, present = _text(values)
    length = text.str.len().fillna(0).astype(int)
    keep = text.str[:2].isin(COMPOUND_SURNAMES) & (length > 2)
    prefix = text.str[:2].where(keep, text.str[:1])
    stars = (length - prefix.str.len().fillna(0).astype(int)).clip(lower=1)
    masked = (prefix + pd.Series("*", index=text.index, dtype="str").str.repeat(stars.tolist()))
    masked = masked.where(length > 1, "*")  # a one-character name shows nothing
    return _finish(values, present, masked)


def mask_ids(values: pd.Series) -> pd.Series:
    """Resident ID numbers: first 3 and last 4 characters stay (``110***********0021``).

    Spaces, dashes and full-width digits are normalised first; anything that is not 18 (or the
    old 15) digits is masked whole.
    """
    text, present = _text(values)
    text = text.str.translate(_HALFWIDTH).str.replace(r"[\s\-]", "", regex=True).str.upper()
    long_id = text.str.fullmatch(r"\d{17}[\dX]").fillna(False).astype(bool)
    old_id = text.str.fullmatch(r"\d{15}").fillna(False).astype(bool)
    masked = pd.Series(FULL_MASK, index=text.index, dtype="str")
    masked = masked.mask(text.str.fullmatch(_MASKED_ID).fillna(False).astype(bool), text)
    masked = masked.mask(long_id, text.str[:3] + "*" * 11 + text.str[-4:])
    masked = masked.mask(old_id, text.str[:3] + "*" * 8 + text.str[-4:])
    return _finish(values, present, masked)


def mask_emails(values: pd.Series) -> pd.Series:
    """E-mail addresses: first character of the name and the domain stay (``z***@example.com``)."""
    text, present = _text(values)
    parts = text.str.extract(r"^([^@\s])[^@\s]*@([^@\s]+\.[^@\s]+)$")
    masked = (parts[0] + "***@" + parts[1]).fillna(FULL_MASK)
    return _finish(values, present, masked.astype("str"))


def mask_all(values: pd.Series) -> pd.Series:
    """Hide the value completely (addresses, free text that may name people)."""
    text, present = _text(values)
    return _finish(values, present, pd.Series(FULL_MASK, index=text.index, dtype="str"))


MASKERS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "phone": mask_phones, "name": mask_names, "id": mask_ids, "email": mask_emails, "all": mask_all,
}


def mask_frame(df: pd.DataFrame, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy of ``df`` with personal columns masked; ``columns`` maps column → kind.

    Kinds: ``phone``, ``name``, ``id``, ``email``, ``all``. Without ``columns`` the personal
    columns of the canonical customers table (:data:`PII_COLUMNS`) present in ``df``
    are masked.
    """
    if columns is None:
        columns = {c: k for c, k in PII_COLUMNS["customers"].items() if c in df.columns}
    unknown = {k for k in columns.values() if k not in MASKERS}
    if unknown:
        raise ValueError(f"unknown masking kind(s) {sorted(unknown)}; use one of {sorted(MASKERS)}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"columns to mask not in the table: {missing}")
    out = df.copy()
    for column, kind in columns.items():
        out[column] = MASKERS[kind](df[column])
    return out


def _one(mask: Callable[[pd.Series], pd.Series], value: str | None) -> str | None:
    if value is None:
        return None
    return mask(pd.Series([value], dtype="str")).iloc[0]


def mask_phone(value: str | None) -> str | None:
    """``13812341234`` → ``138****1234``; unrecognised formats → ``****``."""
    return _one(mask_phones, value)


def mask_name(value: str | None) -> str | None:
    """``张三`` → ``张*``; ``欧阳娜娜`` → ``欧阳**``."""
    return _one(mask_names, value)


def mask_id(value: str | None) -> str | None:
    """``110101199003070021`` → ``110***********0021``."""
    return _one(mask_ids, value)


def mask_email(value: str | None) -> str | None:
    """``zhangsan@example.com`` → ``z***@example.com``."""
    return _one(mask_emails, value)


def personal_columns(df: pd.DataFrame, table: str | None = None) -> dict[str, str]:
    """Column → masking kind for every personal column of ``df``.

    The canonical personal columns of ``table`` (when given), then any column whose header is a
    known personal header (``身份证号``, ``邮箱``, ``客户名称`` …). Without ``table`` the canonical
    names ``name``/``phone`` are not assumed: in result tables ``name`` may be a KPI's name.
    """
    found = {c: k for c, k in PII_COLUMNS.get(table or "", {}).items() if c in df.columns}
    for column in df.columns:
        if column in found:
            continue
        key = normalise_header(column)
        if key in PII_HEADERS and (table is not None or key not in ("name", "phone", "mail", "tel")):
            found[column] = PII_HEADERS[key]
    return found


def mask_for_display(df: pd.DataFrame, table: str | None = None) -> pd.DataFrame:
    """A copy of ``df`` with every personal column masked (see :func:`personal_columns`)."""
    return mask_frame(df, personal_columns(df, table))
