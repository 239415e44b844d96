"""Runs that go wrong must look wrong: papermill alone misreports several of these faults.

Each test runs the real pipeline on a small demo with one stage workbook sabotaged (a copy of
the workbooks folder with one extra cell), and checks the run is failed, says why, leaves no
kernel behind and never touches the last good report.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, make_small_demo

from planlib.errors import PlanError
from planlib.run import paths, runner
from planlib.run.kernel import KernelSession

pytestmark = pytest.mark.slow


@pytest.fixture
def sabotage(tmp_path, monkeypatch):
    """Return a function that adds ``code`` as a cell early in stage ``stage``'s workbook copy."""
    books = tmp_path / "workbooks"
    shutil.copytree(ROOT / "workbooks", books, ignore=lambda _d, names: [n for n in names if not n.endswith(".ipynb")])
    monkeypatch.setattr(paths, "workbooks_dir", lambda: books)

    def add(stage: str, code: str) -> None:
        path = books / f"{stage}.ipynb"
        nb = nbformat.read(path, as_version=4)
        at = next(i for i, c in enumerate(nb.cells) if "open_stage(" in c.source) + 1
        cell = nbformat.v4.new_code_cell(code)
        cell.id = f"sabotage-{sum(c.id.startswith('sabotage') for c in nb.cells)}"
        nb.cells.insert(at, cell)
        nbformat.write(nb, path)

    return add


@pytest.fixture
def plan(tmp_path):
    return make_small_demo(tmp_path / "p", customers=400)


def run(plan: Path, tmp_path: Path, **kw) -> runner.RunResult:
    return runner.run_plan(plan, output_root=tmp_path / "out", log=lambda _: None, **kw)


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_sys_exit_zero_does_not_pass_for_success(sabotage, plan, tmp_path):
    sabotage("03_channels", "import sys\nsys.exit(0)")
    result = run(plan, tmp_path)
    assert not result.ok
    assert [s.status for s in result.stages] == ["ok", "ok", "failed", "skipped", "skipped"]
    assert "最后一个单元格" in result.stages[2].error or "SystemExit" in result.stages[2].error
    assert "失败" in result.report.read_text(encoding="utf-8")
    assert not (tmp_path / "out/demo/2024Q2").exists()  # nothing published


