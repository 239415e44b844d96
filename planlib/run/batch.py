"""Run many plans at once: validate all first, isolate failures, resume, report progress.

Work is spread over worker processes that live for the whole batch, so papermill, nbconvert
and the report template are imported once per worker, and each worker keeps one Jupyter
kernel across its plans (the namespace is reset before every stage). A plan whose kernel dies
is retried once with a fresh kernel; any other failure is final for that plan and never stops
the others — a plan over ``plan_timeout`` or one whose output folder cannot be written fails
alone. With ``scheduler`` the same plans go to a Dask distributed cluster instead, one task per
plan (Dask is an optional dependency: ``pip install planlib[dask]``).

SIGTERM stops a batch as Ctrl-C does: workers and their kernels are stopped, and
:class:`BatchInterrupted` carries what finished so the command can still print its summary.
"""

from __future__ import annotations

import atexit
import glob
import json
import multiprocessing
import re
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planlib.errors import PlanError, PlanValidationError
from planlib.run.folder import CurrentFingerprints, changed_database, changed_input, output_error
from planlib.run.signals import sigterm_as_ctrl_c

STAGE_IN_LINE = re.compile(r"\] (\d\d_\w+)")


@dataclass
class PlanOutcome:
    """What happened to one plan of a batch (picklable: it crosses process boundaries)."""

    plan: str
    unit: str = ""
    quarter: str = ""
    status: str = "pending"  # ok / failed / skipped (resume: unchanged) / interrupted (never finished)
    folder: str = ""
    error: str = ""
    failed_stage: str = ""
    seconds: float = 0.0
    attempts: int = 0

    @property
    def report(self) -> Path | None:
        return Path(self.folder) / "report.html" if self.folder else None

    @property
    def failed_notebook(self) -> Path | None:
        return Path(self.folder) / f"{self.failed_stage}.ipynb" if self.failed_stage else None


