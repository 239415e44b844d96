"""Stage 05 charts: KPI attainment, the funnel, uplift against the control group."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from planlib.plan.kpis import SMALL_SAMPLE, too_small
from planlib.publish.charts import (
    PALETTE,
    clean,
    ink_on,
    label_bars,
    new_figure,
    no_data,
)
from planlib.publish.display import STATUS_COLORS


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
        return no_data("KPI 达成情况")
    # a figure on too small a base gets no bar and no ratio: its label says 样本不足
    small = (df["status"] == SMALL_SAMPLE).to_numpy()
    ratio = [float("nan") if s else attainment(r.direction, r.target, r.actual)
             for r, s in zip(df.itertuples(), small, strict=True)]
    fig, ax = new_figure(8, 1.6 + 0.5 * max(len(df), 1))
    shown = [min(max(v, -50), 200) if np.isfinite(v) else (200 if v == np.inf else 0) for v in ratio]
    colors = [STATUS_COLORS.get(s, STATUS_COLORS["无数据"]) for s in df["status"]]
    bars = ax.barh(range(len(df)), shown, color=colors, height=0.6)
    label_bars(ax, bars, [SMALL_SAMPLE if s else "无数据" if np.isnan(v) else ("∞" if v == np.inf else f"{v:.0f}%")
                           for v, s in zip(ratio, small, strict=True)])
    ax.axvline(100, color="#333333", linestyle="--", linewidth=1)
    ax.annotate("目标", (100, 1), xycoords=("data", "axes fraction"), xytext=(3, -10),
                textcoords="offset points", fontsize=8)
    ax.set_yticks(range(len(df)), [clean(n, 14) for n in df["name"]])
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
    """Customers left at each step (触达→打开→参与→复购…), with step-to-step conversion.

    An unknown count (NA: the KPI behind the step could not be computed) is drawn as 无数据 with
    no bar and no rate — never as 0 人, which would read as "nobody took part".
    """
    df = steps.reset_index(drop=True)
    if df.empty:
        return no_data("客户转化漏斗")
    values = pd.to_numeric(df["customers"], errors="coerce").astype("float64")
    known = values.notna()
    top = max(values.max(), 1) if known.any() else 1
    fig, ax = new_figure(8, 1.4 + 0.55 * max(len(df), 1))
    colors = sns.light_palette(PALETTE[0], n_colors=len(df) + 2, reverse=True)[: len(df)]
    drawn = values.fillna(0)
    ax.barh(range(len(df)), drawn, left=(top - drawn) / 2, color=colors, height=0.7)
    first = values.iloc[0]
    for i, v in enumerate(values):
        if not known.iloc[i]:
            ax.text(top / 2, i, "无数据", ha="center", va="center", fontsize=9, color=STATUS_COLORS["无数据"])
            continue
        ax.text(top / 2, i, f"{v:,.0f} 人", ha="center", va="center", fontsize=9, color=ink_on(colors[i]))
        if i:
            ax.text(top * 1.02, i, _step_rate(v, values.iloc[i - 1], first), va="center", fontsize=8,
                    color="#555555")
    ax.set_yticks(range(len(df)), [clean(s, 10) for s in df["step"]])
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.25)
    ax.set_xticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("客户转化漏斗")
    return fig


def _step_rate(v: float, prev: float, first: float) -> str:
    """``较上一步 72.7%`` (and the share of the first step); — where a base is unknown or zero, and
    样本不足 where it is below MIN_BASE customers."""
    if too_small(prev):
        rate = f"较上一步 —({SMALL_SAMPLE})"
    else:
        rate = f"较上一步 {v / prev:.1%}" if pd.notna(prev) and prev else "较上一步 —"
    if pd.notna(first) and first and not too_small(first):
        rate += f"\n占首步 {v / first:.1%}"
    return rate


def uplift_ci(uplift: pd.DataFrame) -> Figure:
    """Each comparison with the control group as a point and its 95 % interval; a bar crossing 0
    is an effect not distinguishable from none. One panel per outcome (percentage points, yuan)."""
    df = uplift.dropna(subset=["uplift"]).reset_index(drop=True)
    if df.empty:
        return no_data("与对照组比较(95% 置信区间)")
    outcomes = list(dict.fromkeys(df["outcome"]))
    units = {"%": "百分点", "元": "元"}
    fig, axes = new_figure(9, 1.2 + 0.55 * df.groupby("outcome").size().max(), ncols=len(outcomes), squeeze=False)
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        part = df[df["outcome"] == outcome].reset_index(drop=True)
        for i, r in part.iterrows():
            if pd.isna(r["significant"]):  # no verdict (样本不足): drawn, but in its own colour
                color = STATUS_COLORS[SMALL_SAMPLE]
            else:
                color = STATUS_COLORS["达成"] if bool(r["significant"]) else STATUS_COLORS["无数据"]
            ax.plot([r["ci_low"], r["ci_high"]], [i, i], color=color, linewidth=3, solid_capstyle="butt")
            ax.plot([r["uplift"]], [i], "o", color=color, markersize=7)
            ax.annotate(f"{r['uplift']:+.1f}", (r["uplift"], i), xytext=(0, 7), textcoords="offset points",
                        ha="center", fontsize=8)
        ax.axvline(0, color="#333333", linestyle="--", linewidth=1)
        ax.set_yticks(range(len(part)), [clean(c, 12) for c in part["comparison"]])
        ax.set_ylim(len(part) - 0.4, -0.6)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(f"提升({units.get(part['unit'].iloc[0], part['unit'].iloc[0])})")
        ax.set_title(clean(outcome, 10))
    handles = [Line2D([], [], color=STATUS_COLORS["达成"], linewidth=3, label="显著(区间不含 0)"),
               Line2D([], [], color=STATUS_COLORS["无数据"], linewidth=3, label="不显著")]
    if df["significant"].isna().any():
        handles.append(Line2D([], [], color=STATUS_COLORS[SMALL_SAMPLE], linewidth=3, label=f"{SMALL_SAMPLE},不下结论"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    fig.suptitle("与对照组比较:提升及 95% 置信区间", fontsize=13, fontweight="bold")
    return fig
