"""The proposal's own chart: how the power to detect each goal's change grows with the audience."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from planlib.metrics import power
from planlib.publish.charts import PALETTE, clean, new_figure


def power_curves(goals: Sequence[Any], share: float) -> Figure:
    """Power at the goal's target change against audience size (log scale), at the planned control
    share (solid) and at 50 % (dotted); a dot marks the planned audience, the dashed line 80 %."""
    fig, ax = new_figure(8, 3.8)
    top = max(max(g.design.audience_needed or g.audience, g.audience) for g in goals)
    sizes = np.unique(np.geomspace(20, max(top * 1.5, 200), 160).astype(int))
    for i, g in enumerate(goals):
        d, color = g.design, PALETTE[i % len(PALETTE)]
        h = abs(power.cohens_h(d.target, d.baseline))
        label = clean(f"{g.goal.id} {d.baseline:.1%}→{d.target:.1%}")
        ax.plot(sizes, [power.power_for(int(n), share, h, power.ALPHA) for n in sizes], color=color,
                label=f"{label}(对照 {share:.0%})")
        ax.plot(sizes, [power.power_for(int(n), 0.5, h, power.ALPHA) for n in sizes], color=color, linestyle=":",
                label=f"{label}(对照 50%)")
        ax.scatter([g.audience], [d.power_at_target], color=color, zorder=3)
        ax.annotate(f"计划 {g.audience:,} 人:{d.power_at_target:.0%}", (g.audience, d.power_at_target),
                    textcoords="offset points", xytext=(6, 6), fontsize=9, color=color)
    ax.axhline(power.POWER, color="#8a9099", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))  # 100, 1,000 (no mathtext)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("受众规模(人,对数刻度)")
    ax.set_ylabel("检验功效")
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("目标变化能否检测:功效与受众规模")
    return fig
