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

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from forms.browserkit import STAGES, open_form, pick, save, set_text, shot, wait_attached
from planlib.plan.planfile import load_plan

HEADER_COMMENT = "# 客户互动管理策划书 — 演示零售事业部 2024年第二季度"
INLINE_COMMENT = "# 往季沉睡中价值客户30天内自然回购约5%(未做活动时)"

pytestmark = pytest.mark.browser


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
    pick(form, "budget-lines-5-channel", "短信(sms)")  # a drop-down of the catalogue's channels
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


def test_a_dependency_problem_is_live_and_its_summary_button_jumps_to_the_field(page, lab, project, nb_root):
    """Typing a start date before the dependency's end shows the problem at once (no save, no Run
    All); the bar's button named after the field opens its tab and focuses it."""
    from playwright.sync_api import expect

    plan = project / "parameters" / "demo" / "2024Q2.yaml"
    before = plan.read_bytes()
    form = open_form(page, lab, project, nb_root, "04_execution")
    set_text(form, "tasks-4-start", "2024-04-28")  # T5 depends on T4, which ends 2024-04-30
    expect(form.locator(".pl-e-tasks-4-start")).to_contain_text("前置任务 T4 到 2024-04-30 才结束")
    jump = form.locator(".pl-bar button.pl-jump-tasks-4-start")
    expect(jump).to_contain_text("实施计划 › 第 5 项 › 开始")
    expect(form.locator("button.pl-save")).to_be_disabled()
    form.locator(".pl-tabs .lm-TabBar-tab", has_text="预算").click()  # the planner looks elsewhere
    field = form.locator(".pl-f-tasks-4-start input")
    expect(field).to_be_hidden()
    expect(form.locator(".pl-tabs.pl-open-3")).to_have_count(1)  # the kernel has heard of the click
    jump.click()
    expect(form.locator(".pl-tabs.pl-open-0")).to_have_count(1)
    expect(field).to_be_visible()
    expect(field).to_be_in_viewport()
    focused = page.wait_for_function(
        "() => document.activeElement && document.activeElement.closest('.pl-f-tasks-4-start') !== null")
    assert focused.json_value()
    expect(field).to_be_visible()  # and it stays open
    shot(page, "04_execution-jump")
    assert plan.read_bytes() == before


def test_channel_cost_and_contact_cap_problems_show_while_typing(page, lab, project, nb_root):
    from playwright.sync_api import expect

    plan = project / "parameters" / "demo" / "2024Q2.yaml"
    before = plan.read_bytes()
    form = open_form(page, lab, project, nb_root, "03_channels")
    set_text(form, "channels-plan-2-contacts_per_customer", "12")  # 8 + 1 + 12 > max_contacts 16
    expect(form.locator(".pl-e-channels-plan-2-contacts_per_customer")).to_contain_text("超过渠道约束中的上限 16 次")
    set_text(form, "channels-catalogue-1-cost_per_contact", "500")  # wecom: its budget line is 2,000 元
    expect(form.locator(".pl-summary")).to_contain_text("超出对应的预算明细 2,000 元")
    expect(form.locator("button.pl-save")).to_be_disabled()
    jump = form.locator(".pl-bar button.pl-jump-channels-plan-0-contacts_per_customer").first
    jump.click()  # from the catalogue tab back to the plan row that spends the money
    field = form.locator(".pl-f-channels-plan-0-contacts_per_customer input")
    expect(field).to_be_focused()
    expect(form.locator(".pl-e-channels-plan-0-contacts_per_customer")).to_contain_text("企业微信/社群的渠道成本约")
    shot(page, "03_channels-live-problems")
    assert plan.read_bytes() == before
