"""`planlib batch`: validate all first, isolate failures, index page, resume, Dask."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, make_small_demo

from planlib.cli import main
from planlib.errors import PlanValidationError
from planlib.run.batch import expand_plans, run_batch
from run.processes import alive, descendants, processes_mentioning

pytestmark = pytest.mark.slow


def make_unit(folder: Path, unit: str, customers: int = 400) -> Path:
    """A demo plan for another unit: own code, own small generated data."""
    return make_small_demo(folder, customers=customers, unit=unit)


@pytest.fixture(scope="module")
def three_units(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    for unit in ("north", "south", "west"):
        make_unit(folder, unit)
    # one plan breaks at run time: its transactions file holds an amount nobody can read
    broken = folder / "parameters" / "west" / "base.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace(
        "transactions:\n    path: ../../outputs/demo_data/west/transactions.csv",
        "transactions:\n    path: ../../broken/transactions.csv"), encoding="utf-8")
    (folder / "broken").mkdir()
    (folder / "broken" / "transactions.csv").write_text("订单编号,客户编号,下单日期,消费金额\nO1,C000001,2024-01-05,一千二\n",
                                                     encoding="utf-8")
    events: list[dict] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_RUNTIME_DIR", str(folder / "runtime"))  # to find our kernels afterwards
        result = run_batch([str(folder / "parameters/*/2024Q2.yaml")], workers=2,
                           output_root=folder / "outputs", progress=events.append)
    return folder, result, events


def test_no_kernel_is_left_running_after_the_batch(three_units):
    folder, _, _ = three_units
    assert (folder / "runtime").is_dir()  # kernels did start there
    assert processes_mentioning(str(folder / "runtime")) == []


def test_one_broken_plan_fails_alone(three_units):
    folder, result, events = three_units
    status = {o.unit: o.status for o in result.outcomes}
    assert status == {"north": "ok", "south": "ok", "west": "failed"}
    west = next(o for o in result.outcomes if o.unit == "west")
    assert west.failed_stage == "01_goals" and "一千二" in west.error
    assert (folder / "outputs/north/2024Q2/report.html").exists()
    assert {e["kind"] for e in events} >= {"start", "stage", "done"}


def test_index_page_links_reports_and_the_failing_notebook(three_units):
    folder, result, _ = three_units
    assert result.indexes == [folder / "outputs/2024Q2/index.html"]
    html = result.indexes[0].read_text(encoding="utf-8")
    assert 'href="../north/2024Q2/report.html"' in html
    assert 'href="../west/2024Q2.failed/01_goals.ipynb"' in html
    assert "<script" not in html and "Content-Security-Policy" in html
    assert "目标客户参与率" in html  # key KPIs of the successful plans


def test_resume_reruns_only_what_changed(three_units):
    folder, _, _ = three_units
    plan = folder / "parameters/south/2024Q2.yaml"
    plan.write_text(plan.read_text(encoding="utf-8").replace("{kpi: nps, target: 50}", "{kpi: nps, target: 55}"), encoding="utf-8")
    result = run_batch([str(folder / "parameters/*/2024Q2.yaml")], workers=2, resume=True,
                       output_root=folder / "outputs")
    status = {o.unit: o.status for o in result.outcomes}
    assert status == {"north": "skipped", "south": "ok", "west": "failed"}
    manifest = json.loads((folder / "outputs/south/2024Q2/manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["inputs_sha256"]) == 64


def test_invalid_plans_are_reported_together_before_anything_runs(tmp_path, capsys):
    good = make_unit(tmp_path, "good")
    for unit in ("bad1", "bad2"):
        plan = make_unit(tmp_path, unit)
        plan.write_text(plan.read_text(encoding="utf-8").replace("title:", "titel:"), encoding="utf-8")
    with pytest.raises(PlanValidationError) as info:
        run_batch([str(tmp_path / "parameters/*/2024Q2.yaml")], output_root=tmp_path / "out")
    assert {Path(p.file).parent.name for p in info.value.problems} == {"bad1", "bad2"}
    assert not (tmp_path / "out").exists()
    assert main(["batch", str(tmp_path / "parameters/*/2024Q2.yaml"), "--output-root", str(tmp_path / "out")]) == 2
    assert "titel" in capsys.readouterr().err
    assert expand_plans([str(tmp_path / "parameters/*/*.yaml")]).count(good.resolve()) == 1


def test_a_one_plan_batch_starts_its_kernel_early_and_never_leaves_it(tmp_path, monkeypatch):
    runtime = tmp_path / "runtime"
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    plan = make_unit(tmp_path, "solo")
    text = plan.read_text(encoding="utf-8")
    plan.write_text(text.replace("title:", "titel:"), encoding="utf-8")
    with pytest.raises(PlanValidationError):
        run_batch([str(plan)], output_root=tmp_path / "out")
    assert runtime.is_dir()  # its kernel was starting while the plan was checked …
    assert processes_mentioning(str(runtime)) == []  # … and was stopped when the plan failed the check
    plan.write_text(text, encoding="utf-8")
    assert run_batch([str(plan)], output_root=tmp_path / "out").outcomes[0].status == "ok"
    resumed = run_batch([str(plan)], resume=True, output_root=tmp_path / "out")
    assert [o.status for o in resumed.outcomes] == ["skipped"]
    assert processes_mentioning(str(runtime)) == []


def test_dask_local_cluster_runs_one_task_per_plan(tmp_path):
    import distributed  # part of the test extra: a missing install fails here, never skips
    for unit in ("east", "north"):
        make_unit(tmp_path, unit, customers=300)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = run_batch([str(tmp_path / "parameters/*/2024Q2.yaml")], scheduler=cluster.scheduler_address,
                           output_root=tmp_path / "out")
    assert [o.status for o in result.outcomes] == ["ok", "ok"]
    assert (tmp_path / "out/2024Q2/index.html").exists()



def test_ctrl_c_leaves_no_kernel_or_worker_behind(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    for unit in ("a1", "a2", "a3"):
        make_unit(tmp_path, unit, customers=300)
    runtime = tmp_path / "jupyter-runtime"  # kernels' connection files, so we can find them
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}
    cmd = [str(Path(sys.executable).with_name("planlib")), "batch", str(tmp_path / "parameters/*/2024Q2.yaml"),
           "--workers", "2", "--output-root", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while not processes_mentioning(str(runtime)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(runtime)), "no kernel started"
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0
    deadline = time.monotonic() + 30
    while processes_mentioning(str(runtime)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(runtime)) == [], out.decode(errors="replace")[-2000:]
    assert "已中断" in out.decode(errors="replace")


def test_a_plan_over_its_time_or_with_a_read_only_folder_fails_alone(tmp_path, monkeypatch, read_only, capsys):
    """--plan-timeout bounds a plan's stages together; a unit folder nobody can write fails its plan only."""
    from planlib.run import paths

    books = tmp_path / "books"
    shutil.copytree(ROOT / "workbooks", books, ignore=lambda _d, names: [n for n in names if not n.endswith(".ipynb")])
    monkeypatch.setattr(paths, "workbooks_dir", lambda: books)  # plans run in this process (one worker)
    for stage in ("01_goals", "02_needs", "03_channels", "04_execution", "05_review"):
        nb = nbformat.read(books / f"{stage}.ipynb", as_version=4)
        cell = nbformat.v4.new_code_cell("import time\nif '/slow/' in plan_path:\n    time.sleep(30)")
        cell.id = "slow-plan"
        nb.cells.insert(next(i for i, c in enumerate(nb.cells) if "open_stage(" in c.source) + 1, cell)
        nbformat.write(nb, books / f"{stage}.ipynb")
    for unit in ("fast", "slow", "ro"):
        make_unit(tmp_path, unit, customers=300)
    out = tmp_path / "out"
    read_only(out / "ro")
    code = main(["batch", str(tmp_path / "parameters/*/2024Q2.yaml"), "--workers", "1", "--plan-timeout", "100",
                 "--output-root", str(out)])
    printed = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in printed.err
    summary = [line.split() for line in printed.out.splitlines() if line.split()[:2] in (
        [unit, "2024Q2"] for unit in ("fast", "slow", "ro"))]
    outcomes = {words[0]: words[2] for words in summary}
    assert outcomes == {"fast": "成功", "ro": "失败", "slow": "失败"}, printed.out
    assert f"{out / 'ro'}" in printed.out and "无法写入输出" in printed.out
    assert "计划运行超过 100 秒" in printed.out and "--plan-timeout" in printed.out
    assert (out / "fast/2024Q2/report.html").exists() and (out / "2024Q2/index.html").exists()
    assert not (out / "slow/2024Q2").exists()




def test_sigterm_stops_workers_and_kernels_and_prints_the_summary(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    for unit in ("b1", "b2", "b3"):
        make_unit(tmp_path, unit, customers=300)
    runtime = tmp_path / "jupyter-runtime"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)}
    cmd = [str(Path(sys.executable).with_name("planlib")), "batch", str(tmp_path / "parameters/*/2024Q2.yaml"),
           "--workers", "2", "--output-root", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(processes_mentioning(str(runtime))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    family = descendants(proc.pid)
    assert len(processes_mentioning(str(runtime))) == 2 and set(processes_mentioning(str(runtime))) <= family
    proc.send_signal(signal.SIGTERM)  # what a service manager or `kill` sends: to the batch alone
    out, _ = proc.communicate(timeout=120)
    text = out.decode(errors="replace")
    assert proc.returncode == 130, text[-2000:]
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in family) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in family if alive(pid)] == [], text[-2000:]
    assert "已中断" in text and "共 3 个计划" in text and "未完成" in text
