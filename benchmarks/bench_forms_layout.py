"""Benchmark: how tall each stage's form is, and what entering the seed's execution plan costs in clicks.

In a real JupyterLab and Debian's headless Chromium at 1400×1000 (as the browser tests), for one
planlib source tree (``--src``, default this one; a ``git archive`` of an older commit measures
"before"): open each stage workbook with the demo plan, run the cells down to the form, and
- measure the form's height (``.pl-form``, px) and save a screenshot of its first screen into
  ``test-artifacts/forms/layout-<label>-<stage>.png`` (gitignored; look at them);
- in stage 02, open the data-sources tab (a technical tab or fold) and measure its height;
- enter the seed's execution plan (:data:`SEED_TASKS`: template 2 of the seed, 活动执行时间表, six
  rows — ``../shared/DOMAIN.md`` §4) into stage 04's form from an empty task list, as a planner
  would: open the tab the table is in, 添加一行 per row, then each cell — a text or date box is one
  click (then typing), a drop-down two (open, pick) —, then 保存; the plan file must then hold
  exactly those rows (the count is of a task that was done, not of clicks attempted).

Usage (2 cores are shared: one run at a time):

    git archive 5408612 | tar -x -C /tmp/before     # the last forms before the table/tab layout
    .venv/bin/python benchmarks/bench_forms_layout.py --src /tmp/before --label before
    .venv/bin/python benchmarks/bench_forms_layout.py --label after
    .venv/bin/python benchmarks/bench_forms_layout.py --stages 02_needs   # heights of one stage
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from forms.browserkit import _MARK_CLOSED, CHROME_ARGS, CHROMIUM, STAGES, add_row  # noqa: E402
from forms.labserver import TOKEN, free_port, isolated_env  # noqa: E402

# The seed's execution plan (template 2, 活动执行时间表; DOMAIN.md §4): what a planner enters in
# stage 04. Columns: 阶段, 任务内容, 负责人, 开始, 结束, 完成标准, 依赖资源, and the task id the plan
# requires. The 30-day challenge ends on 04-30 in the seed: it is entered as written.
SEED_TASKS: list[dict[str, str]] = [
    {"id": "T1", "phase": "前期准备", "name": "客户数据筛选与分层", "owner": "市场部经理",
     "start": "2024-04-01", "end": "2024-04-05", "done_when": "输出《客户分层清单》", "resources": "CRM系统权限"},
    {"id": "T2", "phase": "前期准备", "name": "活动物料设计(海报/礼品)", "owner": "设计专员",
     "start": "2024-04-06", "end": "2024-04-10", "done_when": "完成物料终稿并打样", "resources": "设计素材库"},
    {"id": "T3", "phase": "中期执行", "name": "客户分组与电话邀约", "owner": "销售代表",
     "start": "2024-04-11", "end": "2024-04-15", "done_when": "100%目标客户完成邀约沟通", "resources": "电话沟通话术"},
    {"id": "T4", "phase": "中期执行", "name": "\"30天挑战计划\"启动(社群打卡)", "owner": "客服专员",
     "start": "2024-04-16", "end": "2024-04-30", "done_when": "社群活跃度≥60%", "resources": "企业社群"},
    {"id": "T5", "phase": "后期跟进", "name": "活动数据统计(参与率/复购率)", "owner": "数据专员",
     "start": "2024-05-01", "end": "2024-05-05", "done_when": "输出《活动数据简报》", "resources": "CRM后台数据"},
    {"id": "T6", "phase": "后期跟进", "name": "客户满意度调研", "owner": "市场部经理",
     "start": "2024-05-06", "end": "2024-05-10", "done_when": "回收有效问卷≥80份", "resources": "问卷星工具"},
]


def _settled(form) -> None:
    """Wait until the form has stopped adding fields (long forms render row by row)."""
    count = -1
    for _ in range(60):
        now = form.evaluate("e => e.querySelectorAll('[class*=pl-f-]').length")
        if now == count and now > 0:
            return
        count = now
        time.sleep(1.5)


PAUSE_MS = 1500  # after each cell entered (see _enter_seed_tasks)
SCROLLER = ".jp-WindowedPanel-outer"  # the notebook's scrolling box in JupyterLab 4


def _project(src: Path) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="bench-layout-"))
    (folder / "workbooks").mkdir()
    (folder / "parameters" / "demo").mkdir(parents=True)
    for stage in STAGES:
        shutil.copy(src / "workbooks" / f"{stage}.ipynb", folder / "workbooks")
    for name in ("base.yaml", "2024Q2.yaml"):
        shutil.copy(src / "parameters" / "demo" / name, folder / "parameters" / "demo")
    return folder


def _start_lab(project: Path, src: Path, home: Path) -> tuple[subprocess.Popen, str]:
    env = isolated_env(home)
    env["PYTHONPATH"] = str(src)  # the kernels import the planlib being measured
    settings = home / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={project}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
         f"--LabApp.user_settings_dir={home / 'settings'}", f"--LabApp.workspaces_dir={home / 'ws'}"],
        env=env, stdout=(home / "lab.log").open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2):
                return proc, base
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise TimeoutError("JupyterLab did not start")


def _open(page, base: str, stage: str):
    from playwright.sync_api import expect

    page.goto(f"{base}/lab/workspaces/bench-{stage}-{time.monotonic_ns()}/tree/workbooks/{stage}.ipynb?token={TOKEN}")
    page.locator(".jp-NotebookPanel-toolbar").wait_for(timeout=60_000)
    expect(page.locator(".jp-StatusBar-TextItem").filter(has_text="Idle")).to_be_visible(timeout=90_000)
    page.evaluate("""async () => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        nb.activeCellIndex = nb.widgets.findIndex(c => c.model.sharedModel.getSource().includes('stage_form('));
        await window.jupyterapp.commands.execute('notebook:run-all-above');
        await window.jupyterapp.commands.execute('notebook:run-cell');
    }""")
    form = page.locator(".pl-form")
    form.wait_for(timeout=180_000)
    page.locator(".pl-form .pl-save").wait_for(timeout=60_000)
    time.sleep(3)  # let the preview below the form (charts) finish drawing before measuring
    return form


def _scroll_top(page) -> float:
    return page.evaluate(f"() => document.querySelector('{SCROLLER}')?.scrollTop ?? 0")


def _reveal(page, element) -> int:
    """Open the closed tabs/folds around ``element`` as a planner clicks them; the clicks taken."""
    clicks = 0
    for _ in range(4):
        if not element.evaluate(_MARK_CLOSED):
            break
        page.locator("[data-pl-reveal]").click()
        clicks += 1
    return clicks


def _data_tab(page, form) -> int | None:
    """Stage 02's data-sources tab (or fold) opened: its height in px (None when not found)."""
    found = form.locator(".pl-tab-data, .pl-technical:has(.pl-f-data)").first
    if not found.count():
        return None
    inner = form.locator(".pl-f-data").first
    _reveal(page, inner)
    time.sleep(2)
    found.scroll_into_view_if_needed()
    return found.evaluate("e => Math.round(e.getBoundingClientRect().height)")


