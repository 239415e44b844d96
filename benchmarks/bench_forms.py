"""Benchmark: what one change in a planner form costs, and what one save costs.

All on the demo plan, in one invocation:
- floor:      ``Plan.model_validate`` of the merged demo data (the least any live check can cost);
- revalidate: a form's reaction to one changed value (schema + cross-field checks, messages
              placed at fields, names offered), per stage form; the preview is excluded
              (it redraws only when its values change, see planlib/forms/previews.py);
- save:       ``modify_yaml`` of the demo quarter file (lock, stale check, round-trip, fsync,
              backup, rename) against the floor ``write_bytes`` + ``fsync`` of the same bytes.

Prints medians of --repeat runs and the ratios. Usage:

    .venv/bin/python benchmarks/bench_forms.py --repeat 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from planlib.forms import form as forms
from planlib.forms.form import PlanForm, sections_for
from planlib.forms.save import file_digest, merge_into, modify_yaml
from planlib.plan.planfile import load_plan
from planlib.plan.schema import Plan

ROOT = Path(__file__).resolve().parents[1]


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-forms-"))
    for name in ("base.yaml", "2024Q2.yaml"):
        shutil.copy(ROOT / "parameters" / "demo" / name, folder / name)
    plan = folder / "2024Q2.yaml"
    data = load_plan(plan).data

    floor = median_ms(lambda: Plan.model_validate(data), args.repeat)
    print(f"floor  Plan.model_validate            {floor:8.2f} ms")
    for stage in forms.STAGE_SECTIONS:
        form = PlanForm(plan, sections_for(stage), stage=stage)
        form._show_preview = lambda: None  # measure the check, not the chart
        ms = median_ms(form.revalidate, args.repeat)
        print(f"revalidate {stage:<14}            {ms:8.2f} ms  ×{ms / floor:5.1f} floor")

    raw = plan.read_bytes()

    def plain_write() -> None:
        with open(folder / "plain.yaml", "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())

    write_floor = median_ms(plain_write, args.repeat)
    counter = iter(range(10**9))

    def safe_save() -> None:
        modify_yaml(plan, lambda doc: merge_into(doc, "review", {**doc["review"], "sla_minutes": 5 + next(counter)}),
                    expected_digest=file_digest(plan))

    save = median_ms(safe_save, args.repeat)
    print(f"floor  write+fsync of the same bytes  {write_floor:8.2f} ms")
    print(f"save   modify_yaml                    {save:8.2f} ms  ×{save / write_floor:5.1f} floor")
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
