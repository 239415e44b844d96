"""Charts planners expect in the workbooks and the report, with one Chinese font setup.

Each chart function takes a result frame of :mod:`planlib.data.results` (or a plain frame with the
same columns) and returns a :class:`Chart` (a matplotlib Figure); :func:`show` displays it as
a small PNG, and so does a chart left as a cell's last expression. Figures are built without
pyplot, so nothing is displayed twice or kept alive by pyplot's registry.

Text that comes from data goes through :func:`_t`: characters the fonts lack are dropped (a
missing glyph would print a box and a warning) and ``$`` never starts mathtext.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
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
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from planlib.errors import PlanError
from planlib.publish.display import STATUS_COLORS

# Preference order: Simplified Chinese faces first; each renders SC glyph shapes.
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei",
    "Microsoft YaHei", "PingFang SC", "SimHei",
)
# Fonts installed after matplotlib built its font cache are unknown to it: look for them here.
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
_FONT_FILE = re.compile(r"(NotoSansCJK|SourceHanSans|wqy-(micro|zen)hei|msyh|PingFang|simhei)", re.I)

PALETTE = ["#2f5d8a", "#e07b39", "#3f9a6b", "#c9a227", "#7a5ea8", "#4aa3c4", "#b5535c", "#7f8c8d"]
PNG_DPI = 100
_state: dict[str, Any] = {}


class FontMissingError(PlanError):
    """No font able to show Simplified Chinese is installed."""


class Chart(Figure):
    """A Figure that shows itself as a small PNG when it ends a notebook cell.

    So ``charts.gantt(tasks)`` as a cell's last line displays once, as does
    ``charts.show(charts.gantt(tasks))`` anywhere in a cell.
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


def _t(value: Any, limit: int | None = None) -> str:
    """Data text made safe to draw: glyphs the fonts lack are dropped, long text shortened."""
    text = "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    keep = _state["charmap"]
    text = "".join(" " if ch in "\t\r" else ch for ch in text if ch in "\t\r\n" or ord(ch) in keep)
    if limit and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _figure(width: float = 8, height: float = 4, ncols: int = 1, **kw: Any) -> tuple[Figure, Any]:
    setup()
    fig = Chart(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, ncols, **kw)


def _no_data(title: str) -> Chart:
    """An empty result still gets its chart, saying so, rather than an error or a blank."""
    fig, ax = _figure(8, 2)
    ax.text(0.5, 0.5, "无数据", ha="center", va="center", fontsize=14, color="#8a9099",
            transform=ax.transAxes)
    ax.set_axis_off()
    ax.set_title(title)
    return fig


