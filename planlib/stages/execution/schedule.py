"""Stage 04 — execution: the task table, schedule checks, critical path, workload, checkpoints.

Pure functions over the plan. Dates are whole calendar days and a task's ``start`` and ``end``
are both working days of it (T1 04-01…04-05 lasts 5 days). A dependency is finish-to-start:
a task may start the day after each of its dependencies ends. The budget (template 3) lives in
:mod:`planlib.stages.execution.budget`.
"""

from __future__ import annotations

from collections import deque
from datetime import date, timedelta

import numpy as np
import pandas as pd

from planlib.plan.analysis import dependency_order
from planlib.plan.kpis import CATALOGUE
from planlib.plan.schema import Plan, Task
from planlib.plan.yamlread import parse_path
from planlib.stages.execution.budget import budget_table, reconcile


# ---------------------------------------------------------------------------------- graph
def _graph(plan: Plan) -> dict[str, list[str]]:
    """Task id → ids of its known dependencies (first definition wins for a duplicated id)."""
    graph: dict[str, list[str]] = {}
    for t in plan.tasks:
        graph.setdefault(t.id, list(dict.fromkeys(t.depends_on)))
    return {k: [d for d in deps if d in graph] for k, deps in graph.items()}


def _reachable(graph: dict[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph[start])
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            stack.extend(graph[v])
    return seen


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One closed path per group of tasks that depend on each other, e.g. ``[T1, T3, T1]``.

    Quadratic reachability is plenty for a quarter's few dozen tasks and easy to verify.
    """
    reach = {v: _reachable(graph, v) for v in graph}
    done: set[str] = set()
    cycles = []
    for v in graph:
        if v in done or v not in reach[v]:
            continue
        group = {u for u in reach[v] if v in reach[u]}
        done |= group
        # shortest way back to v inside the group, for a readable message
        parent, queue = {}, deque([v])
        while queue:
            u = queue.popleft()
            for w in graph[u]:
                if w in group and w not in parent:
                    parent[w] = u
                    queue.append(w)
        path, u = [v], parent[v]
        while u != v:
            path.append(u)
            u = parent[u]
        cycles.append([*path, v])
    return cycles


# ---------------------------------------------------------------------------------- checks
def schedule_checks(plan: Plan) -> list[dict]:
    """Every scheduling problem as ``{task_id, kind, message}`` (message in Chinese).

    Kinds: duplicate_id, end_before_start, outside_period, unknown_phase, outside_phase (a task
    whose phase is one of the dated ``meta.phases`` but runs outside its dates),
    unknown_dependency, starts_before_dependency (start on or before a dependency's end), cycle.
    Plan validation rejects some of these as errors; starts_before_dependency, outside_phase and
    over-allocation are warnings only: the plan runs and the stage shows them.
    """
    period, phases = plan.meta.period, plan.meta.work_phases
    dated = {p.name: p for p in plan.meta.phases}
    first = {}
    out = []

    def add(task_id: str, kind: str, message: str) -> None:
        out.append({"task_id": task_id, "kind": kind, "message": message})

    for t in plan.tasks:
        if t.id in first:
            add(t.id, "duplicate_id", f"任务编号 {t.id} 重复出现;请为每个任务使用唯一编号。")
        first.setdefault(t.id, t)
    for t in plan.tasks:
        if t.end < t.start:
            add(t.id, "end_before_start", f"任务 {t.id} 的结束日期 {t.end} 早于开始日期 {t.start}。")
        if t.start < period.start or t.end > period.end:
            add(t.id, "outside_period", f"任务 {t.id}({t.start}…{t.end})超出计划周期 "
                                        f"{period.start}…{period.end}。")
        if t.phase not in phases:
            add(t.id, "unknown_phase", f"任务 {t.id} 的阶段 {t.phase!r} 不在任务阶段 {'、'.join(phases)} 中。")
        ph = dated.get(t.phase)
        if ph is not None and (t.start < ph.start or t.end > ph.end):
            add(t.id, "outside_phase", f"任务 {t.id}({t.start}…{t.end})超出所属阶段 {ph.name}"
                                       f"({ph.start}…{ph.end});请调整日期或改到相应的阶段。")
        for d in t.depends_on:
            dep = first.get(d)
            if dep is None:
                add(t.id, "unknown_dependency", f"任务 {t.id} 的前置任务 {d} 不存在。")
    # the same rule `planlib validate` and the forms apply (planlib.plan.analysis)
    for where, message, hint in dependency_order(plan):
        add(plan.tasks[parse_path(where)[1]].id, "starts_before_dependency", f"{message};请{hint}。")
    for cycle in _cycles(_graph(plan)):
        text = " → ".join(cycle)  # A → B: B depends on A
        for task_id in dict.fromkeys(cycle):
            add(task_id, "cycle", f"前置任务形成循环({text}),这些任务都无法开始;请删除其中一个前置关系。")
    return out


def tasks_table(plan: Plan) -> pd.DataFrame:
    """The ``tasks`` result (template 2): one row per task with its problems in ``issues``.

    Columns: task_id, phase, name, owner, start, end, duration_days (inclusive), depends_on
    (comma-joined), issues ("" if none; several joined by "; "), done_when, resources, done_on
    (NaT until the plan records it) and finish_delay_days (done_on − end; NaN until done).
    """
    issues: dict[str, list[str]] = {}
    for c in schedule_checks(plan):
        issues.setdefault(c["task_id"], []).append(c["message"])
    df = pd.DataFrame({
        "task_id": [t.id for t in plan.tasks],
        "phase": [t.phase for t in plan.tasks],
        "name": [t.name for t in plan.tasks],
        "owner": [t.owner for t in plan.tasks],
        "start": pd.to_datetime([t.start for t in plan.tasks]).astype("datetime64[ns]"),
        "end": pd.to_datetime([t.end for t in plan.tasks]).astype("datetime64[ns]"),
        "depends_on": [",".join(t.depends_on) for t in plan.tasks],
        "issues": ["; ".join(dict.fromkeys(issues.get(t.id, []))) for t in plan.tasks],
        "done_when": [t.done_when for t in plan.tasks],
        "resources": [t.resources for t in plan.tasks],
        "done_on": pd.to_datetime([t.done_on for t in plan.tasks]).astype("datetime64[ns]"),
    })
    df.insert(6, "duration_days", (df["end"] - df["start"]).dt.days.astype(np.int64) + 1)
    df["finish_delay_days"] = (df["done_on"] - df["end"]).dt.days.astype(float)
    text = ["task_id", "phase", "name", "owner", "depends_on", "issues", "done_when", "resources"]
    return df.astype(dict.fromkeys(text, str))


# ---------------------------------------------------------------------------------- CPM
def critical_path(plan: Plan) -> tuple[list[str], pd.DataFrame]:
    """Critical tasks in schedule order, and per-task earliest/latest dates and slack.

    The model (calendar days, day offsets from the plan start, ``EF``/``LF`` exclusive):
    duration = end − start + 1 (0 if end < start); a planned start is a no-earlier-than
    constraint, so ES = max(planned start, EF of every dependency) and EF = ES + duration. The
    project ends at the latest EF; backwards, LF = min(LS of every dependent task) or the
    project end, LS = LF − duration. slack_days = LS − ES: how many days a task may start
    later than it can without moving the end. When the plan respects its dependencies ES is
    the planned start, so this is LS − planned start; when a task is planned to start before a
    dependency ends, ``delay_days`` = ES − planned start says by how much the plan is
    infeasible (slack then never hides that delay). Critical tasks have slack 0. Unknown
    dependencies and the edges of a cycle are ignored here; :func:`schedule_checks` reports them.
    """
    by_id = _first_definitions(plan)
    if not by_id:
        return [], pd.DataFrame(columns=_CPM_COLUMNS)
    origin = plan.meta.period.start
    graph = _acyclic_graph(plan)
    start = {k: (t.start - origin).days for k, t in by_id.items()}
    dur = {k: max((t.end - t.start).days + 1, 0) for k, t in by_id.items()}
    order, dependents = _topological_order(graph)
    es, ef = _forward_pass(order, graph, start, dur)
    ls, lf = _backward_pass(order, dependents, dur, project_end=max(ef.values()))

    def day(offset: int) -> pd.Timestamp:
        return pd.Timestamp(origin + timedelta(days=offset))

    df = pd.DataFrame([{
        "task_id": k,
        "name": by_id[k].name,
        "owner": by_id[k].owner,
        "duration_days": dur[k],
        "planned_start": day(start[k]),
        "earliest_start": day(es[k]),
        "earliest_finish": day(ef[k] - 1),  # inclusive last day, like the plan
        "latest_start": day(ls[k]),
        "latest_finish": day(lf[k] - 1),
        "slack_days": ls[k] - es[k],
        "delay_days": es[k] - start[k],
    } for k in order])
    df["critical"] = df["slack_days"] <= 0
    df = df.sort_values(["earliest_start", "earliest_finish"], kind="stable").reset_index(drop=True)
    return df.loc[df["critical"], "task_id"].tolist(), df[_CPM_COLUMNS]


_CPM_COLUMNS = ["task_id", "name", "owner", "duration_days", "planned_start", "earliest_start",
                "earliest_finish", "latest_start", "latest_finish", "slack_days", "delay_days", "critical"]


def _first_definitions(plan: Plan) -> dict[str, Task]:
    """Task id → its task; the first definition wins for a duplicated id, as in :func:`_graph`."""
    by_id: dict[str, Task] = {}
    for t in plan.tasks:
        by_id.setdefault(t.id, t)
    return by_id


def _acyclic_graph(plan: Plan) -> dict[str, list[str]]:
    """:func:`_graph` without the dependencies inside a cycle (those are reported by the checks)."""
    graph = _graph(plan)
    for cycle in _cycles(graph):
        group = set(cycle)
        for v in group:
            graph[v] = [d for d in graph[v] if d not in group]
    return graph


def _topological_order(graph: dict[str, list[str]]) -> tuple[list[str], dict[str, list[str]]]:
    """Kahn's order over an acyclic ``graph`` (plan order among ready tasks), and each task's dependents."""
    dependents: dict[str, list[str]] = {k: [] for k in graph}
    waiting = {k: len(v) for k, v in graph.items()}
    for k, deps in graph.items():
        for d in deps:
            dependents[d].append(k)
    ready = deque(k for k in graph if waiting[k] == 0)
    order = []
    while ready:
        k = ready.popleft()
        order.append(k)
        for s in dependents[k]:
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    return order, dependents


def _forward_pass(order: list[str], graph: dict[str, list[str]], start: dict[str, int],
                  dur: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Earliest start (no earlier than planned, nor before every dependency ends) and exclusive finish."""
    es: dict[str, int] = {}
    ef: dict[str, int] = {}
    for k in order:
        es[k] = max([start[k], *(ef[d] for d in graph[k])])
        ef[k] = es[k] + dur[k]
    return es, ef


def _backward_pass(order: list[str], dependents: dict[str, list[str]], dur: dict[str, int],
                   project_end: int) -> tuple[dict[str, int], dict[str, int]]:
    """Latest start and exclusive finish that do not move the project end."""
    ls: dict[str, int] = {}
    lf: dict[str, int] = {}
    for k in reversed(order):
        lf[k] = min([project_end, *(ls[s] for s in dependents[k])])
        ls[k] = lf[k] - dur[k]
    return ls, lf


# ---------------------------------------------------------------------------------- workload
def owner_workload(plan: Plan, max_tasks: int = 2) -> pd.DataFrame:
    """Owner × ISO week (Monday) load; ``over_allocated`` when more than ``max_tasks`` run the same day.

    Columns: owner, week_start, tasks (distinct tasks active that week), task_ids, task_days
    (active task-days summed), peak_concurrent (most tasks active on one day), peak_day (its
    first such day), peak_task_ids (the tasks on it), over_allocated. Same-day overlap is the
    test, so three back-to-back tasks in one week are not a conflict. Weeks without any
    active task are omitted.
    """
    empty = {"owner": str, "week_start": "datetime64[ns]", "tasks": np.int64, "task_ids": str,
             "task_days": np.int64, "peak_concurrent": np.int64, "peak_day": "datetime64[ns]",
             "peak_task_ids": str, "over_allocated": bool}
    t = pd.DataFrame({"task_id": [x.id for x in plan.tasks], "owner": [x.owner for x in plan.tasks],
                      "start": pd.to_datetime([x.start for x in plan.tasks]),
                      "end": pd.to_datetime([x.end for x in plan.tasks])})
    n = ((t["end"] - t["start"]).dt.days + 1).clip(lower=0).to_numpy()
    if n.sum() == 0:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in empty.items()})
    # one row per task-day, built without a Python loop over days
    idx = np.repeat(np.arange(len(t)), n)
    offset = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    days = t.iloc[idx].reset_index(drop=True)
    days["day"] = (days["start"] + pd.to_timedelta(offset, unit="D")).astype("datetime64[ns]")
    days["week_start"] = days["day"] - pd.to_timedelta(days["day"].dt.day_of_week, unit="D")
    owners = list(dict.fromkeys(t["owner"]))
    days["owner"] = pd.Categorical(days["owner"], categories=owners, ordered=True)

    def joined(s: pd.Series) -> str:
        return ",".join(dict.fromkeys(s))

    keys = ["owner", "week_start"]
    daily = (days.groupby([*keys, "day"], observed=True)
             .agg(peak_concurrent=("task_id", "size"), peak_task_ids=("task_id", joined)).reset_index()
             .sort_values([*keys, "peak_concurrent", "day"], ascending=[True, True, False, True])
             .drop_duplicates(keys).rename(columns={"day": "peak_day"}).set_index(keys))
    weekly = days.groupby(keys, observed=True).agg(
        tasks=("task_id", "nunique"), task_ids=("task_id", joined), task_days=("task_id", "size"))
    out = weekly.join(daily).reset_index()
    out["owner"] = out["owner"].astype(str)
    out["over_allocated"] = out["peak_concurrent"] > max_tasks
    return out[list(empty)]