def test_killed_kernel_fails_the_run_and_leaves_no_process(sabotage, plan, tmp_path):
    sabotage("02_needs", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    session = KernelSession(paths.workbooks_dir()).start()
    pid = session.km.provisioner.process.pid
    try:
        result = run(plan, tmp_path, kernel=session)
    finally:
        session.stop()
    assert not result.ok and result.kernel_died
    assert result.stages[1].status == "failed" and "意外退出" in result.stages[1].error
    assert_gone(pid)


def test_timeout_stops_the_stage_and_its_kernel(sabotage, plan, tmp_path):
    text = plan.read_text(encoding="utf-8") + "\nrun:\n  stage_timeout_s: 10\n"
    plan.write_text(text, encoding="utf-8")
    sabotage("04_execution", "import time\ntime.sleep(120)")
    session = KernelSession(paths.workbooks_dir()).start()
    pid = session.km.provisioner.process.pid
    try:
        result = run(plan, tmp_path, kernel=session)
        assert session.km is None  # the busy kernel was not kept for the next plan
    finally:
        session.stop()
    assert not result.ok and not result.kernel_died
    assert "超过 10 秒" in result.stages[3].error
    assert "run.stage_timeout_s" in result.stages[3].error
    assert_gone(pid)


def test_the_timeout_bounds_the_whole_stage_not_each_cell(sabotage, plan, tmp_path):
    """Three cells of 7 s each stay under a 10 s limit per cell; the stage as a whole does not."""
    plan.write_text(plan.read_text(encoding="utf-8") + "\nrun:\n  stage_timeout_s: 10\n", encoding="utf-8")
    for _ in range(3):
        sabotage("02_needs", "import time\ntime.sleep(7)")
    result = run(plan, tmp_path)
    assert not result.ok
    assert [s.status for s in result.stages] == ["ok", "failed", "skipped", "skipped", "skipped"]
    assert "阶段运行超过 10 秒" in result.stages[1].error


def test_missing_kernel_is_a_clear_failure(plan, tmp_path):
    session = KernelSession(paths.workbooks_dir(), kernel_name="no-such-kernel")
    result = run(plan, tmp_path, kernel=session)
    assert not result.ok
    assert "找不到 Jupyter 内核 'no-such-kernel'" in result.stages[0].error


def test_full_disk_at_publish_keeps_the_last_good_report(plan, tmp_path, monkeypatch):
    good = run(plan, tmp_path)
    assert good.ok
    before = good.report.read_bytes()

    def no_space(*_args):
        raise OSError(errno.ENOSPC, "No space left on device", str(good.folder))

    monkeypatch.setattr(runner, "publish", no_space)
    with pytest.raises(PlanError, match="磁盘空间不足"):
        run(plan, tmp_path)
    assert good.report.read_bytes() == before
    assert not list((tmp_path / "out/demo").glob(".*staging"))


def test_unmasked_phone_number_in_a_report_fails_the_run(plan, tmp_path):
    text = plan.read_text(encoding="utf-8").replace(
        "background:\n  market: ", "background:\n  market: 联系人电话 13812345678。")
    plan.write_text(text, encoding="utf-8")
    result = run(plan, tmp_path)
    assert not result.ok
    assert not (tmp_path / "out/demo/2024Q2").exists()  # nothing published
    report = result.report.read_text(encoding="utf-8")
    assert "13812345678" not in report and "个人信息" in report
    assert (result.folder / "private" / "withheld" / "01_goals.ipynb").exists()


def test_a_data_file_swapped_between_stages_fails_the_run(sabotage, plan, tmp_path):
    """Stage 03 rewrites the transactions export: stage 05 would read another version than 01."""
    sabotage("03_channels", "_p = ctx.loaded.resolve(ctx.plan.data.transactions.path)\n"
                            "_b = _p.read_bytes()\n"
                            "_p.write_bytes(_b[:_b.rstrip(b'\\n').rindex(b'\\n') + 1])")
    result = run(plan, tmp_path)
    assert not result.ok
    failed = next(s for s in result.stages if s.status == "failed")
    assert "transactions.csv: 在运行期间被修改" in failed.error
    assert not (tmp_path / "out/demo/2024Q2").exists()  # nothing published


def test_a_pipe_as_data_file_is_refused_before_it_is_read(plan, tmp_path):
    fifo = tmp_path / "transactions.csv"
    os.mkfifo(fifo)
    base = plan.parent / "base.yaml"
    text = base.read_text(encoding="utf-8")
    base.write_text(text.replace("path: ../../outputs/demo_data/demo/transactions.csv", f"path: {fifo}"),
                    encoding="utf-8")
    assert str(fifo) in base.read_text(encoding="utf-8")
    plan.write_text(plan.read_text(encoding="utf-8") + "\nrun:\n  stage_timeout_s: 10\n", encoding="utf-8")
    # something writing the pipe once, as an export job might: reading it cannot block forever
    writer = threading.Thread(target=_feed, args=(fifo,), daemon=True)
    writer.start()
    try:
        with pytest.raises(PlanError, match=r"transactions.csv:? 不是普通文件"):
            run(plan, tmp_path)
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # releases a writer still waiting
        writer.join(timeout=5)
    assert not list((tmp_path / "out/demo").glob(".*staging"))


def _feed(fifo: Path) -> None:
    try:
        with open(fifo, "w", encoding="utf-8") as handle:
            handle.write("订单编号,客户编号,下单日期,消费金额\nO1,C000001,2024-01-05,12\n")
    except OSError:
        pass
