"""Masking personal information (PIPL) before it is shown in a table, chart or report.

Names, mobile numbers, ID-card numbers and e-mail addresses are masked the way Chinese
customer-facing systems usually do (``张*``, ``138****1234``, ``110***********0021``,
``z***@example.com``). A value whose format is not recognised is masked whole (``****``) rather
than shown: when unsure, hide. Empty cells stay empty. The Series functions are vectorised;
the scalar ones are for single values in text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable

import pandas as pd

from planlib.data.tables import normalise_header

# Canonical columns of planlib.data.tables that hold personal information → masking kind
# (name, phone, id, email, all, text — see planlib.data.masking.MASKERS). ``text`` is free text
# (a survey comment quoting a phone number): the personal values in it are masked, the rest stays.
PII_COLUMNS: dict[str, dict[str, str]] = {
    "customers": {"name": "name", "phone": "phone"},
    "transactions": {},
    "interactions": {},
    "surveys": {"comment": "text"},
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
    **dict.fromkeys(("评价", "意见", "评论", "反馈", "备注", "留言", "说明", "客户备注", "沟通记录", "跟进记录",
                     "comment", "comments", "feedback", "note", "notes", "remark", "remarks", "memo"), "text"),
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


# ------------------------------------------------------------------ personal data inside free text
# Full-width digits, signs, letters x/X, @, dot, brackets and the ideographic space → ASCII. Each
# character maps to one character, so positions found in the normalised text hold in the original.
_FREE_HALFWIDTH = str.maketrans("０１２３４５６７８９＋－ｘＸ＠．（）　", "0123456789+-xX@.() ")
_S = r"[ \t\-‐‑‒–—―_.·•/\\~]{0,3}"  # separators people put between digit groups (space, dashes, dots, slashes …)
_BEFORE = r"(?<![0-9])(?<![0-9]\.)"  # not inside a longer number or after a decimal point
_AFTER = r"(?![0-9])(?!\.[0-9])"
_DAY = r"(?:0[1-9]|1[0-2])" + _S + r"(?:0[1-9]|[12][0-9]|3[01])"
FREE_TEXT_PATTERNS: dict[str, re.Pattern[str]] = {
    # 18-digit resident ID (the check character may be x or X) and the old 15-digit one
    "id": re.compile(_BEFORE + r"(?:[0-9]{6}" + _S + r"(?:18|19|20)[0-9]{2}" + _S + _DAY + _S + r"[0-9]{3}[0-9Xx]"
                     r"|[0-9]{6}" + _S + r"[0-9]{2}" + _S + _DAY + _S + r"[0-9]{3})" + _AFTER),
    # mainland mobile, with +86 / 0086 / 86 / (+86) in front or not
    "phone": re.compile(_BEFORE + r"(?:(?:\(\s*)?(?:\+\s?|00\s?)?86(?:\s*\))?" + _S + r")?"
                        r"1[3-9][0-9](?:" + _S + r"[0-9]){8}" + _AFTER),
    # landline: area code 0xx / 0xxx (or +86 and the code without 0), 7–8 digits, an extension
    "landline": re.compile(_BEFORE + r"(?:(?:\+\s?|00\s?)86" + _S + r"\(?[1-9][0-9]{1,2}\)?"
                           r"|\(\s*0[1-9][0-9]{1,2}\s*\)|0[1-9][0-9]{1,2})" + _S +
                           r"[1-9][0-9]{2,3}" + _S + r"[0-9]{4}(?:\s*(?:转|分机|ext\.?|-)\s*[0-9]{1,5})?" + _AFTER),
    # e-mail, with non-ASCII names and domains (用户@例子.中国) and punycode top-level domains
    "email": re.compile(r"(?<![\w.%+\-])[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.(?:xn--[\w\-]+|[^\W\d_]{2,})(?![\w\-])"),
}
KIND_ORDER = ("id", "phone", "landline", "email")  # an ID number is not also reported as a phone number
# Numbers that are not phone numbers although their digits fit: a decimal (138.12345678) and a
# dotted IPv4 address (139.224.123.45).
_NOT_A_NUMBER = re.compile(r"[0-9]+\.[0-9]+|[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_TOKEN = re.compile(r"[0-9A-Za-z+/=]+")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _encoded(text: str, start: int, end: int) -> bool:
    """Whether a match sits inside a digest or encoded data (a long hex or base64-like token)."""
    left = start
    while left > 0 and _TOKEN.fullmatch(text[left - 1]):
        left -= 1
    right = end
    while right < len(text) and _TOKEN.fullmatch(text[right]):
        right += 1
    token = text[left:right]
    return len(token) >= 32 or (len(token) >= 20 and bool(_HEX.fullmatch(token)))


class NameIndex:
    """The full names of a customer table, for finding them in text (``张三丰`` in a comment).

    Names of three or more characters are found anywhere; two-character Chinese names (often
    ordinary words too, 高峰, 文明) only standing alone (``<td>王芳</td>``, ``王芳,``) unless
    ``anywhere``; one-character and already masked names (with ``*``) are ignored.
    """

    def __init__(self, names: Iterable[object] = (), *, anywhere: bool = False):
        clean = {str(n).strip() for n in names if n is not None and not (isinstance(n, float) and n != n)}
        self.names = frozenset(n for n in clean if len(n) >= 2 and "*" not in n)
        self.lengths = sorted({len(n) for n in self.names}, reverse=True)
        self.firsts = frozenset(n[0] for n in self.names)
        self.anywhere = anywhere

    def __bool__(self) -> bool:
        return bool(self.names)

    def find(self, text: str) -> Iterable[tuple[int, int]]:
        i = 0
        while i < len(text):
            if text[i] in self.firsts:
                for n in self.lengths:
                    if text[i:i + n] in self.names and self._standing(text, i, i + n, n):
                        yield i, i + n
                        i += n - 1
                        break
            i += 1

    def _standing(self, text: str, start: int, end: int, n: int) -> bool:
        word = text[start:end]
        if not _CJK.match(word):  # a Latin name: whole words only
            return not (start and text[start - 1].isalnum()) and not (end < len(text) and text[end].isalnum())
        if n >= 3 or self.anywhere:
            return True
        return not (start and _CJK.match(text[start - 1])) and not (end < len(text) and _CJK.match(text[end]))


def find_personal(text: str, names: NameIndex | Collection[str] = ()) -> list[tuple[str, int, int]]:
    """``(kind, start, end)`` of every personal value in free text: ID numbers, mobile and landline
    numbers, e-mail addresses and, given the customer table's names, full names."""
    normal = text.translate(_FREE_HALFWIDTH)
    taken: list[tuple[str, int, int]] = []
    for kind in KIND_ORDER:
        for m in FREE_TEXT_PATTERNS[kind].finditer(normal):
            if any(s < m.end() and m.start() < e for _, s, e in taken) or _encoded(normal, *m.span()):
                continue
            if kind in ("phone", "landline") and _NOT_A_NUMBER.fullmatch(m[0]):
                continue
            taken.append((kind, *m.span()))
    index = names if isinstance(names, NameIndex) else NameIndex(names)
    if index:
        for start, end in index.find(text):
            if not any(s < end and start < e for _, s, e in taken):
                taken.append(("name", start, end))
    return sorted(taken, key=lambda t: t[1])