# ---------------------------------------------------------------------------------- dates to watch
def milestones(plan: Plan) -> list[tuple[str, date]]:
    """Phase starts and the plan's own milestones, in date order, for the Gantt chart."""
    marks = [(f"{p.name}开始", p.start) for p in plan.meta.phases] + [(m.name, m.due) for m in plan.milestones]
    return sorted(marks, key=lambda m: m[1])


def checkpoints_table(plan: Plan) -> pd.DataFrame:
    """The plan's checkpoints: when, which KPI, the alert threshold, the adjustment and by when it starts.

    ``threshold_text`` carries the direction (``≥60%`` for higher-is-better KPIs: below it is
    an alert); ``act_by`` = due + respond_within_hours (the adjustment's latest start).
    """
    rows = []
    for cp in plan.checkpoints:
        kpi = CATALOGUE[cp.kpi]
        sign = "≥" if kpi.direction == "higher" else "≤"
        rows.append({"checkpoint": cp.name, "due": pd.Timestamp(cp.due), "kpi": cp.kpi, "kpi_name": kpi.label(plan.review.attribution_days),
                     "threshold": float(cp.threshold), "threshold_text": f"{sign}{cp.threshold:g}{kpi.unit}",
                     "action": cp.action, "respond_within_hours": int(cp.respond_within_hours),
                     "act_by": pd.Timestamp(cp.due) + pd.Timedelta(hours=cp.respond_within_hours),
                     "owner": cp.owner or ""})
    columns = ["checkpoint", "due", "kpi", "kpi_name", "threshold", "threshold_text", "action",
               "respond_within_hours", "act_by", "owner"]
    return pd.DataFrame(rows, columns=columns).astype({"due": "datetime64[ns]", "act_by": "datetime64[ns]"})


