"""``planlib new``: next quarter's plan file for the same unit, written from this quarter's plan and run.

The quarter file is edited as YAML with its comments kept (ruamel round-trip); the ``extends:``
base stays shared and untouched. What changes:
- every date in the file moves by whole quarters (month ends stay month ends: 06-30 → 09-30);
- the quarter code in ``meta.quarter``, the title, goal names, the campaign code and the header
  comment (``2024Q2``, ``2024年Q2``, ``2024年第二季度``);
- goal baselines become this quarter's actuals, read from the published run
  (``outputs/<unit>/<quarter>/results``); without a run they stay and the note says so;
- targets keep last quarter's value as a placeholder, marked ``# TODO 请设定目标`` with last
  quarter's target, actual and status, so the file validates and the planner sees what to set;
- manual KPI actuals and budget actuals (and their notes) are removed: nothing is spent yet;
- the ``approval:`` of this quarter's proposal is removed: the new quarter is approved anew;
- open actions carry over with their owners and due dates; done actions are dropped; the
  review's suggested actions (owner 待指定) are added, marked for the planner to assign.
The new file is validated; it is never written over an existing file unless ``force``.
"""

from __future__ import annotations

import calendar
import io
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from planlib.errors import PlanError, Problem
from planlib.metrics.measure import fmt
from planlib.plan.kpis import CATALOGUE
from planlib.plan.planfile import LoadedPlan, load_plan
from planlib.publish.files import write_text_atomic
from planlib.run.stage import project_root

_CN_QUARTER = "一二三四"
TODO_TARGET = "TODO 请设定目标"
TODO_ACTION = "TODO 复盘建议:请指定责任人并确认完成时间"


@dataclass
class NewPlan:
    """What ``planlib new`` wrote: the file, what it carried over and what the planner must still do."""

    path: Path
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_quarter(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"([0-9]{4})Q([1-4])", text.strip())
    if not m:
        raise PlanError(f"季度 {text!r} 的格式不对 — 请写成 2024Q3 这样的形式")
    return int(m[1]), int(m[2])