def _empty_tasks(plan: Path) -> None:
    """The demo plan with its tasks removed: the seed's execution plan is entered from nothing."""
    lines = plan.read_text(encoding="utf-8").splitlines()
    at = lines.index("tasks:")
    end = next(i for i in range(at + 1, len(lines)) if not lines[i].startswith("  "))
    plan.write_text("\n".join([*lines[:at], "tasks: []", *lines[end:]]) + "\n", encoding="utf-8")


def _enter_seed_tasks(page, form) -> tuple[int, float]:
    """Type :data:`SEED_TASKS` into the form as a planner would; (clicks, px scrolled)."""
    from playwright.sync_api import expect

    clicks, scrolled = 0, 0.0

    def into_view(element) -> None:
        nonlocal clicks, scrolled
        element.wait_for(state="attached", timeout=90_000)
        clicks += _reveal(page, element)
        before = _scroll_top(page)
        element.scroll_into_view_if_needed(timeout=30_000)
        scrolled += abs(_scroll_top(page) - before)

    for i, task in enumerate(SEED_TASKS):
        into_view(form.locator(".pl-add-tasks"))
        add_row(form, "tasks")
        clicks += 1
        for name, value in task.items():
            cell = form.locator(f".pl-f-tasks-{i}-{name}")
            select = cell.locator("select")
            if select.count():  # a drop-down: open it, pick the line
                into_view(select)
                select.select_option(label=value)
                expect(select.locator("option:checked")).to_have_text(value)
                clicks += 2
                continue
            box = cell.locator("input, textarea").first
            into_view(box)
            box.click()
            clicks += 1
            box.fill(value)  # a date box takes the typed yyyy-mm-dd too
            box.press("Tab")  # text widgets send their value on leaving
            # a planner's pace between cells. Without it, on the forms of 6937e71, text typed into a
            # 完成标准/依赖资源 cell just before 添加一行 was lost (five of six rows lost 依赖资源):
            # ipywidgets holds a widget's next change until the kernel answered its last, and the
            # add rebuilt every row. ListOf.add now leaves the rows above alone (no loss without the
            # pause either); the click counts do not depend on it
            page.wait_for_timeout(PAUSE_MS)
    save = form.locator(".pl-save")
    into_view(save)
    expect(save).to_be_enabled(timeout=60_000)
    save.click()
    clicks += 1
    expect(form.locator(".pl-status")).to_contain_text("已保存", timeout=60_000)
    return clicks, scrolled


