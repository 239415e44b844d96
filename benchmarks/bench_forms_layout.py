"""Benchmark: how tall each stage's form is, and what the seed's planner tasks cost in clicks and scrolling.

In a real JupyterLab and Debian's headless Chromium at 1400×1000 (as the browser tests), for one
planlib source tree (``--src``, default this one; a ``git archive`` of an older commit measures
"before"): open each stage workbook with the demo plan, run the cells down to the form, and
- measure the form's height (``.pl-form``, px) and save a screenshot of its first screen into
  ``test-artifacts/forms/layout-<label>-<stage>.png`` (gitignored; look at them);
- do the seed's tasks (:data:`TASKS`: the fields a planner fills to build the demo quarter) as a
  planner would: open the closed tab/fold a field is in (a click each), scroll to it (px counted),
  click into it; then 保存 (one click per stage).

Usage (2 cores are shared: one run at a time):

    git archive 6ad4602 | tar -x -C /tmp/before
    .venv/bin/python benchmarks/bench_forms_layout.py --src /tmp/before --label before
    .venv/bin/python benchmarks/bench_forms_layout.py --label after
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

from forms.browserkit import _MARK_CLOSED, CHROME_ARGS, CHROMIUM, STAGES  # noqa: E402
from forms.labserver import TOKEN, free_port, isolated_env  # noqa: E402

# The seed's tasks: the fields a planner fills building the demo quarter. Each is done in the stage
# form that holds it (forms may move a section between stages: milestones were in 01, now in 04).
TASKS: list[str] = [
    "meta-title", "background-market", "scope-segment", "goals-0-target", "goals-2-unit",
    "segmentation-rfm-window_days", "segmentation-tiers-0-name", "data-transactions-path",
    "channels-plan-0-contacts_per_customer", "channels-rules-0-max_contacts", "channels-catalogue-1-cost_per_contact",
    "tasks-4-end", "milestones-0-name", "checkpoints-0-threshold", "budget-limit", "budget-lines-5-planned",
    "kpis-0-target", "review-campaign", "review-actions-0-owner",
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


def measure(src: Path, label: str) -> dict:
    from playwright.sync_api import sync_playwright

    shots = ROOT / "test-artifacts" / "forms"
    shots.mkdir(parents=True, exist_ok=True)
    project, home = _project(src), Path(tempfile.mkdtemp(prefix="bench-layout-home-"))
    proc, base = _start_lab(project, src, home)
    out = {}
    pending = list(TASKS)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
            for stage in STAGES:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(90_000)
                form = _open(page, base, stage)
                form.evaluate("e => e.scrollIntoView()")
                height = form.evaluate("e => Math.round(e.getBoundingClientRect().height)")
                page.screenshot(path=str(shots / f"layout-{label}-{stage}.png"))
                clicks, scrolled = 0, 0.0
                _settled(form)
                here = [p for p in pending if form.locator(f".pl-f-{p}").count()]
                for path in here:
                    pending.remove(path)
                    field = form.locator(f".pl-f-{path}").locator("input, textarea, select").first
                    field.wait_for(state="attached", timeout=90_000)
                    for _ in range(4):  # open the closed tab or fold around it, as a planner clicks it
                        if not field.evaluate(_MARK_CLOSED):
                            break
                        page.locator("[data-pl-reveal]").click()
                        clicks += 1
                    before = _scroll_top(page)
                    field.scroll_into_view_if_needed()
                    scrolled += abs(_scroll_top(page) - before)
                    field.click()
                    clicks += 1
                save = form.locator(".pl-save")
                before = _scroll_top(page)
                save.scroll_into_view_if_needed()
                scrolled += abs(_scroll_top(page) - before)
                clicks += 1  # 保存 (not pressed: nothing was changed)
                out[stage] = {"height": height, "clicks": clicks, "scroll": round(scrolled), "tasks": len(here)}
                print(f"{label:<8} {stage:<13} height {height:5d} px   tasks {len(here):2d}   clicks {clicks:2d}   "
                      f"scrolled {round(scrolled):5d} px", flush=True)
                page.close()
            browser.close()
        if pending:
            raise AssertionError(f"fields of the seed's tasks found in no stage form: {pending}")
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
    args = parser.parse_args()
    os.environ.pop("PLANLIB_FORMS", None)
    results = measure(args.src.resolve(), args.label)
    total = {k: sum(r[k] for r in results.values()) for k in ("height", "clicks", "scroll")}
    print(f"{args.label:<8} {'all':<13} height {total['height']:5d} px   clicks {total['clicks']:2d}   "
          f"scrolled {total['scroll']:5d} px")


if __name__ == "__main__":
    main()
