"""Benchmark: `planlib batch` against the plain route, and one plan against the one-kernel floor.

Routes, all on the same generated plans in the same invocation:
- planlib: ``planlib batch PLANS --workers W`` (one process, shared kernels, in-process export);
- plain:   per plan and stage ``papermill NB OUT -p plan_path … -p run_dir …`` and then
           ``jupyter nbconvert --to html OUT`` per executed notebook (what a team does by hand);
- floor:   (one plan only) the five notebooks run back to back in ONE kernel by nbclient, with
           no parameter injection, no report and no checks — the least a runner that starts a
           kernel and then runs the stages can cost. planlib can come in under it: it starts its
           kernel (importing what the workbooks import) while it does its own set-up, and its
           stages reuse the parsed plan and data.

Prints wall time (median of --repeat runs) and the peak resident memory of the largest single
process (from wait4's rusage, as /usr/bin/time reports it), and the ratios. Figures drift on a
shared machine; ratios measured in one invocation hold. Usage:

    .venv/bin/python benchmarks/bench_batch.py --plans 1,4,20 --workers 2 --repeat 3 --plain-repeat 3 --plain-max 4
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGES = ["01_goals", "02_needs", "03_channels", "04_execution", "05_review"]


def make_plans(folder: Path, count: int, customers: int) -> list[Path]:
    plans = []
    for i in range(count):
        unit = f"u{i:02d}"
        target = folder / "parameters" / unit
        target.mkdir(parents=True)
        base = (ROOT / "parameters/demo/base.yaml").read_text(encoding="utf-8")
        base = base.replace("unit: demo", f"unit: {unit}").replace("customers: 5000", f"customers: {customers}")
        base = base.replace("seed: 20240401", f"seed: {20240401 + i}").replace("demo_data/demo/", f"demo_data/{unit}/")
        (target / "base.yaml").write_text(base, encoding="utf-8")
        shutil.copy(ROOT / "parameters/demo/2024Q2.yaml", target / "2024Q2.yaml")
        plans.append(target / "2024Q2.yaml")
    return plans


def timed(commands: list[list[str]], cwd: Path) -> tuple[float, float]:
    """Run commands one after another; wall seconds and the largest single process's peak MB."""
    peak = 0
    t0 = time.perf_counter()
    for cmd in commands:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
        peak = max(peak, usage.ru_maxrss)
    return time.perf_counter() - t0, peak / 1024


def planlib_route(plans: list[Path], out: Path, workers: int) -> list[list[str]]:
    return [[str(BIN / "planlib"), "batch", *map(str, plans), "--workers", str(workers), "--output-root", str(out)]]


def plain_route(plans: list[Path], out: Path) -> list[list[str]]:
    commands = []
    for plan in plans:
        run_dir = out / plan.parent.name
        run_dir.mkdir(parents=True, exist_ok=True)
        for stage in STAGES:
            nb = run_dir / f"{stage}.ipynb"
            commands.append([str(BIN / "papermill"), str(ROOT / "workbooks" / f"{stage}.ipynb"), str(nb),
                             "-p", "plan_path", str(plan), "-p", "run_dir", str(run_dir), "--no-progress-bar",
                             "--cwd", str(ROOT / "workbooks")])
            commands.append([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(nb)])
    return commands


FLOOR = """
import sys, nbformat
from nbclient import NotebookClient
plan, run_dir, books, stages = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
first = nbformat.read(f"{books}/01_goals.ipynb", as_version=4)
client = NotebookClient(first, resources={"metadata": {"path": books}}, kernel_name="python3")
with client.setup_kernel():
    for stage in stages:
        nb = nbformat.read(f"{books}/{stage}.ipynb", as_version=4)
        for cell in nb.cells:
            if "parameters" in cell.metadata.get("tags", []):
                cell.source = f"plan_path = {plan!r}\\nrun_dir = {run_dir!r}"
        client.nb = nb
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
"""


def floor_route(plan: Path, out: Path) -> list[list[str]]:
    run_dir = out / plan.parent.name
    run_dir.mkdir(parents=True, exist_ok=True)
    return [[sys.executable, "-c", FLOOR, str(plan), str(run_dir), str(ROOT / "workbooks"), ",".join(STAGES)]]