def shift_months(day: date, months: int) -> date:
    """``day`` moved by ``months``; a month's last day stays the last day (06-30 → 09-30)."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    at_end = day.day == calendar.monthrange(day.year, day.month)[1]
    return date(year, month + 1, last if at_end else min(day.day, last))


def retitle(text: str, old: tuple[int, int], new: tuple[int, int]) -> str:
    """Replace the quarter in ``text``: 2024Q2, 2024年Q2, 2024年第二季度 (and Q2 after a year)."""
    (oy, oq), (ny, nq) = old, new
    text = re.sub(rf"{oy}(\s*)Q{oq}", rf"{ny}\1Q{nq}", text)
    text = re.sub(rf"{oy}(\s*)年(\s*)Q{oq}", rf"{ny}\1年\2Q{nq}", text)
    return re.sub(rf"{oy}(\s*)年(\s*)第{_CN_QUARTER[oq - 1]}季度", rf"{ny}\1年\2第{_CN_QUARTER[nq - 1]}季度", text)


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: comments, key order, flow style and quotes survive
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a planner's long lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.ignore_aliases = lambda *_: True  # equal dates stay dates, never &id001 anchors
    return yaml


def _shift_dates(node: Any, months: int) -> None:
    if isinstance(node, dict):
        for key in list(node):
            value = node[key]
            if isinstance(value, date):
                node[key] = shift_months(value, months)
            else:
                _shift_dates(value, months)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, date):
                node[i] = shift_months(value, months)
            else:
                _shift_dates(value, months)


def _run_dir(loaded: LoadedPlan, output_root: Path | None) -> Path:
    meta = loaded.plan.meta
    root = Path(output_root) if output_root else project_root(loaded.path.parent) / "outputs"
    return root / meta.unit / meta.quarter


def _actuals(run_dir: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]:
    """(kpis, kpi_values, actions) of a published run, each None when the run or the file is missing."""
    folder = run_dir / "results"

    def read(name: str) -> pd.DataFrame | None:
        path = folder / f"{name}.parquet"
        return pd.read_parquet(path) if path.exists() else None

    if not (run_dir / "manifest.json").exists():
        return None, None, None
    return read("kpis"), read("kpi_values"), read("actions")


def _measured(metric: str, segment: str, loaded: LoadedPlan, kpis: pd.DataFrame | None,
              values: pd.DataFrame | None) -> float | None:
    """This quarter's actual of ``metric`` for ``segment`` (the plan's own segment, or a tier)."""
    plan = loaded.plan
    if segment == plan.scope.segment:
        if kpis is not None:
            row = kpis[kpis["kpi"] == metric]
            if not row.empty and pd.notna(row["actual"].iloc[0]):
                return float(row["actual"].iloc[0])
        where = (values["by"] == "overall") if values is not None else None
    else:
        where = ((values["by"] == "tier") & (values["group"] == segment)) if values is not None else None
    if values is None:
        return None
    row = values[where & (values["kpi"] == metric)]
    return None if row.empty or pd.isna(row["value"].iloc[0]) else float(row["value"].iloc[0])


def _target_comment(kpi: str, target: Any, kpis: pd.DataFrame | None, quarter: str) -> str:
    unit = CATALOGUE[kpi].unit
    text = f"{TODO_TARGET}(上季 {quarter} 目标 {fmt(float(target), unit)}"
    if kpis is not None:
        row = kpis[kpis["kpi"] == kpi]
        if not row.empty:
            actual = row["actual"].iloc[0]
            text += f",实际 {fmt(None if pd.isna(actual) else float(actual), unit)},{row['status'].iloc[0]}"
    return text + ")"


def _flow_map(**items: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap

    node = CommentedMap()
    node.fa.set_flow_style()
    for key, value in items.items():
        if value not in (None, ""):
            node[key] = value
    return node


def new_plan(plan_path: str | Path, quarter: str, *, output_root: Path | None = None,
             force: bool = False) -> NewPlan:
    """Write next quarter's plan file beside ``plan_path`` (``<quarter>.yaml``) and validate it.

    ``output_root`` is where the published runs live (default: the project's ``outputs/``).
    Raises :class:`PlanError` for a quarter that is not later, or an existing file without ``force``.
    """
    loaded = load_plan(plan_path)
    move = _Move(loaded, parse_quarter(loaded.plan.meta.quarter), parse_quarter(quarter))
    if move.months <= 0:
        raise PlanError(f"{loaded.path}: 新季度 {quarter} 必须晚于计划的季度 {move.old_code}")
    target = loaded.path.with_name(f"{quarter}.yaml")
    if target.exists() and not force:
        raise PlanError(f"{target}: 文件已存在,未覆盖 — 确认要重新生成时加 --force")
    yaml = _yaml()
    doc = yaml.load(loaded.path.read_text(encoding="utf-8"))
    notes: list[str] = []
    _move_dates_and_titles(doc, move, quarter, notes)
    run_dir = _run_dir(loaded, output_root)
    kpis, values, run_actions = _actuals(run_dir)
    _update_goals(doc, move, run_dir, kpis, values, notes)
    _placeholder_kpi_targets(doc, move, kpis, notes)
    _clear_budget_actuals(doc, notes)
    _clear_approval(doc, notes)
    _renew_review(doc, move, run_actions, notes)
    write_text_atomic(target, _dump(yaml, doc, move.old, move.new))
    return NewPlan(target, notes, _problems(target))


@dataclass(frozen=True)
class _Move:
    """This quarter's plan and the quarter it moves to."""

    loaded: LoadedPlan
    old: tuple[int, int]
    new: tuple[int, int]

    @property
    def months(self) -> int:
        return 3 * ((self.new[0] * 4 + self.new[1]) - (self.old[0] * 4 + self.old[1]))

    @property
    def old_code(self) -> str:
        return self.loaded.plan.meta.quarter

    def shift(self, day: date) -> date:
        return shift_months(day, self.months)


def _move_dates_and_titles(doc: Any, move: _Move, quarter: str, notes: list[str]) -> None:
    """Every date moves by whole quarters; the quarter code goes into ``meta``, the title and goal names."""
    _shift_dates(doc, move.months)  # review.actions too, but they are rebuilt from the plan as written
    meta = doc.setdefault("meta", {})
    meta["quarter"] = quarter
    period = move.loaded.plan.meta.period
    if "period" not in meta:  # the period lives in the base: the new quarter needs its own
        meta["period"] = _flow_map(start=move.shift(period.start), end=move.shift(period.end))
    if "title" in meta:
        meta["title"] = retitle(str(meta["title"]), move.old, move.new)
    for goal in doc.get("goals") or []:
        goal["name"] = retitle(str(goal["name"]), move.old, move.new)
    notes.append(f"日期整体后移 {move.months} 个月(计划周期 {move.shift(period.start)}"
                 f" ~ {move.shift(period.end)})")


def _update_goals(doc: Any, move: _Move, run_dir: Path, kpis: pd.DataFrame | None,
                  values: pd.DataFrame | None, notes: list[str]) -> None:
    """Goal baselines become this quarter's actuals from the published run; targets get a TODO comment."""
    old_code = move.old_code
    if kpis is None and values is None:
        notes.append(f"没有找到 {old_code} 的已发布运行结果({run_dir}),基线保持不变 — "
                     f"先运行 planlib run {move.loaded.path.name},再重新生成(--force)即可用实际值更新基线")
    for goal in doc.get("goals") or []:
        if kpis is not None or values is not None:
            actual = _measured(goal["metric"], goal["segment"], move.loaded, kpis, values)
            if actual is None:
                notes.append(f"目标 {goal['id']}: {old_code} 没有 {goal['metric']} 的实际值,基线保持不变")
            else:
                _set_baseline(goal, round(actual, 2), old_code)
        goal.yaml_add_eol_comment(_target_comment(goal["metric"], goal["target"], kpis, old_code)
                                  .replace(TODO_TARGET, TODO_TARGET + ",截止日期请一并确认"), "target")
    if not doc.get("goals"):
        notes.append("目标写在基础文件中,未修改;如需按季度调整,请在新季度文件中写出 goals")


def _set_baseline(goal: Any, value: float, old_code: str) -> None:
    """Write ``value`` as the goal's baseline (a new key goes just before ``target``)."""
    if "baseline" in goal:
        goal["baseline"] = value
    else:
        goal.insert(list(goal).index("target"), "baseline", value)
    goal.yaml_add_eol_comment(f"基线 = {old_code} 实际值", "baseline")


def _placeholder_kpi_targets(doc: Any, move: _Move, kpis: pd.DataFrame | None, notes: list[str]) -> None:
    """KPI targets stay as placeholders with a TODO comment; last quarter's manual actuals go."""
    kpi_list = doc.get("kpis") or []
    for i, item in enumerate(kpi_list):
        if "actual" in item:  # last quarter's manual actual
            del item["actual"]
        kpi_list.yaml_add_eol_comment(_target_comment(item["kpi"], item["target"], kpis, move.old_code), i)
    if kpi_list:
        notes.append(f"{len(kpi_list)} 项 KPI 目标沿用上季数值作占位,已标注「{TODO_TARGET}」,请逐项设定")


def _clear_budget_actuals(doc: Any, notes: list[str]) -> None:
    """Budget lines lose their actuals and variance notes: nothing is spent in the new quarter yet."""
    budget = doc.get("budget") or {}
    cleared = 0
    for line in budget.get("lines") or []:
        for key in ("actual", "note"):
            if key in line:
                del line[key]
                cleared += key == "actual"
    if cleared:
        notes.append(f"清空了 {cleared} 条预算明细的实际支出与差异说明(新季度尚未发生支出)")


def _clear_approval(doc: Any, notes: list[str]) -> None:
    """A new quarter's 策划书 is approved anew (``planlib proposal`` shows the approval on its cover)."""
    if "approval" in doc:
        del doc["approval"]
        notes.append("删除了本季度的审批信息(approval):新季度的策划书需重新报批")


def _renew_review(doc: Any, move: _Move, run_actions: pd.DataFrame | None, notes: list[str]) -> None:
    """The campaign code gets the new quarter; open actions carry over and the review's suggestions join."""
    from ruamel.yaml.comments import CommentedSeq

    review = doc.setdefault("review", {})
    if "campaign" in review:
        review["campaign"] = retitle(str(review["campaign"]), move.old, move.new)
        review.yaml_add_eol_comment("TODO 请核对活动代码:须与新季度互动记录中的活动代码一致", "campaign")
    carried = CommentedSeq()
    actions = move.loaded.plan.review.actions
    kept = [a for a in actions if a.status == "open"]
    for a in kept:
        carried.append(_flow_map(problem=a.problem, measure=a.measure, owner=a.owner, due=a.due,
                                 expected=a.expected))
        carried.yaml_add_eol_comment(f"{move.old_code} 未完成,延续", len(carried) - 1)
    dropped = len(actions) - len(kept)
    suggested = 0
    if run_actions is not None:
        due = _suggested_due(move)
        for a in run_actions[run_actions["status"] == "suggested"].itertuples():
            carried.append(_flow_map(problem=a.problem, measure=a.measure, owner=a.owner, due=due,
                                     expected=a.expected))
            carried.yaml_add_eol_comment(TODO_ACTION, len(carried) - 1)
            suggested += 1
    review["actions"] = carried
    notes.append(f"延续 {len(kept)} 条未完成的行动(保留责任人)" + (f",略去 {dropped} 条已完成的" if dropped else "")
                 + (f";加入 {suggested} 条复盘建议行动,请指定责任人" if suggested else ""))


def _suggested_due(move: _Move) -> date:
    """Due date of a suggested action: the end of the new quarter's first phase, else two weeks in."""
    meta = move.loaded.plan.meta
    if meta.phases:
        return move.shift(meta.phases[0].end)
    return move.shift(meta.period.start) + timedelta(days=14)


def _problems(target: Path) -> list[Problem]:
    """What is wrong with the written file (empty when it validates)."""
    from planlib.errors import PlanValidationError

    try:
        load_plan(target)
    except PlanValidationError as exc:
        return list(exc.problems)
    return []


def _dump(yaml: Any, doc: Any, old: tuple[int, int], new: tuple[int, int]) -> str:
    buf = io.StringIO()
    yaml.dump(doc, buf)
    lines = buf.getvalue().splitlines(keepends=True)
    # the header comment names the quarter too; comments further down are the planner's own words
    for i, line in enumerate(lines):
        if not line.startswith("#"):
            break
        lines[i] = retitle(line, old, new)
    return "".join(lines)
