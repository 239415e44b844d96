"""Live previews under the planner forms: each stage's key figure, redrawn as values change.

A preview gets the form's current values (plain data, possibly invalid) and the validated plan
(None while anything in the plan is wrong) and returns HTML (tables and notes from
:mod:`planlib.publish.display`, charts as inline PNG). Figures that need only this form's values
(budget total against the limit) update on every change; those needing a whole valid plan (SMART
check, Gantt chart) say what they wait for.

Why HTML and not an ``ipywidgets.Output`` that the preview prints into: an Output widget captures
only the messages JupyterLab routes to it while its ``msg_id`` hook is registered on the running
cell's request, and a ``clear_output(wait=True)`` it misses lands on the cell itself. Both failed
form renderings kept from the browser tests showed the preview's table and chart where the form
should begin, with form fields missing (issue #12). The form shows the HTML in an ``HTML`` widget,
a plain synced value, so what a planner sees never depends on that routing.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from planlib.plan.schema import Plan
from planlib.publish import display as show

WAIT = "整个计划通过校验后显示"


def figure_html(fig) -> str:
    """A matplotlib figure as an inline PNG ``<img>`` (and the figure released)."""
    data = base64.b64encode(show.png_bytes(fig)).decode("ascii")
    if getattr(fig.canvas, "manager", None) is not None:  # made through pyplot: free it there
        import matplotlib.pyplot as plt

        plt.close(fig)
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%" alt="">'


def _goals(values: dict, plan: Plan | None) -> str:
    if plan is None:
        return show.html_note(f"SMART 检查:{WAIT}(其他阶段的部分可以先留空以外的内容补齐)")
    from planlib.stages.goals.smart import smart_check

    table = smart_check(plan)
    table["SMART"] = table["smart_ok"].map({True: "✓", False: "✗"})
    return show.html_table(table, "目标 SMART 检查(预览;基线留空的目标在阶段运行时由数据测算)",
                    columns=["goal_id", "name", "target", "deadline", "SMART", "notes"],
                    labels={"goal_id": "编号", "name": "目标", "target": "目标值", "deadline": "截止",
                            "notes": "待改进"})


def _tiers(values: dict, plan: Plan | None) -> str:
    seg = values.get("segmentation") if isinstance(values.get("segmentation"), dict) else {}
    names = [t.get("name") for t in seg.get("tiers", []) if isinstance(t, dict)]
    default = (seg.get("default_tier") or {}).get("name", "一般客户")
    return show.html_kv({"分层顺序(命中即止)": " → ".join(str(n) for n in names if n) or "(未填写)",
                  "未命中时": default,
                  "目标客群": "、".join(str(s.get("name")) for s in seg.get("segments", [])
                                     if isinstance(s, dict)) or "(未填写)"}, "分层预览")


def _channels(values: dict, plan: Plan | None) -> str:
    ch = values.get("channels") if isinstance(values.get("channels"), dict) else {}
    cost = {c.get("id"): c.get("cost_per_contact") for c in ch.get("catalogue", []) if isinstance(c, dict)}
    rows = {}
    for row in ch.get("plan", []):
        if isinstance(row, dict) and isinstance(cost.get(row.get("channel")), int | float) \
                and isinstance(row.get("contacts_per_customer"), int | float):
            rows[f"{row.get('audience')} · {row.get('channel')}"] = \
                f"每客户 {cost[row['channel']] * row['contacts_per_customer']:.2f} 元"
    return show.html_kv(rows or {"渠道计划": "(未填写或有待修改的值)"}, "每客户渠道成本预览")


def _budget(values: dict, plan: Plan | None) -> str:
    budget = values.get("budget") if isinstance(values.get("budget"), dict) else {}
    planned = [x.get("planned") for x in budget.get("lines", []) if isinstance(x, dict)]
    numbers = [p for p in planned if isinstance(p, int | float) and not isinstance(p, bool)]
    limit = budget.get("limit")
    total = sum(numbers)
    rows = {"预算明细合计(元)": f"{total:,.0f}" + ("" if len(numbers) == len(planned) else "(部分金额待修改)")}
    if isinstance(limit, int | float) and not isinstance(limit, bool):
        rows["预算上限(元)"] = f"{limit:,.0f}"
        rows["是否在预算内"] = "✓ 在预算内" if total <= limit else f"✗ 超出 {total - limit:,.0f} 元"
    parts = [show.html_kv(rows, "预算预览")]
    if plan is not None and plan.tasks:
        from planlib.publish import charts
        from planlib.stages.execution import charts as execution_charts
        from planlib.stages.execution import schedule

        charts.setup()
        parts.append(figure_html(execution_charts.gantt(schedule.tasks_table(plan), schedule.milestones(plan))))
    else:
        parts.append(show.html_note(f"甘特图:{WAIT}"))
    return "".join(parts)


def _review(values: dict, plan: Plan | None) -> str:
    kpis = [k for k in values.get("kpis", []) if isinstance(k, dict)]
    from planlib.plan.kpis import CATALOGUE

    return show.html_kv({CATALOGUE[k["kpi"]].name if k.get("kpi") in CATALOGUE else str(k.get("kpi")):
                  k.get("target") for k in kpis} or {"KPI 目标": "(未填写)"}, "KPI 目标预览")


def render(stage: str | None, values: dict, plan: Plan | None) -> str | None:
    """The preview of ``stage`` as one HTML fragment (with the tables' CSS), or None without one."""
    show_preview = PREVIEWS.get(stage or "")
    if show_preview is None:
        return None
    return f"<style>{show.CSS}</style>{show_preview(values, plan)}"


PREVIEWS: dict[str, Callable[[dict, Any], str]] = {
    "01_goals": _goals, "02_needs": _tiers, "03_channels": _channels,
    "04_execution": _budget, "05_review": _review,
}


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def totals(values: dict) -> str:
    """The running totals shown in the form's bar (plain text, empty when the form has none):
    budget lines against the limit, and contacts per customer per audience against its cap."""
    parts = []
    budget = values.get("budget")
    if isinstance(budget, dict):
        planned = [x.get("planned") for x in budget.get("lines") or [] if isinstance(x, dict)]
        total = sum(n for p in planned if (n := _number(p)) is not None)
        pending = "" if all(_number(p) is not None for p in planned) else "(部分金额待修改)"
        limit = _number(budget.get("limit"))
        if limit is None:
            parts.append(f"预算明细合计 {total:,.0f} 元{pending};预算上限未填写")
        elif total <= limit:
            parts.append(f"预算:已用 {total:,.0f} / 上限 {limit:,.0f} 元,剩余 {limit - total:,.0f} 元{pending}")
        else:
            parts.append(f"预算:已用 {total:,.0f} / 上限 {limit:,.0f} 元,✗ 超出 {total - limit:,.0f} 元{pending}")
    channels = values.get("channels")
    if isinstance(channels, dict):
        per: dict[str, float] = {}
        for row in channels.get("plan") or []:
            if isinstance(row, dict) and (n := _number(row.get("contacts_per_customer"))) is not None:
                per[str(row.get("audience") or "(未填对象)")] = per.get(str(row.get("audience") or "(未填对象)"), 0) + n
        caps = {str(r.get("audience")): _number(r.get("max_contacts")) for r in channels.get("rules") or []
                if isinstance(r, dict)}
        shown = []
        for audience, n in per.items():
            cap = caps.get(audience)
            mark = "" if cap is None else (f" / 上限 {cap:g}" + (" ✗ 超出" if n > cap else ""))
            shown.append(f"{audience} {n:g} 次{mark}")
        parts.append("每客户触达:" + ("、".join(shown) if shown else "(渠道计划未填写)"))
    return " · ".join(parts)