def run_once(make_commands, cwd: Path) -> tuple[float, float]:
    out = cwd / f"out-{time.monotonic_ns()}"
    try:
        return timed(make_commands(out), cwd)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def rounds(routes: dict[str, tuple[object, int]], cwd: Path) -> dict[str, list[tuple[float, float]]]:
    """Run the routes in turn, round after round (A B C A B C …), each up to its own count.

    Taking turns keeps a ratio meaningful when a shared machine's speed drifts during the run:
    ratios are taken round by round, between runs made minutes apart at most.
    """
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in routes}
    for i in range(max(count for _, count in routes.values())):
        for name, (make_commands, count) in routes.items():
            if i < count:
                results[name].append(run_once(make_commands, cwd))
    return results


def paired_ratio(num: list[tuple[float, float]], den: list[tuple[float, float]]) -> float:
    """Median of the per-round ratios of two routes' wall times (rounds both ran)."""
    return statistics.median(a[0] / b[0] for a, b in zip(num, den, strict=False))


def summary(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """Median wall seconds and the largest peak MB of a route's runs."""
    return statistics.median(w for w, _ in runs), max(p for _, p in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", default="1,4,20", help="comma-separated plan counts")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median quoted)")
    parser.add_argument("--plain-repeat", type=int, default=1, help="runs of the slow plain route")
    parser.add_argument("--customers", type=int, default=2000, help="customers per generated plan")
    parser.add_argument("--plain-max", type=int, default=0,
                        help="run the plain route on at most this many plans and extrapolate linearly "
                             "beyond (it is strictly sequential); 0 = always measure")
    args = parser.parse_args()
    counts = [int(n) for n in args.plans.split(",")]

    with tempfile.TemporaryDirectory(prefix="planlib-bench-") as tmp:
        work = Path(tmp)
        plans = make_plans(work, max(counts), args.customers)
        # generate every plan's demo data once, outside the timings
        timed(planlib_route(plans, work / "warm", args.workers), work)
        print(f"# {os.cpu_count()} CPUs, {args.customers} customers per plan, workers={args.workers}, "
              f"median of {args.repeat} (plain route: {args.plain_repeat}); routes take turns, "
              "ratios are medians of per-round ratios")
        print(f"{'plans':>5}  {'route':<28}{'wall s':>9}{'peak MB':>10}{'plain/route':>13}")
        per_plan = None  # seconds per plan of the plain route, from the largest measured run
        for n in counts:
            subset = plans[:n]
            measure_plain = not (args.plain_max and n > args.plain_max and per_plan is not None)
            routes: dict[str, tuple[object, int]] = {}
            if measure_plain:
                routes["plain"] = (lambda out, s=subset: plain_route(s, out), args.plain_repeat)
            routes["planlib"] = (lambda out, s=subset: planlib_route(s, out, args.workers), args.repeat)
            if n == 1:
                routes["floor"] = (lambda out: floor_route(plans[0], out), args.repeat)
            runs = rounds(routes, work)
            ours = summary(runs["planlib"])
            if measure_plain:
                plain, label = summary(runs["plain"]), "plain (papermill+nbconvert CLI)"
                per_plan = plain[0] / n
                ratio = paired_ratio(runs["plain"], runs["planlib"])
            else:
                plain, label = (per_plan * n, 0.0), "plain (extrapolated)"
                ratio = plain[0] / ours[0]
            print(f"{n:>5}  {label:<28}{plain[0]:>9.1f}{plain[1]:>10.0f}{1:>13.2f}")
            print(f"{n:>5}  {f'planlib batch -w {args.workers}':<28}{ours[0]:>9.1f}{ours[1]:>10.0f}{ratio:>13.2f}")
            if n == 1:
                floor = summary(runs["floor"])
                floor_ratio = (paired_ratio(runs["plain"], runs["floor"]) if measure_plain
                               else plain[0] / floor[0])
                print(f"{n:>5}  {'floor (one kernel, no export)':<28}{floor[0]:>9.1f}{floor[1]:>10.0f}"
                      f"{floor_ratio:>13.2f}")
                print(f"       planlib / floor = {paired_ratio(runs['planlib'], runs['floor']):.2f} (target ≤ 1.5)")


if __name__ == "__main__":
    main()
