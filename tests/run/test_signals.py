"""`planlib run` stopped by SIGTERM (what `kill`, a service manager or a CI timeout sends) ends as
Ctrl-C does: its kernel stopped, no staging folder left, the last good report untouched, exit 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_small_demo

from run.processes import alive, descendants, processes_mentioning

pytestmark = pytest.mark.slow


def test_sigterm_stops_a_single_run_and_its_kernel(tmp_path):
    plan = make_small_demo(tmp_path, customers=300)
    out = tmp_path / "out"
    planlib = str(Path(sys.executable).with_name("planlib"))
    runtime = tmp_path / "jupyter-runtime"  # the kernel's connection file, so we can find it
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}
    first = subprocess.run([planlib, "run", str(plan), "--output-root", str(out)], env=env,
                           capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    [report] = out.glob("*/2024Q2/report.html")
    good = report.read_bytes()
    unit = report.parent.parent
    hidden = sorted(p.name for p in unit.iterdir() if p.name.startswith("."))  # the plan's lock file

    proc = subprocess.Popen([planlib, "run", str(plan), "--output-root", str(out)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while not processes_mentioning(str(runtime)) and time.monotonic() < deadline:
        time.sleep(0.1)
    family = descendants(proc.pid)
    assert processes_mentioning(str(runtime)) and set(processes_mentioning(str(runtime))) <= family
    time.sleep(1.0)  # into the stages
    proc.send_signal(signal.SIGTERM)  # to the command alone, as `kill <pid>` does
    text = proc.communicate(timeout=120)[0].decode(errors="replace")

    assert proc.returncode == 130, text[-2000:]
    assert "已中断" in text and "Traceback" not in text, text[-2000:]
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in family) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in family if alive(pid)] == [], text[-2000:]
    assert report.read_bytes() == good  # the last good report stays
    # no staging folder left beside the published run
    assert sorted(p.name for p in unit.iterdir() if p.name.startswith(".")) == hidden, text[-2000:]
