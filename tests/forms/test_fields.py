"""Field kinds of the planner forms: drop-downs that show names, multi-selects, suggestions, dates.

Driven from Python (the browser suite, ``test_stage_tables_browser.py``, drives the same widgets in
JupyterLab). Each kind: what it offers, how it labels, that a saved value it does not offer is kept
and marked, and that what is picked reaches the YAML file as the code.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ipywidgets as w
from conftest import ROOT
from ruamel.yaml import YAML

from planlib.forms import choices
from planlib.forms.fields import UNKNOWN, Scalar, walk
from planlib.forms.form import PlanForm, sections_for
from planlib.plan.planfile import load_plan, validate_files


def form_of(plan: Path, stage: str) -> PlanForm:
    return PlanForm(plan, sections_for(stage), stage=stage)


def at(form: PlanForm, path: tuple) -> Scalar:
    return {e.path: e for top in form.tops.values() for e in walk(top)}[path]


def on_disk(plan: Path) -> dict:
    """The quarter file as written (not merged, not validated): what the planner's YAML says."""
    return YAML(typ="safe").load(plan.read_text(encoding="utf-8"))


def replace_in(plan: Path, old: str, new: str) -> None:
    text = plan.read_text(encoding="utf-8")
    assert old in text
    plan.write_text(text.replace(old, new), encoding="utf-8")


# ----------------------------------------------------------------------------- drop-downs that show names
def test_a_channel_is_picked_by_its_chinese_name_and_the_file_keeps_the_code(demo):
    form = form_of(demo, "03_channels")
    channel = at(form, ("channels", "plan", 2, "channel"))
    assert isinstance(channel.input, w.Dropdown) and channel.kind == "choice"
    assert channel.input.options[:3] == (("", ""), ("微信公众号(wechat_oa)", "wechat_oa"),
                                         ("企业微信/社群(wecom)", "wecom"))
    assert channel.input.label == "短信(sms)" and channel.value() == "sms"
    channel.input.label = "电子邮件(email)"  # what the planner sees and picks
    assert form.save() is True, form.own_problems()
    assert on_disk(demo)["channels"]["plan"][2]["channel"] == "email"
    assert load_plan(demo).plan.channels.plan[2].channel == "email"


def test_channel_names_follow_the_catalogue_as_it_is_edited(demo):
    form = form_of(demo, "03_channels")
    row = at(form, ("channels", "plan", 2, "channel"))
    at(form, ("channels", "catalogue", 3, "name")).input.value = "短信群发"
    assert row.input.label == "短信群发(sms)" and row.value() == "sms"
    assert "短信群发(sms)" in at(form, ("channels", "rules", 0, "allowed")).input.value
    assert form.values()["channels"]["plan"] == form.file_values["channels"]["plan"]  # relabelled, not edited


def test_a_channel_code_the_catalogue_lacks_is_kept_marked_and_explained(demo):
    replace_in(demo, "channel: sms, content: 活动提醒与召回券", "channel: fax, content: 活动提醒与召回券")
    form = form_of(demo, "03_channels")
    row = at(form, ("channels", "plan", 2, "channel"))
    assert row.input.label == f"fax{UNKNOWN}" and row.value() == "fax"  # never replaced by an offered code
    assert "fax" in row.error.value and form.save_button.disabled
    # renaming a code the rows use: the rows keep the old code, marked, until the planner picks again
    at(form, ("channels", "catalogue", 1, "id")).input.value = "wecom2"
    first = at(form, ("channels", "plan", 0, "channel"))
    assert first.input.label == f"wecom{UNKNOWN}" and first.value() == "wecom"
    assert "企业微信/社群(wecom2)" in [label for label, _ in first.input.options]
    first.input.value = "wecom2"
    row.input.value = "sms"
    preferred = at(form, ("channels", "rules", 0, "preferred"))
    assert preferred.input.value[0] == f"wecom{UNKNOWN}"
    preferred.input.value = preferred.labels(["wecom2", "phone"])
    allowed = at(form, ("channels", "rules", 0, "allowed"))
    allowed.input.value = allowed.labels(["wecom2", "sms"])
    assert form.save() is True, form.own_problems()
    assert [r["channel"] for r in on_disk(demo)["channels"]["plan"]] == ["wecom2", "phone", "sms"]


