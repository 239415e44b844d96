"""The mid-campaign pulse: ``planlib run PLAN --as-of DATE``.

What a project manager checks on a given day: each checkpoint's KPI measured from the plan start
to its date against its threshold, an alert with the adjustment and its deadline for every miss,
the tasks overdue on that day, and how the checked KPIs have moved so far. The data is cut at the
end of ``as_of`` first, so the pulse of a past day shows what was known then, even when the CRM
export runs further.

It needs no kernel and no stage results: populations come from :mod:`planlib.metrics.segment` and KPIs
from :mod:`planlib.measure`, exactly as stages 02 and 05 compute them. The report is written
beside the published run as ``pulse-<date>.html`` (with ``pulse-<date>.json`` for machines),
under the plan's lock, and a later full run keeps it (see :mod:`planlib.run.runner`).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from planlib.errors import PlanError
from planlib.metrics.measure import Frames, KpiValue, announce, compute_kpis, fmt
from planlib.metrics.orders import FrameOrders, Orders, SourceOrders
from planlib.plan.kpis import CATALOGUE, small_sample_text
from planlib.plan.planfile import LoadedPlan, load_plan
from planlib.plan.schema import Plan
from planlib.publish import display
from planlib.run.folder import cover, output_errors, plan_lock, refuse_links, refuse_special_files
from planlib.run.stage import project_root
from planlib.stages.execution import schedule

# timestamp columns of each canonical source: events after the pulse day are not known yet
_EVENTS = {"transactions": ("order_date",), "surveys": ("survey_date",),
           "interactions": ("sent_at", "opened_at", "clicked_at", "responded_at"),
           "tickets": ("created_at", "first_response_at", "resolved_at")}
UNJUDGED = "无法判断"  # a due checkpoint whose KPI cannot be measured: a warning, never an all-clear
CHECKPOINT_COLUMNS = ["checkpoint", "due", "kpi_name", "threshold_text", "value_at_due", "value_now", "status",
                      "note", "owner"]


@dataclass
class PulseResult:
    as_of: date
    html: Path
    json: Path
    alerts: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    unjudged: list[str] = field(default_factory=list)


def pulse_paths(run_dir: Path, as_of: date) -> tuple[Path, Path]:
    return run_dir / f"pulse-{as_of:%Y-%m-%d}.html", run_dir / f"pulse-{as_of:%Y-%m-%d}.json"


def truncate(frames: Frames, as_of: date) -> dict[str, pd.DataFrame]:
    """The data as known at the end of ``as_of``: later rows dropped, later steps of a message unset."""
    cut = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    out = {}
    for name, df in frames.items():
        if not isinstance(df, pd.DataFrame):  # orders answered underneath carry their own cut (``until``)
            out[name] = df
            continue
        cols = [c for c in _EVENTS.get(name, ()) if c in df.columns]
        if not cols:
            out[name] = df
            continue
        kept = df[~(df[cols[0]] >= cut)].copy()  # NaT in the first column (unknown date) stays
        for c in cols[1:]:
            kept.loc[kept[c] >= cut, c] = pd.NaT
        out[name] = kept
    return out


def _missed(kpi: str, threshold: float, value: float | None) -> bool | None:
    if value is None:
        return None
    return value < threshold if CATALOGUE[kpi].direction == "higher" else value > threshold


def checkpoint_status(plan: Plan, frames: Frames, customers: pd.DataFrame,
                      as_of: date) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Each checkpoint on ``as_of``: its KPI at its date and so far, status, the alerts and the
    checkpoints that could not be judged (sentences with the reason).

    A checkpoint whose date has come is judged on the KPI measured from the plan start to that
    date; one still ahead shows the value so far as an early signal (status —). A due checkpoint
    whose KPI cannot be measured, or rests on fewer than MIN_BASE units (样本不足), is 无法判断 — a
    warning with the reason, never counted as met nor as missed.
    """
    start = plan.meta.period.start
    table = schedule.checkpoints_table(plan)
    wanted = sorted(set(table["kpi"]))
    cache: dict[date, dict[str, KpiValue]] = {}
    days = {min(as_of, plan.meta.period.end)} | {cp.due for cp in plan.checkpoints if cp.due <= as_of}
    announce(frames, [(start, day) for day in sorted(days)])  # one pass for all of them, if underneath

    def measured(kpi: str, day: date) -> KpiValue:
        if day not in cache:
            cache[day] = compute_kpis(plan, frames, customers, window=(start, day), kpis=wanted)
        return cache[day][kpi]

    def judged(kpi: str, day: date) -> tuple[float | None, str]:
        """The value a checkpoint is judged on: None (with the reason) when unknown or on too small a base."""
        kv = measured(kpi, day)
        if kv.small:
            return None, f"{small_sample_text(kv.base)},不下结论"
        return kv.value, kv.explanation.removeprefix("无数据: ")

    rows, alerts, unjudged = [], [], []
    for cp, r in zip(plan.checkpoints, table.itertuples(), strict=True):
        unit = CATALOGUE[cp.kpi].unit
        now = measured(cp.kpi, min(as_of, plan.meta.period.end)).value
        due_value, why = judged(cp.kpi, cp.due) if cp.due <= as_of else (None, "")
        act_by = f"{r.act_by:%Y-%m-%d}" if r.act_by == r.act_by.normalize() else f"{r.act_by:%Y-%m-%d %H:%M}"
        if cp.due > as_of:
            status = "—"
            early = _missed(cp.kpi, cp.threshold, now)
            note = f"{(cp.due - as_of).days} 天后检查" + (";目前低于阈值,需关注" if early else "")
        else:
            missed = _missed(cp.kpi, cp.threshold, due_value)
            status = {None: UNJUDGED, True: "未达成", False: "达成"}[missed]
            note = ""
            if missed is None:
                note = f"{UNJUDGED}:{why}"
                unjudged.append(
                    f"{cp.name}:截至 {cp.due} {r.kpi_name}{UNJUDGED}({why}),不能确认是否达到阈值 "
                    f"{cp.threshold:g}{unit}。请{cp.owner or '负责人'}核对数据,最迟 {act_by} 决定是否启动调整:{cp.action}")
            elif missed:
                note = f"预警:最迟 {act_by} 启动调整"
                alerts.append(
                    f"{cp.name}:截至 {cp.due} {r.kpi_name} {fmt(due_value, unit)},"
                    f"{'低于' if CATALOGUE[cp.kpi].direction == 'higher' else '高于'}阈值 {cp.threshold:g}{unit}。"
                    f"请{cp.owner or '负责人'}在 {cp.respond_within_hours} 小时内(最迟 {act_by})启动调整:{cp.action}")
        rows.append({"checkpoint": cp.name, "due": pd.Timestamp(cp.due), "kpi_name": r.kpi_name,
                     "threshold_text": r.threshold_text,
                     "value_at_due": fmt(measured(cp.kpi, cp.due).value, unit) if cp.due <= as_of else "—",
                     "value_now": fmt(now, unit), "status": status, "note": note, "owner": cp.owner or ""})
    return pd.DataFrame(rows, columns=CHECKPOINT_COLUMNS), alerts, unjudged


