"""Stage 03 charts: channel costs, manual vs optimised mix, the customer journey."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from planlib.publish.charts import (
    PALETTE,
    clean,
    label_bars,
    new_figure,
    no_data,
    thousands,
)


def channel_costs(channel_plan: pd.DataFrame) -> Figure:
    """Planned cost and expected responses per channel, with the cost per response."""
    key = "channel_name" if "channel_name" in channel_plan else "channel"
    df = (channel_plan.groupby(key, sort=False)[["cost", "expected_responses"]].sum()
          .sort_values("cost", ascending=False))
    if df.empty:
        return no_data("渠道成本与预计响应")
    fig, (left, right) = new_figure(9, 1.6 + 0.5 * max(len(df), 1), ncols=2, sharey=True)
    y = np.arange(len(df))
    bars = left.barh(y, df["cost"], color=PALETTE[0])
    label_bars(left, bars, [f"{v:,.0f}" for v in df["cost"]])
    left.set_title("预计成本(元)")
    left.set_xlim(0, max(df["cost"].max() * 1.3, 1))
    left.xaxis.set_major_formatter(thousands)
    bars = right.barh(y, df["expected_responses"], color=PALETTE[2])
    per = df["cost"] / df["expected_responses"].replace(0, np.nan)
    label_bars(right, bars, [
        f"{r:,.0f} 人" + ("" if pd.isna(p) else f" · 每响应 {p:,.1f} 元")
        for r, p in zip(df["expected_responses"], per, strict=True)
    ])
    right.set_title("预计响应人数")
    right.set_xlim(0, max(df["expected_responses"].max() * 1.9, 1))
    right.xaxis.set_major_formatter(thousands)
    left.set_yticks(y, [clean(n, 10) for n in df.index])
    left.invert_yaxis()
    for ax in (left, right):
        ax.grid(axis="y", visible=False)
    fig.suptitle("渠道成本与预计响应", fontsize=13, fontweight="bold")
    return fig

def channel_mix(comparison: pd.DataFrame, title: str = "渠道组合:手工方案与优化方案") -> Figure:
    """The planner's mix beside the optimised one: cost and expected responses per audience × channel.

    ``comparison`` has the columns of :func:`planlib.stages.channels.mix.comparison`.
    """
    df = comparison.reset_index(drop=True)
    if df.empty:
        return no_data(title)
    several = df["audience"].nunique() > 1
    labels = [clean(f"{a}·{c}" if several else c, 16) for a, c in zip(df["audience"], df["channel_name"], strict=True)]
    fig, (left, right) = new_figure(9.5, 1.8 + 0.55 * len(df), ncols=2, sharey=True)
    y, h = np.arange(len(df)), 0.38
    for ax, what, unit in ((left, "cost", "元"), (right, "responses", "人")):
        manual, best = df[f"manual_{what}"].fillna(0), df[f"optimised_{what}"].fillna(0)
        bars_m = ax.barh(y - h / 2, manual, h, color="#9db4cf")
        bars_o = ax.barh(y + h / 2, best, h, color=PALETTE[1])
        label_bars(ax, bars_m, [f"{v:,.0f}" if v else "" for v in manual])
        label_bars(ax, bars_o, [f"{v:,.0f}" if v else "" for v in best])
        ax.set_xlim(0, max(float(max(manual.max(), best.max())) * 1.3, 1))
        ax.xaxis.set_major_formatter(thousands)
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
        return no_data(title)
    keys = list(dict.fromkeys(zip(df["audience"], df["channel_name"], strict=True)))
    channels = list(dict.fromkeys(df["channel_name"]))
    colors = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(channels)}
    fig, ax = new_figure(9.5, 1.6 + 0.85 * len(keys))
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
            note += "\n" + clean(r.content, 11)
        ax.annotate(note, (x, yv), xytext=(0, -12), textcoords="offset points",
                    ha="center", va="top", fontsize=7.5, color="#333333", linespacing=1.1)
    ax.set_xticks(range(len(JOURNEY)), [f"{s}" + (" →" if i < len(JOURNEY) - 1 else "") for i, s in enumerate(JOURNEY)])
    ax.xaxis.tick_top()
    several = len(audiences) > 1
    ax.set_yticks(range(len(keys)), [clean(f"{a} · {c}" if several else c, 18) for a, c in keys])
    ax.set_xlim(-0.6, len(JOURNEY) - 0.4)
    ax.set_ylim(len(keys) - 0.2, -0.5)
    ax.grid(axis="y", visible=False)
    ax.tick_params(axis="x", labelsize=10)
    fig.suptitle(title + ("" if several else f"({clean(audiences[0], 12)})"), fontsize=13, fontweight="bold")
    return fig