def png_bytes(fig: Figure, dpi: int = PNG_DPI) -> bytes:
    """Render ``fig`` as PNG bytes (about 800×400 px: small enough for a dozen in a report)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    return buf.getvalue()


def show(fig: Figure) -> None:
    """Display ``fig`` in the notebook as a PNG and release it."""
    from IPython.display import Image, display

    display(Image(data=png_bytes(fig), format="png"))
    if getattr(fig.canvas, "manager", None) is not None:  # made through pyplot: free it there
        import matplotlib.pyplot as plt

        plt.close(fig)


# ------------------------------------------------------------------------------ helpers
_thousands = FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def _as_percent(values: pd.Series) -> pd.Series:
    """Shares arrive as fractions (sum ≈ 1) or in percent (sum ≈ 100): return percent."""
    values = pd.to_numeric(values, errors="coerce").astype(float)
    return values * 100 if values.abs().sum() <= 1.0 + 1e-9 else values


def _day(value: Any) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def _date_axis(ax: Any, start: pd.Timestamp, end: pd.Timestamp) -> None:
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


def _label_bars(ax: Any, bars: Any, texts: Iterable[str]) -> None:
    """Write each text just past the end of its horizontal bar (left of it when negative)."""
    for bar, text in zip(bars, texts, strict=False):
        x, y = bar.get_x() + bar.get_width(), bar.get_y() + bar.get_height() / 2
        negative = bar.get_width() < 0
        ax.annotate(text, (x, y), xytext=(-4 if negative else 4, 0), textcoords="offset points",
                    ha="right" if negative else "left", va="center", fontsize=8, color="#333333")


def _ink(color: Any) -> str:
    """Dark or white text, whichever reads better on ``color``."""
    r, g, b = matplotlib.colors.to_rgb(color)
    return "#1d2b3a" if 0.299 * r + 0.587 * g + 0.114 * b > 0.6 else "white"


def _periodise(period: Any) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    if period is None:
        return None
    start, end = (period.start, period.end) if hasattr(period, "start") else period
    return _day(start), _day(end)


# ------------------------------------------------------------------------------ charts
def timeline(phases: Sequence[Any], period: Any = None) -> Figure:
    """The campaign's phases (预热期/执行期/复盘期…) on a date axis within the plan period.

    ``phases`` holds ``(name, start, end)`` tuples or objects with those attributes;
    ``period`` is ``(start, end)`` or an object with ``start``/``end``.
    """
    rows = [(p.name, p.start, p.end) if hasattr(p, "name") else tuple(p) for p in phases]
    if not rows:
        return _no_data("活动阶段时间轴")
    fig, ax = _figure(8, 1.4 + 0.5 * max(len(rows), 1))
    bounds = _periodise(period)
    if bounds:
        ax.axvspan(bounds[0], bounds[1] + timedelta(days=1), color="#eef2f7", zorder=0)
    for i, (_name, start, end) in enumerate(rows):
        s, e = _day(start), _day(end) + timedelta(days=1)  # end date is inclusive
        ax.barh(i, e - s, left=s, height=0.55, color=PALETTE[i % len(PALETTE)])
        ax.text(s + (e - s) / 2, i, f"{s:%m-%d} 至 {_day(end):%m-%d}({(e - s).days}天)",
                ha="center", va="center", fontsize=8, color="white")
    ax.set_yticks(range(len(rows)), [_t(r[0], 12) for r in rows])
    ax.invert_yaxis()
    lo = bounds[0] if bounds else min((_day(r[1]) for r in rows), default=pd.Timestamp.today())
    hi = bounds[1] if bounds else max((_day(r[2]) for r in rows), default=lo)
    _date_axis(ax, lo, hi + timedelta(days=1))
    title = "活动阶段时间轴"
    if bounds:
        title += f"(计划周期 {bounds[0]:%Y-%m-%d} 至 {bounds[1]:%Y-%m-%d})"
    ax.set_title(title)
    return fig


def tier_sizes(tier_summary: pd.DataFrame) -> Figure:
    """Customers per tier and each tier's share of spend, side by side."""
    df = tier_summary.reset_index(drop=True)
    if df.empty:
        return _no_data("客户分层:人数与价值贡献")
    fig, (left, right) = _figure(9, 1.6 + 0.55 * max(len(df), 1), ncols=2, sharey=True)
    names = [_t(t, 10) for t in df["tier"]]
    y = np.arange(len(df))
    bars = left.barh(y, df["customers"], color=PALETTE[0])
    share = _as_percent(df["share"]) if "share" in df else None
    _label_bars(left, bars, [
        f"{c:,.0f} 人" + (f"({s:.1f}%)" if share is not None and pd.notna(s) else "")
        for c, s in zip(df["customers"], share if share is not None else [None] * len(df), strict=True)
    ])
    left.set_title("客户数")
    left.xaxis.set_major_formatter(_thousands)
    left.set_xlim(0, max(df["customers"].max() * 1.35, 1))
    mshare = _as_percent(df["monetary_share"])
    bars = right.barh(y, mshare.fillna(0), color=PALETTE[1])
    _label_bars(right, bars, ["—" if pd.isna(v) else f"{v:.1f}%" for v in mshare])
    right.set_title("消费金额占比(%)")
    right.set_xlim(0, max(mshare.max() * 1.3, 1) if mshare.notna().any() else 100)
    left.set_yticks(y, names)
    left.invert_yaxis()
    for ax in (left, right):
        ax.grid(axis="y", visible=False)
    fig.suptitle("客户分层:人数与价值贡献", fontsize=13, fontweight="bold")
    return fig


