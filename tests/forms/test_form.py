"""Planner forms generated from the schema: values, live validation, saving, batch detection.

The widgets are driven from Python here (the browser suite drives them through JupyterLab).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import pytest
from conftest import ROOT
from pydantic import Field

from planlib.forms import choices
from planlib.forms import form as forms
from planlib.forms.fields import (
    MISSING,
    ListOf,
    Model,
    OptionalModel,
    Scalar,
    build_editor,
    css,
    read_scalar,
    show_scalar,
    walk,
)
from planlib.forms.form import PlanForm, is_interactive, overrides, sections_for, stage_form
from planlib.forms.save import file_digest
from planlib.plan.planfile import load_plan
from planlib.plan.schema import Plan, StrictModel

STAGES = list(forms.STAGE_SECTIONS)


def editor_at(form: PlanForm, path: tuple) -> Scalar:
    found = {e.path: e for top in form.tops.values() for e in walk(top)}
    return found[path]


def type_into(form: PlanForm, path: tuple, text: str) -> None:
    editor_at(form, path).input.value = text


def message_at(form: PlanForm, path: tuple) -> str:
    return editor_at(form, path).error.value


# ----------------------------------------------------------------------------- generated from the schema
def _leaf_paths(model, data, prefix=()):
    """Every schema field path under ``model``, following list rows present in ``data``."""
    from planlib.forms.fields import is_model, strip

    for name, info in model.model_fields.items():
        path = (*prefix, name)
        inner, _, _ = strip(info.annotation)
        value = data.get(name) if isinstance(data, dict) else None
        if is_model(inner):
            yield from _leaf_paths(inner, value or {}, path)
        elif getattr(inner, "__origin__", None) is list and is_model(strip(inner.__args__[0])[0]):
            for i, row in enumerate(value or []):
                yield from _leaf_paths(strip(inner.__args__[0])[0], row, (*path, i))
            yield path
        else:
            yield path


def test_every_schema_field_of_the_plan_has_a_widget_in_exactly_one_stage_form(demo):
    data = load_plan(demo).data
    seen: dict[tuple, str] = {}
    for stage in STAGES:
        form = PlanForm(demo, sections_for(stage), stage=stage)
        for editor in (e for top in form.tops.values() for e in walk(top)):
            seen.setdefault(editor.path, stage)
    missing = [p for p in _leaf_paths(Plan, data) if p not in seen]
    assert missing == []
    assert {p[0] for p in seen} == set(Plan.model_fields)  # new top-level sections land in 01


def test_a_field_added_to_a_model_appears_without_form_code():
    class Settings(StrictModel):
        level: int = Field(default=3, ge=1, le=5, title="等级")

    class Row(StrictModel):
        name: str = Field(title="名称")
        share: float | None = Field(default=None, title="比例")

    class NewSection(StrictModel):
        mode: Literal["a", "b"] = Field(title="模式")
        when: date = Field(title="日期")
        tags: list[str] = Field(default_factory=list, title="标签")
        caps: dict[str, float] = Field(default_factory=dict, title="上限")
        settings: Settings = Field(default_factory=Settings, title="设置")
        extra: Settings | None = Field(default=None, title="可选设置")
        rows: list[Row] = Field(default_factory=list, title="明细")
        by_name: dict[str, Row] = Field(default_factory=dict, title="按名称")

    from pydantic.fields import FieldInfo

    info = FieldInfo.from_annotated_attribute(NewSection, Field(title="新部分"))
    data = {"mode": "b", "when": date(2024, 5, 1), "tags": ["x", "y"], "caps": {"高价值客户": 70},
            "settings": {"level": 4}, "rows": [{"name": "r1", "share": 0.5}],
            "by_name": {"甲": {"name": "n"}}}
    editor = build_editor(("new",), info, data, True, lambda: None, lambda p: "")
    by_path = {e.path: e for e in walk(editor)}
    assert {("new", "mode"), ("new", "when"), ("new", "tags"), ("new", "caps"), ("new", "settings", "level"),
            ("new", "extra"), ("new", "rows", 0, "name"), ("new", "rows", 0, "share"),
            ("new", "by_name", "甲", "share")} <= set(by_path)
    assert NewSection.model_validate(editor.value()).model_dump() == NewSection.model_validate(data).model_dump()
    assert isinstance(by_path[("new", "extra")], OptionalModel)
    assert isinstance(by_path[("new", "rows")], ListOf)
    assert "pl-f-new-rows-0-share" in by_path[("new", "rows", 0, "share")].box._dom_classes


def test_css_class_follows_the_schema_path():
    assert css(("goals", 0, "target")) == "pl-f-goals-0-target"
    assert css(("budget", "limit"), "pl-e") == "pl-e-budget-limit"


# ----------------------------------------------------------------------------- nothing coerced
@pytest.mark.parametrize(("text", "allowed", "expected"), [
    ("12", {float}, 12), ("12.5", {float}, 12.5), ("1,200", {float}, "1,200"), ("12%", {float}, "12%"),
    ("007", {str}, "007"), ("12", {str}, "12"), ("2024-04-01", {date}, date(2024, 4, 1)),
    ("2024-02-30", {date}, "2024-02-30"), ("12.5", {int}, 12.5), ("3", {str, int}, 3), ("abc", {str, int}, "abc"),
    (" 12 ", {float}, 12),
])
def test_typed_text_is_read_as_a_yaml_file_would_read_it(text, allowed, expected):
    value = read_scalar(text, allowed)
    assert value == expected and type(value) is type(expected)


def test_show_scalar_writes_back_what_was_read():
    for value in (12, 12.5, 0.02, "G1", date(2024, 4, 1), True):
        assert read_scalar(show_scalar(value), {type(value)}) == value


def test_out_of_range_and_wrong_type_are_shown_next_to_the_field_never_clamped(demo):
    form = PlanForm(demo, sections_for("03_channels"), stage="03_channels")
    type_into(form, ("channels", "catalogue", 0, "reach_rate"), "150")
    assert form.values()["channels"]["catalogue"][0]["reach_rate"] == 150  # kept as typed
    assert "应不大于 100" in message_at(form, ("channels", "catalogue", 0, "reach_rate"))
    assert form.save_button.disabled
    type_into(form, ("channels", "catalogue", 0, "reach_rate"), "60")
    assert message_at(form, ("channels", "catalogue", 0, "reach_rate")) == ""
    assert not form.save_button.disabled


def test_integer_field_refuses_a_decimal_instead_of_rounding_it(demo):
    form = PlanForm(demo, sections_for("02_needs"), stage="02_needs")
    type_into(form, ("segmentation", "rfm", "window_days"), "365.5")
    assert "这里要整数" in message_at(form, ("segmentation", "rfm", "window_days"))
    assert form.values()["segmentation"]["rfm"]["window_days"] == 365.5


def test_thousands_separator_gets_the_schema_hint(demo):
    form = PlanForm(demo, sections_for("04_execution"), stage="04_execution")
    type_into(form, ("budget", "lines", 0, "planned"), "1,200")
    message = message_at(form, ("budget", "lines", 0, "planned"))
    assert "「预算金额(元)」应为数字" in message and "写成 1200" in message
    assert form.save() is False
    assert "没有保存" in form.status.value


def test_emptying_a_required_field_says_it_cannot_be_empty(demo):
    form = PlanForm(demo, sections_for("01_goals"), stage="01_goals")
    type_into(form, ("goals", 0, "name"), "")
    assert "不能" in message_at(form, ("goals", 0, "name"))
    assert form.save_button.disabled


def test_cross_field_check_is_shown_at_its_field(demo):
    demo.write_text(demo.read_text(encoding="utf-8").replace("depends_on: [T1], done_when: 完成物料终稿",
                                                             "depends_on: [T1, T9], done_when: 完成物料终稿"),
                    encoding="utf-8")
    form = PlanForm(demo, sections_for("04_execution"), stage="04_execution")
    depends = editor_at(form, ("tasks", 1, "depends_on"))
    assert "T9" in message_at(form, ("tasks", 1, "depends_on"))
    assert form.save_button.disabled
    depends.input.value = depends.labels(["T1"])  # the planner removes the unknown chip
    assert message_at(form, ("tasks", 1, "depends_on")) == "" and not form.save_button.disabled


def test_problems_in_other_stages_are_listed_but_do_not_block(tmp_path):
    plan = tmp_path / "2024Q3.yaml"
    plan.write_text("", encoding="utf-8")
    form = PlanForm(plan, sections_for("05_review"), stage="05_review")
    type_into(form, ("review", "campaign"), "2024Q3-x")
    assert not form.save_button.disabled
    assert "计划的其他部分还有" in form.summary.value
    assert form.save() is True


# ----------------------------------------------------------------------------- saving
def test_saving_an_unchanged_form_leaves_the_file_byte_for_byte(demo):
    before = demo.read_bytes()
    for stage in STAGES:
        form = PlanForm(demo, sections_for(stage), stage=stage)
        assert form.save() is True, form.status.value
    assert demo.read_bytes() == before


def test_a_change_keeps_comments_and_order_and_validates(demo):
    form = PlanForm(demo, sections_for("01_goals"), stage="01_goals")
    type_into(form, ("goals", 0, "baseline"), "4")
    assert form.save() is True
    text = demo.read_text(encoding="utf-8")
    assert "baseline: 4  # 往季沉睡中价值客户30天内自然回购约5%(未做活动时)\n    target: 12\n" in text
    assert text.startswith("# 客户互动管理策划书")
    assert load_plan(demo).plan.goals[0].baseline == 4


def test_a_goal_target_that_disagrees_with_its_kpi_row_blocks_saving(demo):
    before = demo.read_bytes()
    form = PlanForm(demo, sections_for("01_goals"), stage="01_goals")
    type_into(form, ("goals", 0, "target"), "15")
    assert form.save_button.disabled
    assert "不一致" in form.summary.value or "不一致" in str(form.problems)
    assert form.save() is False
    assert demo.read_bytes() == before


def test_an_inherited_value_is_written_to_the_quarter_file_and_base_is_untouched(demo):
    base_before = (demo.parent / "base.yaml").read_bytes()
    form = PlanForm(demo, sections_for("02_needs"), stage="02_needs")
    assert "继承" in editor_at(form, ("segmentation", "rfm", "window_days")).box.children[0].value
    type_into(form, ("segmentation", "rfm", "window_days"), "400")
    assert form.save() is True
    assert (demo.parent / "base.yaml").read_bytes() == base_before
    text = demo.read_text(encoding="utf-8")
    assert "segmentation:\n  rfm:\n    window_days: 400\n" in text
    assert "tiers" not in text  # unchanged inherited lists are not copied
    loaded = load_plan(demo).plan
    assert loaded.segmentation.rfm.window_days == 400 and len(loaded.segmentation.tiers) == 5


def test_clearing_an_inherited_optional_value_writes_null():
    assert overrides(MISSING, 5, MISSING) is None
    assert overrides({"a": 1}, {"a": 1, "b": 2}, MISSING) == {"b": None}
    assert overrides({"a": 1}, {"a": 1}, MISSING) is MISSING
    assert overrides({"a": 1}, {"a": 1}, {"a": 1}) == {"a": 1}  # what the planner wrote stays written


def test_stale_form_refuses_and_says_so(demo):
    form = PlanForm(demo, sections_for("05_review"), stage="05_review")
    demo.write_text(demo.read_text(encoding="utf-8") + "# 编辑器里改过\n", encoding="utf-8")
    changed = demo.read_bytes()
    type_into(form, ("review", "campaign"), "other")
    assert form.save() is False
    assert "已被修改" in form.status.value
    assert demo.read_bytes() == changed


def test_a_second_save_from_the_same_form_works(demo):
    form = PlanForm(demo, sections_for("05_review"), stage="05_review")
    type_into(form, ("review", "campaign"), "one")
    assert form.save() is True
    type_into(form, ("review", "campaign"), "two")
    assert form.save() is True
    assert load_plan(demo).plan.review.campaign == "two"
    assert form.source.digest == file_digest(demo)


def test_a_change_arriving_just_after_a_save_is_saved_with_it(demo, monkeypatch):
    """The browser sends a widget's next change only when the kernel has answered its previous one:
    a value picked just before 保存 can reach the kernel just after the click (the stage-04 table
    test under load). Within SAVE_GRACE_S it is saved too; later it is an unsaved edit."""
    from planlib.forms import form as form_module

    form = PlanForm(demo, sections_for("05_review"), stage="05_review")
    type_into(form, ("review", "campaign"), "one")
    assert form.save() is True
    type_into(form, ("review", "campaign"), "late")  # in flight when 保存 was clicked
    assert load_plan(demo).plan.review.campaign == "late"
    assert "仍在传送的修改" in form.status.value and "已保存" in form.state.value
    monkeypatch.setattr(form_module, "SAVE_GRACE_S", 0.0)
    type_into(form, ("review", "campaign"), "after")  # a new edit: the planner saves it
    assert load_plan(demo).plan.review.campaign == "late"
    assert "有未保存的修改" in form.state.value


def test_rows_can_be_added_and_removed(demo):
    form = PlanForm(demo, sections_for("05_review"), stage="05_review")
    actions = form.tops["review"].fields["actions"]
    actions.add_button.click()
    assert len(actions.rows) == 2
    assert "不能为空" in message_at(form, ("review", "actions", 1, "due"))
    assert form.save_button.disabled
    actions.remove(1)
    assert not form.save_button.disabled


# ----------------------------------------------------------------------------- the demo from an empty file
def _chooses_names(editor) -> bool:
    return any(getattr(e, "ref", None) in choices.NAMED for e in walk(editor))


def fill(editor, value) -> None:
    """Enter ``value`` through the widgets, as a planner would."""
    if isinstance(editor, Scalar):
        if editor.kind in ("date", "choice", "bool"):
            editor.input.value = value
        elif editor.kind == "list":
            editor.input.value = ", ".join(show_scalar(v) for v in value)
        elif editor.kind == "multi":
            editor.input.value = editor.labels(value)  # the chips a planner picks
        elif editor.kind == "dict":
            editor.input.value = "\n".join(f"{k}: {show_scalar(v)}" for k, v in value.items())
        else:
            editor.input.value = show_scalar(value)
    elif isinstance(editor, OptionalModel):
        editor.enabled.value = value is not None
        if value is not None:
            fill(editor.inner, value)
    elif isinstance(editor, Model):
        # names first, then the fields choosing among them (tiers before 层级变动's order)
        for name, child in sorted(editor.fields.items(), key=lambda item: _chooses_names(item[1])):
            if name in value:
                fill(child, value[name])
    elif isinstance(editor, ListOf):
        for _ in value:
            editor.add_button.click()
        for row, item in zip(editor.rows, value, strict=True):
            fill(row, item)


def test_the_demo_plan_can_be_built_from_an_empty_file_with_the_forms_only(demo, tmp_path):
    target = demo.parent / "built.yaml"
    target.write_text("", encoding="utf-8")
    wanted = load_plan(demo)
    # 02 first: a goal's 目标客群 is picked from the tiers and segments 02's form defines
    for stage in ["02_needs", "01_goals", *STAGES[2:]]:
        form = PlanForm(target, sections_for(stage), stage=stage)
        for name, editor in form.tops.items():
            if name in wanted.data:
                fill(editor, wanted.data[name])
        assert form.save() is True, (stage, form.own_problems()[:3])
    built = load_plan(target)
    assert built.plan.model_dump() == wanted.plan.model_dump()


# ----------------------------------------------------------------------------- batch runs
def test_forms_show_only_in_a_jupyter_server_session(monkeypatch, demo):
    monkeypatch.delenv("PLANLIB_FORMS", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert not is_interactive(None)  # papermill / nbclient kernels have no server session
    assert stage_form("01_goals", demo, None) is None
    monkeypatch.setenv("JPY_SESSION_NAME", "/work/workbooks/01_goals.ipynb")
    assert is_interactive(None)
    assert not is_interactive("/tmp/run")  # planlib run always passes run_dir
    monkeypatch.setenv("PLANLIB_FORMS", "0")
    assert not is_interactive(None)
    monkeypatch.setenv("PLANLIB_FORMS", "1")
    assert is_interactive("/tmp/run")


def test_every_stage_workbook_has_one_hidden_form_cell_after_open_stage():
    import nbformat

    for stage in STAGES:
        nb = nbformat.read(ROOT / "workbooks" / f"{stage}.ipynb", as_version=4)
        cells = [i for i, c in enumerate(nb.cells) if "stage_form(" in c.source]
        assert len(cells) == 1, stage
        cell = nb.cells[cells[0]]
        assert f'stage_form("{stage}", plan_path, run_dir)' in cell.source
        assert "report-hide" in cell.metadata.get("tags", [])
        assert "open_stage(" in nb.cells[cells[0] - 1].source


def test_fields_referring_to_names_offer_the_names_the_plan_defines(demo):
    form = PlanForm(demo, sections_for("04_execution"), stage="04_execution")
    phase = editor_at(form, ("tasks", 0, "phase"))
    assert phase.kind == "choice" and phase.input.options == (
        ("", ""), ("前期准备", "前期准备"), ("中期执行", "中期执行"), ("后期跟进", "后期跟进"))
    depends = editor_at(form, ("tasks", 0, "depends_on"))
    assert "T6 客户满意度调研" in depends.input.allowed_tags
    assert ("企业微信/社群(wecom)", "wecom") in editor_at(form, ("budget", "lines", 0, "channel")).input.options
    type_into(form, ("tasks", 5, "id"), "T7")
    assert "T7 客户满意度调研" in depends.input.allowed_tags
    assert "T6 客户满意度调研" not in depends.input.allowed_tags


def test_a_base_file_changed_since_loading_also_refuses(demo):
    form = PlanForm(demo, sections_for("02_needs"), stage="02_needs")
    base = demo.parent / "base.yaml"
    base.write_text(base.read_text(encoding="utf-8") + "# 改过\n", encoding="utf-8")
    before = demo.read_bytes()
    type_into(form, ("segmentation", "rfm", "window_days"), "400")
    assert form.save() is False
    assert "base.yaml 在表单打开后已被修改" in form.status.value
    assert demo.read_bytes() == before


def test_a_name_to_model_mapping_is_edited_row_by_row(demo):
    form = PlanForm(demo, sections_for("03_channels"), stage="03_channels")
    rates = form.tops["channels"].fields["catalogue"].rows[0].fields["tier_rates"]
    rates.add_button.click()
    rates.keys[0].value = "高价值客户"
    type_into(form, ("channels", "catalogue", 0, "tier_rates", "高价值客户", "reach_rate"), "80")
    assert form.values()["channels"]["catalogue"][0]["tier_rates"] == {"高价值客户": {"reach_rate": 80}}
    assert not form.save_button.disabled
    type_into(form, ("channels", "catalogue", 0, "tier_rates", "高价值客户", "reach_rate"), "180")
    assert "应不大于 100" in message_at(form, ("channels", "catalogue", 0, "tier_rates", "高价值客户", "reach_rate"))
    type_into(form, ("channels", "catalogue", 0, "tier_rates", "高价值客户", "reach_rate"), "80")
    rates.add_button.click()
    rates.keys[1].value = "高价值客户"
    assert "重复" in rates.error.value and form.save_button.disabled
    rates.remove(1)
    assert form.save() is True
    assert load_plan(demo).plan.channels.catalogue[0].tier_rates["高价值客户"].reach_rate == 80


def test_a_name_written_twice_in_a_small_table_is_refused_not_overwritten(demo):
    form = PlanForm(demo, sections_for("03_channels"), stage="03_channels")
    type_into(form, ("channels", "contact_caps"), "高价值客户: 70\n高价值客户: 90")
    assert "写了两次" in message_at(form, ("channels", "contact_caps"))
    assert form.save_button.disabled and form.save() is False
    type_into(form, ("channels", "contact_caps"), "高价值客户: 70\n潜力客户: 90")
    assert form.values()["channels"]["contact_caps"] == {"高价值客户": 70, "潜力客户": 90}
    assert message_at(form, ("channels", "contact_caps")) == ""


# ----------------------------------------------------------------------------- nothing lost: drafts
def _drafted(form: PlanForm) -> dict | None:
    from planlib.forms.draft import read_draft

    form.drafts.flush()  # what the debounce timer would write half a second later
    return read_draft(form.path, form.draft_key)


def test_an_unsaved_edit_is_kept_beside_the_plan_and_offered_to_the_next_form(demo):
    from planlib.forms.draft import draft_path

    form = PlanForm(demo, sections_for("04_execution"), stage="04_execution")
    assert "已保存" in form.state.value and _drafted(form) is None
    type_into(form, ("budget", "limit"), "12345")
    assert "有未保存的修改" in form.state.value
    assert _drafted(form)["values"]["budget"]["limit"] == 12345
    assert draft_path(demo) == demo.with_name(".2024Q2.yaml.draft.json")

    again = PlanForm(demo, sections_for("04_execution"), stage="04_execution")  # Run All
    assert editor_at(again, ("budget", "limit")).input.value != "12345"  # never applied silently
    assert again.draft_box.layout.display is None and "未恢复" in again.state.value
    type_into(again, ("budget", "limit"), "999")  # an edit before choosing keeps the draft as it was
    assert _drafted(again)["values"]["budget"]["limit"] == 12345
    again.restore_button.click()
    assert editor_at(again, ("budget", "limit")).input.value == "12345"
    assert again.draft_box.layout.display == "none" and "有未保存的修改" in again.state.value
    assert not again.save_button.disabled and again.save()
    assert load_plan(demo).data["budget"]["limit"] == 12345
    assert "已保存" in again.state.value and not draft_path(demo).exists()


def test_a_discarded_draft_is_dropped_and_the_file_values_stay(demo):
    from planlib.forms.draft import draft_path

    form = PlanForm(demo, sections_for("05_review"), stage="05_review")
    type_into(form, ("review", "campaign"), "草稿活动")
    assert isinstance(_drafted(form)["values"]["review"]["actions"][0]["due"], date)  # dates stay dates
    before = demo.read_bytes()
    other = PlanForm(demo, sections_for("04_execution"), stage="04_execution")  # another stage's form
    assert other.draft is None
    again = PlanForm(demo, sections_for("05_review"), stage="05_review")
    assert again.draft is not None
    again.discard_button.click()
    assert not draft_path(demo).exists() and demo.read_bytes() == before
    assert editor_at(again, ("review", "campaign")).input.value != "草稿活动"
    assert "已保存" in again.state.value


def test_undoing_an_edit_by_hand_drops_the_draft(demo):
    form = PlanForm(demo, sections_for("05_review"), stage="05_review")
    old = editor_at(form, ("review", "campaign")).input.value
    type_into(form, ("review", "campaign"), "x")
    assert _drafted(form) is not None
    type_into(form, ("review", "campaign"), old)
    assert _drafted(form) is None and "已保存" in form.state.value


def test_the_bar_shows_budget_and_contact_totals(demo):
    form = PlanForm(demo, sections_for("04_execution"), stage="04_execution")
    type_into(form, ("budget", "limit"), "100")
    assert "超出" in form.totals.value
    type_into(form, ("budget", "limit"), "100000000")
    assert "剩余" in form.totals.value
    channels = PlanForm(demo, sections_for("03_channels"), stage="03_channels")
    assert "每客户触达" in channels.totals.value and " 次" in channels.totals.value


# ----------------------------------------------------------------------------- rows as a table
def test_list_rows_are_one_line_table_rows_with_move_up_and_undo_of_the_last_delete(demo):
    form = PlanForm(demo, sections_for("04_execution"), stage="04_execution")
    lines = form.tops["budget"].fields["lines"]
    assert lines.table and "pl-table-head" in lines.rows_box.children[0]._dom_classes
    first = [row.value()["detail"] for row in lines.rows]
    lines.move_up(1)
    assert [row.value()["detail"] for row in lines.rows] == [first[1], first[0], *first[2:]]
    assert lines.undo_button.layout.display == "none"  # hidden until a row is deleted
    lines.remove(2)
    assert len(lines.rows) == len(first) - 1 and lines.undo_button.layout.display is None
    lines.undo_button.click()
    assert [row.value()["detail"] for row in lines.rows] == [first[1], first[0], *first[2:]]
    assert lines.undo_button.layout.display == "none"
    # a row is one line: no field label inside it, each cell's width fixed by its column
    cell = editor_at(form, ("budget", "lines", 0, "planned"))
    assert len(cell.box.children) == 2 and cell.box.layout.width == "100px"


def test_adding_a_row_keeps_the_rows_above_and_their_widgets(demo):
    """添加一行 appends a row and leaves the rows above alone: text the browser sends late (it holds
    a widget's next change until the kernel answered its last) still reaches a live widget."""
    form = PlanForm(demo, sections_for("04_execution"), stage="04_execution")
    tasks = form.tops["tasks"]
    cells = [row.fields["resources"].input for row in tasks.rows]
    tasks.add_button.click()
    assert len(tasks.rows) == 7
    assert all(row.fields["resources"].input is cell for row, cell in zip(tasks.rows, cells, strict=False))
    cells[0].value = "迟到的修改"  # the browser's message for row 1 arrives after the click
    assert form.values()["tasks"][0]["resources"] == "迟到的修改"
    assert form.tops["tasks"].rows[6].fields["id"].input.value == ""
    assert "pl-f-tasks-6" in tasks.rows[6].box._dom_classes and tasks.delete_buttons[6] is not None


def test_deleting_moving_and_undoing_keep_the_other_rows_widgets(demo):
    """删除, 上移 and 撤销删除 move the existing rows: a late change to a kept row still counts, and the
    moved rows carry their new number, key paths and classes (what errors and jumps find them by)."""
    form = PlanForm(demo, sections_for("04_execution"), stage="04_execution")
    tasks = form.tops["tasks"]
    ids = [t["id"] for t in form.values()["tasks"]]
    cells = [row.fields["resources"].input for row in tasks.rows]
    tasks.delete_buttons[1].click()  # the second task
    assert [row.fields["resources"].input for row in tasks.rows] == [cells[0], *cells[2:]]
    cells[3].value = "迟到的修改"  # the browser's message for (old) row 4 arrives after the click
    values = form.values()["tasks"]
    assert [t["id"] for t in values] == [ids[0], *ids[2:]]
    assert values[2]["resources"] == "迟到的修改"
    moved = tasks.rows[2]
    assert moved.path == ("tasks", 2) and moved.fields["name"].path == ("tasks", 2, "name")
    assert "pl-f-tasks-2" in moved.box._dom_classes
    assert "pl-f-tasks-2-name" in moved.fields["name"].box._dom_classes
    assert "pl-e-tasks-2-name" in moved.fields["name"].error._dom_classes
    assert tasks.numbers[2].value == "<b>3.</b>" and not tasks.up_buttons[2].disabled
    assert "pl-del-tasks-2" in tasks.delete_buttons[2]._dom_classes

    tasks.up_buttons[2].click()  # row 3 up: swaps with row 2
    assert [t["id"] for t in form.values()["tasks"]][:3] == [ids[0], ids[3], ids[2]]
    assert tasks.rows[1] is moved and moved.path == ("tasks", 1) and tasks.up_buttons[0].disabled

    tasks.undo_button.click()  # the deleted task back in its place
    assert [t["id"] for t in form.values()["tasks"]] == [ids[0], ids[1], ids[3], ids[2], *ids[4:]]
    assert tasks.rows[2] is moved and "pl-f-tasks-2-name" in moved.fields["name"].box._dom_classes
    classes = [c for row in tasks.rows for c in row.box._dom_classes if c.startswith("pl-f-tasks-")]
    assert classes == [f"pl-f-tasks-{i}" for i in range(len(ids))]


# ----------------------------------------------------------------------------- layout, live analysis checks, jumps
def test_sections_are_tabs_with_technical_settings_last_and_folded(demo):
    needs = PlanForm(demo, sections_for("02_needs"), stage="02_needs")
    assert needs.tabs.titles == ("客户分层", "数据来源(技术设置)")
    assert needs.tabs.selected_index == 0 and needs.tab_of[("segmentation",)] == 0
    channels = PlanForm(demo, sections_for("03_channels"), stage="03_channels")
    assert channels.tabs.titles == ("分层渠道计划", "渠道目录")  # one long section split over two tabs
    assert channels.tab_of[("channels", "optimizer")] == 1
    folded = {path for path in channels.folds}
    assert folded == {("channels", "estimate"), ("channels", "optimizer")}
    assert all(fold.selected_index is None for fold in channels.folds.values())  # collapsed until opened


def test_a_dependency_overlap_is_shown_while_typing_and_jumps_to_its_field(demo):
    form = PlanForm(demo, sections_for("04_execution"), stage="04_execution")
    form.tabs.selected_index = form.tab_of[("budget",)]  # the planner is looking at another tab
    editor_at(form, ("tasks", 4, "start")).input.value = __import__("datetime").date(2024, 4, 28)
    assert "前置任务 T4 到 2024-04-30 才结束" in message_at(form, ("tasks", 4, "start"))
    assert form.save_button.disabled
    [line] = form.jumps.children
    button = line.children[0]
    assert button.description == "实施计划 › 第 5 项 › 开始"  # the Chinese labels, never tasks[4].start
    button.click()
    assert form.tabs.selected_index == form.tab_of[("tasks",)]


def test_channel_cost_over_its_budget_line_is_live_in_the_channel_form(demo):
    form = PlanForm(demo, sections_for("03_channels"), stage="03_channels")
    assert form.notes == [] and not form.save_button.disabled  # the demo's data was read: the check ran
    type_into(form, ("channels", "plan", 0, "contacts_per_customer"), "15")  # wecom, line of 2,000 元
    message = message_at(form, ("channels", "plan", 0, "contacts_per_customer"))
    assert "超出对应的预算明细 2,000 元" in message
    assert form.save_button.disabled
    type_into(form, ("channels", "plan", 0, "contacts_per_customer"), "8")
    assert message_at(form, ("channels", "plan", 0, "contacts_per_customer")) == ""


def test_a_problem_in_folded_settings_opens_the_fold(demo):
    form = PlanForm(demo, sections_for("03_channels"), stage="03_channels")
    type_into(form, ("channels", "optimizer", "value_share"), "300")
    assert form.save_button.disabled
    line = next(x for x in form.jumps.children if "优化" in x.children[0].description)
    assert form.tabs.selected_index == 0
    line.children[0].click()
    assert form.folds[("channels", "optimizer")].selected_index == 0
    assert form.tabs.selected_index == 1  # its tab (渠道目录, where the folded settings are) opened


def test_the_form_says_when_the_channel_checks_cannot_read_the_data(demo):
    text = demo.read_text(encoding="utf-8").replace("\nmeta:", "\ndata:\n  demo: null\n  transactions: {path: 没有这个文件.csv}\nmeta:", 1)
    demo.write_text(text, encoding="utf-8")
    form = PlanForm(demo, sections_for("03_channels"), stage="03_channels")
    assert form.notes and "渠道成本与触达上限未核对" in form.notes[0]
    assert "渠道成本与触达上限未核对" in form.summary.value


def test_each_data_source_is_one_line_with_its_settings_folded_beside_it(demo):
    """02's data tab: per source its file path, and a fold 更多设置 holding format, encoding, sheet,
    column mapping and ID padding (collapsed; its title names what is set). A problem in a folded
    setting opens the data tab and that fold."""
    text = demo.read_text(encoding="utf-8").replace(
        "\nmeta:", "\ndata:\n  transactions: {path: ../../outputs/demo_data/demo/transactions.csv, encoding: gbk, "
                   "pad_ids: 1}\nmeta:", 1)
    demo.write_text(text, encoding="utf-8")
    form = PlanForm(demo, sections_for("02_needs"), stage="02_needs")
    data = form.tops["data"]
    sources = {"customers", "transactions", "interactions", "surveys", "tickets"}
    for name in sources:
        source = data.fields[name]
        model = getattr(source, "inner", source)
        fold = form.folds[("data", name, "encoding")]
        line = _holder(source.box, model.fields["path"].box)
        assert list(line.children) == [model.fields["path"].box, fold], name  # one line: the path and the fold
        assert fold.selected_index is None
        assert {f.box for f in model.fields.values() if f.path[-1] != "path"} == set(fold.children[0].children)
    assert form.folds[("data", "transactions", "pad_ids")].titles == ("更多设置(已设置:编码、编号补零位数)",)
    assert form.folds[("data", "customers", "sheet")].titles == ("更多设置(格式、编码、工作表、列名映射…)",)
    # pad_ids 1 is below the allowed 2: its summary button opens the data tab and the fold
    line = next(x for x in form.jumps.children if "编号补零" in x.children[0].description)
    line.children[0].click()
    assert form.tabs.selected_index == form.tab_of[("data",)]
    assert form.folds[("data", "transactions", "pad_ids")].selected_index == 0


def _holder(root, widget):
    """The box among ``root``'s descendants whose children include ``widget``."""
    children = list(getattr(root, "children", ()) or ())
    if widget in children:
        return root
    return next((found for child in children if (found := _holder(child, widget)) is not None), None)


def test_the_forms_classes_are_not_the_published_tables_classes(demo):
    """The form and stage tables share a notebook: a class of publish.display's CSS on a form box
    (the rows box was ``pl-table``: it took the tables' ``min-width: 40%``) restyles the form."""
    import re

    from ipywidgets.widgets import widget as wmod

    from planlib.publish.display import CSS

    before = set(wmod._instances)
    for stage in forms.STAGE_SECTIONS:
        PlanForm(demo, sections_for(stage), stage=stage)
    used = {c for key in set(wmod._instances) - before for c in getattr(wmod._instances[key], "_dom_classes", ())}
    assert {c for c in used if c.startswith("pl-f-")}  # the form's own classes were collected
    assert used & set(re.findall(r"\.(pl-[\w-]+)", CSS)) == set()
