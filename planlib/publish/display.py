"""Tables, key–value lists, notes and status badges shown to planners.

Stage workbooks call ``show_*`` inside a kernel (papermill included); the ``html_*``
functions return the same HTML as a string so it can be tested without a kernel.

Everything that comes from data or from the plan passes through :func:`esc`, the one escaping
rule of the project: names, notes and goal text come from CRM exports and planners' files and
may hold ``<script>`` or ``<img onerror=…>``. The markup around them is ours; the report
additionally sanitises every HTML output (see :mod:`planlib.publish.report`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd

from planlib.plan.labels import COLUMNS

# Template 4's 达成情况 → badge class and colour. Charts take the same colours (one look).
STATUS_COLORS: dict[str, str] = {
    "超达成": "#1f6fb2",
    "达成": "#2e8b57",
    "未达成": "#c0392b",
    "样本不足": "#b7950b",
    "无数据": "#8a9099",
    "—": "#b8bcc2",
}
_STATUS_CLASS = {"超达成": "over", "达成": "met", "未达成": "missed", "样本不足": "small", "无数据": "nodata", "—": "info"}

NOTE_KINDS = {"info": "说明", "warn": "注意", "error": "错误", "ok": "完成"}

# Chinese headers for result columns live in one place, planlib.plan.labels.
DEFAULT_LABELS = COLUMNS

# Shorthand formats a workbook may name instead of writing a format string.
NAMED_FORMATS: dict[str, str] = {
    "int": "{:,.0f}",
    "float": "{:,.2f}",
    "money": "{:,.2f}",
    "pct": "{:.1f}%",  # value already in percent (70 → 70.0%), as the plan writes rates
    "frac": "{:.1%}",  # value is a fraction (0.7 → 70.0%)
}

# Styles for the kernel view. The report ships the same rules (planlib.publish.report embeds CSS).
CSS = """
.pl-block{margin:.6em 0 1.2em;font-size:13px;line-height:1.5}
.pl-title{font-weight:600;font-size:14px;margin:0 0 .4em;color:#1d2b3a}
.pl-scroll{overflow-x:auto}
.pl-table{border-collapse:collapse;min-width:40%;font-variant-numeric:tabular-nums}
.pl-table th{background:#eef2f7;color:#1d2b3a;font-weight:600;text-align:left;
  padding:6px 10px;border-bottom:2px solid #c5cfdb;white-space:nowrap}
.pl-table td{padding:5px 10px;border-bottom:1px solid #e3e8ee;vertical-align:top}
.pl-table tbody tr:nth-child(even) td{background:#f8fafc}
.pl-table .pl-num{text-align:right;white-space:nowrap}
.pl-table .pl-date{white-space:nowrap}
.pl-table .pl-na{color:#9aa1a9}
.pl-foot{color:#6b7480;font-size:12px;margin-top:.3em}
.pl-kv th{background:#f4f6f9;width:11em}
.pl-badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;
  white-space:nowrap;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.pl-badge-over{background:#1f6fb2}.pl-badge-met{background:#2e8b57}
.pl-badge-missed{background:#c0392b}.pl-badge-nodata{background:#8a9099}.pl-badge-small{background:#b7950b}
.pl-badge-info{background:#b8bcc2;color:#1d2b3a}
.pl-note{border-left:4px solid;padding:8px 12px;margin:.6em 0;border-radius:3px;font-size:13px}
.pl-note-info{border-color:#1f6fb2;background:#eef5fc}
.pl-note-ok{border-color:#2e8b57;background:#edf7f1}
.pl-note-warn{border-color:#d68910;background:#fdf5e6}
.pl-note-error{border-color:#c0392b;background:#fbeeee}
.pl-note-label{font-weight:600;margin-right:.5em}
.pl-note ul{margin:.3em 0 0;padding-left:1.4em}
"""


def esc(value: Any) -> str:
    """Escape ``value`` as HTML text — the one rule for anything from data or the plan."""
    return html.escape("" if value is None else str(value), quote=True)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and arrays: not a scalar missing value
        return False


def _format_date(value: date | datetime | pd.Timestamp) -> str:
    if isinstance(value, datetime) and (value.hour, value.minute, value.second) != (0, 0, 0):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.strftime("%Y-%m-%d")


def format_value(value: Any, fmt: str | Callable[[Any], str] | None = None) -> str:
    """Render one cell as plain text (escaped later): numbers get thousands separators.

    ``fmt`` is a format string (``"{:,.1f}"`` or ``",.1f"``), a name from
    :data:`NAMED_FORMATS` or a callable; missing values always show as ``—``, never as 0.
    """
    if _is_missing(value):
        return "—"
    if pd.api.types.is_float(value) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if callable(fmt):
        return str(fmt(value))
    if fmt and fmt != "badge":
        fmt = NAMED_FORMATS.get(fmt, fmt)
        return fmt.format(value) if "{" in fmt else format(value, fmt)
    if pd.api.types.is_bool(value):
        return "是" if value else "否"
    if pd.api.types.is_integer(value):
        return f"{int(value):,}"
    if pd.api.types.is_float(value):
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    if isinstance(value, (date, datetime)):
        return _format_date(value)
    if isinstance(value, (list, tuple, set)) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        return "、".join(str(v) for v in items) or "—"
    return str(value)


def _column_format(series: pd.Series) -> str | None:
    """Default format for a column, so one column never mixes 1,000 and 999.50."""
    if pd.api.types.is_float_dtype(series):
        values = series.dropna()
        values = values[~values.isin([math.inf, -math.inf])]
        return "{:,.0f}" if (values == values.round()).all() else "{:,.2f}"
    return None


def badge(status: Any) -> str:
    """A coloured badge for template 4's 达成情况 (超达成/达成/未达成/无数据)."""
    text = "无数据" if _is_missing(status) else str(status)
    cls = _STATUS_CLASS.get(text, "info")
    return f'<span class="pl-badge pl-badge-{cls}">{esc(text)}</span>'


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def html_table(
    df: pd.DataFrame,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    formats: Mapping[str, str | Callable[[Any], str]] | None = None,
    max_rows: int = 50,
    columns: Sequence[str] | None = None,
) -> str:
    """Return ``df`` as an HTML table: Chinese headers, right-aligned numbers, escaped text.

    ``labels`` maps column → header (falling back to :data:`DEFAULT_LABELS`); ``formats`` maps
    column → a format string, a name from :data:`NAMED_FORMATS`, ``"badge"`` or a callable;
    ``columns`` picks and orders the columns shown. A column named ``status`` is shown as
    badges. Rows beyond ``max_rows`` are left out and counted below the table.
    """
    labels = {**DEFAULT_LABELS, **(labels or {})}
    formats = dict(formats or {})
    if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
        df = df.reset_index()  # a meaningful index is data too
    if columns is not None:
        df = df[list(columns)]
    if "status" in df.columns:
        formats.setdefault("status", "badge")
    shown = df.head(max_rows)
    numeric = {c: _is_numeric(df[c]) for c in df.columns}
    defaults = {c: _column_format(df[c]) for c in df.columns}

    head = "".join(
        f'<th class="pl-num">{esc(labels.get(str(c), c))}</th>' if numeric[c]
        else f"<th>{esc(labels.get(str(c), c))}</th>"
        for c in df.columns
    )
    rows = []
    for values in shown.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(df.columns, values, strict=True):
            fmt = formats.get(col, defaults[col])
            classes = ["pl-num"] if numeric[col] else []
            if isinstance(value, (date, datetime)):
                classes.append("pl-date")  # 2024-04-01 must not wrap in a narrow column
            if _is_missing(value):
                classes.append("pl-na")
            body = badge(value) if fmt == "badge" else esc(format_value(value, fmt))
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{cls}>{body}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td class="pl-na" colspan="{max(len(df.columns), 1)}">无数据</td></tr>')

    parts = ['<div class="pl-block">']
    if title:
        parts.append(f'<div class="pl-title">{esc(title)}</div>')
    parts.append('<div class="pl-scroll"><table class="pl-table">')
    parts.append(f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    if len(df) > len(shown):
        parts.append(
            f'<div class="pl-foot">另有 {len(df) - len(shown):,} 行未显示(共 {len(df):,} 行)</div>'
        )
    parts.append("</div>")
    return "".join(parts)


def html_kv(mapping: Mapping[Any, Any], title: str | None = None) -> str:
    """Return ``mapping`` as a two-column table of label → value (both escaped)."""
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(format_value(v))}</td></tr>" for k, v in mapping.items()
    )
    head = f'<div class="pl-title">{esc(title)}</div>' if title else ""
    return f'<div class="pl-block">{head}<table class="pl-table pl-kv"><tbody>{rows}</tbody></table></div>'


def html_note(text: Any, kind: str = "info") -> str:
    """Return a highlighted note; ``kind`` is info, warn, error or ok."""
    if kind not in NOTE_KINDS:
        raise ValueError(f"kind must be one of {sorted(NOTE_KINDS)}, not {kind!r}")
    body = esc(text).replace("\n", "<br>")
    return (f'<div class="pl-note pl-note-{kind}"><span class="pl-note-label">{NOTE_KINDS[kind]}</span>'
            f"{body}</div>")


def html_findings(findings: Iterable[Any], ok: str | None = None, kind: str = "warn") -> str:
    """Return the findings of a check as one note (a list when several); ``ok`` when none."""
    items = [f for f in findings if f is not None and str(f) != ""]
    if not items:
        return html_note(ok, "ok") if ok else ""
    if len(items) == 1:
        return html_note(items[0], kind)
    lis = "".join(f"<li>{esc(item)}</li>" for item in items)
    return (f'<div class="pl-note pl-note-{kind}"><span class="pl-note-label">{NOTE_KINDS[kind]}</span>'
            f"共 {len(items)} 项:<ul>{lis}</ul></div>")


def _display(fragment: str, plain: str) -> None:
    from IPython.display import display  # only inside a kernel

    # The <style> keeps JupyterLab's view styled; the report drops it and ships the same CSS.
    display({"text/html": f"<style>{CSS}</style>{fragment}", "text/plain": plain}, raw=True)


def show_table(
    df: pd.DataFrame,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    formats: Mapping[str, str | Callable[[Any], str]] | None = None,
    max_rows: int = 50,
    columns: Sequence[str] | None = None,
) -> None:
    """Display ``df`` in the notebook as :func:`html_table` renders it."""
    _display(html_table(df, title, labels, formats, max_rows, columns), title or "表格")


def show_kv(mapping: Mapping[Any, Any], title: str | None = None) -> None:
    """Display a label → value list (plan summary, stage figures)."""
    _display(html_kv(mapping, title), title or "摘要")


def show_note(text: Any, kind: str = "info") -> None:
    """Display a note; use ``warn``/``error`` for findings a reader must not miss."""
    _display(html_note(text, kind), f"{NOTE_KINDS.get(kind, '')}: {text}")


def show_findings(findings: Iterable[Any], ok: str | None = None, kind: str = "warn") -> None:
    """Display what a check found (``kind`` note), or the ``ok`` note when it found nothing."""
    items = [str(f) for f in findings if f is not None and str(f) != ""]
    fragment = html_findings(items, ok, kind)
    if fragment:
        _display(fragment, "\n".join(items) or (ok or ""))


# ------------------------------------------------------------------------------ figures
PNG_DPI = 100


def png_bytes(fig, dpi: int = PNG_DPI) -> bytes:
    """Render a matplotlib figure as PNG bytes (about 800×400 px: small enough for a dozen in a report)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buf.getvalue()


def figure(fig) -> None:
    """Display a matplotlib figure in the notebook as a PNG and release it."""
    from IPython.display import Image, display

    display(Image(data=png_bytes(fig), format="png"))
    if getattr(fig.canvas, "manager", None) is not None:  # made through pyplot: free it there
        import matplotlib.pyplot as plt

        plt.close(fig)
