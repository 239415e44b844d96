"""Benchmark of a whole plan (``planlib run``, five stages, real kernels) at 1M/10M/100M orders.

For each row count and source (Parquet file, CSV file, folder of Parquet parts) it writes a plan
beside the run's outputs — the demo plan (``parameters/demo/2024Q2.yaml`` merged with its
``base.yaml``), moved to 2024Q1 (every date shifted by the same number of days, so stage 05 has
orders in its window — the bench orders run 2022-01-01 … 2024-03-30 — and stage 01 has four
previous quarters), with ``data`` pointing at the bench orders and customers of
:mod:`benchmarks.needs_inputs` and nothing else: an orders-only unit, whose interaction, survey
and ticket KPIs say 无数据. Then it runs the real command line (``planlib run PLAN
--output-root DIR``, the console script of this interpreter's environment, this tree's planlib
first on ``PYTHONPATH``) and measures:

* wall seconds of the whole command, and per stage the seconds the runner records in the run's
  ``manifest.json`` (from the console's ``[n/5]`` lines when there is no manifest);
* the kernel's peak RSS per stage: its ``VmHWM`` (``/proc/PID/status``), reset with
  ``/proc/PID/clear_refs`` as each stage starts, together with ``VmRSS`` polled every 0.2 s (the
  higher of the two; polling alone misses short peaks, the reset may be refused), and its RSS as the
  stage started (one kernel runs all five stages: memory a stage leaves allocated is in the next
  stage's figures, the start column shows how much);
* the runner's own peak (``VmHWM`` of the ``planlib`` process: set-up, the report, the
  personal-data scan — which reads the customer table in that process — and publishing) and the
  peak of runner + kernel together (polled).

It prints one markdown table (rows × source × stage) with the load average as each run started
and ended, and whether the run published (the report's path) or failed (the runner's one-line
message). It exits non-zero when any run failed, after printing the table: a run that stops is a
result (at 100M orders stage 01 stops at the loader's size limit until it reads the orders
underneath), not a crash of the benchmark.

Inputs are read from ``--folder`` (default /tmp/bench_needs, as ``bench_needs.py`` writes them) and
never generated above 10M orders unless ``--generate`` is given (100M take about an hour). Usage::

    .venv/bin/python benchmarks/bench_plan.py --rows 1000000 --source parquet
    .venv/bin/python benchmarks/bench_plan.py --rows 1000000 10000000 --source parquet csv folder --out /tmp/bench_plan
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psutil  # not a planlib dependency: IPython (the kernel) requires it, so it is installed
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks import needs_inputs  # noqa: E402 - run as a script: the repository root first

DEMO_PLAN = ROOT / "parameters" / "demo" / "2024Q2.yaml"
QUARTER, PERIOD_START = "2024Q1", date(2024, 1, 1)  # the bench orders end 2024-03-30
UNIT = "bench"
SOURCES = ("parquet", "csv", "folder")
STAGES = ("01_goals", "02_needs", "03_channels", "04_execution", "05_review")
POLL_S = 0.2
GENERATE_MAX_ROWS = 10_000_000  # above this, inputs are only generated with --generate (100M: ≈ 1 h)
# One stage's time limit in the bench plan: the schema's largest. The demo's 600 s would stop a
# 100M stage the benchmark is meant to time; the figure measured, not the limit, is the point.
STAGE_TIMEOUT_S = 86400
START = re.compile(r"^\[(\d+)/(\d+)\] (\S+) ")
END = re.compile(r"^\s+(完成|失败)\((\d+(?:\.\d+)?) 秒\)")


# ---------------------------------------------------------------------------------- the plan
def _shift(value: Any, days: timedelta, old: str, new: str) -> Any:
    """Every date moved by ``days``; ``old`` quarter names in text (2024Q2, 2024年Q2) made ``new``."""
    if isinstance(value, dict):
        return {k: _shift(v, days, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, days, old, new) for v in value]
    if isinstance(value, date):
        return value + days
    if isinstance(value, str):
        year, q = old.split("Q")
        new_year, new_q = new.split("Q")
        return value.replace(old, new).replace(f"{year}年Q{q}", f"{new_year}年Q{new_q}")
    return value


def plan_data(inputs: needs_inputs.Inputs, source: str) -> dict:
    """The demo plan as plain data, moved to :data:`QUARTER`, reading only the bench orders and customers."""
    from planlib.plan.planfile import load_plan

    demo = load_plan(DEMO_PLAN).data  # merged with base.yaml, validated
    days = PERIOD_START - demo["meta"]["period"]["start"]
    data = _shift(demo, days, demo["meta"]["quarter"], QUARTER)
    data["meta"]["unit"] = UNIT
    # No data.demo (the demo generator must never touch these files), no interactions, surveys, tickets.
    data["data"] = {"customers": {"path": str(inputs.customers)},
                    "transactions": {"path": str(inputs.source(source))}}
    data["run"] = {**data.get("run", {}), "stage_timeout_s": STAGE_TIMEOUT_S}
    return data


def write_plan(folder: Path, inputs: needs_inputs.Inputs, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{QUARTER}.yaml"
    text = yaml.safe_dump(plan_data(inputs, source), allow_unicode=True, sort_keys=False, width=200)
    head = (f"# bench_plan.py: the demo plan ({DEMO_PLAN.relative_to(ROOT)}) moved to {QUARTER}, "
            f"{inputs.rows:,} orders from {source}, orders and customers only\n")
    path.write_text(head + text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------- measuring
def _status_kb(pid: int, key: str) -> int:
    """``VmRSS``/``VmHWM`` of ``pid`` in kB from ``/proc/PID/status`` (0 when it is gone).

    Read by hand rather than through psutil: psutil has no high-water mark, and the mark is what
    catches a peak between two polls.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _reset_peak(pid: int) -> bool:
    """Reset ``pid``'s ``VmHWM`` to its current RSS (Linux ≥ 4.0: ``5`` > ``clear_refs``); False if refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


@dataclass
class StageFigures:
    stage: str
    status: str = "not run"
    seconds: float | None = None  # the runner's record (manifest), else from the console lines
    console_s: float | None = None
    start_kb: int = 0  # kernel RSS as the stage started
    peak_kb: int = 0  # kernel peak while it ran
    error: str = ""


@dataclass
class RunFigures:
    rows: int
    source: str
    plan: Path
    wall_s: float = 0.0
    setup_s: float | None = None  # start → the first stage's console line: validation, kernel start, hashing
    setup_peak_kb: int = 0  # the runner's peak until then
    finish_s: float | None = None  # the last stage's end → exit: manifest, report, personal-data scan, publish
    finish_peak_kb: int = 0  # the runner's peak after the last stage (its high-water mark reset there)
    runner_peak_kb: int = 0  # the runner's peak over the whole run
    together_peak_kb: int = 0  # runner + its children, polled
    exit_code: int | None = None
    stages: dict[str, StageFigures] = field(default_factory=lambda: {s: StageFigures(s) for s in STAGES})
    published: str = ""  # the report's path when the run published
    message: str = ""  # the runner's one-line failure message
    load_start: float = 0.0
    load_end: float = 0.0
    peak_reset: bool = True  # clear_refs accepted: per-stage peaks are high-water marks, not only polls
    finish_reset: bool = True  # the same for the runner's peak after the stages


class Watcher:
    """Follows one ``planlib run`` process: its console lines and the memory of it and its kernel."""

    def __init__(self, proc: subprocess.Popen, figures: RunFigures, echo: bool):
        self.proc, self.figures, self.echo = proc, figures, echo
        self.root = psutil.Process(proc.pid)
        self.lock = threading.Lock()
        self.current: str | None = None
        self.kernel: int | None = None
        self.started: dict[str, float] = {}
        self.stderr: list[str] = []
        self.stdout: list[str] = []
        self.done = threading.Event()
        self.t0 = time.perf_counter()
        self.last_end: float | None = None
        self.finishing = False  # the last stage has ended: what the runner does after the stages
        self.position = (0, 0)  # the running stage's [n/N]

    def _kernels(self) -> list[psutil.Process]:
        """The run's kernel processes (any descendant whose command line names ipykernel)."""
        found = []
        try:
            for child in self.root.children(recursive=True):
                try:
                    if any("ipykernel" in part for part in child.cmdline()):
                        found.append(child)
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
        return found

    def _kernel_pid(self) -> int | None:
        kernels = self._kernels()
        return kernels[0].pid if kernels else None

    def poll(self) -> None:
        """Every :data:`POLL_S`: the runner's high-water mark, the kernel's RSS for the current stage."""
        while not self.done.wait(POLL_S):
            runner = _status_kb(self.proc.pid, "VmHWM")
            try:
                children = self.root.children(recursive=True)
            except psutil.Error:
                children = []
            child_kb = 0
            kernel_kb = 0
            for child in children:
                kb = _status_kb(child.pid, "VmRSS")
                child_kb += kb
                with self.lock:
                    if child.pid == self.kernel:
                        kernel_kb = kb
            with self.lock:
                f = self.figures
                f.runner_peak_kb = max(f.runner_peak_kb, runner)
                if self.finishing:
                    f.finish_peak_kb = max(f.finish_peak_kb, runner)
                f.together_peak_kb = max(f.together_peak_kb, _status_kb(self.proc.pid, "VmRSS") + child_kb)
                if self.current is not None:
                    stage = f.stages[self.current]
                    stage.peak_kb = max(stage.peak_kb, kernel_kb)

    def _stage_ends(self, stage: str, status: str | None, seconds: float | None) -> None:
        figures = self.figures.stages[stage]
        if self.kernel is not None:
            figures.peak_kb = max(figures.peak_kb, _status_kb(self.kernel, "VmHWM") if self.figures.peak_reset else 0)
        if status is not None:
            figures.status = status
        figures.console_s = seconds if seconds is not None else round(time.perf_counter() - self.started[stage], 2)
        self.current = None

    def _finishing(self) -> None:
        """The stages are over: from here the runner's peak is the report's, the scan's and publishing's."""
        self.last_end, self.finishing = time.perf_counter(), True
        self.figures.finish_reset = _reset_peak(self.proc.pid)
        self.figures.finish_peak_kb = _status_kb(self.proc.pid, "VmRSS")

    def read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.stdout.append(line)
            if self.echo:
                print(f"    | {line}", flush=True)
            start, end = START.match(line), END.match(line)
            with self.lock:
                if start and self.figures.setup_s is None:
                    self.figures.setup_s = time.perf_counter() - self.t0
                    self.figures.setup_peak_kb = _status_kb(self.proc.pid, "VmHWM")
                if start and start.group(3) in self.figures.stages:
                    if self.current is not None:
                        self._stage_ends(self.current, None, None)
                    stage = start.group(3)
                    self.kernel = self._kernel_pid()  # a kernel that died is replaced by a new one
                    if self.kernel is not None:
                        self.figures.peak_reset &= _reset_peak(self.kernel)
                        self.figures.stages[stage].start_kb = _status_kb(self.kernel, "VmRSS")
                    self.current, self.started[stage] = stage, time.perf_counter()
                    self.position = (int(start.group(1)), int(start.group(2)))
                    self.figures.stages[stage].status = "running"
                elif end and self.current is not None:
                    self._stage_ends(self.current, "ok" if end.group(1) == "完成" else "failed", float(end.group(2)))
                    if end.group(1) == "失败" or self.position[0] == self.position[1]:
                        self._finishing()  # the runner stops at the first failure, or this was the last stage

    def read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))
            if self.echo:
                print(f"    ! {line.rstrip()}", flush=True)


