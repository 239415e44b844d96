"""Stage 04 charts: Gantt with milestones and checkpoints, owner workload, budget."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from planlib.publish.charts import (
    PALETTE,
    as_day,
    clean,
    date_axis,
    new_figure,
    no_data,
    thousands,
)
from planlib.publish.display import STATUS_COLORS


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
        return no_data("活动执行时间表(甘特图)")
    phases = list(dict.fromkeys(df["phase"]))
    colors = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(phases)}
    fig, ax = new_figure(9, min(1.8 + 0.42 * max(len(df), 1), 14))
    starts, ends = df["start"].map(as_day), df["end"].map(as_day) + timedelta(days=1)
    for i, row in df.iterrows():
        on_path = row["task_id"] in critical
        ax.barh(i, ends[i] - starts[i], left=starts[i], height=0.6, color=colors[row["phase"]],
                edgecolor="#111111" if on_path else "none", linewidth=2.0 if on_path else 0)
        ax.annotate(clean(row["owner"], 10), (ends[i], i), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8, color="#333333")
    ax.set_yticks(range(len(df)), [f"{clean(r.task_id)} {clean(r.name, 16)}" for r in df.itertuples()])
    ax.invert_yaxis()
    marks = [(label, d, "#c0392b", "--") for label, d in milestones or []]
    marks += [(label, d, "#7f8c8d", ":") for label, d in checkpoints or []]
    lo = min([starts.min(), *(as_day(d) for _, d, _, _ in marks)])
    hi = max([ends.max(), *(as_day(d) for _, d, _, _ in marks)])
    right = hi + timedelta(days=max((hi - lo).days // 8, 3))  # room for owners
    date_axis(ax, lo, right)
    # Mark labels sit above the plot, horizontal (readable on paper), in as many rows as needed
    # so that close dates never overprint: a CJK character at 8 pt is ~8 pt wide, the axes ~450 pt.
    day_pt = 450 / max((right - lo).days + 2, 1)
    row_ends: list[float] = []
    for label, d, color, style in sorted(marks, key=lambda m: as_day(m[1])):
        x = as_day(d)
        ax.axvline(x, color=color, linestyle=style, linewidth=1.2)
        text, pos = clean(label, 12), (x - lo).days
        row = next((i for i, end in enumerate(row_ends) if end < pos), len(row_ends))
        row_ends[row:row + 1] = [pos + (len(text) * 8 + 8) / day_pt]
        ax.annotate(text, (x, 1), xycoords=("data", "axes fraction"), xytext=(1, 3 + 12 * row),
                    textcoords="offset points", fontsize=8, color=color, va="bottom", ha="left",
                    annotation_clip=False)
    handles = [Patch(color=colors[p], label=clean(p, 10)) for p in phases]
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
        for day in pd.date_range(as_day(row.start), as_day(row.end))
    ]
    if not rows:
        return no_data("负责人每周任务负荷")
    df = pd.DataFrame(rows, columns=["owner", "week", "task_id"]).drop_duplicates()
    weeks = pd.date_range(df["week"].min(), df["week"].max(), freq="7D")
    owners = list(dict.fromkeys(df["owner"]))  # plan order, not alphabetical
    grid = (df.groupby(["owner", "week"]).size().unstack(fill_value=0)
            .reindex(index=owners, columns=weeks, fill_value=0))
    fig, ax = new_figure(9, 1.8 + 0.45 * len(grid))
    # vmax ≥ 4 keeps a single task light: only real overlaps look alarming
    sns.heatmap(grid, ax=ax, annot=True, fmt="d", cmap="Oranges", linewidths=0.5, linecolor="white",
                vmin=0, vmax=max(4, int(grid.to_numpy().max())), cbar_kws={"label": "任务数"})
    ax.set_xticks(np.arange(len(weeks)) + 0.5, [f"{w.month}/{w.day}" for w in weeks], rotation=0)
    ax.set_yticks(np.arange(len(owners)) + 0.5, [clean(o, 10) for o in owners], rotation=0)
    ax.set_xlabel("周(周一日期)")
    ax.set_ylabel("负责人")
    ax.set_title("负责人每周任务负荷(进行中的任务数)")
    return fig

def budget_chart(budget: pd.DataFrame) -> Figure:
    """Planned against actual spend per budget category; overspent categories in red.

    A 合计 row (``is_total``, as :func:`planlib.stages.execution.budget.budget_table` adds) is not a category.
    """
    if "is_total" in budget.columns:
        budget = budget.loc[~budget["is_total"].astype(bool)]
    df = budget.groupby("category", sort=False)[["planned", "actual"]].sum(min_count=1)
    if df.empty:
        return no_data("预算执行")
    fig, ax = new_figure(8, 4)
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
    ax.set_xticks(x, [clean(c, 8) for c in df.index])
    ax.yaxis.set_major_formatter(thousands)
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
