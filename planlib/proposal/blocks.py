"""The one source of a proposal: a typed list of blocks that the HTML (and through it the PDF) and
the Word writer each render. Table cells are already text, formatted once here, so the three formats
show the same figures."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planlib.publish.display import format_value


@dataclass
class Heading:
    text: str
    level: int = 2  # 1 is the part title


@dataclass
class Paragraph:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Note:
    text: str
    kind: str = "info"  # info, warn, ok, error (planlib.publish.display.NOTE_KINDS)


@dataclass
class KeyValues:
    rows: list[tuple[str, str]]
    title: str = ""


@dataclass
class Table:
    """A table of text cells; ``numeric`` columns are right-aligned; ``template`` names templates 1–4."""

    df: pd.DataFrame
    title: str = ""
    numeric: frozenset[str] = frozenset()
    template: int | None = None
    note: str = ""


@dataclass
class Image:
    png: bytes
    caption: str = ""
    width_cm: float = 15.5


Block = Heading | Paragraph | Bullets | Note | KeyValues | Table | Image


@dataclass
class Part:
    number: str  # 一 … 六, or "" for the summary
    title: str
    blocks: list[Block] = field(default_factory=list)
    anchor: str = ""


@dataclass
class Proposal:
    title: str
    unit: str
    quarter: str
    cover: list[tuple[str, str]]
    approval: list[tuple[str, str]]
    summary: Part
    parts: list[Part]
    generated: str
    as_of: str


def text_table(df: pd.DataFrame, labels: Mapping[str, str] | None = None,
               formats: Mapping[str, str | Callable[[Any], str]] | None = None, *, title: str = "",
               template: int | None = None, note: str = "", blank: Sequence[str] = ()) -> Table:
    """``df`` as a :class:`Table`: columns renamed with ``labels``, cells formatted as the report does
    (``—`` for missing values), ``blank`` columns left empty (to be filled in later)."""
    labels = dict(labels or {})
    formats = dict(formats or {})
    numeric = set()
    out = pd.DataFrame(index=range(len(df)))
    for col in df.columns:
        series = df[col].reset_index(drop=True)
        name = labels.get(col, col)
        if name in blank:
            out[name] = ""
            continue
        is_num = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if is_num:
            numeric.add(name)
        fmt = formats.get(col)
        if fmt is None and pd.api.types.is_float_dtype(series):
            vals = series.dropna()
            fmt = "{:,.0f}" if (vals == vals.round()).all() else "{:,.2f}"
        out[name] = [format_value(v, fmt) for v in series]
    return Table(out, title=title, numeric=frozenset(numeric), template=template, note=note)
