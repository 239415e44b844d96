"""What the browser tests of the forms share: a JupyterLab server, Chromium, a project copy per test,
and the few steps a planner takes (open a stage's form, type into a field, save, take a screenshot).

The fixtures are in ``conftest.py`` (so every ``test_*_browser.py`` here gets them); the steps are here.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from conftest import ROOT

from forms.labserver import TOKEN

CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--lang=zh-CN"]
# Chinese planners run a zh-CN browser: the page's locale (Playwright's ``locale``) and Chromium's own
# (which formats a date field: 2024/07/15 in zh-CN, 07/15/2024 in en-US) read from LANGUAGE on
# Linux, and only when Debian's chromium-l10n is installed (else Chromium falls back to en-US)
LOCALE = "zh-CN"
CHROME_ENV = {"LANGUAGE": "zh_CN"}
SHOTS = ROOT / "test-artifacts" / "forms"
STAGES = ["01_goals", "02_needs", "03_channels", "04_execution", "05_review"]


# ----------------------------------------------------------------------------- helpers
_OPENINGS = itertools.count()


def open_form(page, lab: str, project: Path, nb_root: Path, stage: str, before_run: str | None = None):
    """Open ``stage``'s workbook and run every cell down to and including the form cell
    (``before_run``: JavaScript evaluated once the kernel is idle, before the cells run)."""
    from playwright.sync_api import expect

    rel = (project / "workbooks" / f"{stage}.ipynb").relative_to(nb_root).as_posix()
    # a workspace of its own per opening: a reused one restores the previous test's tabs
    workspace = f"{project.name}-{stage}-{next(_OPENINGS)}"
    page.goto(f"{lab}/lab/workspaces/{workspace}/tree/{rel}?token={TOKEN}")
    page.locator(".jp-NotebookPanel-toolbar").wait_for(timeout=60_000)
    expect(page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"^Python 3.*\| Idle$"))
           ).to_be_visible(timeout=60_000)
    # JupyterLab's widget manager loads the kernel's widgets once it has connected (restoreWidgets);
    # wait for that, as a planner's Run All a moment after opening does. (Forms that showed without
    # their tabs — "widget model not found" — were traced to the kernel dropping part of the form's
    # burst of comm_open messages, not to this load: see planlib/forms/kernelio.py.)
    assert page.evaluate(WIDGETS_RESTORED), "JupyterLab's widget manager never finished loading the kernel's widgets"
    if before_run:
        page.evaluate(before_run)
    page.evaluate("""async () => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        const i = nb.widgets.findIndex(c => c.model.sharedModel.getSource().includes('stage_form('));
        nb.activeCellIndex = i;
        await window.jupyterapp.commands.execute('notebook:run-all-above');
        await window.jupyterapp.commands.execute('notebook:run-cell');
    }""")
    form = page.locator(".pl-form")
    form.wait_for(timeout=90_000)
    return form


WIDGETS_RESTORED = """async () => {
    const panel = window.jupyterapp.shell.currentWidget;
    await panel.sessionContext.ready;
    // the notebook's widget renderer holds its widget manager (jupyterlab_widgets' WidgetRenderer)
    const renderer = panel.content.rendermime.createRenderer('application/vnd.jupyter.widget-view+json');
    const manager = await renderer._manager.promise;
    const until = Date.now() + 60000;
    while (!manager.restoredStatus && Date.now() < until) await new Promise(r => setTimeout(r, 100));
    return manager.restoredStatus;
}"""


# what the kernel built: the model ids and classes of every pl-f-* widget under form.widget
KERNEL_COUNT = """
import json as _json
def _pl_walk(widget, seen):
    if id(widget) in seen:
        return
    seen.add(id(widget))
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from _pl_walk(child, seen)
print("PLCOUNT" + _json.dumps([[x.model_id, [c for c in x._dom_classes if c.startswith("pl-f-")][0]]
      for x in _pl_walk(form.widget, set()) if any(c.startswith("pl-f-") for c in x._dom_classes)]))