def mask_found(kind: str, value: str) -> str:
    """One value :func:`find_personal` found, masked like its column would be."""
    value = value.translate(_FREE_HALFWIDTH)
    if kind == "phone":
        digits = re.sub(r"[^0-9]", "", value)
        return digits[-11:-8] + "****" + digits[-4:]
    if kind == "landline":
        digits = re.sub(r"[^0-9]", "", value)
        return "****" + digits[-4:] if len(digits) >= 8 else FULL_MASK
    if kind == "id":
        return mask_id(value) or FULL_MASK
    if kind == "email":
        return mask_email(value) or FULL_MASK
    if kind == "name":
        return mask_name(value) or "*"
    return FULL_MASK


def mask_text(text: str | None, names: NameIndex | Collection[str] = ()) -> str | None:
    """Free text (a survey comment, a note) with every personal value in it masked:
    ``请打电话13812345678找张三丰`` → ``请打电话138****5678找张**`` (given the name ``张三丰``).
    Given as a list, names of two characters are masked wherever they appear: hiding a word too
    many is cheap, showing a name is not."""
    if text is None or not isinstance(text, str):
        return text
    index = names if isinstance(names, NameIndex) else NameIndex(names, anywhere=True)
    out, last = [], 0
    for kind, start, end in find_personal(text, index):
        out += [text[last:start], mask_found(kind, text[start:end])]
        last = end
    return "".join(out) + text[last:]


def mask_texts(values: pd.Series, names: NameIndex | Collection[str] = ()) -> pd.Series:
    """:func:`mask_text` for every cell; empty and missing cells stay as they are."""
    index = names if isinstance(names, NameIndex) else NameIndex(names, anywhere=True)
    return values.map(lambda v: mask_text(v, index) if isinstance(v, str) else v)


MASKERS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "phone": mask_phones, "name": mask_names, "id": mask_ids, "email": mask_emails, "all": mask_all,
    "text": mask_texts,
}


def mask_frame(df: pd.DataFrame, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy of ``df`` with personal columns masked; ``columns`` maps column → kind.

    Kinds: ``phone``, ``name``, ``id``, ``email``, ``all``, ``text``. Without ``columns`` the personal
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
        if key in PII_HEADERS and (table is not None or key not in ("name", "phone", "mail", "tel", "note")):
            found[column] = PII_HEADERS[key]
    return found


def mask_for_display(df: pd.DataFrame, table: str | None = None) -> pd.DataFrame:
    """A copy of ``df`` with every personal column masked (see :func:`personal_columns`)."""
    return mask_frame(df, personal_columns(df, table))
