"""What the browser tests of the forms share: a JupyterLab server, Chromium, a project copy per test,
and the few steps a planner takes (open a stage's form, type into a field, save, take a screenshot).

The fixtures are in ``conftest.py`` (so every ``test_*_browser.py`` here gets them); the steps are here.
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

from conftest import ROOT

from forms.labserver import TOKEN

CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SHOTS = ROOT / "test-artifacts" / "forms"
STAGES = ["01_goals", "02_needs", "03_channels", "04_execution", "05_review"]


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
    reveal(form, box)
    box.scroll_into_view_if_needed(timeout=30_000)
    box.fill(text)
    box.press("Tab")  # Text widgets sync to the kernel on blur


def save(form) -> None:
    form.locator("button.pl-save").click()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def _field(form, path: str, inner: str):
    """The element ``inner`` of the field at ``path``, attached and scrolled into view."""
    element = form.locator(f".pl-f-{path} {inner}").first
    wait_attached(form.page, element)
    form.page.form_edited = True
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
    form.page.form_edited = True
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