@dataclass
class BatchResult:
    outcomes: list[PlanOutcome] = field(default_factory=list)
    indexes: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # e.g. an index page that could not be written

    @property
    def failed(self) -> list[PlanOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the batch; ``result`` holds the plans that finished before."""

    def __init__(self, result: BatchResult):
        super().__init__()
        self.result = result


def expand_plans(patterns: Iterable[str | Path]) -> list[Path]:
    """Plan files named by paths or globs (``parameters/*/2024Q2.yaml``), each once, in order."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        text = str(pattern)
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        if not matches:
            raise PlanError(f"{text}: 没有匹配的计划文件 — 请检查路径或通配符")
        for match in matches:
            path = Path(match)
            if path.name == "base.yaml":
                continue  # shared unit settings, not a plan of its own
            found[path.resolve()] = None
    return list(found)


def _unchanged_since_success(plan_path: Path, output_root: Path | None) -> bool:
    """The last published run succeeded and every stage's recorded inputs are unchanged."""
    return resume_reason(plan_path, output_root) is None


def resume_reason(plan_path: Path, output_root: Path | None) -> str | None:
    """Why ``--resume`` runs the plan again (one Chinese line), or ``None`` to skip it.

    Skipped only when the last published run succeeded with this planlib version and every
    stage's recorded inputs are unchanged: the plan files, data files and workbook it read (their
    hashes), and the database sources it read (their fingerprints: count and content hash,
    asked of each database once — new or changed rows make the plan run). A stage without a
    record (an older manifest), or a database that does not answer, means the plan runs.
    """
    from planlib import __version__
    from planlib.data.results import STAGES
    from planlib.plan.planfile import load_plan
    from planlib.run.stage import project_root

    loaded = load_plan(plan_path)
    meta = loaded.plan.meta
    root = output_root or project_root(plan_path.parent) / "outputs"
    manifest = Path(root) / meta.unit / meta.quarter / "manifest.json"
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
        stages = {s["stage"]: s for s in recorded["stages"]}
    except (OSError, ValueError, KeyError, TypeError):
        return f"{manifest.parent}: 还没有成功运行过(或运行记录无法读取)"
    if recorded.get("status") != "ok":
        return f"{manifest.parent}: 上次运行没有成功"
    version = recorded.get("versions", {}).get("planlib", "0+unknown")
    if version != __version__:
        return f"planlib 版本与上次运行不同({version} → {__version__})"
    for stage in STAGES:
        inputs = stages.get(stage, {}).get("inputs")
        if not inputs:
            return f"{manifest.parent}: 上次运行没有记录阶段 {stage} 读取了哪些文件"
        changed = changed_input(loaded, inputs)
        if changed is not None:
            return f"{changed}: 自阶段 {stage} 上次运行以来已修改"
    current = CurrentFingerprints(loaded)
    if not current.sources:
        return None
    try:
        for stage in STAGES:
            sources = stages[stage].get("sources")
            if sources is None:
                return f"{manifest.parent}: 上次运行没有记录阶段 {stage} 读取的数据库数据"
            changed = changed_database(sources, current)
            if changed is not None:
                label, what = changed
                return f"{label}: 自阶段 {stage} 上次运行以来{what}"
    except PlanError as exc:  # the database does not answer (one line, password masked)
        return f"无法确认数据库中的数据是否变化:{exc}"
    return None


# ------------------------------------------------------------------------------ workers
_SESSION: Any = None  # one kernel per worker process, kept across its plans


def _worker_init() -> None:
    from planlib.run.lean import skip_iri_grammar

    skip_iri_grammar()  # before anything imports nbformat
    # A SIGTERM (batch interrupted, pool torn down) unwinds like Ctrl-C, so kernels are stopped;
    # a worker leaving normally stops its kernel at exit (spawned workers run atexit handlers).
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    atexit.register(_stop_worker_kernel)
    _worker_kernel().launch()  # boots while this worker imports what it needs for its first plan


def _run_one(plan: str, output_root: str | None, events: Any = None, share_kernel: bool = True,
             plan_timeout: float | None = None) -> PlanOutcome:
    """Run one plan in this process; retried once when its kernel died under it.

    ``plan_timeout`` bounds the plan's run as a whole (both attempts together).
    """
    from planlib.plan.planfile import load_plan
    from planlib.run.runner import run_plan

    def log(line: str) -> None:
        if events is not None:
            events.put((plan, line))

    meta = load_plan(plan).plan.meta
    outcome = PlanOutcome(plan, meta.unit, meta.quarter)
    started = time.perf_counter()
    try:
        for attempt in (1, 2):
            outcome.attempts = attempt
            left = plan_timeout - (time.perf_counter() - started) if plan_timeout else None
            result = run_plan(plan, output_root=Path(output_root) if output_root else None, log=log,
                              kernel=_worker_kernel() if share_kernel else None,
                              plan_timeout=max(left, 0.001) if left is not None else None)
            outcome.status, outcome.folder = result.status, str(result.folder)
            failed = next((s for s in result.stages if s.status == "failed"), None)
            outcome.failed_stage, outcome.error = (failed.stage, failed.error) if failed else ("", "")
            if result.ok or not result.kernel_died:
                break
            log(f"[重试] {plan}: 内核意外退出,换一个新内核重试一次")
    except PlanError as exc:  # the same plan running elsewhere, its output folder read-only …
        outcome.status, outcome.error = "failed", str(exc)
    except KeyboardInterrupt:
        if _SESSION is not None:
            _SESSION.stop()
        raise
    outcome.seconds = round(time.perf_counter() - started, 2)
    return outcome


def _worker_kernel() -> Any:
    """This process's kernel session (created, not started, on first use)."""
    global _SESSION
    if _SESSION is None:
        from planlib.data.results import STAGES
        from planlib.run.kernel import KernelSession, workbook_imports
        from planlib.run.paths import workbook_path, workbooks_dir

        _SESSION = KernelSession(workbooks_dir(), warm_up=workbook_imports(workbook_path(s) for s in STAGES))
    return _SESSION


def _run_one_fresh_kernel(plan: str, output_root: str | None, plan_timeout: float | None = None) -> PlanOutcome:
    """The Dask task: a worker may run several tasks in threads, so each plan owns its kernel."""
    return _run_one(plan, output_root, share_kernel=False, plan_timeout=plan_timeout)


def _stop_worker_kernel() -> None:
    global _SESSION
    if _SESSION is not None:
        _SESSION.stop()
        _SESSION = None


# ------------------------------------------------------------------------------ the batch
def run_batch(
    patterns: Sequence[str | Path],
    *,
    workers: int = 2,
    resume: bool = False,
    scheduler: str | None = None,
    output_root: Path | None = None,
    progress: Callable[[dict], None] | None = None,
    plan_timeout: float | None = None,
) -> BatchResult:
    """Validate every plan, then run them; returns each plan's outcome and the index pages.

    Raises :class:`PlanValidationError` listing the problems of every invalid plan before
    anything runs, and :class:`BatchInterrupted` on Ctrl-C or SIGTERM. ``progress`` receives
    events (``{"kind": "stage"|"done", ...}``). ``plan_timeout`` (seconds) fails a plan whose
    stages together run longer; the other plans go on.
    """
    plans = expand_plans(patterns)
    with sigterm_as_ctrl_c():
        if scheduler is None and (len(plans) == 1 or workers <= 1):
            _worker_kernel().launch()  # runs in this process: its kernel starts while plans are checked
        try:
            return _validate_and_run(plans, workers, resume, scheduler, output_root,
                                     progress or (lambda _event: None), plan_timeout)
        finally:
            _stop_worker_kernel()  # this process's kernel, if it started one: never left running


def _validate_and_run(plans: list[Path], workers: int, resume: bool, scheduler: str | None,
                      output_root: Path | None, emit: Callable[[dict], None],
                      plan_timeout: float | None = None) -> BatchResult:
    from planlib.plan.planfile import validate_files
    from planlib.run.batch_index import write_indexes

    problems = validate_files(plans)
    if problems:
        raise PlanValidationError(problems)
    started = time.perf_counter()
    outcomes: dict[str, PlanOutcome] = {}
    todo: list[str] = []
    for plan in plans:
        reason = resume_reason(plan, output_root) if resume else ""
        if reason is None:
            skipped = _skipped(plan, output_root)
            outcomes[str(plan)] = skipped
            emit({"kind": "done", "outcome": skipped})
        else:
            if reason:
                emit({"kind": "rerun", "plan": str(plan), "reason": reason})
            todo.append(str(plan))
    emit({"kind": "start", "total": len(plans), "todo": len(todo)})

    root = str(output_root) if output_root else None
    try:
        if todo and scheduler:
            _run_on_dask(todo, root, scheduler, outcomes, emit, plan_timeout)
        elif len(todo) == 1 or workers <= 1:
            _run_inline(todo, root, outcomes, emit, plan_timeout)  # no pool to start: one plan, or one worker
        elif todo:
            _stop_worker_kernel()  # resumed to several plans after all: the pool's workers have their own
            _run_in_pool(todo, root, workers, outcomes, emit, plan_timeout)
    except KeyboardInterrupt:
        _stop_worker_kernel()
        ordered = [outcomes.get(str(p)) or _interrupted(p) for p in plans]
        raise BatchInterrupted(BatchResult(ordered, [], round(time.perf_counter() - started, 2))) from None

    ordered = [outcomes[str(p)] for p in plans]
    result = BatchResult(ordered, [], round(time.perf_counter() - started, 2))
    try:
        result.indexes = write_indexes(ordered, output_root)
    except OSError as exc:  # the plans' outcomes stand; only the index page is missing
        error = output_error(exc, Path(output_root or "outputs"))
        if error is None:
            raise
        result.problems.append(f"批量运行索引未生成:{error}")
    return result


def _interrupted(plan: Path) -> PlanOutcome:
    from planlib.plan.planfile import load_plan

    meta = load_plan(plan).plan.meta
    return PlanOutcome(str(plan), meta.unit, meta.quarter, "interrupted", error="批量运行被中断,未完成")


def _skipped(plan: Path, output_root: Path | None) -> PlanOutcome:
    from planlib.plan.planfile import load_plan
    from planlib.run.stage import project_root

    meta = load_plan(plan).plan.meta
    root = output_root or project_root(plan.parent) / "outputs"
    return PlanOutcome(str(plan), meta.unit, meta.quarter, "skipped",
                       str(Path(root) / meta.unit / meta.quarter))


class _Relay:
    """Stands in for the workers' event queue when plans run in this process."""

    def __init__(self, emit: Callable[[dict], None]):
        self.emit = emit

    def put(self, item: tuple[str, str]) -> None:
        plan, line = item
        match = STAGE_IN_LINE.search(line)
        if match:
            self.emit({"kind": "stage", "plan": plan, "stage": match.group(1)})


def _run_inline(todo: list[str], root: str | None, outcomes: dict[str, PlanOutcome],
                emit: Callable[[dict], None], plan_timeout: float | None = None) -> None:
    for plan in todo:  # on this process's kernel, which run_batch stops however it ends
        outcome = _run_one(plan, root, _Relay(emit), plan_timeout=plan_timeout)
        outcomes[plan] = outcome
        emit({"kind": "done", "outcome": outcome})


def _run_in_pool(todo: list[str], root: str | None, workers: int, outcomes: dict[str, PlanOutcome],
                 emit: Callable[[dict], None], plan_timeout: float | None = None) -> None:
    context = multiprocessing.get_context("spawn")  # no inherited sockets or threads in workers
    with context.Manager() as manager:
        events = manager.Queue()
        pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=context,
                                   initializer=_worker_init)
        try:
            futures = {pool.submit(_run_one, plan, root, events, True, plan_timeout): plan for plan in todo}
            pending = set(futures)
            while pending:
                _drain(events, emit)
                done = {f for f in pending if f.done()}
                for future in done:
                    outcome = future.result()
                    outcomes[futures[future]] = outcome
                    emit({"kind": "done", "outcome": outcome})
                pending -= done
                if pending:
                    time.sleep(0.1)
            _drain(events, emit)
            pool.shutdown(wait=True)
        except BaseException:
            for process in list(getattr(pool, "_processes", {}).values()):
                if process.is_alive():
                    process.terminate()  # SIGTERM: the worker stops its kernel on the way out
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _drain(events: Any, emit: Callable[[dict], None]) -> None:
    while not events.empty():
        plan, line = events.get()
        match = STAGE_IN_LINE.search(line)
        if match:
            emit({"kind": "stage", "plan": plan, "stage": match.group(1)})


def _run_on_dask(todo: list[str], root: str | None, scheduler: str, outcomes: dict[str, PlanOutcome],
                 emit: Callable[[dict], None], plan_timeout: float | None = None) -> None:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError:
        raise PlanError("--scheduler 需要 Dask:请安装 pip install 'planlib[dask]'") from None
    client = scheduler if not isinstance(scheduler, str) else Client(scheduler)
    try:
        futures = {client.submit(_run_one_fresh_kernel, plan, root, plan_timeout,
                                 key=f"planlib-{i}-{Path(plan).stem}", pure=False): plan
                   for i, plan in enumerate(todo)}
        for future in dask_completed(futures):
            outcome = future.result()
            outcomes[futures[future]] = outcome
            emit({"kind": "done", "outcome": outcome})
    finally:
        if isinstance(scheduler, str):
            client.close()


__all__ = ["BatchInterrupted", "BatchResult", "PlanOutcome", "expand_plans", "run_batch"]