"""

ASK_KERNEL = """async (code) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    let out = "";
    const future = kernel.requestExecute({code, silent: false, store_history: false});
    future.onIOPub = (msg) => {
        if (msg.header.msg_type === "stream") out += msg.content.text;
        if (msg.header.msg_type === "error") out += "ERROR " + msg.content.ename + ": " + msg.content.evalue;
    };
    await future.done;
    return out;
}"""

# the form's output, and in it: every rendered pl-f-* class; plus, for the models the kernel built,
# whether the widget manager knows them and how many views each has
RENDERED = """() => {
    const form = document.querySelector('.pl-form');
    if (!form) return [];
    return [...form.querySelectorAll('[class*="pl-f-"]')].map(
        e => [...e.classList].find(c => c.startsWith('pl-f-')));
}"""

MISSING_VIEWS = """async (ids) => {
    const nb = window.jupyterapp.shell.currentWidget.content;
    const cell = nb.widgets.find(c => c.model.sharedModel.getSource().includes('stage_form('));
    // each output's mime types; a widget output also its model id ("" once ipywidgets gave up on its view)
    const outputs = cell.outputArea.model.toJSON().map(o => Object.keys(o.data || {[o.output_type]: 1}).join('+') +
        (o.data && o.data['application/vnd.jupyter.widget-view+json'] ?
         ' model_id=' + JSON.stringify(o.data['application/vnd.jupyter.widget-view+json'].model_id) : ''));
    const find = (w) => {
        if (w && w._manager && w._manager.promise) return w;
        for (const c of (w && w.widgets) || []) { const f = find(c); if (f) return f; }
        return null;
    };
    const renderer = find(cell.outputArea);
    if (!renderer) return {error: 'no widget renderer in the form cell output', outputs};
    const manager = await renderer._manager.promise;
    const kernel = manager.kernel;
    const state = (p) => Promise.race([p.then(() => 'ok', e => 'rejected: ' + e),
                                       new Promise(r => setTimeout(() => r('pending'), 200))]);
    const problems = [];
    let stale = 0;
    for (const [id, cls] of ids) {
        let model = null;
        try { model = await manager.get_model(id); } catch (e) { problems.push({id, cls, problem: 'no model: ' + e}); continue; }
        const views = await Promise.all(Object.values(model.views || {}).map(state));
        const inDom = document.querySelector('.pl-form .' + CSS.escape(cls)) !== null;
        const comm = kernel && kernel._comms ? kernel._comms.get(id) : undefined;
        const live = comm !== undefined && !!model.comm && model.comm.jsServicesComm === comm;
        if (!live) stale += 1;
        if (!inDom || !live || views.some(v => v !== 'ok')) problems.push({id, cls, views, inDom, live});
    }
    let root = null;
    try {
        const id = renderer._rerenderMimeModel ? renderer._rerenderMimeModel.data['application/vnd.jupyter.widget-view+json'].model_id : null;
        const rootModel = id ? await manager.get_model(id) : null;
        root = {waiting_for_restore: !!renderer._rerenderMimeModel, text: renderer.node.textContent.slice(0, 80),
                root_views: rootModel ? Object.keys(rootModel.views || {}).length : null};
    } catch (e) { root = {error: String(e)}; }
    const panel = window.jupyterapp.shell.currentWidget;
    return {restored: manager.restoredStatus, stale, problems: problems.slice(0, 20), outputs, root,
            manager_kernel_is_sessions: manager.kernel === panel.sessionContext.session.kernel};
}"""


def wait_attached(page, locator, timeout: float = 90_000) -> None:
    """Wait for a field of a freshly built form; fail with :func:`form_report` if it never comes.

    A long form renders row by row on a busy machine, hence the long wait. A form that never shows
    a field the kernel built is a defect of the form, reported with what was missing — never hidden
    by rendering the form again.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        locator.wait_for(state="attached", timeout=timeout)
    except PlaywrightTimeout:
        raise AssertionError(missing_report(page, str(locator))) from None


# The outermost closed tab or fold around an element: its tab (or fold header) is marked for a real
# click (Lumino's tab bar reacts to pointer events, which only Playwright's click sends in full).
_MARK_CLOSED = """el => {
    let target = null;
    for (let n = el; n && !(n.classList && n.classList.contains('pl-form')); n = n.parentElement) {
        const p = n.parentElement;
        if (p && p.classList.contains('widget-tab-contents')) {
            const i = [...p.children].indexOf(n);
            const tabs = p.parentElement.querySelectorAll(':scope > .lm-TabBar .lm-TabBar-tab');
            if (tabs[i] && !tabs[i].classList.contains('lm-mod-current')) target = tabs[i];
        }
        if (n.classList && n.classList.contains('jupyter-widget-Collapse')
                && !n.classList.contains('jupyter-widget-Collapse-open')) {
            target = n.querySelector(':scope > .jupyter-widget-Collapse-header') || target;
        }
    }
    document.querySelectorAll('[data-pl-reveal]').forEach(x => x.removeAttribute('data-pl-reveal'));
    if (target) target.setAttribute('data-pl-reveal', '1');
    return target !== null;
}"""


def reveal(form, locator) -> None:
    """Open the tabs and folds around ``locator`` (as a planner clicks a tab) so it can be filled."""
    for _ in range(4):  # a tab, a fold inside it, …
        if not locator.evaluate(_MARK_CLOSED):
            return
        form.page.locator("[data-pl-reveal]").click()
    raise AssertionError(f"{locator} is still inside a closed tab or fold")


def set_text(form, path: str, text: str) -> None:
    box = form.locator(f".pl-f-{path}").locator("input, textarea").first
    page = form.page
    wait_attached(page, box)
    reveal(form, box)
    box.scroll_into_view_if_needed(timeout=30_000)
    box.fill(text)
    box.press("Tab")  # Text widgets sync to the kernel on blur