def test_goal_and_scope_pick_their_audience_from_tiers_and_segments(demo):
    form = form_of(demo, "01_goals")
    segment = at(form, ("goals", 0, "segment"))
    assert isinstance(segment.input, w.Dropdown)
    assert [v for _, v in segment.input.options] == [
        "", "高价值客户", "潜力客户", "新客户", "流失风险客户", "中价值客户", "一般客户", "沉睡中价值客户"]
    segment.input.value = "潜力客户"
    at(form, ("scope", "segment")).input.value = "潜力客户"
    for i in (1, 2):
        at(form, ("goals", i, "segment")).input.value = "潜力客户"
    assert form.save() is True, form.own_problems()
    assert {g["segment"] for g in on_disk(demo)["goals"]} == {"潜力客户"}


def test_stage_01_on_an_empty_plan_offers_the_templates_audiences(tmp_path):
    """A planner who starts with 01 on an empty file picks 目标客群 from the template's tiers and
    segments (marked 模板): the plan defines none yet, the drop-down is not left empty."""
    plan = tmp_path / "2024Q2.yaml"
    plan.write_text("", encoding="utf-8")
    form = form_of(plan, "01_goals")
    form.tops["goals"].add_button.click()
    segment = at(form, ("goals", 0, "segment"))
    offered = {v: label for label, v in segment.input.options}
    assert set(choices.TEMPLATE_TIERS) | set(choices.TEMPLATE_SEGMENTS) | {"一般客户"} <= set(offered)
    assert offered["潜力客户"] == f"潜力客户{choices.TEMPLATE_MARK}" and offered["一般客户"] == "一般客户"
    segment.input.value = "潜力客户"
    assert form.values()["goals"][0]["segment"] == "潜力客户"
    assert at(form, ("scope", "segment")).input.options == segment.input.options


def test_a_template_audience_stage_02_does_not_define_is_flagged_and_kept(demo):
    """Picked from the template before stage 02 existed, then 02 defines tiers without it: the
    same check as ``planlib validate`` flags the goal's field; the value stays as picked."""
    base = demo.parent / "base.yaml"
    text = base.read_text(encoding="utf-8")
    segmentation = text[text.index("segmentation:"):text.index("channels:")]
    base.write_text(text.replace(segmentation, ""), encoding="utf-8")  # no tiers or segments yet
    form = form_of(demo, "01_goals")
    segment = at(form, ("goals", 0, "segment"))
    assert segment.input.label == f"沉睡中价值客户{choices.TEMPLATE_MARK}"
    segment.input.value = "潜力客户"
    assert form.save() is True, form.own_problems()
    assert on_disk(demo)["goals"][0]["segment"] == "潜力客户"

    # stage 02 defines its tiers and segment, without 潜力客户
    base.write_text(text.replace(segmentation, segmentation.replace("name: 潜力客户", "name: 活跃客户")
                                 .replace("潜力客户, ", "活跃客户, ")), encoding="utf-8")
    form = form_of(demo, "01_goals")
    segment = at(form, ("goals", 0, "segment"))
    assert segment.input.label == f"潜力客户{UNKNOWN}" and segment.value() == "潜力客户"
    assert "潜力客户 没有定义" in dict((p[0], p[1]) for p in form.own_problems())[("goals", 0, "segment")]
    assert "没有定义" in segment.error.value and form.save_button.disabled
    assert "潜力客户 没有定义" in "\n".join(f"{p.where}: {p.message}" for p in validate_files([demo]))


def test_the_template_audiences_are_the_demo_plans():
    """The names offered on an empty plan are the template's (the demo plan ``planlib new`` copies)."""
    segmentation = load_plan(ROOT / "parameters" / "demo" / "2024Q2.yaml").plan.segmentation
    assert tuple(t.name for t in segmentation.tiers) == choices.TEMPLATE_TIERS
    assert tuple(s.name for s in segmentation.segments) == choices.TEMPLATE_SEGMENTS


def test_a_task_phase_is_one_of_the_work_phases(demo):
    form = form_of(demo, "04_execution")
    phase = at(form, ("tasks", 0, "phase"))
    assert [v for _, v in phase.input.options] == ["", "前期准备", "中期执行", "后期跟进"]


def test_fixed_choices_show_chinese_names():
    from planlib.forms.fields import CHOICE_LABELS

    for code in ("increase", "decrease", "open", "done", "crm", "orders_export"):
        assert CHOICE_LABELS[code] != code and not CHOICE_LABELS[code].isascii()


# ----------------------------------------------------------------------------- multi-selects
def test_dependencies_are_chips_of_this_plans_tasks_and_saved_as_ids(demo):
    form = form_of(demo, "04_execution")
    depends = at(form, ("tasks", 3, "depends_on"))
    assert isinstance(depends.input, w.TagsInput) and depends.kind == "multi"
    assert not depends.input.allow_duplicates
    assert depends.input.allowed_tags[:3] == ["T1 客户数据筛选与分层", "T2 活动物料设计(海报/礼品…", "T3 客户分组与电话邀约"]
    assert depends.input.value == ["T2 活动物料设计(海报/礼品…", "T3 客户分组与电话邀约"]
    assert depends.value() == ["T2", "T3"]
    depends.input.value = ["T3 客户分组与电话邀约", "T1 客户数据筛选与分层"]  # the planner's order is kept
    assert form.save() is True, form.own_problems()
    assert on_disk(demo)["tasks"][3]["depends_on"] == ["T3", "T1"]


