"""The planner forms in a real JupyterLab, driven through Debian's headless Chromium.

For every stage workbook: open it, run the cells down to the form, change a value, press 保存
and check the YAML on disk (the value, the hand-written comments, the untouched base file) and
that the plan still validates. Also: an invalid value is refused with the schema's message and
nothing is saved; a form whose file changed on disk refuses to overwrite it.

One JupyterLab server (temporary config folders, own token, free port) serves the whole module;
each test has its own project copy and deletes its kernel session afterwards. Screenshots go to
test-artifacts/forms/ for a person to look at.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, make_small_demo

from forms.labserver import TOKEN, running_lab
from planlib.plan.planfile import load_plan

CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SHOTS = ROOT / "test-artifacts" / "forms"
STAGES = ["01_goals", "02_needs", "03_channels", "04_execution", "05_review"]
HEADER_COMMENT = "# 客户互动管理策划书 — 演示零售事业部 2024年第二季度"
INLINE_COMMENT = "# 往季沉睡中价值客户30天内自然回购约5%(未做活动时)"

pytestmark = pytest.mark.browser


# ----------------------------------------------------------------------------- server and browser
@pytest.fixture(scope="module")
def nb_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("forms-lab")


@pytest.fixture(scope="module")
def lab(nb_root, tmp_path_factory):
    home = tmp_path_factory.mktemp("forms-jhome")
    settings = home / "lab-settings"
    notif = settings / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True)
    (notif / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # every cell attached and laid out: the tests look at one long form output, and JupyterLab's
    # default (content-visibility, cells attached in idle time) made its lower fields appear late
    # or not at all on a busy machine
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    with running_lab(nb_root, home, [
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={home / 'workspaces'}"]) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (never `playwright install`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
        yield browser
        browser.close()


def _api(lab: str, path: str, method: str = "GET"):
    req = urllib.request.Request(f"{lab}{path}", method=method, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req) as r:
        body = r.read()
    return json.loads(body) if body else None


@pytest.fixture
def project(nb_root, request, lab):
    """A project copy per test (workbooks/ + parameters/demo/); its kernel is shut down afterwards."""
    folder = nb_root / re.sub(r"\W+", "_", request.node.name)
    (folder / "workbooks").mkdir(parents=True)
    make_small_demo(folder, customers=300)
    for stage in STAGES:
        shutil.copy(ROOT / "workbooks" / f"{stage}.ipynb", folder / "workbooks")
    yield folder
    for session in _api(lab, "/api/sessions"):
        if session["path"].startswith(folder.name + "/"):
            _api(lab, f"/api/sessions/{session['id']}", "DELETE")


@pytest.fixture
def page(browser):
    from playwright.sync_api import expect

    # each check waits on a round trip through the kernel (widget sync, validation, reply):
    # Playwright's 5 s default is too short when JupyterLab, the kernel and Chromium share 2 cores
    expect.set_options(timeout=30_000)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.console_errors = []  # what JupyterLab logged, shown when a field never appears
    page.on("console", lambda m: m.type in ("error", "warning") and page.console_errors.append(m.text[:300]))
    page.on("pageerror", lambda e: page.console_errors.append(f"pageerror: {str(e)[:300]}"))
    yield page
    page.close()


# ----------------------------------------------------------------------------- helpers
_OPENINGS = itertools.count()


def open_form(page, lab: str, project: Path, nb_root: Path, stage: str):
    """Open ``stage``'s workbook and run every cell down to and including the form cell."""
    from playwright.sync_api import expect

    rel = (project / "workbooks" / f"{stage}.ipynb").relative_to(nb_root).as_posix()
    # a workspace of its own per opening: a reused one restores the previous test's tabs
    workspace = f"{project.name}-{stage}-{next(_OPENINGS)}"
    page.goto(f"{lab}/lab/workspaces/{workspace}/tree/{rel}?token={TOKEN}")
    page.locator(".jp-NotebookPanel-toolbar").wait_for(timeout=60_000)
    expect(page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"^Python 3.*\| Idle$"))
           ).to_be_visible(timeout=60_000)
    page.evaluate("""async () => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        const i = nb.widgets.findIndex(c => c.model.sharedModel.getSource().includes('stage_form('));
        nb.activeCellIndex = i;
        await window.jupyterapp.commands.execute('notebook:run-all-above');
        await window.jupyterapp.commands.execute('notebook:run-cell');
    }""")
    form = page.locator(".pl-form")
    form.wait_for(timeout=90_000)
    page.form_edited = False
    return form


