"""The run folder: publishing survives a kill at any step; links in outputs/ are never followed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT

from planlib.errors import PlanError
from planlib.publish.files import NotARegularFile, file_sha256
from planlib.run import folder
from planlib.run.folder import carry_over, copy_run, publish, recover_publish

RUN_FILES = ["report.html", "manifest.json", "01_goals.ipynb", "results/customers.parquet", "results/kpis.parquet"]


def make_run(path: Path, label: str) -> Path:
    for name in RUN_FILES:
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(label, encoding="utf-8")
    return path


def run_label(path: Path) -> str | None:
    """"old" or "new" when ``path`` holds one complete run, None otherwise."""
    labels = {(path / name).read_text(encoding="utf-8") if (path / name).is_file() else None for name in RUN_FILES}
    return labels.pop() if len(labels) == 1 else None


# Publishes with os._exit at the N-th file-system change (rename, unlink, rmdir): what a kill
# -9 or a power cut between two steps leaves behind.
KILLER = """
import os, sys, shutil
from pathlib import Path
from planlib.run.folder import publish

limit, count = int(sys.argv[1]), 0
def deadly(real):
    def call(*args, **kwargs):
        global count
        count += 1
        if count == limit:
            os._exit(9)
        return real(*args, **kwargs)
    return call
for name in ("replace", "rename", "unlink", "rmdir"):
    setattr(os, name, deadly(getattr(os, name)))
publish(Path(sys.argv[2]), Path(sys.argv[3]))
"""


def test_a_kill_at_any_step_of_publish_leaves_a_complete_run_to_publish(tmp_path):
    unit = tmp_path / "demo"
    states = []
    for step in range(1, 100):
        if unit.exists():
            subprocess.run(["rm", "-rf", str(unit)], check=True)
        published = make_run(unit / "2024Q2", "old")
        staging = make_run(unit / ".2024Q2.staging", "new")
        done = subprocess.run([sys.executable, "-c", KILLER, str(step), str(staging), str(published)],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        states.append(published.exists())
        recover_publish(unit, "2024Q2")  # what the next run does first, under the plan's lock
        label = run_label(published)
        assert label in ("old", "new"), f"killed at step {step}: no complete published run"
        assert not (unit / ".2024Q2.old").exists() and not (unit / ".2024Q2.ready").exists()
        if done.returncode == 0:
            assert label == "new"
            break
        assert done.returncode == 9
    else:
        pytest.fail("publish never finished")
    assert False in states  # some kill fell between the two renames, when <quarter>/ was gone
    assert step > 5  # and some fell inside the deletion of the old run


def test_a_publish_that_fails_in_between_puts_the_last_good_run_back(tmp_path, monkeypatch):
    import errno

    unit = tmp_path / "demo"
    published = make_run(unit / "2024Q2", "old")
    staging = make_run(unit / ".2024Q2.staging", "new")
    real, calls = os.replace, []

    def full_disk_on_the_third(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # staging → .ready, 2024Q2 → .old, then .ready → 2024Q2 fails
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "replace", full_disk_on_the_third)
    with pytest.raises(OSError):
        publish(staging, published)
    monkeypatch.setattr(os, "replace", real)
    assert run_label(published) == "old"
    assert sorted(p.name for p in unit.iterdir()) == ["2024Q2"]  # and nothing left to publish later


def test_the_next_run_puts_back_the_run_an_interrupted_publish_moved_aside(tmp_path):
    """What an older planlib left after a kill between its two renames: .old and .staging only."""
    from conftest import make_small_demo

    from planlib.run import paths
    from planlib.run.kernel import KernelSession
    from planlib.run.runner import run_plan

    plan = make_small_demo(tmp_path / "p", customers=200)
    unit = tmp_path / "out" / "demo"
    make_run(unit / ".2024Q2.old", "old")
    make_run(unit / ".2024Q2.staging", "new")  # nothing says it is complete: never published
    result = run_plan(plan, output_root=tmp_path / "out", log=lambda _: None,
                      kernel=KernelSession(paths.workbooks_dir(), kernel_name="no-such-kernel"))
    assert not result.ok
    assert run_label(unit / "2024Q2") == "old"  # the last good report is there, as the CLI says


def test_a_linked_pulse_file_is_neither_followed_nor_copied(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"token": "s3cret"}', encoding="utf-8")
    published = make_run(tmp_path / "2024Q2", "old")
    (published / "pulse-2024-05-01.json").write_text("{}", encoding="utf-8")
    (published / "pulse-2024-05-08.json").symlink_to(secret)
    (published / "results" / "linked.parquet").symlink_to(secret)
    staging = tmp_path / ".2024Q2.staging"
    staging.mkdir()
    carry_over(published, staging)
    assert sorted(p.name for p in staging.iterdir()) == ["pulse-2024-05-01.json"]
    again = tmp_path / "again"
    copy_run(published, again)
    assert not (again / "pulse-2024-05-08.json").exists() and not (again / "results" / "linked.parquet").exists()
    assert (again / "results" / "kpis.parquet").read_text(encoding="utf-8") == "old"


def test_a_linked_quarter_folder_is_refused_and_left_alone(tmp_path):
    elsewhere = make_run(tmp_path / "elsewhere", "old")
    unit = tmp_path / "demo"
    unit.mkdir()
    (unit / "2024Q2").symlink_to(elsewhere, target_is_directory=True)
    staging = make_run(unit / ".2024Q2.staging", "new")
    with pytest.raises(PlanError, match="符号链接"), folder.plan_lock(unit, "2024Q2"):
        pass
    with pytest.raises(PlanError, match=r"2024Q2: 是符号链接"):
        publish(staging, unit / "2024Q2")
    assert run_label(elsewhere) == "old" and (unit / "2024Q2").is_symlink()


def test_a_device_or_a_pipe_is_never_read_as_an_input(tmp_path):
    with pytest.raises(NotARegularFile, match="不是普通文件"):
        file_sha256(Path("/dev/null"))  # a device: /dev/zero would never end
    fifo = tmp_path / "transactions.csv"
    os.mkfifo(fifo)
    # a writer, so that opening the pipe cannot block this test forever if it is opened after all
    writer = threading.Thread(target=lambda: _feed(fifo), daemon=True)
    writer.start()
    try:
        with pytest.raises(NotARegularFile, match=r"transactions.csv:? 不是普通文件"):
            file_sha256(fifo)
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # releases a writer still waiting
        writer.join(timeout=5)


def _feed(fifo: Path) -> None:
    try:
        with open(fifo, "w") as handle:
            handle.write("x")
    except OSError:
        pass


def test_the_pulse_refuses_a_pipe_as_data_file(tmp_path):
    from datetime import date

    from conftest import make_small_demo

    from planlib.run.pulse import run_pulse

    plan = make_small_demo(tmp_path / "p", customers=200)
    fifo = tmp_path / "transactions.csv"
    os.mkfifo(fifo)
    base = plan.parent / "base.yaml"
    base.write_text(base.read_text(encoding="utf-8").replace(
        "path: ../../outputs/demo_data/demo/transactions.csv", f"path: {fifo}"), encoding="utf-8")
    assert str(fifo) in base.read_text(encoding="utf-8")
    writer = threading.Thread(target=_feed, args=(fifo,), daemon=True)  # reading it cannot block forever
    writer.start()
    try:
        with pytest.raises(PlanError, match=r"transactions.csv:? 不是普通文件"):  # validation or the pulse
            run_pulse(plan, date(2024, 5, 1), output_root=tmp_path / "out")
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(timeout=5)