def test_a_new_task_is_offered_at_once_and_a_renamed_one_relabels_without_an_edit(demo):
    form = form_of(demo, "04_execution")
    tasks = form.tops["tasks"]
    tasks.add_button.click()
    at(form, ("tasks", 6, "id")).input.value = "T7"
    at(form, ("tasks", 6, "name")).input.value = "追加回访"
    depends = at(form, ("tasks", 5, "depends_on"))
    assert "T7 追加回访" in depends.input.allowed_tags
    tasks.remove(6)
    at(form, ("tasks", 4, "name")).input.value = "活动数据统计"
    depends = at(form, ("tasks", 5, "depends_on"))  # the rows were rebuilt by the delete
    assert depends.input.value == ["T5 活动数据统计"] and depends.value() == ["T5"]


def test_a_dependency_on_a_task_that_is_gone_is_kept_marked_and_explained(demo):
    replace_in(demo, "depends_on: [T5]", "depends_on: [T5, T9]")
    form = form_of(demo, "04_execution")
    depends = at(form, ("tasks", 5, "depends_on"))
    assert depends.input.value == ["T5 活动数据统计(参与率/复…", f"T9{UNKNOWN}"]
    assert depends.value() == ["T5", "T9"]
    assert "T9" in depends.error.value and form.save() is False
    at(form, ("tasks", 4, "id")).input.value = "T5b"  # now T5 is unknown too, and still kept
    assert depends.value() == ["T5", "T9"] and depends.input.value == [f"T5{UNKNOWN}", f"T9{UNKNOWN}"]


def test_allowed_and_preferred_channels_show_names_and_save_codes(demo):
    form = form_of(demo, "03_channels")
    allowed = at(form, ("channels", "rules", 0, "allowed"))
    assert allowed.kind == "multi" and "短信(sms)" in allowed.input.allowed_tags
    assert allowed.value() == ["wechat_oa", "wecom", "app_push", "sms", "phone"]
    allowed.input.value = ["企业微信/社群(wecom)", "电话回访(phone)", "短信(sms)"]
    assert form.save() is True, form.own_problems()
    assert on_disk(demo)["channels"]["rules"][0]["allowed"] == ["wecom", "phone", "sms"]


def test_journey_stages_are_the_six_fixed_stages(demo):
    form = form_of(demo, "03_channels")
    journey = at(form, ("channels", "plan", 1, "journey"))
    assert journey.input.allowed_tags == ["认知", "兴趣", "购买", "使用", "复购", "推荐"]
    journey.input.value = ["兴趣", "复购"]
    catalogue = at(form, ("channels", "catalogue", 7, "journey"))
    assert catalogue.kind == "multi" and catalogue.value() == ["兴趣", "购买"]
    assert form.save() is True, form.own_problems()
    assert on_disk(demo)["channels"]["plan"][1]["journey"] == ["兴趣", "复购"]


def test_a_segments_tiers_include_the_default_tier(demo):
    form = form_of(demo, "02_needs")
    tiers = at(form, ("segmentation", "segments", 0, "tiers"))
    assert tiers.input.allowed_tags == ["高价值客户", "潜力客户", "新客户", "流失风险客户", "中价值客户", "一般客户"]
    tiers.input.value = ["中价值客户", "一般客户"]
    assert at(form, ("segmentation", "movement", "at_risk")).kind == "multi"
    assert form.save() is True, form.own_problems()
    assert on_disk(demo)["segmentation"]["segments"][0]["tiers"] == ["中价值客户", "一般客户"]


def test_an_emptied_multi_select_writes_an_empty_list_only_where_the_file_had_one(demo):
    form = form_of(demo, "04_execution")
    at(form, ("tasks", 1, "depends_on")).input.value = []
    assert form.values()["tasks"][1]["depends_on"] == []
    assert "depends_on" not in form.values()["tasks"][0]  # never written, left unwritten


def test_a_list_that_is_not_a_list_in_the_file_is_shown_as_text_not_dropped(demo):
    replace_in(demo, "depends_on: [T1], done_when: 完成物料终稿", "depends_on: T1, done_when: 完成物料终稿")
    form = form_of(demo, "04_execution")
    depends = at(form, ("tasks", 1, "depends_on"))
    assert depends.kind == "list" and depends.input.value == "T1"  # shown as typed, read as one item
    assert depends.value() == ["T1"]


