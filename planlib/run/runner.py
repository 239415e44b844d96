"""Run a plan's stage workbooks with papermill and publish the run folder.

A run executes into a staging folder beside the published one and is moved into place only
when every stage reached its last cell (see :func:`planlib.run.folder.publish`, recoverable at
every instant). A failed run becomes ``<quarter>.failed/`` with a report that says it failed;
the last good ``<quarter>/`` is never touched. A lock per plan keeps two runs of the same plan
from interleaving.

The plan, data and workbook files are hashed once as the run starts. Each stage records the
hashes of the files it read (its sentinel, then the manifest); a file that changed before the
run ends fails the run, so no report mixes two versions of an input. A database source is
recorded by its fingerprint (:func:`planlib.data.sql.fingerprint_of`: count and content hash
computed in the database); two stages of one run that read different data fail it too.
``--stage`` re-runs one stage only while every other stage's recorded inputs — files and
database sources — are unchanged.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from planlib.data import results
from planlib.errors import PlanError
from planlib.plan.planfile import LoadedPlan, load_plan
from planlib.run import paths
from planlib.run.folder import (
    CurrentFingerprints,
    carry_over,
    changed_database,
    changed_input,
    copy_run,
    cover,
    data_files,
    input_hashes,
    inputs_digest,
    output_error,
    plan_lock,
    publish,
    refuse_links,
    rows_change,
)
from planlib.run.kernel import KernelSession, workbook_imports
from planlib.run.paths import input_file, input_key, project_root
from planlib.run.stage import sentinel_path

WORKBOOK_PARAMETERS = ("plan_path", "run_dir")
VERSIONED = ("planlib", "papermill", "nbconvert", "nbclient", "ipykernel", "pandas", "seaborn",
             "matplotlib", "pydantic", "jupyterlab")


@dataclass
class StageRun:
    stage: str
    status: str = "pending"  # pending / ok / failed / skipped / reused
    seconds: float = 0.0
    notebook: str = ""
    error: str = ""
    inputs: dict[str, str] = field(default_factory=dict)  # path → sha256 of each file the stage read
    # database source → what the stage read there (data.sql.fingerprint_of: masked query, rows, hash)
    sources: dict[str, dict] = field(default_factory=dict)


@dataclass
class RunResult:
    plan: Path
    status: str
    folder: Path  # the published folder on success, the .failed folder otherwise
    stages: list[StageRun] = field(default_factory=list)
    kernel_died: bool = False  # the kernel was gone after the failure: worth one retry
    failure: str = ""  # why the run failed (a stage's error, the personal-data scan …)

    @property
    def report(self) -> Path:
        return self.folder / "report.html"

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def check_workbooks(stages: Sequence[str]) -> None:
    """Fail before any kernel starts if a workbook is missing or lacks the parameters we pass."""
    import papermill

    for stage in stages:
        path = paths.workbook_path(stage)
        if not path.exists():
            raise PlanError(f"{path}: 找不到阶段工作簿")
        declared = set(papermill.inspect_notebook(str(path)))
        missing = [p for p in WORKBOOK_PARAMETERS if p not in declared]
        if missing:
            raise PlanError(f"{path}: parameters 单元格缺少参数 {', '.join(missing)} — 请恢复工作簿的 parameters 单元格")


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        with suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def _execute_stage(stage: str, loaded: LoadedPlan, run_dir: Path, kernel: KernelSession,
                   log_output: bool, deadline: float) -> None:
    """Execute one stage's workbook; ``deadline`` (``time.monotonic()``) bounds the whole stage."""
    import papermill

    papermill.execute_notebook(
        str(paths.workbook_path(stage)),
        str(run_dir / f"{stage}.ipynb"),
        parameters={"plan_path": str(loaded.path), "run_dir": str(run_dir)},
        progress_bar=False,
        log_output=log_output,
        kernel_name=kernel.kernel_name,
        stage_deadline=deadline,
        **kernel.execute_kwargs(),
    )


def _is_timeout(exc: BaseException) -> bool:
    from nbclient.exceptions import CellTimeoutError

    return isinstance(exc, (CellTimeoutError, TimeoutError))


