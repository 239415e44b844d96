"""The reviewer's first screen (结论先行) of the retrospective report, built from the run's results.

One screen at the top of ``report.html``: each KPI with its target, actual and 达成 / 未达成 / 样本不足 /
无数据; whether the effect is real (treatment vs control in plain words, and the power the
evaluation design promised); budget used against plan; the top three actions with owners and dates;
and what needs the reviewer's decision. Everything comes from the results stage 04 and 05 wrote
(:mod:`planlib.data.results`: kpis, uplift, budget, actions, review_summary) as plain strings —
the template escapes each one. Without stage 05's summary (a pulse, a run stopped before stage 05)
there is no first screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planlib.data import results
from planlib.metrics.measure import fmt
from planlib.plan.kpis import MIN_BASE, SMALL_SAMPLE, too_small

ITT = "实验组 vs 对照组"  # planlib.stages.review.uplift.ITT (stages sit above publish)
UNASSIGNED = "待指定"  # planlib.stages.review.analysis.UNASSIGNED
NOT_APPROVED = "本计划尚未审批"
_STATUS = {"超达成": ("达成", "ok"), "达成": ("达成", "ok"), "未达成": ("未达成", "bad"),
           SMALL_SAMPLE: (SMALL_SAMPLE, "na"), "无数据": ("无数据", "na")}
_UNITS = {"%": "个百分点", "元": "元"}


@dataclass
class FirstScreen:
    kpis: list[dict[str, str]] = field(default_factory=list)  # name, target, actual, status, tone, flag
    effects: list[dict[str, str]] = field(default_factory=list)  # text, tone
    budget: dict[str, str] = field(default_factory=dict)  # text, tone, detail
    actions: list[dict[str, str]] = field(default_factory=list)  # problem, measure, owner, due
    decisions: list[str] = field(default_factory=list)
    approval: dict[str, Any] = field(default_factory=dict)  # review_summary["approval"]
    unapproved: str = ""  # NOT_APPROVED with the reason, or empty


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(math.isnan(float(value)))
    except (TypeError, ValueError):
        return False


def _load(folder: Path, name: str) -> Any | None:
    path = results.results_dir(folder) / results.SPECS[name].filename
    return results.load(folder, name) if path.exists() else None


def build(run_dir: Path) -> FirstScreen | None:
    """The first screen from ``run_dir``'s results; None without stage 05's summary."""
    summary = _load(run_dir, "review_summary")
    if summary is None:
        return None
    screen = FirstScreen(approval=summary.get("approval") or {})
    kpis = _load(run_dir, "kpis")
    if kpis is not None:
        screen.kpis = [_kpi(r) for r in kpis.to_dict("records")]
    uplift = _load(run_dir, "uplift")
    if uplift is not None:
        screen.effects = [_effect(r) for r in uplift.to_dict("records") if r.get("comparison") == ITT]
    screen.effects += [_design(c) for c in summary.get("design_check", [])]
    budget = _load(run_dir, "budget")
    screen.budget = _budget(budget, summary.get("budget_limit"))
    actions = _load(run_dir, "actions")
    if actions is not None:
        screen.actions = _top_actions(actions.to_dict("records"))
    screen.unapproved = unapproved(screen.approval)
    screen.decisions = _decisions(screen, summary, kpis, actions)
    return screen


def unapproved(approval: dict[str, Any]) -> str:
    """「本计划尚未审批」 and why, when approval is required and the plan is not approved; else empty."""
    if not approval or not approval.get("required", True) or approval.get("approved"):
        return ""
    decision = approval.get("decision") or ""
    if not approval.get("reviewer"):
        return f"{NOT_APPROVED}(计划中没有审批记录)"
    if decision == "不通过":
        return f"{NOT_APPROVED}(审批结论为“不通过”,{approval['reviewer']}{' ' + approval['date'] if approval.get('date') else ''})"
    return f"{NOT_APPROVED}(审批人 {approval['reviewer']} 尚未给出结论)"


def _kpi(r: dict) -> dict[str, str]:
    status, tone = _STATUS.get(r.get("status"), (str(r.get("status")), "na"))
    unit = r.get("unit") or ""
    base = r.get("base")
    if r.get("status") == SMALL_SAMPLE and not _missing(base):
        actual = f"n={float(base):,.0f}"
    else:
        actual = fmt(None if _missing(r.get("actual")) else float(r["actual"]), unit)
    target = r.get("target_text") or fmt(float(r["target"]), unit)
    return {"name": str(r.get("name", r.get("kpi", ""))), "target": str(target), "actual": actual, "status": status,
            "tone": tone, "flag": "提升不显著" if r.get("flag") else ""}


def _effect(r: dict) -> dict[str, str]:
    outcome, unit = str(r.get("outcome") or r.get("metric")), _UNITS.get(r.get("unit") or "", "")
    if _missing(r.get("uplift")):
        return {"text": f"{outcome}:无数据(没有与对照组的比较)", "tone": "na"}
    n1, n0 = r.get("group_customers"), r.get("control_customers")
    if too_small(n1) or too_small(n0):
        return {"text": f"{outcome}:{SMALL_SAMPLE}(实验组 {n1} 人、对照组 {n0} 人,某组不足 {MIN_BASE} 人),不下结论",
                "tone": "na"}
    u, lo, hi = float(r["uplift"]), float(r["ci_low"]), float(r["ci_high"])
    interval = f"95% 区间 {lo:+,.1f} ~ {hi:+,.1f} {unit}"
    if _missing(r.get("significant")):
        return {"text": f"{outcome}:无法判断({u:+,.1f} {unit},{interval})", "tone": "na"}
    if bool(r["significant"]):
        word, tone = ("高", "ok") if u > 0 else ("低", "bad")
        return {"text": f"{outcome}:效果真实 — 实验组比对照组{word} {abs(u):,.1f} {unit}({interval})", "tone": tone}
    return {"text": f"{outcome}:与对照组没有可区分的差异({u:+,.1f} {unit},{interval},包含 0),不能确定是活动带来的",
            "tone": "warn"}


def _design(c: dict) -> dict[str, str]:
    """One goal's check against the evaluation design: the power the comparison had for the planned change."""
    p = c.get("power")
    if p is None:
        return {"text": f"{c.get('goal_id')} 对照设计:{c.get('conclusion', '')}", "tone": "na"}
    enough = p >= 0.8
    sample = "样本足够" if enough else "样本不足以检测计划的变化,未显著不代表没有效果"
    share = "" if c.get("share_kept") is not False else ";对照组比例偏离计划"
    return {"text": f"{c.get('goal_id')} 按实际样本,计划的变化被检测到的把握为 {p:.0%}({sample}{share})",
            "tone": "ok" if enough and c.get("share_kept") is not False else "warn"}