def _rerun_form_cell(page) -> None:
    """Run the form cell again, as a planner would when a form shows up incomplete."""
    page.evaluate("""async () => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        nb.activeCellIndex = nb.widgets.findIndex(c => c.model.sharedModel.getSource().includes('stage_form('));
        await window.jupyterapp.commands.execute('notebook:run-cell');
    }""")


def wait_attached(page, locator) -> None:
    """Wait for a field of a freshly built form; re-render the form once if a widget view is missing
    (the defect described in :func:`set_text`)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        locator.wait_for(state="attached", timeout=60_000)
    except PlaywrightTimeout:
        shot(page, "missing-after-rebuild")
        print(f"re-rendering the form once: {locator} never appeared; console: "
              f"{getattr(page, 'console_errors', [])[-15:]}", file=sys.stderr)
        _rerun_form_cell(page)
        locator.wait_for(state="attached", timeout=90_000)


def set_text(form, path: str, text: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = form.locator(f".pl-f-{path}").locator("input, textarea").first
    page = form.page
    try:
        box.wait_for(state="attached", timeout=90_000)  # a long form renders row by row on a busy machine
    except PlaywrightTimeout:
        fields = form.evaluate("e => [...e.querySelectorAll('[class*=pl-f-]')].length")
        shot(page, f"missing-{path}")
        report = (f"field {path} never appeared; form has {fields} fields; "
                  f"console: {getattr(page, 'console_errors', [])[-15:]}")
        if getattr(page, "form_edited", True):
            raise AssertionError(report) from None
        # Seen about once in ten runs on a loaded 2-core machine: a form output rendered with
        # some widget views missing (nothing in the kernel or the console says why). A new
        # rendering of the untouched form is what a planner would get by running the cell again;
        # a form that is incomplete twice fails the test.
        print(f"re-rendering the form once: {report}", file=sys.stderr)
        _rerun_form_cell(page)
        box.wait_for(state="attached", timeout=90_000)
    page.form_edited = True
    box.scroll_into_view_if_needed(timeout=30_000)
    box.fill(text)
    box.press("Tab")  # Text widgets sync to the kernel on blur


def save(form) -> None:
    form.locator("button.pl-save").click()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


# ----------------------------------------------------------------------------- tests
ROUND_TRIPS = {
    # stage: (field path, text typed, (key path in the merged plan), expected value)
    "01_goals": ("goals-0-baseline", "4", ("goals", 0, "baseline"), 4),
    "02_needs": ("segmentation-rfm-window_days", "400", ("segmentation", "rfm", "window_days"), 400),
    "03_channels": ("channels-plan-0-contacts_per_customer", "9.5",
                    ("channels", "plan", 0, "contacts_per_customer"), 9.5),
    "04_execution": ("budget-limit", "12000", ("budget", "limit"), 12000),
    "05_review": ("review-campaign", "2024Q2-forms", ("review", "campaign"), "2024Q2-forms"),
}


@pytest.mark.parametrize("stage", STAGES)
def test_stage_form_round_trip(stage, page, lab, project, nb_root):
    from playwright.sync_api import expect

    plan = project / "parameters" / "demo" / "2024Q2.yaml"
    base_before = (plan.parent / "base.yaml").read_bytes()
    form = open_form(page, lab, project, nb_root, stage)
    field, typed, key, expected = ROUND_TRIPS[stage]
    form.evaluate("e => e.scrollIntoView()")
    shot(page, f"{stage}-form")
    set_text(form, field, typed)
    expect(form.locator(".pl-summary")).to_contain_text("整个计划通过校验")
    save(form)
    expect(form.locator(".pl-status")).to_contain_text("已保存", timeout=30_000)
    shot(page, f"{stage}-saved")

    loaded = load_plan(plan)  # what `planlib validate` does
    value = loaded.data
    for seg in key:
        value = value[seg]
    assert value == expected and type(value) is type(expected)
    text = plan.read_text(encoding="utf-8")
    assert HEADER_COMMENT in text and INLINE_COMMENT in text
    assert (plan.parent / "base.yaml").read_bytes() == base_before  # overrides land in the quarter file
    assert list((plan.parent / ".2024Q2.yaml.bak").iterdir())  # the previous version is kept
    result = subprocess.run([str(Path(sys.executable).with_name("planlib")), "validate", str(plan)],
                            capture_output=True, text=True, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr

    # the planner ran the workbook and JupyterLab saves it: the template stays as committed
    template = project / "workbooks" / f"{stage}.ipynb"
    before_save = template.stat().st_mtime_ns
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + 30
    while template.stat().st_mtime_ns == before_save and time.monotonic() < deadline:
        time.sleep(0.2)
    assert template.stat().st_mtime_ns != before_save, "JupyterLab did not save the notebook"
    saved = json.loads(template.read_text(encoding="utf-8"))
    committed = json.loads((ROOT / "workbooks" / f"{stage}.ipynb").read_text(encoding="utf-8"))
    changed = [(a, b) for a, b in zip(saved["cells"], committed["cells"], strict=False) if a != b]
    assert not changed and len(saved["cells"]) == len(committed["cells"]), repr(changed[:1])[:3000]
    assert saved == committed


def test_invalid_value_is_refused_with_the_schema_message(page, lab, project, nb_root):
    from playwright.sync_api import expect

    plan = project / "parameters" / "demo" / "2024Q2.yaml"
    before = plan.read_bytes()
    form = open_form(page, lab, project, nb_root, "04_execution")
    set_text(form, "budget-lines-0-planned", "1,200")
    error = form.locator(".pl-e-budget-lines-0-planned")
    expect(error).to_contain_text("应为数字")
    expect(error).to_contain_text("去掉千位分隔符,写成 1200")
    expect(form.locator("button.pl-save")).to_be_disabled()
    set_text(form, "budget-limit", "-5")
    expect(form.locator(".pl-e-budget-limit")).to_contain_text("应不小于 0")
    shot(page, "04_execution-invalid")
    assert plan.read_bytes() == before
    set_text(form, "budget-lines-0-planned", "1000")
    set_text(form, "budget-limit", "10000")
    expect(form.locator("button.pl-save")).to_be_enabled()
    expect(error).to_have_text("")


def test_stale_form_refuses_to_overwrite(page, lab, project, nb_root):
    from playwright.sync_api import expect

    plan = project / "parameters" / "demo" / "2024Q2.yaml"
    form = open_form(page, lab, project, nb_root, "05_review")
    changed = plan.read_text(encoding="utf-8") + "# 同事在编辑器里加的一行注释\n"
    plan.write_text(changed, encoding="utf-8")
    set_text(form, "review-campaign", "2024Q2-stale")
    save(form)
    expect(form.locator(".pl-status")).to_contain_text("已被修改", timeout=30_000)
    shot(page, "05_review-stale")
    assert plan.read_text(encoding="utf-8") == changed


def test_an_empty_plan_file_is_filled_from_the_form_rows_and_date_picker_included(page, lab, project, nb_root):
    """The start of building a plan from nothing: open_stage fails, the form still opens and saves."""
    from playwright.sync_api import expect

    plan = project / "parameters" / "demo" / "2024Q2.yaml"
    plan.write_text("# 新计划:从表单填写\n", encoding="utf-8")
    form = open_form(page, lab, project, nb_root, "05_review")
    expect(form.locator("button.pl-save")).to_be_disabled()  # 活动代码 is required
    set_text(form, "review-campaign", "2024Q3-new")
    form.locator(".pl-add-review-actions").click()
    form.locator(".pl-f-review-actions-0-owner").wait_for()
    expect(form.locator(".pl-e-review-actions-0-due")).to_contain_text("不能为空")
    set_text(form, "review-actions-0-problem", "参与率未达标")
    set_text(form, "review-actions-0-measure", "增加短信提醒")
    set_text(form, "review-actions-0-owner", "客服专员")
    set_text(form, "review-actions-0-due", "2024-07-15")
    form.locator(".pl-f-review-actions-0-status select").select_option("已完成")
    expect(form.locator("button.pl-save")).to_be_enabled()
    expect(form.locator(".pl-summary")).to_contain_text("计划的其他部分还有")
    save(form)
    expect(form.locator(".pl-status")).to_contain_text("已保存", timeout=30_000)
    shot(page, "05_review-from-empty")
    from ruamel.yaml import YAML

    text = plan.read_text(encoding="utf-8")
    assert text.startswith("# 新计划:从表单填写\n")
    data = YAML(typ="safe").load(text)
    assert data == {"review": {"campaign": "2024Q3-new", "actions": [
        {"problem": "参与率未达标", "measure": "增加短信提醒", "owner": "客服专员",
         "due": __import__("datetime").date(2024, 7, 15), "status": "done"}]}}


def test_unsaved_edits_survive_run_all_and_are_restored_on_request(page, lab, project, nb_root):
    from playwright.sync_api import expect

    plan = project / "parameters" / "demo" / "2024Q2.yaml"
    draft = plan.with_name(".2024Q2.yaml.draft.json")
    before = plan.read_bytes()
    form = open_form(page, lab, project, nb_root, "04_execution")
    set_text(form, "budget-limit", "12345")  # the first field: waits for the form (see set_text)
    expect(form.locator(".pl-state")).to_contain_text("有未保存的修改")
    deadline = time.monotonic() + 30
    while not draft.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "12345" in draft.read_text(encoding="utf-8")

    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    offer = page.locator(".pl-form .pl-draft")
    expect(offer).to_be_visible(timeout=120_000)
    expect(offer).to_contain_text("发现上次未保存的修改")
    form = page.locator(".pl-form")
    limit = form.locator(".pl-f-budget-limit input")
    wait_attached(page, limit)
    expect(offer).to_contain_text("发现上次未保存的修改")
    expect(limit).not_to_have_value("12345")  # offered, not applied
    offer.scroll_into_view_if_needed()
    shot(page, "04_execution-draft-offered")
    offer.locator("button.pl-restore").click()
    expect(limit).to_have_value("12345")
    expect(offer).to_be_hidden()
    expect(form.locator(".pl-state")).to_contain_text("有未保存的修改")
    assert plan.read_bytes() == before
    save(form)
    expect(form.locator(".pl-status")).to_contain_text("已保存", timeout=30_000)
    expect(form.locator(".pl-state")).to_contain_text("已保存")
    assert load_plan(plan).data["budget"]["limit"] == 12345
    assert not draft.exists()


def test_the_bar_with_save_stays_in_view_while_scrolling(page, lab, project, nb_root):
    from playwright.sync_api import expect

    form = open_form(page, lab, project, nb_root, "04_execution")
    set_text(form, "budget-lines-5-planned", "500")  # waits for the last row (see set_text)
    last = form.locator(".pl-f-budget-lines-5-note")
    last.scroll_into_view_if_needed()
    bar = form.locator(".pl-bar")
    expect(bar.locator(".pl-totals")).to_contain_text("剩余 500 元")
    shot(page, "04_execution-scrolled")
    button = form.locator("button.pl-save").bounding_box()
    field = last.bounding_box()
    assert button["y"] >= 0 and button["y"] + button["height"] <= 1000, button
    assert 0 <= field["y"] <= 1000 and field["y"] - button["y"] > 300, (button, field)
    form.locator("button.pl-save").click()  # reachable without scrolling back up
    expect(form.locator(".pl-status")).to_contain_text("已保存", timeout=30_000)


def test_list_table_rows_are_edited_added_deleted_and_undone(page, lab, project, nb_root):
    from playwright.sync_api import expect

    plan = project / "parameters" / "demo" / "2024Q2.yaml"
    form = open_form(page, lab, project, nb_root, "04_execution")
    set_text(form, "budget-lines-0-detail", "宣传海报20张(表格中修改)")
    head = form.locator(".pl-f-budget-lines .pl-table-head")
    expect(head).to_contain_text("预算金额(元)")
    form.locator("button.pl-del-budget-lines-1").click()  # the 2000 line of 物料费
    form.locator("button.pl-undo-budget-lines").click()   # … and back
    expect(form.locator(".pl-f-budget-lines-1-planned input")).to_have_value("2000")
    form.locator("button.pl-del-budget-lines-1").click()
    expect(form.locator(".pl-f-budget-lines-5")).to_have_count(0)
    form.locator("button.pl-add-budget-lines").click()
    set_text(form, "budget-lines-5-category", "推广费")
    set_text(form, "budget-lines-5-planned", "1500")
    set_text(form, "budget-lines-5-channel", "sms")
    expect(form.locator(".pl-bar .pl-totals")).to_contain_text("已用 9,500 / 上限 10,000 元,剩余 500 元")
    form.locator(".pl-f-budget-lines").scroll_into_view_if_needed()
    shot(page, "04_execution-table")
    expect(form.locator(".pl-summary")).to_contain_text("整个计划通过校验")
    save(form)
    expect(form.locator(".pl-status")).to_contain_text("已保存", timeout=30_000)
    data = load_plan(plan).data
    lines = data["budget"]["lines"]
    assert [x["planned"] for x in lines] == [1000, 3000, 1000, 2000, 1000, 1500]
    assert lines[0]["detail"] == "宣传海报20张(表格中修改)"
    assert lines[5] == {"category": "推广费", "planned": 1500, "channel": "sms"} | {
        k: v for k, v in lines[5].items() if k not in ("category", "planned", "channel")}
    assert HEADER_COMMENT in plan.read_text(encoding="utf-8")