def missing_report(page, what: str) -> str:
    """What a test says when a field never appeared: the fields the kernel built against those the
    page shows, the widget models without a view, the form cell's outputs and the console."""
    name = re.sub(r"\W+", "-", what)[-60:]
    shot(page, f"missing-{name}")
    try:
        report = form_report(page)
    except Exception as exc:  # the report must not hide the failure it reports
        report = {"error": f"{type(exc).__name__}: {exc}"}
    return (f"{what} never appeared; {json.dumps(report, ensure_ascii=False)[:3000]}; "
            f"console: {getattr(page, 'console_errors', [])[-15:]}")


def form_report(page) -> dict:
    """The form's fields as the kernel built them and as the page shows them, and a diagnosis of
    the ones missing (their widget models, views and comms in JupyterLab's widget manager)."""
    out = page.evaluate(ASK_KERNEL, KERNEL_COUNT)
    match = re.search(r"PLCOUNT(.*)", out)
    if not match:
        return {"error": f"the kernel said: {out[-500:]}"}
    ids = json.loads(match.group(1))
    rendered = page.evaluate(RENDERED)
    missing = sorted({cls for _id, cls in ids} - set(rendered))
    return {"built": len(ids), "rendered": len(rendered), "missing": missing[:20],
            "diagnosis": page.evaluate(MISSING_VIEWS, ids)}


def save(form) -> None:
    form.locator("button.pl-save").click()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def _field(form, path: str, inner: str):
    """The element ``inner`` of the field at ``path``, attached and scrolled into view."""
    element = form.locator(f".pl-f-{path} {inner}").first
    wait_attached(form.page, element)
    reveal(form, element)
    element.scroll_into_view_if_needed(timeout=30_000)
    return element


def pick(form, path: str, label: str) -> None:
    """Choose ``label`` (what the planner reads, e.g. 短信(sms)) in the drop-down at ``path``."""
    from playwright.sync_api import expect

    select = _field(form, path, "select")
    select.select_option(label=label)
    expect(select.locator("option:checked")).to_have_text(label)


def add_chip(form, path: str, label: str) -> None:
    """Add ``label`` to the multi-select (TagsInput) at ``path``: click it, type the chip, leave it."""
    from playwright.sync_api import expect

    box = _field(form, path, ".jupyter-widget-tagsinput")
    box.click()  # the text box is hidden while the field holds chips; a click shows and focuses it
    entry = box.locator("input.jupyter-widget-taginput")
    entry.fill(label)
    # the chip is added on the input's change event: leaving the box commits it (in headless
    # Chromium, Enter in a text box with a datalist fired no change event; Tab did)
    entry.press("Tab")
    expect(box.locator("div.jupyter-widget-tag", has_text=label)).to_have_count(1)


def remove_chip(form, path: str, label: str) -> None:
    """Remove the chip ``label`` from the multi-select at ``path`` (its × button)."""
    from playwright.sync_api import expect

    box = _field(form, path, ".jupyter-widget-tagsinput")
    chip = box.locator("div.jupyter-widget-tag", has_text=label)
    chip.locator(".jupyter-widget-tag-close").click()
    expect(chip).to_have_count(0)


def rows(form, path: str) -> int:
    """How many rows the list table at ``path`` shows (``pl-f-<path>-<i>`` boxes)."""
    return form.evaluate("""(e, path) => {
        const row = new RegExp('^pl-f-' + path + '-[0-9]+$');
        return [...e.querySelectorAll('[class*="pl-f-' + path + '-"]')]
            .filter(x => [...x.classList].some(c => row.test(c))).length;
    }""", path)


def _row_button(form, css_class: str, path: str, change: int) -> None:
    """Press a row button and wait until the table shows the rows the kernel rebuilt: the new
    rows reuse the old rows' classes, so a step before that would reach a discarded widget."""
    button = form.locator(f"button.{css_class}")
    wait_attached(form.page, button)
    reveal(form, button)
    before = rows(form, path)
    button.scroll_into_view_if_needed(timeout=30_000)
    button.click()
    form.page.wait_for_function("""([path, n]) => {
        const row = new RegExp('^pl-f-' + path + '-[0-9]+$');
        const form = document.querySelector('.pl-form');
        return [...form.querySelectorAll('[class*="pl-f-' + path + '-"]')]
            .filter(x => [...x.classList].some(c => row.test(c))).length === n;
    }""", arg=[path, before + change])


def add_row(form, path: str) -> None:
    """Press 添加一行 under the list table at ``path`` (e.g. ``tasks``) and wait for the new row."""
    _row_button(form, f"pl-add-{path}", path, +1)


def delete_row(form, path: str, i: int) -> None:
    """Press the delete button of row ``i`` (from 0) of the list table at ``path``."""
    _row_button(form, f"pl-del-{path}-{i}", path, -1)