def rf_heatmap(customers: pd.DataFrame) -> Figure:
    """Customer counts by R score × F score (5 = most recent / most frequent)."""
    df = customers[["r_score", "f_score"]].dropna().astype(int)
    if df.empty:
        return _no_data("R × F 客户分布")
    scores = sorted(set(range(1, 6)) | set(df["r_score"]) | set(df["f_score"]))
    counts = pd.crosstab(df["r_score"], df["f_score"]).reindex(index=scores[::-1], columns=scores,
                                                               fill_value=0)
    fig, ax = _figure(6.5, 4.6)
    sns.heatmap(counts, ax=ax, annot=True, fmt=",d", cmap="Blues", linewidths=0.5,
                linecolor="white", cbar_kws={"label": "客户数"})
    ax.set_xlabel("F 分(购买频次,5 = 最高)")
    ax.set_ylabel("R 分(最近购买,5 = 最近)")
    ax.set_title(f"R × F 客户分布(共 {len(df):,} 人)")
    ax.tick_params(axis="y", rotation=0)
    return fig


def channel_costs(channel_plan: pd.DataFrame) -> Figure:
    """Planned cost and expected responses per channel, with the cost per response."""
    key = "channel_name" if "channel_name" in channel_plan else "channel"
    df = (channel_plan.groupby(key, sort=False)[["cost", "expected_responses"]].sum()
          .sort_values("cost", ascending=False))
    if df.empty:
        return _no_data("渠道成本与预计响应")
    fig, (left, right) = _figure(9, 1.6 + 0.5 * max(len(df), 1), ncols=2, sharey=True)
    y = np.arange(len(df))
    bars = left.barh(y, df["cost"], color=PALETTE[0])
    _label_bars(left, bars, [f"{v:,.0f}" for v in df["cost"]])
    left.set_title("预计成本(元)")
    left.set_xlim(0, max(df["cost"].max() * 1.3, 1))
    left.xaxis.set_major_formatter(_thousands)
    bars = right.barh(y, df["expected_responses"], color=PALETTE[2])
    per = df["cost"] / df["expected_responses"].replace(0, np.nan)
    _label_bars(right, bars, [
        f"{r:,.0f} 人" + ("" if pd.isna(p) else f" · 每响应 {p:,.1f} 元")
        for r, p in zip(df["expected_responses"], per, strict=True)
    ])
    right.set_title("预计响应人数")
    right.set_xlim(0, max(df["expected_responses"].max() * 1.9, 1))
    right.xaxis.set_major_formatter(_thousands)
    left.set_yticks(y, [_t(n, 10) for n in df.index])
    left.invert_yaxis()
    for ax in (left, right):
        ax.grid(axis="y", visible=False)
    fig.suptitle("渠道成本与预计响应", fontsize=13, fontweight="bold")
    return fig


