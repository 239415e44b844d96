"""The live previews under the planner forms: HTML in an ``HTML`` widget, never an ``Output`` widget.

Why it matters (issue #12): an ``Output`` widget inside the form depended on JupyterLab routing the
running cell's messages to it; the failed renderings kept from the browser tests showed the
preview's table and chart where the form should begin, with fields missing.
"""

from __future__ import annotations

import base64

import ipywidgets as w
import pytest

from planlib.forms import form as forms
from planlib.forms import previews
from planlib.forms.fields import walk
from planlib.forms.form import PlanForm, sections_for

TITLES = {"01_goals": "目标 SMART 检查", "02_needs": "分层预览", "03_channels": "每客户渠道成本预览",
          "04_execution": "预算预览", "05_review": "KPI 目标预览"}


def widgets_in(widget: w.Widget) -> list[w.Widget]:
    found, todo = [], [widget]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(getattr(current, "children", ()) or ())
    return found


@pytest.mark.parametrize("stage", list(forms.STAGE_SECTIONS))
def test_each_stage_form_shows_its_preview_as_html_and_holds_no_output_widget(demo, stage):
    form = PlanForm(demo, sections_for(stage), stage=stage)
    assert not [x for x in widgets_in(form.widget) if isinstance(x, w.Output)]
    assert isinstance(form.preview, w.HTML) and form.preview in widgets_in(form.widget)
    assert TITLES[stage] in form.preview.value
    assert form.preview.value.startswith("<style>")  # the tables' look travels with them


def test_the_budget_preview_shows_the_gantt_as_an_inline_png_once_the_plan_is_valid(demo):
    form = PlanForm(demo, sections_for("04_execution"), stage="04_execution")
    assert form.plan is not None
    src = form.preview.value.split('<img src="data:image/png;base64,', 1)[1].split('"', 1)[0]
    assert base64.b64decode(src).startswith(b"\x89PNG\r\n\x1a\n")

    editor = next(e for e in walk(form.tops["budget"]) if e.path == ("budget", "limit"))
    editor.input.value = "-5"  # the plan is invalid now: the chart waits, the totals still show
    assert form.plan is None
    assert "<img" not in form.preview.value
    assert f"甘特图:{previews.WAIT}" in form.preview.value
    assert "-5" in form.preview.value


def test_the_preview_redraws_when_a_value_it_shows_changes(demo):
    form = PlanForm(demo, sections_for("05_review"), stage="05_review")
    before = form.preview.value
    editor = next(e for e in walk(form.tops["kpis"]) if e.path == ("kpis", 0, "target"))
    editor.input.value = "77.5"
    assert form.preview.value != before and "77.5" in form.preview.value


def test_names_typed_into_the_form_are_escaped_in_the_preview(demo):
    html = previews.render("02_needs", {"segmentation": {"tiers": [{"name": "<script>alert(1)</script>"}]}}, None)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_form_without_a_stage_has_no_preview(demo):
    form = PlanForm(demo, ("budget",))
    assert form.preview.value == ""
    assert previews.render(None, {}, None) is None
