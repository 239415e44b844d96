"""Charts planners expect in the workbooks and the report, with one Chinese font setup.

Each chart function takes a result frame of :mod:`planlib.data.results` (or a plain frame with the
same columns) and returns a :class:`Chart` (a matplotlib Figure); :func:`planlib.publish.display.figure` displays it as
a small PNG, and so does a chart left as a cell's last expression. Figures are built without
pyplot, so nothing is displayed twice or kept alive by pyplot's registry.

Text that comes from data goes through :func:`clean`: characters the fonts lack are dropped (a
missing glyph would print a box and a warning) and ``$`` never starts mathtext.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import matplotlib.colors
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from planlib.errors import PlanError
from planlib.plan.kpis import SMALL_SAMPLE
from planlib.publish.display import PNG_DPI, STATUS_COLORS, png_bytes

# Preference order: Simplified Chinese faces first; each renders SC glyph shapes.
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
    "Microsoft YaHei", "PingFang SC", "SimHei",
)
# Fonts installed after matplotlib built its font cache are unknown to it: look for them here.
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
_FONT_FILE = re.compile(r"(NotoSansCJK|SourceHanSans|wqy-(micro|zen)hei|msyh|PingFang|simhei)", re.I)

PALETTE = ["#2f5d8a", "#e07b39", "#3f9a6b", "#c9a227", "#7a5ea8", "#4aa3c4", "#b5535c", "#7f8c8d"]
_state: dict[str, Any] = {}


class FontMissingError(PlanError):
    """No font able to show Simplified Chinese is installed."""


class Chart(Figure):
    """A Figure that shows itself as a small PNG when it ends a notebook cell.

    So ``charts.gantt(tasks)`` as a cell's last line displays once, as does
    ``show.figure(charts.gantt(tasks))`` anywhere in a cell.
    """

    def _repr_png_(self) -> bytes:
        return png_bytes(self)


def _known_family() -> str | None:
    names = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((f for f in CJK_FAMILIES if f in names), None)


def _register_font_files() -> None:
    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for folder in _FONT_DIRS:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            wanted = path.suffix.lower() in {".ttc", ".otf", ".ttf"} and _FONT_FILE.search(path.name)
            if wanted and str(path) not in known:
                # matplotlib 3.11 registers every face of a .ttc collection, each under its
                # own family name ("Noto Sans CJK SC" is face 2 of NotoSansCJK-*.ttc).
                font_manager.fontManager.addfont(str(path))


def setup() -> str:
    """Configure matplotlib and seaborn for Chinese charts; return the font family used.

    Cheap after the first call. Raises :class:`FontMissingError` when no CJK font exists.
    """
    if "family" in _state:
        return _state["family"]
    family = _known_family()
    if family is None:
        _register_font_files()
        family = _known_family()
    if family is None:
        raise FontMissingError(
            "未找到可显示简体中文的字体(需要 " + " / ".join(CJK_FAMILIES[:3]) + " 等之一);"
            "请安装 Debian 软件包 fonts-noto-cjk(`make setup` 会安装),然后重新运行"
        )
    rc = {
        "font.family": "sans-serif", "font.sans-serif": [family, "DejaVu Sans"],
        "axes.unicode_minus": False,  # the CJK fonts lack U+2212; "-" never becomes a box
        "text.parse_math": False,  # "$" in a customer or channel name is text, not mathtext
        "figure.dpi": 110, "savefig.dpi": PNG_DPI, "figure.figsize": (8, 4),
        "axes.titlesize": 13, "axes.titleweight": "bold", "axes.labelsize": 10,
        "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9,
    }
    sns.set_theme(style="whitegrid", palette=PALETTE, font=family, rc=rc)
    charmap: set[int] = set()
    for fam in (family, "DejaVu Sans"):
        path = font_manager.findfont(font_manager.FontProperties(family=fam), fallback_to_default=False)
        charmap.update(font_manager.get_font(path).get_charmap())
    _state.update(family=family, charmap=frozenset(charmap))
    return family


def clean(value: Any, limit: int | None = None) -> str:
    """Data text made safe to draw: glyphs the fonts lack are dropped, long text shortened."""
    text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    keep = _state["charmap"]
    text = "".join(" " if ch in "\t\r" else ch for ch in text if ch in "\t\r\n" or ord(ch) in keep)
    if limit and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def new_figure(width: float = 8, height: float = 4, ncols: int = 1, **kw: Any) -> tuple[Figure, Any]:
    setup()
    fig = Chart(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, ncols, **kw)


def no_data(title: str) -> Chart:
    """An empty result still gets its chart, saying so, rather than an error or a blank."""
    fig, ax = new_figure(8, 2)
    ax.text(0.5, 0.5, "无数据", ha="center", va="center", fontsize=14, color="#8a9099",
            transform=ax.transAxes)
    ax.set_axis_off()
    ax.set_title(title)
    return fig


# ------------------------------------------------------------------------------ helpers
thousands = FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def as_percent(values: pd.Series) -> pd.Series:
    """Shares arrive as fractions (sum ≈ 1) or in percent (sum ≈ 100): return percent."""
    values = pd.to_numeric(values, errors="coerce").astype(float)
    return values * 100 if values.abs().sum() <= 1.0 + 1e-9 else values


def as_day(value: Any) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def date_axis(ax: Any, start: pd.Timestamp, end: pd.Timestamp) -> None:
    """Dates on x, readable when printed: daily, weekly (Mondays) or monthly ticks by span."""
    span = (end - start).days
    if span <= 14:
        ax.xaxis.set_major_locator(mdates.DayLocator())
    elif span <= 120:
        ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO))
    else:
        ax.xaxis.set_major_locator(mdates.MonthLocator())
    monthly = span > 120

    def label(x: float, _pos: int) -> str:
        d = mdates.num2date(x)
        return f"{d.month}月" if monthly else f"{d.month}/{d.day}"

    ax.xaxis.set_major_formatter(FuncFormatter(label))
    ax.set_xlim(start - timedelta(days=1), end + timedelta(days=1))
    ax.grid(axis="y", visible=False)


def label_bars(ax: Any, bars: Any, texts: Iterable[str]) -> None:
    """Write each text just past the end of its horizontal bar (left of it when negative)."""
    for bar, text in zip(bars, texts, strict=False):
        x, y = bar.get_x() + bar.get_width(), bar.get_y() + bar.get_height() / 2
        negative = bar.get_width() < 0
        ax.annotate(text, (x, y), xytext=(-4 if negative else 4, 0), textcoords="offset points",
                    ha="right" if negative else "left", va="center", fontsize=8, color="#333333")


def ink_on(color: Any) -> str:
    """Dark or white text, whichever reads better on ``color``."""
    r, g, b = matplotlib.colors.to_rgb(color)
    return "#1d2b3a" if 0.299 * r + 0.587 * g + 0.114 * b > 0.6 else "white"


def periodise(period: Any) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    if period is None:
        return None
    start, end = (period.start, period.end) if hasattr(period, "start") else period
    return as_day(start), as_day(end)


# ------------------------------------------------------------------------------ charts
def kpi_trend(trend: pd.DataFrame) -> Figure:
    """Quarter-over-quarter KPIs: one small panel per KPI, actual as a line with dots coloured by
    达成情况 and the target as a dashed step. ``trend``: quarter, name, unit, target, actual, status."""
    df = trend.reset_index(drop=True)
    if df.empty:
        return no_data("KPI 季度趋势")
    names = list(dict.fromkeys(df["name"]))
    quarters = sorted(df["quarter"].unique())
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    setup()
    fig = Chart(figsize=(3.2 * cols + 0.6, 2.5 * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    x_of = {q: i for i, q in enumerate(quarters)}
    for ax, name in zip(axes, names, strict=False):
        part = df[df["name"] == name].sort_values("quarter")
        x = [x_of[q] for q in part["quarter"]]
        ax.step(x, part["target"], where="mid", color="#7f8c8d", linestyle="--", linewidth=1.2)
        ax.plot(x, part["actual"].where(part["status"] != SMALL_SAMPLE), color=PALETTE[0], linewidth=1.6)
        for xi, (_, r) in zip(x, part.iterrows(), strict=True):
            if pd.isna(r["actual"]) or r["status"] == SMALL_SAMPLE:  # no point to read: say why
                said = SMALL_SAMPLE if r["status"] == SMALL_SAMPLE else "无数据"
                ax.annotate(said, (xi, r["target"]), ha="center", fontsize=8, color=STATUS_COLORS[said])
                continue
            ax.plot([xi], [r["actual"]], "o", color=STATUS_COLORS.get(r["status"], STATUS_COLORS["无数据"]),
                    markersize=8, zorder=3)
            ax.annotate(f"{r['actual']:,.1f}".removesuffix(".0"), (xi, r["actual"]), xytext=(0, 7),
                        textcoords="offset points", ha="center", fontsize=8)
        ax.set_xticks(range(len(quarters)), quarters)
        ax.set_xlim(-0.5, len(quarters) - 0.5)
        unit = part["unit"].iloc[0]
        ax.set_title(clean(name, 14) + (f"({clean(unit)})" if unit else ""), fontsize=10)
        ax.margins(y=0.25)
        ax.grid(axis="x", visible=False)
    for ax in axes[len(names):]:
        ax.set_axis_off()
    present = [s for s in STATUS_COLORS if s in set(df["status"])]
    handles = [Line2D([], [], marker="o", linestyle="", color=STATUS_COLORS[s], label=s) for s in present]
    handles.append(Line2D([], [], color="#7f8c8d", linestyle="--", label="目标"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    fig.suptitle("KPI 季度趋势(实际值与目标)", fontsize=13, fontweight="bold")
    return fig


def kpi_progress(progress: pd.DataFrame, as_of: Any = None) -> Figure:
    """Checked KPIs from the plan start to each day so far, against their checkpoint thresholds.

    One panel per checkpoint; ``progress`` has date, checkpoint, kpi_name, value, threshold, due,
    unit (as :func:`planlib.run.pulse.kpi_progress` returns). The chart does not judge which side of
    the threshold is good: the pulse table does that with the KPI's direction.
    """
    df = progress.dropna(subset=["value"]).reset_index(drop=True)
    title = "检查点指标走势"
    if df.empty:
        return no_data(title)
    names = list(dict.fromkeys(df["checkpoint"]))
    fig, axes = new_figure(min(3.4 * len(names), 10.5), 3.2, ncols=len(names), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        part = df[df["checkpoint"] == name]
        threshold, due, unit = part["threshold"].iloc[0], as_day(part["due"].iloc[0]), part["unit"].iloc[0]
        ax.plot(part["date"], part["value"], color=PALETTE[0], marker="o", markersize=4, linewidth=1.6)
        ax.axhline(threshold, color="#c0392b", linestyle="--", linewidth=1)
        ax.annotate(f"阈值 {threshold:g}{clean(unit)}", (0, threshold), xycoords=("axes fraction", "data"),
                    xytext=(2, 3), textcoords="offset points", fontsize=8, color="#c0392b")
        ax.axvline(due, color="#7f8c8d", linestyle=":", linewidth=1.2)
        last = part.iloc[-1]
        ax.annotate(f"{last['value']:,.1f}".removesuffix(".0") + clean(unit), (last["date"], last["value"]),
                    xytext=(4, 4), textcoords="offset points", fontsize=9, fontweight="bold")
        lo = min(part["date"].min(), due)
        hi = max(part["date"].max(), due, as_day(as_of) if as_of is not None else due)
        date_axis(ax, as_day(lo), as_day(hi))
        ax.set_title(clean(name, 14), fontsize=10)
        ax.margins(y=0.2)
    fig.suptitle(title + (f"(截至 {as_day(as_of):%Y-%m-%d},虚线为阈值,点线为检查日)" if as_of is not None else ""),
                 fontsize=12, fontweight="bold")
    return fig