def test_a_mapping_where_names_belong_is_shown_as_text_with_the_schemas_message(demo):
    replace_in(demo, "depends_on: [T1], done_when: 完成物料终稿", "depends_on: [{id: T1}], done_when: 完成物料终稿")
    tasks = form_of(demo, "04_execution")
    depends = at(tasks, ("tasks", 1, "depends_on"))
    assert depends.kind == "list" and "不存在" in depends.error.value and tasks.save_button.disabled
    replace_in(demo, "depends_on: [{id: T1}]", "depends_on: [T1]")  # one mistake at a time
    replace_in(demo, "channel: sms, content: 活动提醒与召回券", "channel: {code: sms}, content: 活动提醒与召回券")
    channels = form_of(demo, "03_channels")
    row = at(channels, ("channels", "plan", 2, "channel"))
    assert row.kind == "scalar" and row.error.value != "" and channels.save_button.disabled


# ----------------------------------------------------------------------------- suggestions
def test_owners_suggest_everyone_the_plan_names_and_accept_a_new_one(demo):
    form = form_of(demo, "04_execution")
    owner = at(form, ("tasks", 0, "owner"))
    assert isinstance(owner.input, w.Combobox) and not owner.input.ensure_option
    # tasks, checkpoints, review actions and the plan's owner, first use first, each once
    assert owner.input.options == ("市场部经理", "设计专员", "销售代表", "客服专员", "数据专员")
    owner.input.value = "新来的运营"
    assert owner.error.value == "" and not form.save_button.disabled
    assert "新来的运营" in at(form, ("tasks", 1, "owner")).input.options
    assert form.save() is True
    assert on_disk(demo)["tasks"][0]["owner"] == "新来的运营"
    assert "新来的运营" in at(form_of(demo, "05_review"), ("review", "actions", 0, "owner")).input.options


def test_budget_categories_suggest_the_categories_in_use(demo):
    form = form_of(demo, "04_execution")
    assert at(form, ("budget", "lines", 0, "category")).input.options == ("物料费", "礼品费", "推广费", "人力成本")
    form.tops["budget"].fields["lines"].add_button.click()
    at(form, ("budget", "lines", 6, "category")).input.value = "媒介费"
    assert "媒介费" in at(form, ("budget", "lines", 0, "category")).input.options
    assert "媒介费" in at(form, ("budget", "channel_categories")).input.placeholder


def test_every_reference_pattern_names_a_field_of_the_schema():
    """A renamed schema field must not silently turn its choices off."""
    from typing import get_args

    from planlib.forms.types import is_model, strip
    from planlib.plan.schema import Plan

    for pattern, kind in choices.REFERENCES:
        assert kind in choices.NAMED or kind in choices.SUGGESTED
        model = Plan
        for seg in (s for s in pattern if s is not None):  # None: any row of a list
            assert model is not None and seg in model.model_fields, pattern
            inner = strip(model.model_fields[seg].annotation)[0]
            model = inner if is_model(inner) else next(
                (a for a in (strip(x)[0] for x in get_args(inner)) if is_model(a)), None)
        assert model is None, pattern  # a reference is a value or a list of values, not a section


# ----------------------------------------------------------------------------- dates
def test_dates_are_date_pickers_and_saved_as_dates(demo):
    form = form_of(demo, "04_execution")
    end = at(form, ("tasks", 5, "end"))
    assert isinstance(end.input, w.DatePicker) and end.kind == "date"
    assert end.input.value == date(2024, 5, 10)
    end.input.value = date(2024, 5, 12)
    assert form.save() is True, form.own_problems()
    assert "end: 2024-05-12" in demo.read_text(encoding="utf-8")
    assert on_disk(demo)["tasks"][5]["end"] == date(2024, 5, 12)


# ----------------------------------------------------------------------------- one line per row
def test_columns_that_pick_names_are_wide_enough_and_header_and_cells_line_up(demo):
    form = form_of(demo, "03_channels")
    for table, row in ((form.tops["channels"].fields["plan"], ("channels", "plan", 0)),
                       (form.tops["channels"].fields["rules"], ("channels", "rules", 0))):
        head = table.rows_box.children[0]
        assert "pl-table-head" in head._dom_classes
        cells = [at(form, (*row, name)).box.layout.width for name in table.model.model_fields]
        assert [c.layout.width for c in head.children[1:]] == cells
    assert at(form, ("channels", "plan", 0, "channel")).box.layout.width == "190px"
    assert at(form, ("channels", "rules", 0, "allowed")).box.layout.width == "260px"
