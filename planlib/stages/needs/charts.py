"""Charts of the needs analysis beyond RFM: lifetime value by tier, p_alive, tier transitions.

Built on :mod:`planlib.publish.charts` (one font setup, one palette, the same :class:`~planlib.publish.charts.Chart`
figures that show themselves as small PNGs).
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from planlib.publish.charts import PALETTE, as_percent, clean, label_bars, new_figure, no_data, thousands

# matplotlib 3.10 added ``orientation`` and deprecated ``vert``
_HORIZONTAL = ({"orientation": "horizontal"} if tuple(map(int, matplotlib.__version__.split(".")[:2])) >= (3, 10)
               else {"vert": False})


def clv_by_tier(tier_values: pd.DataFrame) -> Figure:
    """Mean predicted CLV per customer and each tier's share of the total CLV, side by side."""
    df = tier_values.reset_index(drop=True)
    if df.empty or df["avg_clv"].notna().sum() == 0:
        return no_data("各层级客户终身价值(CLV)")
    fig, (left, right) = new_figure(9, 1.6 + 0.55 * len(df), ncols=2, sharey=True)
    y = np.arange(len(df))
    avg = df["avg_clv"].fillna(0)
    bars = left.barh(y, avg, color=PALETTE[2])
    label_bars(left, bars, ["—" if pd.isna(v) else f"{v:,.0f} 元" for v in df["avg_clv"]])
    left.set_title("人均 CLV(元)")
    left.set_xlim(0, max(avg.max() * 1.35, 1))
    left.xaxis.set_major_formatter(thousands)
    share = df["clv_share"].fillna(0)
    bars = right.barh(y, share, color=PALETTE[3])
    label_bars(right, bars, ["—" if pd.isna(v) else f"{v:.1f}%" for v in df["clv_share"]])
    right.set_title("CLV 占比(%)")
    right.set_xlim(0, max(share.max() * 1.3, 1))
    left.set_yticks(y, [clean(t, 10) for t in df["tier"]])
    left.invert_yaxis()
    for ax in (left, right):
        ax.grid(axis="y", visible=False)
    fig.suptitle("各层级客户终身价值(CLV)", fontsize=13, fontweight="bold")
    return fig


def p_alive_by_tier(customers: pd.DataFrame, tier_order: list[str]) -> Figure:
    """Distribution of the probability of still being active, per tier (repeat buyers only)."""
    df = customers.loc[customers["frequency"].gt(0) & customers["p_alive"].notna(), ["tier", "p_alive"]]
    order = [t for t in tier_order if t in set(df["tier"])]
    if df.empty:
        return no_data("各层级存活概率分布")
    fig, ax = new_figure(8, 1.4 + 0.5 * len(order))
    groups = [df.loc[df["tier"] == t, "p_alive"].to_numpy() * 100 for t in order]
    ax.boxplot(groups, **_HORIZONTAL, widths=0.55, patch_artist=True,
               boxprops={"facecolor": PALETTE[5], "linewidth": 0.8}, medianprops={"color": "#1d2b3a"},
               flierprops={"markersize": 1.5, "markeredgecolor": "#7f8c8d"})
    ax.set_yticks(np.arange(1, len(order) + 1), [clean(t, 10) for t in order])
    ax.invert_yaxis()
    ax.set_xlim(-2, 102)
    ax.set_xlabel("存活概率(%),BG/NBD;只含有消费记录的客户")
    ax.set_ylabel("")
    ax.set_title("各层级存活概率分布")
    return fig


def tier_transition(matrix: pd.DataFrame) -> Figure:
    """Customers moving from last quarter's tier (rows) to this quarter's (columns)."""
    grid = matrix.drop(index="合计", columns="合计", errors="ignore")
    if grid.empty or grid.to_numpy().sum() == 0:
        return no_data("层级变动(上季 → 本季)")
    fig, ax = new_figure(1.8 + 1.05 * grid.shape[1], 1.4 + 0.5 * grid.shape[0])
    shares = grid.div(grid.sum(axis=1).replace(0, np.nan), axis=0).fillna(0)
    sns.heatmap(shares * 100, ax=ax, annot=grid.to_numpy(), fmt=",d", cmap="Blues", vmin=0, vmax=100,
                linewidths=0.5, linecolor="white", cbar_kws={"label": "占上季该层级的比例(%)"})
    ax.set_xticks(np.arange(grid.shape[1]) + 0.5, [clean(c, 8) for c in grid.columns], rotation=20, ha="right")
    ax.set_yticks(np.arange(grid.shape[0]) + 0.5, [clean(r, 8) for r in grid.index], rotation=0)
    ax.set_xlabel("本季层级")
    ax.set_ylabel("上季层级")
    ax.set_title("层级变动(上季 → 本季,格中为客户数)")
    return fig


def tier_sizes(tier_summary: pd.DataFrame) -> Figure:
    """Customers per tier and each tier's share of spend, side by side."""
    df = tier_summary.reset_index(drop=True)
    if df.empty:
        return no_data("客户分层:人数与价值贡献")
    fig, (left, right) = new_figure(9, 1.6 + 0.55 * max(len(df), 1), ncols=2, sharey=True)
    names = [clean(t, 10) for t in df["tier"]]
    y = np.arange(len(df))
    bars = left.barh(y, df["customers"], color=PALETTE[0])
    share = as_percent(df["share"]) if "share" in df else None
    label_bars(left, bars, [
        f"{c:,.0f} 人" + (f"({s:.1f}%)" if share is not None and pd.notna(s) else "")
        for c, s in zip(df["customers"], share if share is not None else [None] * len(df), strict=True)
    ])
    left.set_title("客户数")
    left.xaxis.set_major_formatter(thousands)
    left.set_xlim(0, max(df["customers"].max() * 1.35, 1))
    mshare = as_percent(df["monetary_share"])
    bars = right.barh(y, mshare.fillna(0), color=PALETTE[1])
    label_bars(right, bars, ["—" if pd.isna(v) else f"{v:.1f}%" for v in mshare])
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
        return no_data("R × F 客户分布")
    scores = sorted(set(range(1, 6)) | set(df["r_score"]) | set(df["f_score"]))
    counts = pd.crosstab(df["r_score"], df["f_score"]).reindex(index=scores[::-1], columns=scores,
                                                               fill_value=0)
    fig, ax = new_figure(6.5, 4.6)
    sns.heatmap(counts, ax=ax, annot=True, fmt=",d", cmap="Blues", linewidths=0.5,
                linecolor="white", cbar_kws={"label": "客户数"})
    ax.set_xlabel("F 分(购买频次,5 = 最高)")
    ax.set_ylabel("R 分(最近购买,5 = 最近)")
    ax.set_title(f"R × F 客户分布(共 {len(df):,} 人)")
    ax.tick_params(axis="y", rotation=0)
    return fig