def _failure_text(exc: BaseException, loaded: LoadedPlan) -> str:
    """One line saying why a stage failed, in the reader's terms where we know them."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"{exc.ename}: {exc.evalue}(第 {exc.exec_count} 个执行的单元格)"
    if _is_timeout(exc):
        return (f"阶段运行超过 {loaded.plan.run.stage_timeout_s} 秒被中止 — 检查数据量,"
                "或在计划中调大 run.stage_timeout_s")
    if isinstance(exc, DeadKernelError):
        return "内核在执行中意外退出(可能被终止或内存不足)"
    if isinstance(exc, NoSuchKernel):
        return f"找不到 Jupyter 内核 {exc.name!r} — 请运行 make setup 安装 ipykernel"
    return f"{type(exc).__name__}: {exc}"


def run_plan(
    plan_path: str | Path,
    *,
    stages: Sequence[str] | None = None,
    output_root: Path | None = None,
    log: Callable[[str], None] = print,
    log_output: bool = False,
    kernel: KernelSession | None = None,
    plan_timeout: float | None = None,
) -> RunResult:
    """Validate ``plan_path``, execute its stages and publish the run folder.

    ``stages`` limits the run to some stages (``--stage``); the others' stored results are
    taken from the published folder, which must then exist, and the files they read must be
    unchanged. ``kernel`` is a session shared with other plans (a batch worker's); without it
    the run starts and stops its own. ``plan_timeout`` (seconds, a batch's ``--plan-timeout``)
    bounds the whole run's stages as ``run.stage_timeout_s`` bounds each one.
    """
    deadline = time.monotonic() + plan_timeout if plan_timeout else None
    loaded = load_plan(plan_path)
    meta = loaded.plan.meta
    chosen = list(stages) if stages else list(results.STAGES)
    root = Path(output_root) if output_root else project_root(loaded.path.parent) / "outputs"
    unit_dir = root / meta.unit
    published = unit_dir / meta.quarter
    staging = unit_dir / f".{meta.quarter}.staging"
    failed = unit_dir / f"{meta.quarter}.failed"

    with _clear_disk_errors(unit_dir, staging), plan_lock(unit_dir, meta.quarter):
        refuse_links(staging, failed)  # the plan's lock has finished any interrupted publish
        if staging.exists():
            shutil.rmtree(staging)  # left by a run that was killed; we hold the lock
        partial = len(chosen) < len(results.STAGES)
        if partial and not published.exists():
            raise PlanError(f"{published}: 还没有成功运行过的结果 — 请先完整运行一次 planlib run {loaded.path}")
        own_kernel = kernel is None
        session = kernel
        try:
            if partial:
                copy_run(published, staging)
            else:
                staging.mkdir(parents=True)
            if own_kernel:
                session = KernelSession(paths.workbooks_dir(), log_path=staging / "kernel.log",
                                        warm_up=workbook_imports(map(paths.workbook_path, chosen)))
            # The kernel starts (and imports what the stages import) on the other core while
            # this process checks the workbooks, prepares the run folder and loads the report
            # templates: a single plan does not wait for the two one after the other.
            session.launch()
            check_workbooks(chosen)
            if not partial:
                carry_over(published, staging)  # mid-campaign pulse reports outlive a full re-run
            _write_parameters(staging, loaded, published)

            from planlib.data.demo import ensure_demo_data

            ensure_demo_data(loaded.plan.data, loaded.base_dir)
            from planlib.publish.report import warm_up

            warm_up()  # nbconvert and the report templates, loaded while the kernel starts
            # what the manifest records about the inputs: taken as the run starts (and while
            # the kernel is still importing, so it costs the run nothing); every file hashed once
            hashes = input_hashes(loaded, [paths.workbook_path(s) for s in results.STAGES])
            facts = _run_facts(loaded)
            started = datetime.now()
            runs = [StageRun(s, status="reused" if s not in chosen else "pending") for s in results.STAGES]
            if partial:
                _check_reused(staging, runs, published, loaded)
            status, failure, died = _run_stages(runs, loaded, staging, session, log, log_output, hashes,
                                                deadline, plan_timeout)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)  # nothing ran to report on (or Ctrl-C)
            raise
        finally:
            if own_kernel and session is not None:
                session.stop()

        from planlib.publish.scan import PersonalDataFound, scan_run_folder, withhold

        _write_manifest(staging, loaded, runs, status, started, facts)
        _export_report(staging, loaded, runs, status, failure)
        names = _customer_names(loaded)
        findings = scan_run_folder(staging, names)  # every file the run publishes, failed runs too
        if findings:  # unmasked personal data in a report, notebook, result or export: never publish it
            status, failure = "failed", str(PersonalDataFound(findings))
            withhold(staging, findings)
            _write_manifest(staging, loaded, runs, status, started, facts)
            _export_report(staging, loaded, runs, status, failure)
            # the failed report is rebuilt from what is left; if it still shows a value (the plan's own
            # text on its cover, say), it is withheld too and replaced by a page with the reasons only
            if withhold(staging, scan_run_folder(staging, names)):
                from planlib.publish.report import build_report

                build_report([], staging / "report.html", title="运行失败:输出中有未脱敏的个人信息", cover=[],
                             status=status, failure=failure, first_screen=False)
        if status == "ok":
            publish(staging, published)
            if failed.exists():
                shutil.rmtree(failed)  # the failure it recorded has been fixed
            return RunResult(loaded.path, status, published, runs)
        if failed.exists():
            shutil.rmtree(failed)
        os.replace(staging, failed)
        return RunResult(loaded.path, status, failed, runs, kernel_died=died, failure=failure)


@contextmanager
def _clear_disk_errors(unit_dir: Path, staging: Path) -> Iterator[None]:
    """A full disk or a read-only output folder is the user's to fix: say so, keep the old run."""
    try:
        yield
    except OSError as exc:
        error = output_error(exc, unit_dir)
        if error is None:
            raise
        with suppress(OSError):
            shutil.rmtree(staging)
        raise error from exc


def _check_reused(staging: Path, runs: list[StageRun], published: Path, loaded: LoadedPlan) -> None:
    """Refuse ``--stage`` when a stage it reuses read a file, or a database source, that has
    changed since it ran.

    The reused stages' records (the files they read and their hashes, the database sources and
    their fingerprints) carry over to the new manifest, so ``--resume`` still compares what each
    stage really read. Each database source is asked for its fingerprint once (a count and a hash
    computed in the database; no rows are read).
    """
    try:
        recorded = {s["stage"]: s for s in json.loads((staging / "manifest.json").read_text(encoding="utf-8"))["stages"]}
    except (OSError, ValueError, KeyError, TypeError):
        recorded = {}
    fix = "请完整运行所有阶段(去掉 --stage)"
    root = paths.project_root(loaded.path.parent)
    current = CurrentFingerprints(loaded)
    for run in runs:
        if run.status != "reused":
            continue
        inputs = recorded.get(run.stage, {}).get("inputs")
        if not inputs:
            raise PlanError(f"{published}: 上次运行没有记录阶段 {run.stage} 读取了哪些文件,无法确认它的结果仍然有效 — {fix}")
        changed = changed_input(loaded, inputs)  # hashed as the run started: remembered, not read again
        if changed and input_key(changed, root) not in inputs:
            raise PlanError(f"{changed}: 阶段 {run.stage} 上次运行时读取的不是这个计划文件 — {fix}")
        if changed:
            raise PlanError(f"{changed}: 自阶段 {run.stage} 上次运行以来已修改,沿用它的结果会混用新旧输入 — {fix}")
        sources = recorded.get(run.stage, {}).get("sources")
        if current.sources and sources is None:
            raise PlanError(f"{published}: 上次运行没有记录阶段 {run.stage} 读取的数据库数据,无法确认它的结果仍然有效 — {fix}")
        if current.sources:
            database = changed_database(sources, current)
            if database:
                label, what = database
                raise PlanError(f"{label}: 自阶段 {run.stage} 上次运行以来{what},沿用它的结果会混用新旧数据 — {fix}")
        run.inputs, run.sources = dict(inputs), dict(sources or {})


def _database_changed_during_run(run: StageRun, seen: dict[str, dict], loaded: LoadedPlan) -> str | None:
    """A database source this stage read with other data than an earlier stage of the same run
    (``seen``: the first fingerprint of each source in this run, updated here)."""
    from planlib.data.sql import label_of

    for name, found in run.sources.items():
        first = seen.setdefault(name, found)
        if first.get("sha256") != found.get("sha256"):
            source = getattr(loaded.plan.data, name)
            return (f"{label_of(name, source)}: 在运行期间数据库中的数据发生了变化({rows_change(first, found)}),"
                    "各阶段读到的不一致 — 请等写入结束后重新运行,"
                    "或在 query 中用截止日期限定读取的数据(例如 WHERE order_date < '2024-07-01')")
    return None


def _changed_during_run(run: StageRun, hashes: dict[str, str], root: Path) -> Path | None:
    """A file the stage read whose bytes differ from those hashed when the run started."""
    return next((input_file(key, root) for key, digest in run.inputs.items() if key in hashes and hashes[key] != digest),
                None)


def _run_stages(runs: list[StageRun], loaded: LoadedPlan, staging: Path, kernel: KernelSession,
                log: Callable[[str], None], log_output: bool, hashes: dict[str, str],
                plan_deadline: float | None = None, plan_timeout: float | None = None) -> tuple[str, str, bool]:
    """Execute the pending stages in order in one kernel; stop at the first failure.

    Each stage has ``run.stage_timeout_s`` of wall-clock time (not per cell), and all of them
    together end by ``plan_deadline``. Returns the run's status, the failure sentence and
    whether the kernel died under it.
    """
    status, failure, died = "ok", "", False
    root = project_root(loaded.path.parent)
    stage_limit = loaded.plan.run.stage_timeout_s
    plan_text = (f"计划运行超过 {plan_timeout:g} 秒被中止(批量运行的 --plan-timeout)— 检查数据量,"
                 "或调大 --plan-timeout") if plan_timeout else ""
    last = None
    seen: dict[str, dict] = {}  # database source → the fingerprint the first stage to read it recorded
    for run in runs:
        if run.status == "reused":  # checked against the database as the run started (_check_reused)
            for name, found in run.sources.items():
                seen.setdefault(name, found)
    for index, run in enumerate(runs, start=1):
        if run.status == "reused":
            run.notebook = f"{run.stage}.ipynb"
            continue
        if status != "ok":
            run.status = "skipped"
            continue
        log(f"[{index}/{len(runs)}] {run.stage} {results.STAGE_TITLES[run.stage]} …")
        sentinel_path(staging, run.stage).unlink(missing_ok=True)
        t0 = time.perf_counter()
        deadline = time.monotonic() + stage_limit
        by_plan = plan_deadline is not None and plan_deadline < deadline
        deadline = min(deadline, plan_deadline) if plan_deadline is not None else deadline
        try:
            if time.monotonic() >= deadline:
                raise TimeoutError(plan_text)
            kernel.reset()  # a fresh namespace per stage (starting the kernel if it is not running)
            _execute_stage(run.stage, loaded, staging, kernel, log_output, deadline)
            sentinel = sentinel_path(staging, run.stage)
            if not sentinel.exists():
                raise PlanError("工作簿没有执行到最后一个单元格(中途退出或被跳过)")
            workbook = input_key(paths.workbook_path(run.stage), root)
            record = json.loads(sentinel.read_text(encoding="utf-8"))
            run.inputs = {**record.get("inputs", {}), workbook: hashes[workbook]}
            run.sources = record.get("sources", {})
            changed = _changed_during_run(run, hashes, root)
            if changed:
                raise PlanError(f"{changed}: 在运行期间被修改,本阶段读到的与运行开始时不同 — 请等文件不再变动后重新运行")
            database = _database_changed_during_run(run, seen, loaded)
            if database:
                raise PlanError(database)
            run.status = "ok"
            last = run
        except Exception as exc:  # noqa: BLE001 — any failure of a stage fails the run, visibly
            run.status = "failed"
            run.error = plan_text if by_plan and _is_timeout(exc) else _failure_text(exc, loaded)
            status, failure = "failed", f"阶段 {run.stage}({results.STAGE_TITLES[run.stage]})失败:{run.error}"
            died = kernel.km is not None and not kernel.alive
            if died or _is_timeout(exc):
                kernel.stop()  # dead, or still busy with the timed-out cell: never reuse it
        run.seconds = round(time.perf_counter() - t0, 2)
        run.notebook = f"{run.stage}.ipynb"
        log(f"      {'完成' if run.status == 'ok' else '失败'}({run.seconds:.1f} 秒)")
    changed = changed_input(loaded, hashes) if status == "ok" else None
    if changed and last is not None:  # after the last stage read it: the stages still disagree with the start
        last.status = "failed"
        last.error = f"{changed}: 在运行期间被修改,本次结果可能混用了两个版本 — 请等文件不再变动后重新运行"
        status, failure = "failed", f"阶段 {last.stage}({results.STAGE_TITLES[last.stage]})失败:{last.error}"
    return status, failure, died


def _write_parameters(staging: Path, loaded: LoadedPlan, published: Path) -> None:
    """``parameters.yaml`` lets anyone re-run a stage with ``papermill … -f parameters.yaml``."""
    text = (f"plan_path: {json.dumps(str(loaded.path), ensure_ascii=False)}\n"
            f"run_dir: {json.dumps(str(published), ensure_ascii=False)}\n")
    (staging / "parameters.yaml").write_text(text, encoding="utf-8")


def _run_facts(loaded: LoadedPlan) -> dict:
    """The manifest's record of the inputs: their hash (what ``--resume`` compares) and versions."""
    return {"inputs_sha256": inputs_digest(loaded.path, loaded), "versions": _versions()}


def _write_manifest(run_dir: Path, loaded: LoadedPlan, runs: list[StageRun], status: str,
                    started: datetime, facts: dict) -> None:
    manifest = {
        "plan": str(loaded.path),
        "plan_files": [str(p) for p in loaded.files],
        "unit": loaded.plan.meta.unit,
        "quarter": loaded.plan.meta.quarter,
        "parameters_sha256": loaded.digest,
        "inputs_sha256": facts["inputs_sha256"],  # what --resume compares
        "status": status,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now().isoformat(timespec="seconds"),
        "stages": [run.__dict__ for run in runs],
        "data": data_files(loaded, read={name: found for run in reversed(runs) for name, found in run.sources.items()}),
        "versions": facts["versions"],
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")


def _export_report(run_dir: Path, loaded: LoadedPlan, runs: list[StageRun], status: str, failure: str) -> None:
    from planlib.publish.report import build_report

    notebooks = [run_dir / r.notebook for r in runs if r.notebook and (run_dir / r.notebook).exists()]
    build_report(notebooks, run_dir / "report.html", title=loaded.plan.meta.title, cover=cover(loaded),
                 status=status, failure=failure or None)


def _customer_names(loaded: LoadedPlan) -> Any:
    """The customer table's full names, for the personal-data scan (nothing when they cannot be read).

    Read here, in the runner's process, from the same source the stages read; a table without a
    name column (or a plan without a customer table) gives no names, and the scan still checks
    phones, ID numbers and e-mails.
    """
    from planlib.data.load import load_source
    from planlib.errors import PlanError
    from planlib.publish.scan import customer_names

    source = loaded.plan.data.customers
    if source is None:
        return customer_names(None)
    try:
        frame = load_source("customers", source, loaded.base_dir).frame
    except PlanError:
        return customer_names(None)  # the stages reported why the file cannot be read
    if "name" in frame.columns:  # a "name" the plan's own text contains is the planner's words, not a customer's
        planners = names_written(frame["name"], _strings(loaded.data))
        if planners:
            frame = frame[~frame["name"].astype(str).str.strip().isin(planners)]
    return customer_names(frame)


def names_written(names: Any, texts: Iterable[str]) -> set[str]:
    """The customer names that occur anywhere in ``texts`` (the plan's own words).

    One pass over the plan's text looking up each substring of a name's length in a set, rather
    than searching the text once per customer: a 10M-customer table costs a set, not 10M scans.
    """
    known = {str(n).strip() for n in names.dropna()} - {""}
    lengths = sorted({len(n) for n in known})
    found: set[str] = set()
    for text in texts:
        for i in range(len(text)):
            for n in lengths:
                if i + n > len(text):
                    break
                if text[i:i + n] in known:
                    found.add(text[i:i + n])
    return found


def _strings(data: Any) -> Iterator[str]:
    """Every text value of the plan's data (nested mappings and lists)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)
