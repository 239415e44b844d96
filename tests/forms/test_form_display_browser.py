"""What the planner sees of the forms in a real JupyterLab at 1400×1000 (Debian's headless Chromium,
zh-CN as a Chinese planner's browser): wide tables keep their first column, dates read year first.

Stage 03's channel-plan lines and stage 04's budget lines are wider than the notebook and scroll
sideways inside the form; the row's number and first column (对象, 预算科目) must stay in view, or a
planner editing the far cells no longer knows which row they are on. Screenshots go to
test-artifacts/forms/ (gitignored).
"""

from __future__ import annotations

import pytest

from forms.browserkit import open_form, reveal, shot, wait_attached

pytestmark = pytest.mark.browser


def _inside(outer: dict, inner: dict) -> bool:
    return outer["x"] - 0.5 <= inner["x"] and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5


def _scrolled_right_keeps_the_first_column(form, table_path: str, first: str, last: str, name: str) -> None:
    page = form.page
    table = form.locator(f".pl-f-{table_path} > .pl-rows").first
    wait_attached(page, table)
    reveal(form, table)
    table.scroll_into_view_if_needed()
    width, visible = table.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert width > visible, f"{table_path}: {width} px in {visible} px — the table does not scroll, nothing is tested"
    table.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    page.wait_for_function("e => e.scrollLeft > 0", arg=table.element_handle())
    shot(page, f"sticky-{name}")
    box = table.bounding_box()
    far = form.locator(f".pl-f-{table_path}-0-{last}").bounding_box()
    assert _inside(box, far), f"the table did not scroll to its last column: {far} not in {box}"
    for row in (0, 1):
        cell = form.locator(f".pl-f-{table_path}-{row}-{first}").bounding_box()
        number = form.locator(f".pl-f-{table_path}-{row}").locator("xpath=../..").locator(".pl-sticky-num")
        assert _inside(box, cell), f"row {row + 1}'s {first} scrolled out of view: {cell} not in {box}"
        assert _inside(box, number.bounding_box()), f"row {row + 1}'s number scrolled out of view"
        # it is drawn over the cells that scroll under it (what the planner sees is the first column)
        hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('[class*=pl-f-]').className",
                            [cell["x"] + 8, cell["y"] + cell["height"] / 2])
        assert f"pl-f-{table_path}-{row}-{first}" in hit, hit
    head = form.locator(f".pl-f-{table_path} > .pl-rows > .pl-table-head .pl-sticky-first").bounding_box()
    assert _inside(box, head), "the first column's header scrolled out of view"


def test_channel_plan_lines_keep_their_audience_in_view(page, lab, project, nb_root):
    form = open_form(page, lab, project, nb_root, "03_channels")
    _scrolled_right_keeps_the_first_column(form, "channels-plan", "audience", "journey", "channels-plan")


def test_budget_lines_keep_their_category_in_view(page, lab, project, nb_root):
    form = open_form(page, lab, project, nb_root, "04_execution")
    _scrolled_right_keeps_the_first_column(form, "budget-lines", "category", "channel", "budget-lines")


# A date field's text as shown (the native date input's fields are only in the accessibility tree:
# its DOM value is always yyyy-mm-dd, whatever the browser displays)
def _shown_date(page, iso: str) -> str:
    cdp = page.context.new_cdp_session(page)
    nodes = {n["nodeId"]: n for n in cdp.send("Accessibility.getFullAXTree")["nodes"]}
    cdp.detach()

    def text(node: dict) -> str:
        if node.get("role", {}).get("value") == "StaticText":
            return node.get("name", {}).get("value", "")
        return "".join(text(nodes[c]) for c in node.get("childIds", []) if c in nodes)

    field = next((n for n in nodes.values() if n.get("role", {}).get("value") == "Date"
                  and n.get("value", {}).get("value") == iso), None)
    assert field is not None, f"no date field holding {iso} on the page"
    return text(field)


def test_a_date_reads_year_first_in_a_chinese_browser(page, lab, project, nb_root):
    """Chromium formats a date field in its own locale: a zh-CN browser shows 2024/04/01 (en-US
    would show 04/01/2024); the file keeps 2024-04-01."""
    form = open_form(page, lab, project, nb_root, "04_execution")
    assert page.evaluate("navigator.language") == "zh-CN"
    field = form.locator(".pl-f-tasks-0-start input[type=date]")
    wait_attached(page, field)
    reveal(form, field)
    assert field.input_value() == "2024-04-01"
    shown = _shown_date(page, "2024-04-01")
    assert shown == "2024/04/01", (f"the date field shows {shown!r}: Chromium is not in zh-CN "
                                   f"(apt-get install chromium-l10n; LANGUAGE=zh_CN)")