def warnings_html(alerts: list[str], unjudged: list[str], *, due: int) -> str:
    """The pulse's first block: alerts and checkpoints that could not be judged; the all-clear only
    when every due checkpoint was judged and met (and says so plainly when none is due yet)."""
    ok = "所有已到期的检查点都达到了阈值。" if due else "还没有到期的检查点。"
    return display.html_findings([*alerts, *(f"{UNJUDGED} — {u}" for u in unjudged)], ok=ok)


def kpi_progress(plan: Plan, frames: Frames, customers: pd.DataFrame, as_of: date, step_days: int = 7) -> pd.DataFrame:
    """The checked KPIs measured from the plan start to every ``step_days``-th day up to ``as_of``."""
    start = plan.meta.period.start
    end = min(as_of, plan.meta.period.end)
    days = [start + timedelta(days=n) for n in range(step_days - 1, (end - start).days + 1, step_days)]
    days = sorted(set(days) | {end})
    kpis = sorted({cp.kpi for cp in plan.checkpoints})
    rows = []
    announce(frames, [(start, day) for day in days])
    for day in days:
        values = compute_kpis(plan, frames, customers, window=(start, day), kpis=kpis)
        for cp in plan.checkpoints:
            rows.append({"date": pd.Timestamp(day), "kpi_name": CATALOGUE[cp.kpi].label(plan.review.attribution_days), "checkpoint": cp.name,
                         "value": values[cp.kpi].value, "threshold": float(cp.threshold),
                         "due": pd.Timestamp(cp.due), "unit": CATALOGUE[cp.kpi].unit})
    return pd.DataFrame(rows, columns=["date", "kpi_name", "checkpoint", "value", "threshold", "due", "unit"])