def gantt(tasks: pd.DataFrame, milestones: Sequence[tuple[str, Any]] | None = None,
          checkpoints: Sequence[tuple[str, Any]] | None = None, critical: Iterable[str] | None = None) -> Figure:
    """Template 2's Gantt chart: one bar per task coloured by phase, owner at the bar's end.

    ``milestones`` and ``checkpoints`` are ``(label, date)`` pairs drawn as vertical lines;
    tasks whose id is in ``critical`` (the critical path) get a black outline.
    """
    critical = set(critical or ())
    df = tasks.reset_index(drop=True)
    df = df[df["start"].notna() & df["end"].notna()].reset_index(drop=True)
    if df.empty:
        return _no_data("活动执行时间表(甘特图)")
    phases = list(dict.fromkeys(df["phase"]))
    colors = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(phases)}
    fig, ax = _figure(9, min(1.8 + 0.42 * max(len(df), 1), 14))
    starts, ends = df["start"].map(_day), df["end"].map(_day) + timedelta(days=1)
    for i, row in df.iterrows():
        on_path = row["task_id"] in critical
        ax.barh(i, ends[i] - starts[i], left=starts[i], height=0.6, color=colors[row["phase"]],
                edgecolor="#111111" if on_path else "none", linewidth=2.0 if on_path else 0)
        ax.annotate(_t(row["owner"], 10), (ends[i], i), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8, color="#333333")
    ax.set_yticks(range(len(df)), [f"{_t(r.task_id)} {_t(r.name, 16)}" for r in df.itertuples()])
    ax.invert_yaxis()
    marks = [(label, d, "#c0392b", "--") for label, d in milestones or []]
    marks += [(label, d, "#7f8c8d", ":") for label, d in checkpoints or []]
    lo = min([starts.min(), *(_day(d) for _, d, _, _ in marks)])
    hi = max([ends.max(), *(_day(d) for _, d, _, _ in marks)])
    right = hi + timedelta(days=max((hi - lo).days // 8, 3))  # room for owners
    _date_axis(ax, lo, right)
    # Mark labels sit above the plot, horizontal (readable on paper), in as many rows as needed
    # so that close dates never overprint: a CJK character at 8 pt is ~8 pt wide, the axes ~450 pt.
    day_pt = 450 / max((right - lo).days + 2, 1)
    row_ends: list[float] = []
    for label, d, color, style in sorted(marks, key=lambda m: _day(m[1])):
        x = _day(d)
        ax.axvline(x, color=color, linestyle=style, linewidth=1.2)
        text, pos = _t(label, 12), (x - lo).days
        row = next((i for i, end in enumerate(row_ends) if end < pos), len(row_ends))
        row_ends[row:row + 1] = [pos + (len(text) * 8 + 8) / day_pt]
        ax.annotate(text, (x, 1), xycoords=("data", "axes fraction"), xytext=(1, 3 + 12 * row),
                    textcoords="offset points", fontsize=8, color=color, va="bottom", ha="left",
                    annotation_clip=False)
    handles = [Patch(color=colors[p], label=_t(p, 10)) for p in phases]
    handles += [Line2D([], [], color=c, linestyle=s, label=n)
                for n, c, s in (("里程碑", "#c0392b", "--"), ("检查点", "#7f8c8d", ":"))
                if any(m[2] == c for m in marks)]
    if critical & set(df["task_id"]):
        handles.append(Patch(facecolor="white", edgecolor="#111111", linewidth=2.0, label="关键路径"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=len(handles),
              frameon=False)
    ax.set_title("活动执行时间表(甘特图)", pad=6 + 12 * len(row_ends))
    return fig


def workload(tasks: pd.DataFrame) -> Figure:
    """Tasks in progress per owner and week, to spot people carrying too much at once."""
    rows = [
        (row.owner, day - timedelta(days=day.weekday()), row.task_id)
        for row in tasks.dropna(subset=["start", "end"]).itertuples()
        for day in pd.date_range(_day(row.start), _day(row.end))
    ]
    if not rows:
        return _no_data("负责人每周任务负荷")
    df = pd.DataFrame(rows, columns=["owner", "week", "task_id"]).drop_duplicates()
    weeks = pd.date_range(df["week"].min(), df["week"].max(), freq="7D")
    owners = list(dict.fromkeys(df["owner"]))  # plan order, not alphabetical
    grid = (df.groupby(["owner", "week"]).size().unstack(fill_value=0)
            .reindex(index=owners, columns=weeks, fill_value=0))
    fig, ax = _figure(9, 1.8 + 0.45 * len(grid))
    # vmax ≥ 4 keeps a single task light: only real overlaps look alarming
    sns.heatmap(grid, ax=ax, annot=True, fmt="d", cmap="Oranges", linewidths=0.5, linecolor="white",
                vmin=0, vmax=max(4, int(grid.to_numpy().max())), cbar_kws={"label": "任务数"})
    ax.set_xticks(np.arange(len(weeks)) + 0.5, [f"{w.month}/{w.day}" for w in weeks], rotation=0)
    ax.set_yticks(np.arange(len(owners)) + 0.5, [_t(o, 10) for o in owners], rotation=0)
    ax.set_xlabel("周(周一日期)")
    ax.set_ylabel("负责人")
    ax.set_title("负责人每周任务负荷(进行中的任务数)")
    return fig


def budget_chart(budget: pd.DataFrame) -> Figure:
    """Planned against actual spend per budget category; overspent categories in red.

    A 合计 row (``is_total``, as :func:`planlib.stages.execution.schedule.budget_table` adds) is not a category.
    """
    if "is_total" in budget.columns:
        budget = budget.loc[~budget["is_total"].astype(bool)]
    df = budget.groupby("category", sort=False)[["planned", "actual"]].sum(min_count=1)
    if df.empty:
        return _no_data("预算执行")
    fig, ax = _figure(8, 4)
    x, w = np.arange(len(df)), 0.38
    planned = ax.bar(x - w / 2, df["planned"].fillna(0), w, color="#9db4cf")
    over = df["actual"] > df["planned"]
    actual = ax.bar(x + w / 2, df["actual"].fillna(0), w,
                    color=[STATUS_COLORS["未达成"] if o else STATUS_COLORS["达成"] for o in over])
    for bars, values in ((planned, df["planned"]), (actual, df["actual"])):
        for bar, v in zip(bars, values, strict=True):
            ax.annotate("未填" if pd.isna(v) else f"{v:,.0f}", (bar.get_x() + bar.get_width() / 2,
                        bar.get_height()), xytext=(0, 2), textcoords="offset points", ha="center",
                        va="bottom", fontsize=8)
    ax.set_xticks(x, [_t(c, 8) for c in df.index])
    ax.yaxis.set_major_formatter(_thousands)
    ax.set_ylim(0, max(df[["planned", "actual"]].max().max() * 1.18, 1))
    ax.set_ylabel("金额(元)")
    ax.legend(handles=[Patch(color="#9db4cf", label="预算"),
                       Patch(color=STATUS_COLORS["达成"], label="实际(未超支)"),
                       Patch(color=STATUS_COLORS["未达成"], label="实际(超支)")],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    total_p, total_a = df["planned"].sum(), df["actual"].sum(min_count=1)
    spent = "实际未填" if pd.isna(total_a) else f"实际 {total_a:,.0f} 元"
    ax.set_title(f"预算执行:预算 {total_p:,.0f} 元,{spent}")
    return fig


def attainment(direction: str, target: Any, actual: Any) -> float:
    """Actual as % of target; for lower-is-better KPIs target/actual. NaN when undefined."""
    if pd.isna(target) or pd.isna(actual) or direction == "info":
        return float("nan")
    target, actual = float(target), float(actual)
    if direction in ("lower", "decrease"):
        return float("inf") if actual == 0 else target / actual * 100
    return float("nan") if target == 0 else actual / target * 100


def kpi_attainment(kpis: pd.DataFrame) -> Figure:
    """Template 4 as a chart: each KPI's attainment in %, coloured by 达成情况."""
    df = kpis[kpis["direction"] != "info"].reset_index(drop=True)
    if df.empty:
        return _no_data("KPI 达成情况")
    ratio = [attainment(r.direction, r.target, r.actual) for r in df.itertuples()]
    fig, ax = _figure(8, 1.6 + 0.5 * max(len(df), 1))
    shown = [min(max(v, -50), 200) if np.isfinite(v) else (200 if v == np.inf else 0) for v in ratio]
    colors = [STATUS_COLORS.get(s, STATUS_COLORS["无数据"]) for s in df["status"]]
    bars = ax.barh(range(len(df)), shown, color=colors, height=0.6)
    _label_bars(ax, bars, ["无数据" if np.isnan(v) else ("∞" if v == np.inf else f"{v:.0f}%")
                           for v in ratio])
    ax.axvline(100, color="#333333", linestyle="--", linewidth=1)
    ax.annotate("目标", (100, 1), xycoords=("data", "axes fraction"), xytext=(3, -10),
                textcoords="offset points", fontsize=8)
    ax.set_yticks(range(len(df)), [_t(n, 14) for n in df["name"]])
    ax.invert_yaxis()
    ax.set_xlim(min(0, *shown) * 1.6 - 5, 230)  # room for a negative bar's label
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("达成率(%);越低越好的指标按 目标 ÷ 实际 计算")
    present = [s for s in STATUS_COLORS if s in set(df["status"])]
    ax.legend(handles=[Patch(color=STATUS_COLORS[s], label=s) for s in present], loc="lower right",
              frameon=True)
    ax.set_title("KPI 达成情况")
    return fig


def funnel(steps: pd.DataFrame) -> Figure:
    """Customers left at each step (触达→打开→参与→复购…), with step-to-step conversion."""
    df = steps.reset_index(drop=True)
    if df.empty:
        return _no_data("客户转化漏斗")
    values = pd.to_numeric(df["customers"], errors="coerce").fillna(0)
    top = max(values.max(), 1)
    fig, ax = _figure(8, 1.4 + 0.55 * max(len(df), 1))
    colors = sns.light_palette(PALETTE[0], n_colors=len(df) + 2, reverse=True)[: len(df)]
    ax.barh(range(len(df)), values, left=(top - values) / 2, color=colors, height=0.7)
    first = values.iloc[0] if len(values) else 0
    for i, v in enumerate(values):
        ax.text(top / 2, i, f"{v:,.0f} 人", ha="center", va="center", fontsize=9, color=_ink(colors[i]))
        if i:
            prev = values.iloc[i - 1]
            rate = f"较上一步 {v / prev:.1%}" if prev else "较上一步 —"
            if first:
                rate += f"\n占首步 {v / first:.1%}"
            ax.text(top * 1.02, i, rate, va="center", fontsize=8, color="#555555")
    ax.set_yticks(range(len(df)), [_t(s, 10) for s in df["step"]])
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.25)
    ax.set_xticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("客户转化漏斗")
    return fig



def uplift_ci(uplift: pd.DataFrame) -> Figure:
    """Each comparison with the control group as a point and its 95 % interval; a bar crossing 0
    is an effect not distinguishable from none. One panel per outcome (percentage points, yuan)."""
    df = uplift.dropna(subset=["uplift"]).reset_index(drop=True)
    if df.empty:
        return _no_data("与对照组比较(95% 置信区间)")
    outcomes = list(dict.fromkeys(df["outcome"]))
    units = {"%": "百分点", "元": "元"}
    fig, axes = _figure(9, 1.2 + 0.55 * df.groupby("outcome").size().max(), ncols=len(outcomes), squeeze=False)
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        part = df[df["outcome"] == outcome].reset_index(drop=True)
        for i, r in part.iterrows():
            color = STATUS_COLORS["达成"] if bool(r["significant"]) else STATUS_COLORS["无数据"]
            ax.plot([r["ci_low"], r["ci_high"]], [i, i], color=color, linewidth=3, solid_capstyle="butt")
            ax.plot([r["uplift"]], [i], "o", color=color, markersize=7)
            ax.annotate(f"{r['uplift']:+.1f}", (r["uplift"], i), xytext=(0, 7), textcoords="offset points",
                        ha="center", fontsize=8)
        ax.axvline(0, color="#333333", linestyle="--", linewidth=1)
        ax.set_yticks(range(len(part)), [_t(c, 12) for c in part["comparison"]])
        ax.set_ylim(len(part) - 0.4, -0.6)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(f"提升({units.get(part['unit'].iloc[0], part['unit'].iloc[0])})")
        ax.set_title(_t(outcome, 10))
    fig.legend(handles=[Line2D([], [], color=STATUS_COLORS["达成"], linewidth=3, label="显著(区间不含 0)"),
                        Line2D([], [], color=STATUS_COLORS["无数据"], linewidth=3, label="不显著")],
               loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle("与对照组比较:提升及 95% 置信区间", fontsize=13, fontweight="bold")
    return fig


def kpi_trend(trend: pd.DataFrame) -> Figure:
    """Quarter-over-quarter KPIs: one small panel per KPI, actual as a line with dots coloured by
    达成情况 and the target as a dashed step. ``trend``: quarter, name, unit, target, actual, status."""
    df = trend.reset_index(drop=True)
    if df.empty:
        return _no_data("KPI 季度趋势")
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
        ax.plot(x, part["actual"], color=PALETTE[0], linewidth=1.6)
        for xi, (_, r) in zip(x, part.iterrows(), strict=True):
            if pd.isna(r["actual"]):
                ax.annotate("无数据", (xi, r["target"]), ha="center", fontsize=8, color=STATUS_COLORS["无数据"])
                continue
            ax.plot([xi], [r["actual"]], "o", color=STATUS_COLORS.get(r["status"], STATUS_COLORS["无数据"]),
                    markersize=8, zorder=3)
            ax.annotate(f"{r['actual']:,.1f}".removesuffix(".0"), (xi, r["actual"]), xytext=(0, 7),
                        textcoords="offset points", ha="center", fontsize=8)
        ax.set_xticks(range(len(quarters)), quarters)
        ax.set_xlim(-0.5, len(quarters) - 0.5)
        unit = part["unit"].iloc[0]
        ax.set_title(_t(name, 14) + (f"({_t(unit)})" if unit else ""), fontsize=10)
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


def channel_mix(comparison: pd.DataFrame, title: str = "渠道组合:手工方案与优化方案") -> Figure:
    """The planner's mix beside the optimised one: cost and expected responses per audience × channel.

    ``comparison`` has the columns of :func:`planlib.stages.channels.mix.comparison`.
    """
    df = comparison.reset_index(drop=True)
    if df.empty:
        return _no_data(title)
    several = df["audience"].nunique() > 1
    labels = [_t(f"{a}·{c}" if several else c, 16) for a, c in zip(df["audience"], df["channel_name"], strict=True)]
    fig, (left, right) = _figure(9.5, 1.8 + 0.55 * len(df), ncols=2, sharey=True)
    y, h = np.arange(len(df)), 0.38
    for ax, what, unit in ((left, "cost", "元"), (right, "responses", "人")):
        manual, best = df[f"manual_{what}"].fillna(0), df[f"optimised_{what}"].fillna(0)
        bars_m = ax.barh(y - h / 2, manual, h, color="#9db4cf")
        bars_o = ax.barh(y + h / 2, best, h, color=PALETTE[1])
        _label_bars(ax, bars_m, [f"{v:,.0f}" if v else "" for v in manual])
        _label_bars(ax, bars_o, [f"{v:,.0f}" if v else "" for v in best])
        ax.set_xlim(0, max(float(max(manual.max(), best.max())) * 1.3, 1))
        ax.xaxis.set_major_formatter(_thousands)
        ax.grid(axis="y", visible=False)
        total_m, total_o = manual.sum(), best.sum()
        name = "成本" if what == "cost" else "预计响应"
        ax.set_title(f"{name}({unit}):手工 {total_m:,.0f} → 优化 {total_o:,.0f}", fontsize=11)
    left.set_yticks(y, labels)
    left.invert_yaxis()
    fig.legend(handles=[Patch(color="#9db4cf", label="手工方案"), Patch(color=PALETTE[1], label="优化方案")],
               loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(title, fontsize=13, fontweight="bold")
    return fig


JOURNEY = ("认知", "兴趣", "购买", "使用", "复购", "推荐")


def journey(touchpoints: pd.DataFrame) -> Figure:
    """Customer journey 认知→兴趣→购买→使用→复购→推荐: each planned touchpoint per audience and channel.

    ``touchpoints`` has audience, channel_name, stage, contacts_per_customer and
    customers_contacted (as :func:`planlib.stages.channels.plan.journey_touchpoints` returns); a dot's area
    grows with the contacts it plans.
    """
    df = touchpoints[touchpoints["stage"].isin(JOURNEY)].reset_index(drop=True)
    title = "客户旅程:各阶段的计划接触点"
    if df.empty:
        return _no_data(title)
    keys = list(dict.fromkeys(zip(df["audience"], df["channel_name"], strict=True)))
    channels = list(dict.fromkeys(df["channel_name"]))
    colors = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(channels)}
    fig, ax = _figure(9.5, 1.6 + 0.85 * len(keys))
    audiences = list(dict.fromkeys(a for a, _ in keys))
    for i, aud in enumerate(audiences):
        rows = [j for j, (a, _) in enumerate(keys) if a == aud]
        if i % 2:
            ax.axhspan(min(rows) - 0.5, max(rows) + 0.5, color="#f4f6f9", zorder=0)
    contacts = df["contacts_per_customer"] * df["customers_contacted"]
    biggest = max(float(np.sqrt(contacts.max())), 1.0)
    for r, n in zip(df.itertuples(), contacts, strict=True):
        x, yv = JOURNEY.index(r.stage), keys.index((r.audience, r.channel_name))
        ax.scatter([x], [yv], s=60 + 440 * float(np.sqrt(max(n, 0))) / biggest, color=colors[r.channel_name],
                   alpha=0.9, zorder=3, edgecolor="white")
        note = f"{r.contacts_per_customer:g}次/人 · {r.customers_contacted:,.0f}人"
        if getattr(r, "content", ""):
            note += "\n" + _t(r.content, 11)
        ax.annotate(note, (x, yv), xytext=(0, -12), textcoords="offset points",
                    ha="center", va="top", fontsize=7.5, color="#333333", linespacing=1.1)
    ax.set_xticks(range(len(JOURNEY)), [f"{s}" + (" →" if i < len(JOURNEY) - 1 else "") for i, s in enumerate(JOURNEY)])
    ax.xaxis.tick_top()
    several = len(audiences) > 1
    ax.set_yticks(range(len(keys)), [_t(f"{a} · {c}" if several else c, 18) for a, c in keys])
    ax.set_xlim(-0.6, len(JOURNEY) - 0.4)
    ax.set_ylim(len(keys) - 0.2, -0.5)
    ax.grid(axis="y", visible=False)
    ax.tick_params(axis="x", labelsize=10)
    fig.suptitle(title + ("" if several else f"({_t(audiences[0], 12)})"), fontsize=13, fontweight="bold")
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
        return _no_data(title)
    names = list(dict.fromkeys(df["checkpoint"]))
    fig, axes = _figure(min(3.4 * len(names), 10.5), 3.2, ncols=len(names), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        part = df[df["checkpoint"] == name]
        threshold, due, unit = part["threshold"].iloc[0], _day(part["due"].iloc[0]), part["unit"].iloc[0]
        ax.plot(part["date"], part["value"], color=PALETTE[0], marker="o", markersize=4, linewidth=1.6)
        ax.axhline(threshold, color="#c0392b", linestyle="--", linewidth=1)
        ax.annotate(f"阈值 {threshold:g}{_t(unit)}", (0, threshold), xycoords=("axes fraction", "data"),
                    xytext=(2, 3), textcoords="offset points", fontsize=8, color="#c0392b")
        ax.axvline(due, color="#7f8c8d", linestyle=":", linewidth=1.2)
        last = part.iloc[-1]
        ax.annotate(f"{last['value']:,.1f}".removesuffix(".0") + _t(unit), (last["date"], last["value"]),
                    xytext=(4, 4), textcoords="offset points", fontsize=9, fontweight="bold")
        lo = min(part["date"].min(), due)
        hi = max(part["date"].max(), due, _day(as_of) if as_of is not None else due)
        _date_axis(ax, _day(lo), _day(hi))
        ax.set_title(_t(name, 14), fontsize=10)
        ax.margins(y=0.2)
    fig.suptitle(title + (f"(截至 {_day(as_of):%Y-%m-%d},虚线为阈值,点线为检查日)" if as_of is not None else ""),
                 fontsize=12, fontweight="bold")
    return fig