def task_status(plan: Plan, as_of: date) -> pd.DataFrame:
    """Each task's state on ``as_of``: 已完成 / 逾期未完成 / 进行中 / 未开始, with days overdue.

    A task is done on ``as_of`` when its ``done_on`` is on or before that day; it is overdue
    when its planned end is before ``as_of`` and it is not done by then.
    """
    rows = []
    for t in plan.tasks:
        done = t.done_on is not None and t.done_on <= as_of
        if done:
            state = "已完成"
        elif t.end < as_of:
            state = "逾期未完成"
        elif t.start <= as_of:
            state = "进行中"
        else:
            state = "未开始"
        rows.append({"task_id": t.id, "name": t.name, "owner": t.owner, "start": pd.Timestamp(t.start),
                     "end": pd.Timestamp(t.end), "state": state,
                     "overdue_days": (as_of - t.end).days if state == "逾期未完成" else 0})
    return pd.DataFrame(rows, columns=["task_id", "name", "owner", "start", "end", "state", "overdue_days"]).astype(
        {"start": "datetime64[ns]", "end": "datetime64[ns]", "overdue_days": np.int64})


# ---------------------------------------------------------------------------------- summary
def execution_summary(plan: Plan, max_tasks: int = 2, channel_plan: pd.DataFrame | None = None) -> dict:
    """The ``execution_summary`` result: tasks, critical path, problems, budget totals, overload.

    With stage 03's ``channel_plan`` the channel cost is reconciled with the promotion lines
    (:func:`planlib.stages.execution.budget.reconcile`) and every mismatch joins the warnings.
    """
    checks = schedule_checks(plan)
    path, cpm = critical_path(plan)
    load = owner_workload(plan, max_tasks)
    over = load.loc[load["over_allocated"].astype(bool)]
    budget = budget_table(plan).iloc[-1]
    planned, actual = float(budget["planned"]), budget["actual"]
    actual = None if pd.isna(actual) else float(actual)
    limit = float(plan.budget.limit)

    warnings = [c["message"] for c in checks]
    if planned > limit:
        warnings.append(f"预算明细合计 {planned:,.0f} 元超出预算上限 {limit:,.0f} 元。")
    if actual is not None and actual > limit:
        warnings.append(f"实际支出合计 {actual:,.0f} 元超出预算上限 {limit:,.0f} 元。")
    for r in over.itertuples():
        warnings.append(f"{r.owner} 在 {r.peak_day:%Y-%m-%d} 同时负责 {r.peak_concurrent} 项任务"
                        f"(上限 {max_tasks} 项):{r.peak_task_ids};请错开时间或增加人手。")
    mismatches = reconcile(plan, channel_plan)[1] if channel_plan is not None else []
    warnings += mismatches

    tasks = plan.tasks
    return {
        "task_count": len(tasks),
        "phase_counts": {p: sum(t.phase == p for t in tasks) for p in dict.fromkeys(t.phase for t in tasks)},
        "first_start": min(t.start for t in tasks).isoformat() if tasks else None,
        "last_end": max(t.end for t in tasks).isoformat() if tasks else None,
        "critical_path": path,
        "project_days": int((cpm["earliest_finish"].max() - cpm["earliest_start"].min()).days + 1)
        if len(cpm) else 0,
        "checks": checks,
        "warnings": warnings,
        "warnings_count": len(warnings),
        "budget_limit": limit,
        "budget_planned": planned,
        "budget_actual": actual,
        "budget_variance": None if pd.isna(budget["variance"]) else float(budget["variance"]),
        "budget_within_limit": planned <= limit,
        "over_allocated_owners": list(dict.fromkeys(over["owner"])),
        "checkpoint_count": len(plan.checkpoints),
        "reconciled": None if channel_plan is None else not mismatches,
    }