def _saved_tasks(plan: Path) -> list[dict[str, str]]:
    from ruamel.yaml import YAML

    tasks = YAML(typ="safe").load(plan.read_text(encoding="utf-8")).get("tasks") or []
    return [{k: str(row.get(k)) for k in SEED_TASKS[0]} for row in tasks]


def measure(src: Path, label: str, stages: list[str]) -> dict:
    from playwright.sync_api import sync_playwright

    shots = ROOT / "test-artifacts" / "forms"
    shots.mkdir(parents=True, exist_ok=True)
    project, home = _project(src), Path(tempfile.mkdtemp(prefix="bench-layout-home-"))
    proc, base = _start_lab(project, src, home)
    out: dict = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
            for stage in stages:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(90_000)
                form = _open(page, base, stage)
                _settled(form)
                form.evaluate("e => e.scrollIntoView()")
                height = form.evaluate("e => Math.round(e.getBoundingClientRect().height)")
                page.screenshot(path=str(shots / f"layout-{label}-{stage}.png"))
                out[stage] = {"height": height}
                line = f"{label:<8} {stage:<13} form height {height:5d} px"
                if stage == "02_needs":
                    tab = _data_tab(page, form)
                    page.screenshot(path=str(shots / f"layout-{label}-{stage}-data.png"))
                    out[stage]["data_tab"] = tab
                    line += f"   data-sources tab {tab} px"
                print(line, flush=True)
                page.close()
            if "04_execution" in stages:
                plan = project / "parameters" / "demo" / "2024Q2.yaml"
                _empty_tasks(plan)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(90_000)
                form = _open(page, base, "04_execution")
                _settled(form)
                form.evaluate("e => e.scrollIntoView()")
                clicks, scrolled = _enter_seed_tasks(page, form)
                page.screenshot(path=str(shots / f"layout-{label}-seed-tasks.png"))
                saved = _saved_tasks(plan)
                if saved != SEED_TASKS:
                    raise AssertionError(f"the plan file does not hold the seed's tasks as entered: {saved}")
                out["seed_tasks"] = {"clicks": clicks, "scroll": round(scrolled)}
                print(f"{label:<8} seed tasks    {len(SEED_TASKS)} rows × {len(SEED_TASKS[0])} columns entered and "
                      f"saved: clicks {clicks:3d}   scrolled {round(scrolled):5d} px", flush=True)
                page.close()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(project, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", type=Path, default=ROOT, help="the planlib source tree to measure")
    parser.add_argument("--label", default="after")
    parser.add_argument("--stages", nargs="*", default=STAGES, choices=STAGES)
    args = parser.parse_args()
    os.environ.pop("PLANLIB_FORMS", None)
    results = measure(args.src.resolve(), args.label, args.stages)
    heights = sum(r["height"] for k, r in results.items() if k in STAGES)
    print(f"{args.label:<8} {'all':<13} form heights {heights:5d} px")


if __name__ == "__main__":
    main()
