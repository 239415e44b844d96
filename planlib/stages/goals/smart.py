"""Stage 01 — 项目背景与目标: the SMART check of every goal, with baselines measured from data.

A goal is machine-checkable when it names a known segment, a catalogue metric in the
catalogue's unit, a baseline, a target and a deadline inside the period (see DOMAIN.md). When
the plan leaves the baseline empty it is measured with :func:`planlib.metrics.measure.compute_kpis` on
the goal's segment over the window of equal length just before the period; the four windows
before the period give the metric's historical range for the "achievable" check.
"""

from __future__ import annotations

import math

import pandas as pd

from planlib.data.holdout import control_mask
from planlib.errors import PlanError
from planlib.metrics.measure import (
    Frames,
    KpiValue,
    Window,
    announce,
    compute_kpis,
    fmt,
    period_window,
    previous_window,
    window_label,
)
from planlib.metrics.segment import find_segment, segment_mask
from planlib.plan.kpis import CATALOGUE
from planlib.plan.schema import Goal, Plan

MAX_CHANGE_PCT = 50.0  # a target more than this % away from its baseline is not judged achievable
HISTORY_WINDOWS = 4
HISTORY_TOLERANCE_PCT = 10.0  # see _achievable: the least room above the historical best
# units planners write for the same thing; NPS is in points and the catalogue leaves its unit empty
_UNIT_ALIASES = {"%": {"%", "％"}, "": {"", "分", "点"}}
# the values a KPI can take at all; KPIs not listed with unit "%" are shares: 0…100
_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "csat": (1, 5), "nps": (-100, 100), "aov_uplift": (-100, None), "roi": (-100, None),
    "cost_per_participant": (0, None), "budget_variance": (None, None),
}
_DIRECTION = {"increase": "higher", "decrease": "lower"}


def segment_names(plan: Plan) -> set[str]:
    """Every customer group a goal may name: the scope segment, defined segments and tiers."""
    seg = plan.segmentation
    return ({plan.scope.segment, seg.default_tier.name} | {s.name for s in seg.segments}
            | {t.name for t in seg.tiers})


def segment_members(plan: Plan, customers_result: pd.DataFrame, segment: str) -> pd.Series | None:
    """Boolean mask of ``segment`` over stage 02's customers result (None if it is not defined).

    The plan's own segment is stage 02's ``in_scope``; any other segment or tier is evaluated
    with stage 02's own rule (:func:`planlib.metrics.segment.segment_mask`) on the result's RFM columns.
    """
    if segment == plan.scope.segment:
        return customers_result["in_scope"].astype(bool)
    try:
        rule = find_segment(plan.segmentation, segment)
    except PlanError:
        return None
    return segment_mask(customers_result, rule)