# ------------------------------------------------------------------------------ report
def _notebook(plan: Plan, as_of: date, checkpoints: pd.DataFrame, alerts: list[str], unjudged: list[str],
              tasks: pd.DataFrame, progress: pd.DataFrame):
    import nbformat

    from planlib.publish import charts
    from planlib.stages.execution import charts as execution_charts

    def html(fragment: str):
        return nbformat.v4.new_output("display_data", data={"text/html": fragment, "text/plain": ""})

    def png(fig) -> object:
        import base64

        return nbformat.v4.new_output("display_data", data={
            "image/png": base64.b64encode(display.png_bytes(fig)).decode(), "text/plain": ""})

    def cell(*outputs):
        c = nbformat.v4.new_code_cell("")
        c.outputs = list(outputs)
        return c

    overdue = tasks[tasks["state"] == "逾期未完成"]
    md = nbformat.v4.new_markdown_cell
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        md(f"截至 **{as_of:%Y-%m-%d}**(数据截至当天结束)的检查点、预警与任务进度。"
           "检查日已到的检查点按其检查日的指标判断,尚未到期的检查点显示目前的数值作为提前提示。"),
        md("## 1. 预警"),
        cell(html(warnings_html(alerts, unjudged, due=int((checkpoints["due"] <= pd.Timestamp(as_of)).sum())))),
        md("## 2. 检查点"),
        cell(html(display.html_table(checkpoints, title="检查点与指标"))),
        cell(png(charts.kpi_progress(progress, as_of))),
        md("## 3. 任务进度"),
        cell(html(display.html_findings(
            [f"{r.task_id} {r.name}({r.owner})计划 {r.end:%Y-%m-%d} 完成,已逾期 {r.overdue_days} 天" for r in overdue.itertuples()],
            ok="没有逾期未完成的任务。"))),
        cell(html(display.html_table(tasks, title=f"任务状态(截至 {as_of:%Y-%m-%d})",
                                     columns=["task_id", "name", "owner", "start", "end", "state", "overdue_days"]))),
        cell(png(execution_charts.gantt(schedule.tasks_table(plan), milestones=[(f"检查日 {as_of:%m-%d}", as_of)],
                              checkpoints=[(cp.name, cp.due) for cp in plan.checkpoints if cp.due != as_of]))),
    ]
    return nb


def write_pulse(loaded: LoadedPlan, frames: Frames, customers: pd.DataFrame, as_of: date, run_dir: Path) -> PulseResult:
    """Compute the pulse of ``as_of`` and write its HTML report and JSON into ``run_dir``."""
    import nbformat

    from planlib.publish.report import build_report

    plan = loaded.plan
    frames = truncate(frames, as_of)
    checkpoints, alerts, unjudged = checkpoint_status(plan, frames, customers, as_of)
    tasks = schedule.task_status(plan, as_of)
    progress = kpi_progress(plan, frames, customers, as_of)
    html_path, json_path = pulse_paths(run_dir, as_of)
    overdue = [f"{r.task_id} {r.name}" for r in tasks[tasks["state"] == "逾期未完成"].itertuples()]
    with tempfile.TemporaryDirectory() as tmp:
        nb_path = Path(tmp) / "中期检查.ipynb"
        nbformat.write(_notebook(plan, as_of, checkpoints, alerts, unjudged, tasks, progress), nb_path)
        build_report([nb_path], html_path, title=f"{plan.meta.title} · 中期检查 {as_of:%Y-%m-%d}",
                     cover=[("检查日", f"{as_of:%Y-%m-%d}"), ("预警", f"{len(alerts)} 项"),
                            (UNJUDGED, f"{len(unjudged)} 项"),
                            ("逾期任务", f"{len(overdue)} 项"), *cover(loaded)])
    record = {"as_of": as_of.isoformat(), "plan": str(loaded.path), "parameters_sha256": loaded.digest,
              "alerts": alerts, "unjudged": unjudged, "overdue_tasks": overdue,
              "checkpoints": json.loads(checkpoints.to_json(orient="records", date_format="iso", force_ascii=False))}
    json_path.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    _refuse_personal_data([html_path, json_path], frames.get("customers"))
    return PulseResult(as_of, html_path, json_path, alerts, overdue, unjudged)