def _budget(budget: Any, limit: Any) -> dict[str, str]:
    if budget is None or budget.empty:
        return {"text": "无数据(没有预算执行结果)", "tone": "na", "detail": ""}
    total = budget[budget["is_total"].astype(bool)] if "is_total" in budget.columns else budget.iloc[0:0]
    lines = budget if total.empty else total
    planned = float(lines["planned"].sum())
    actual = lines["actual"]
    if actual.isna().all():
        return {"text": f"计划 {fmt(planned)} 元,实际支出无数据", "tone": "na", "detail": ""}
    used = float(actual.sum())
    share = f"({used / planned:.0%})" if planned > 0 else ""
    over = used - planned
    detail = f"预算上限 {fmt(float(limit))} 元" if not _missing(limit) else ""
    if over > 0:
        return {"text": f"已用 {fmt(used)} 元 / 计划 {fmt(planned)} 元{share},超支 {fmt(over)} 元", "tone": "bad",
                "detail": detail}
    return {"text": f"已用 {fmt(used)} 元 / 计划 {fmt(planned)} 元{share}", "tone": "ok", "detail": detail}


def _due(value: Any) -> str:
    if _missing(value) or value is None or str(value) in ("NaT", ""):
        return "待定"
    return f"{value:%Y-%m-%d}" if hasattr(value, "strftime") else str(value)[:10]


def _top_actions(rows: list[dict]) -> list[dict[str, str]]:
    """The three open actions that matter first: the plan's own open actions by date, then the review's
    suggestions (missed KPIs), each with its owner and date."""
    open_rows = [r for r in rows if r.get("status") != "done"]
    order = {"open": 0, "suggested": 1}
    open_rows.sort(key=lambda r: (order.get(r.get("status"), 2), _due(r.get("due"))))
    return [{"problem": str(r.get("problem", "")), "measure": str(r.get("measure", "")),
             "owner": str(r.get("owner") or UNASSIGNED), "due": _due(r.get("due"))} for r in open_rows[:3]]


def _decisions(screen: FirstScreen, summary: dict, kpis: Any, actions: Any) -> list[str]:
    out = []
    if screen.unapproved:
        out.append(f"{screen.unapproved}:请补办审批,或确认本次复盘结论仅供参考。")
    if kpis is not None:
        missed = kpis[kpis["status"] == "未达成"]
        if not missed.empty:
            out.append(f"{len(missed)} 项 KPI 未达成({'、'.join(missed['name'].astype(str))}):确认行动计划与下季目标。")
    not_proven = summary.get("not_proven") or []
    if not_proven and kpis is not None:
        names = kpis[kpis["kpi"].isin(not_proven)]["name"].astype(str)
        out.append(f"{'、'.join(names)} 已达成但提升不显著:是否下季保留对照组并扩大样本验证。")
    for c in summary.get("design_check", []):
        if c.get("share_kept") is False:
            out.append(f"{c.get('goal_id')} 的对照组比例偏离计划:核对对照组是否被误触达。")
        if c.get("sample_ok") is False and not c.get("significant"):
            out.append(f"{c.get('goal_id')} 的样本不足以检测计划的变化:下季是否扩大受众或提高对照组比例。")
    if actions is not None:
        unassigned = actions[(actions["owner"].fillna(UNASSIGNED) == UNASSIGNED) & (actions["status"] != "done")]
        if not unassigned.empty:
            out.append(f"{len(unassigned)} 项建议行动尚无责任人和完成时间:请在复盘会上指定。")
    if screen.budget.get("tone") == "bad":
        out.append(f"预算{screen.budget['text'].split(',')[-1]}:是否追认超支部分。")
    return out or ["无:各项均按计划,没有待决事项。"]