def _as_population(plan: Plan, customers_result: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    if mask.equals(customers_result["in_scope"].astype(bool)):
        return customers_result  # the plan's own segment: keep stage 02's control flags
    # the control flag is a hash of (campaign, id), so it can be re-derived for any other segment
    members = mask.to_numpy()
    held_out = members.copy()
    held_out[members] = control_mask(customers_result["customer_id"][members], plan.review.campaign,
                                     plan.review.control_share)  # a Python loop: hash members only
    return customers_result.assign(in_scope=members, control=held_out)


def historical_range(plan: Plan, metric: str, data: Frames, customers_result: pd.DataFrame, *,
                     segment: str | None = None, windows: int = HISTORY_WINDOWS) -> pd.DataFrame:
    """``metric`` for ``segment`` (default: the plan's) over the ``windows`` equal-length windows
    before the period, newest first; the first row is the baseline window.
    Columns: window_start, window_end, value (NaN = 无数据), explanation.
    """
    mask = segment_members(plan, customers_result, segment or plan.scope.segment)
    if mask is None:
        raise ValueError(f"客群 {segment!r} 未在计划中定义")
    population = _as_population(plan, customers_result, mask)
    rows = []
    for n in range(1, windows + 1):
        window = previous_window(period_window(plan), n)
        kv = compute_kpis(plan, data, population, window=window, kpis=[metric])[metric]
        rows.append({"window_start": pd.Timestamp(window[0]), "window_end": pd.Timestamp(window[1]),
                     "value": math.nan if kv.value is None else kv.value, "explanation": kv.explanation})
    return pd.DataFrame(rows)


def _measured(plan: Plan, goal: Goal, data: Frames | None, cr: pd.DataFrame | None,
              cache: dict) -> tuple[list[tuple[Window, KpiValue]], str]:
    """The goal's metric over the history windows, or ([], reason) when it cannot be measured."""
    if data is None or cr is None:
        return [], "未提供数据或阶段02的客户分层结果"
    mask = segment_members(plan, cr, goal.segment)
    if mask is None:
        return [], f"客群 {goal.segment} 未定义"
    population = _as_population(plan, cr, mask)
    metrics = {g.metric for g in plan.goals if g.segment == goal.segment}
    out = []
    for n in range(1, HISTORY_WINDOWS + 1):
        window = previous_window(period_window(plan), n)
        key = (goal.segment, window)
        if key not in cache:  # one compute_kpis per segment and window serves every goal
            cache[key] = compute_kpis(plan, data, population, window=window, kpis=metrics)
        out.append((window, cache[key][goal.metric]))
    return out, ""


def _achievable(goal: Goal, baseline: float | None, history: list[float], max_change: float) -> list[str]:
    k = CATALOGUE[goal.metric]
    notes = []
    lo, hi = _BOUNDS.get(goal.metric, (0, 100) if k.unit == "%" else (None, None))
    if (lo is not None and goal.target < lo) or (hi is not None and goal.target > hi):
        span = f"{fmt(lo) if lo is not None else '−∞'}~{fmt(hi) if hi is not None else '+∞'}"
        notes.append(f"目标值 {fmt(goal.target)} 超出该指标可能的取值范围 {span}")
    if baseline is None:
        notes.append("缺少基线,无法判断目标能否实现 — 请在计划中填写 baseline,或提供可测算基线的数据")
        return notes
    up = goal.direction == "increase"
    if (up and goal.target <= baseline) or (not up and goal.target >= baseline):
        notes.append(f"目标值 {fmt(goal.target)} 未{'高于' if up else '低于'}基线 {fmt(baseline)},与方向不符")
    elif baseline != 0:
        change = (goal.target - baseline) / abs(baseline) * 100
        if abs(change) > max_change:
            notes.append(f"相对基线变化 {change:+.1f}%,超过 ±{fmt(max_change)}% 的合理幅度 — 请核实基线或分阶段设定目标")
    if len(history) >= 2:
        # beyond the best value seen by more than the usual swing (or HISTORY_TOLERANCE_PCT of it,
        # so that a flat history does not rule out every improvement), history gives no support
        low, high = min(history), max(history)
        best = high if up else low
        slack = max(high - low, abs(best) * HISTORY_TOLERANCE_PCT / 100)
        if (up and goal.target > best + slack) or (not up and goal.target < best - slack):
            notes.append(f"目标值 {fmt(goal.target)} 远超近{len(history)}期历史范围 {fmt(low)}~{fmt(high)}")
    return notes


def _check(plan: Plan, goal: Goal, names: set[str]) -> dict[str, list[str]]:
    """Failure notes per SMART letter (empty list = passed), except A which needs the baseline."""
    notes: dict[str, list[str]] = {"S": [], "M": [], "R": [], "T": []}
    if goal.segment not in names:
        notes["S"].append(f"客群 {goal.segment!r} 未在 scope/segmentation 中定义 — 请改为已定义的客群或层级名称")
    if not goal.name.strip():
        notes["S"].append("目标描述为空")
    k = CATALOGUE.get(goal.metric)
    if k is None:
        notes["M"].append(f"指标 {goal.metric!r} 不在 KPI 目录中")
    else:
        if not math.isfinite(goal.target):
            notes["M"].append("目标值未设定")
        unit = (goal.unit or "").strip()  # left empty: the catalogue's unit (the field's help says so)
        if unit and unit not in _UNIT_ALIASES.get(k.unit, {k.unit}):
            notes["M"].append(f"单位 {goal.unit!r} 与指标目录的单位 {k.unit or '(无)'!r} 不一致")
        if k.direction != "info" and _DIRECTION[goal.direction] != k.direction:
            notes["M"].append(f"方向 {goal.direction} 与指标方向({'越高越好' if k.direction == 'higher' else '越低越好'})相反")
    if not goal.relevance.strip():
        notes["R"].append("缺少相关性说明 — 请写明该目标与业务战略的关系")
    start, end = period_window(plan)
    if not start <= goal.deadline <= end:
        notes["T"].append(f"截止日期 {goal.deadline} 不在计划周期 {window_label((start, end))} 内")
    return notes


def smart_check(plan: Plan, data: Frames | None = None, customers_result: pd.DataFrame | None = None, *,
                max_change: float = MAX_CHANGE_PCT) -> pd.DataFrame:
    """Result "goals": one row per goal with the five SMART booleans, ``smart_ok`` and Chinese ``notes``.

    ``baseline`` is the plan's value or, when empty, the metric measured on the goal's segment in
    the window just before the period — or in the newest of the HISTORY_WINDOWS earlier windows
    that has data (``baseline_source`` names the window, or says why nothing could be measured).
    ``history_min``/``history_max`` span the metric over those windows. Without ``data`` and
    ``customers_result`` (stage 02) only planned baselines are used and A fails for the others.
    """
    names, cache, rows = segment_names(plan), {}, []
    if data is not None:  # orders answered underneath: one pass for every history window
        announce(data, [previous_window(period_window(plan), n) for n in range(1, HISTORY_WINDOWS + 1)])
    for goal in plan.goals:
        notes = _check(plan, goal, names)
        known_metric = goal.metric in CATALOGUE  # the schema ensures it; a hand-built Goal may not
        measured, reason = (_measured(plan, goal, data, customers_result, cache) if known_metric
                            else ([], "指标不在 KPI 目录中"))
        # the window just before the period, else the newest earlier one with data: a dormant
        # segment has, by its definition, no purchases (and no purchase surveys) right before it
        known = [(window, kv.value) for window, kv in measured if kv.value is not None]
        if goal.baseline is not None:
            baseline, source = goal.baseline, "计划填写"
        elif known:
            baseline, source = known[0][1], f"数据测算({window_label(known[0][0])})"
            if known[0][0] != measured[0][0]:
                source = source[:-1] + ";紧邻计划的窗口无数据)"
        else:
            baseline = None
            source = "无法测算: " + (reason or measured[0][1].explanation.removeprefix("无数据: "))
        history = [value for _, value in known]
        notes["A"] = (_achievable(goal, baseline, history, max_change) if known_metric
                      else ["指标不在 KPI 目录中,无法判断"])
        ok = {letter: not notes[letter] for letter in "SMART"}
        rows.append({
            "goal_id": goal.id, "name": goal.name, "metric": goal.metric, "segment": goal.segment,
            "baseline": math.nan if baseline is None else float(baseline), "baseline_source": source,
            "target": float(goal.target), "direction": goal.direction, "unit": goal.unit,
            "deadline": pd.Timestamp(goal.deadline), "specific": ok["S"], "measurable": ok["M"],
            "achievable": ok["A"], "relevant": ok["R"], "time_bound": ok["T"], "smart_ok": all(ok.values()),
            "notes": ";".join(f"{letter}: {n}" for letter in "SMART" for n in notes[letter]),
            "metric_name": CATALOGUE[goal.metric].label(plan.review.attribution_days) if known_metric else "",
            "history_min": min(history) if history else math.nan,
            "history_max": max(history) if history else math.nan,
        })
    return pd.DataFrame(rows)