def _refuse_personal_data(paths: list[Path], customers: pd.DataFrame | None) -> None:
    """The pulse's files pass the same personal-data scan as a run's, or are removed and refused."""
    from planlib.publish.scan import PersonalDataFound, customer_names, scan_files

    findings = scan_files(paths, customer_names(customers), root=paths[0].parent)
    if findings:
        for path in paths:
            path.unlink(missing_ok=True)
        raise PersonalDataFound(findings)


def frames_as_of(loaded: LoadedPlan, as_of: date) -> dict[str, pd.DataFrame | Orders]:
    """Every configured data source as known at the end of ``as_of`` (:func:`truncate`; demo files
    generated if needed; the customer list derived from the orders when the plan has none).

    The orders are :class:`~planlib.metrics.orders.Orders`: loaded and cut, or — a large file, a
    folder of Parquet parts or a database, as stage 02 decides (``metrics.customers.engine_for``) —
    answered where they are with the same cut (``until``), never loaded whole.
    """
    from planlib.data.demo import ensure_demo_data
    from planlib.data.load import customers_from_transactions, load_source
    from planlib.metrics.customers import sources_underneath

    plan = loaded.plan
    ensure_demo_data(plan.data, loaded.base_dir)
    underneath = sources_underneath(plan, loaded.base_dir)
    sources = {name: load_source(name, src, loaded.base_dir)
               for name in ("customers", "transactions", "interactions", "surveys", "tickets")
               if (src := getattr(plan.data, name)) is not None and name not in underneath}
    frames: dict[str, pd.DataFrame | Orders] = {name: found.frame for name, found in sources.items()}
    if "customers" not in frames and "transactions" in sources:
        frames["customers"] = customers_from_transactions(sources["transactions"]).frame
    frames = truncate(frames, as_of)
    if "transactions" in frames:
        frames["transactions"] = FrameOrders(frames["transactions"])
    elif underneath:
        frames["transactions"] = SourceOrders(plan.data.transactions, loaded.base_dir, until=as_of)
    return frames


def customers_as_of(loaded: LoadedPlan, frames: dict) -> pd.DataFrame:
    """The ``customers`` result (RFM, tiers, CLV, scope and control) from :func:`frames_as_of`'s
    frames, computed as stage 02 computes it (underneath for orders answered where they are; the
    customer list of such orders is put into ``frames["customers"]`` when the plan has none)."""
    from planlib.metrics.customers import analyse_data

    return analyse_data(frames, loaded.plan, loaded.base_dir).customers


def run_pulse(plan_path: str | Path, as_of: date, *, output_root: Path | None = None) -> PulseResult:
    """``planlib run PLAN --as-of DATE``: write ``outputs/<unit>/<quarter>/pulse-<date>.html``."""
    loaded = load_plan(plan_path)
    plan = loaded.plan
    if as_of < plan.meta.period.start:
        raise PlanError(f"--as-of {as_of}: 活动 {plan.meta.period.start} 才开始,还没有可检查的数据;"
                        "请给出计划周期内的日期")
    if not plan.checkpoints:
        raise PlanError(f"{loaded.path}: 计划没有检查点(checkpoints),中期检查无从比较;"
                        "请先在计划中添加检查点(指标、阈值、日期、调整措施)")
    refuse_special_files(loaded)  # a pipe or a device as data file would block the pulse forever
    frames = frames_as_of(loaded, as_of)
    customers = customers_as_of(loaded, frames)
    root = Path(output_root) if output_root else project_root(loaded.path.parent) / "outputs"
    unit_dir = root / plan.meta.unit
    with output_errors(unit_dir), plan_lock(unit_dir, plan.meta.quarter):
        run_dir = unit_dir / plan.meta.quarter
        refuse_links(run_dir, *pulse_paths(run_dir, as_of))  # never written through a link
        run_dir.mkdir(parents=True, exist_ok=True)
        return write_pulse(loaded, frames, customers, as_of, run_dir)


#END