def planlib_command() -> list[str]:
    """The ``planlib`` console script of this interpreter's environment (``main()`` as the command runs it)."""
    script = Path(sys.executable).parent / "planlib"
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from planlib.cli import main; sys.exit(main())"]


def run_plan(plan: Path, output_root: Path, rows: int, source: str, echo: bool = True) -> RunFigures:
    """``planlib run PLAN --output-root OUTPUT_ROOT`` in a fresh process, watched (see :class:`Watcher`)."""
    figures = RunFigures(rows, source, plan, load_start=os.getloadavg()[0])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([*planlib_command(), "run", str(plan), "--output-root", str(output_root)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", errors="replace")
    watcher = Watcher(proc, figures, echo)
    watcher.t0 = t0
    threads = [threading.Thread(target=t, daemon=True) for t in (watcher.poll, watcher.read_stdout, watcher.read_stderr)]
    for thread in threads:
        thread.start()
    try:
        figures.exit_code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()  # planlib treats SIGTERM as Ctrl-C: kernel stopped, staging removed
        proc.wait()
        raise
    finally:
        ended = time.perf_counter()
        figures.wall_s = ended - t0
        watcher.done.set()
        for thread in threads:
            thread.join(timeout=10)
    figures.load_end = os.getloadavg()[0]
    if watcher.current is not None:
        watcher._stage_ends(watcher.current, "failed", None)  # the runner stopped mid-stage
    if watcher.last_end is not None:
        figures.finish_s = ended - watcher.last_end
    _read_manifest(figures, output_root)
    _outcome(figures, watcher.stdout, watcher.stderr)
    return figures


def _read_manifest(figures: RunFigures, output_root: Path) -> None:
    """The runner's own record of each stage (status, seconds, error), published or failed."""
    unit = output_root / UNIT
    for folder in (unit / QUARTER, unit / f"{QUARTER}.failed"):
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for record in manifest.get("stages", []):
            stage = figures.stages.get(record.get("stage"))
            if stage is not None:
                stage.status = record.get("status", stage.status)
                stage.seconds = record.get("seconds")
                stage.error = record.get("error", "")
        return


def _outcome(figures: RunFigures, stdout: list[str], stderr: list[str]) -> None:
    """The report's path when the run published, else the runner's one-line message."""
    for line in stdout:
        if line.startswith("完成。复盘报告:"):
            figures.published = line.split(":", 1)[1].strip()
    if figures.exit_code == 0 and figures.published:
        return
    lines = [line for line in stderr if line.strip()]
    told = next((line for line in lines if line.startswith(("运行失败", "错误"))), None)
    if told is None and lines:  # invalid plan: its problems, one per line, then a count
        told = " / ".join(lines[-3:])
    figures.message = told or f"退出码 {figures.exit_code},没有输出"


# ---------------------------------------------------------------------------------- the table
HEADER = ("rows", "source", "step", "process", "status", "s", "peak MB", "MB at start")


def _mb(kb: int) -> str:
    return f"{kb / 1024:,.0f}" if kb else "—"


def _s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f}"


def table(runs: list[RunFigures]) -> str:
    """One markdown table: per run its set-up, five stages, the runner's finish and the whole plan."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for run in runs:
        head = f"| {run.rows:,} | {run.source} "
        lines.append(head + f"| set-up (validate, start kernel, hash inputs) | runner | — | {_s(run.setup_s)} | "
                            f"{_mb(run.setup_peak_kb)} | — |")
        for stage in run.stages.values():
            seconds = stage.seconds if stage.seconds is not None else stage.console_s
            if stage.status in ("skipped", "not run"):  # the manifest's 0.0 s for a stage that never started
                seconds = None
            lines.append(head + f"| {stage.stage} | kernel | {stage.status} | {_s(seconds)} | "
                                f"{_mb(stage.peak_kb)} | {_mb(stage.start_kb)} |")
        lines.append(head + f"| manifest, report, scan, publish | runner | exit {run.exit_code} | {_s(run.finish_s)} | "
                            f"{_mb(run.finish_peak_kb)} | — |")
        kernel = max((s.peak_kb for s in run.stages.values()), default=0)
        peak = max(kernel, run.runner_peak_kb, run.together_peak_kb)
        lines.append(head + f"| **whole plan** | runner + kernel | {'published' if run.published else 'failed'} | "
                            f"**{run.wall_s:.1f}** | **{_mb(peak)}** | — |")
    return "\n".join(lines)


def notes(runs: list[RunFigures]) -> str:
    """Per run: load average, the peaks of each process, and the report or the failure."""
    out = []
    for run in runs:
        kernel = max((s.peak_kb for s in run.stages.values()), default=0)
        out.append(f"- {run.rows:,} orders from {run.source}: load {run.load_start:.1f} → {run.load_end:.1f}; "
                   f"peaks: kernel {_mb(kernel)} MB, runner {_mb(run.runner_peak_kb)} MB, both at once "
                   f"{_mb(run.together_peak_kb)} MB (polled); "
                   + (f"published {run.published}" if run.published else f"FAILED — {run.message}"))
        if not run.peak_reset:
            out.append("  (clear_refs refused: per-stage kernel peaks are polled every 0.2 s, not high-water marks)")
        if not run.finish_reset:
            out.append("  (clear_refs refused for the runner: its finish peak is its peak over the whole run)")
    return "\n".join(out)


def inputs_for(folder: Path, rows: int, generate: bool) -> needs_inputs.Inputs:
    """The bench inputs for ``rows`` orders, reused when present; written (or rewritten, when of
    another :data:`needs_inputs.VERSION`) only up to :data:`GENERATE_MAX_ROWS` unless ``generate``."""
    found = needs_inputs.paths(folder, rows)
    try:
        version = json.loads((folder / f"inputs_{rows}.json").read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        version = None
    current = version == needs_inputs.VERSION and all(
        p.exists() for p in (found.csv, found.parquet, found.folder, found.customers))
    if current or generate or rows <= GENERATE_MAX_ROWS:
        return needs_inputs.generate(folder, rows)  # returns at once when they are current
    raise SystemExit(f"{folder}: no current inputs for {rows:,} orders — write them with benchmarks/needs_inputs.py "
                     f"(bench_needs.py does) or pass --generate (100M orders take about an hour)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--source", nargs="+", choices=SOURCES, default=["parquet"],
                        help="folder = the Parquet rows as a folder of parts")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bench_needs"), help="where the inputs are")
    parser.add_argument("--out", type=Path, help="plans and run folders (default: a new temp folder, kept)")
    parser.add_argument("--generate", action="store_true", help=f"write missing inputs above {GENERATE_MAX_ROWS:,} orders")
    parser.add_argument("--quiet", action="store_true", help="do not echo the runner's console")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_plan_"))
    runs = []
    for rows in args.rows:
        inputs = inputs_for(args.folder, rows, args.generate)
        for source in args.source:
            folder = out / f"{rows}-{source}"
            plan = write_plan(folder, inputs, source)
            print(f"# {rows:,} orders from {source}: planlib run {plan} --output-root {folder / 'outputs'}", flush=True)
            runs.append(run_plan(plan, folder / "outputs", rows, source, echo=not args.quiet))
            print(f"# {runs[-1].wall_s:.1f} s, exit {runs[-1].exit_code}", flush=True)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    print(f"\n## planlib run, whole plan (commit {commit or '?'}, {os.cpu_count()} cores)\n")
    print(table(runs))
    print()
    print(notes(runs))
    failed = [r for r in runs if not r.published]
    for run in failed:
        print(f"{run.rows:,} {run.source}: {run.message}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
