"""Stage 01 charts: the plan's phases on a timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from planlib.publish.charts import (
    PALETTE,
    as_day,
    clean,
    date_axis,
    new_figure,
    no_data,
    periodise,
)


def timeline(phases: Sequence[Any], period: Any = None) -> Figure:
    """The campaign's phases (预热期/执行期/复盘期…) on a date axis within the plan period.

    ``phases`` holds ``(name, start, end)`` tuples or objects with those attributes;
    ``period`` is ``(start, end)`` or an object with ``start``/``end``.
    """
    rows = [(p.name, p.start, p.end) if hasattr(p, "name") else tuple(p) for p in phases]
    if not rows:
        return no_data("活动阶段时间轴")
    fig, ax = new_figure(8, 1.4 + 0.5 * max(len(rows), 1))
    bounds = periodise(period)
    if bounds:
        ax.axvspan(bounds[0], bounds[1] + timedelta(days=1), color="#eef2f7", zorder=0)
    for i, (_name, start, end) in enumerate(rows):
        s, e = as_day(start), as_day(end) + timedelta(days=1)  # end date is inclusive
        ax.barh(i, e - s, left=s, height=0.55, color=PALETTE[i % len(PALETTE)])
        ax.text(s + (e - s) / 2, i, f"{s:%m-%d} 至 {as_day(end):%m-%d}({(e - s).days}天)",
                ha="center", va="center", fontsize=8, color="white")
    ax.set_yticks(range(len(rows)), [clean(r[0], 12) for r in rows])
    ax.invert_yaxis()
    lo = bounds[0] if bounds else min((as_day(r[1]) for r in rows), default=pd.Timestamp.today())
    hi = bounds[1] if bounds else max((as_day(r[2]) for r in rows), default=lo)
    date_axis(ax, lo, hi + timedelta(days=1))
    title = "活动阶段时间轴"
    if bounds:
        title += f"(计划周期 {bounds[0]:%Y-%m-%d} 至 {bounds[1]:%Y-%m-%d})"
    ax.set_title(title)
    return fig
