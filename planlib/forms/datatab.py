"""The data-sources tab of stage 02's form: one line per source, its reading settings folded beside it.

A source has nine settings (file path or database address, table, query, format, encoding, sheet,
column mapping, ID padding); laid out as fields they made the tab about 5,200 px tall, and a
planner looking for which files feed the plan scrolled past encodings. Here each source is one
line — its name (or the tick box that includes it), where it is read from, and a collapsed
「更多设置」 whose title names the settings that are set. The editors themselves are the ones
:mod:`planlib.forms.fields` built from the schema; only their boxes are rearranged, so values,
validation and jumps (the returned folds) work as everywhere else.
"""

from __future__ import annotations

import html

import ipywidgets as w

from planlib.forms.fields import MISSING, Model, OptionalModel, Scalar, css
from planlib.plan.schema import Data
from planlib.plan.yamlread import KeyPath

# What a source's line shows: where it is read from (the path, or the database settings in use).
SOURCE_LINE = ("path", "url", "table", "query")
_NAME_WIDTH = "150px"  # the source's name or tick box, so the paths line up


def fold_sources(data: Model) -> dict[KeyPath, w.Accordion]:
    """Lay out the ``data`` section's editors one line per source; the fold of each folded field."""
    folds: dict[KeyPath, w.Accordion] = {}
    for name, field in data.fields.items():
        model = field.inner if isinstance(field, OptionalModel) else field
        if not isinstance(model, Model):
            continue
        body = model.box.children[-2]  # Model.box is [heading?, fields, error]
        body.layout.flex_flow = "row wrap"
        body.layout.align_items = "flex-start"
        body.layout.flex = "1 1 auto"
        if {"path", "url"} <= set(model.fields):
            folds.update(_source_line(model, body))
        else:  # the demo data's three settings side by side
            for shown in model.fields.values():
                if isinstance(shown, Scalar):
                    _help_as_tooltip(shown)
                    shown.box.layout.width = "240px"
        _one_line(field, model, body, Data.model_fields[name].title or name)
    return folds


def _source_line(model: Model, body: w.Box) -> dict[KeyPath, w.Accordion]:
    """The source's line: where it is read from, then the fold with the rest of its settings."""
    where = [n for n in SOURCE_LINE if model.fields[n].value() is not MISSING] or ["path"]
    folded = [f for n, f in model.fields.items() if n not in where]
    set_now = [f.info.title or str(f.path[-1]) for f in folded if isinstance(f, Scalar) and f.value() is not MISSING]
    title = f"更多设置(已设置:{'、'.join(set_now)})" if set_now else "更多设置(格式、编码、工作表、列名映射…)"
    inner = w.Box([f.box for f in folded], layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))
    fold = w.Accordion([inner], titles=(title,), selected_index=None,
                       layout=w.Layout(flex="1 1 320px", min_width="320px", margin="22px 0 2px"))
    fold.add_class("pl-source-more")
    fold.add_class(css(model.path, "pl-more"))
    for name in where:
        if isinstance(model.fields[name], Scalar):
            _help_as_tooltip(model.fields[name])
    body.children = [*(model.fields[n].box for n in where), fold]
    return {f.path: fold for f in folded}


def _help_as_tooltip(shown: Scalar) -> None:
    """A field's help line (相对于本计划文件所在目录 …) as its input's tooltip: the line stays one line."""
    if len(shown.box.children) == 4:  # [label, input, help, error]
        shown.box.children = (shown.box.children[0], shown.box.children[1], shown.box.children[3])
        shown.input.tooltip = shown.info.description


def _one_line(field: Model | OptionalModel, model: Model, body: w.Box, title: str) -> None:
    """The source's name (or the tick box of an optional source) left of its fields."""
    if isinstance(field, OptionalModel):
        field.enabled.layout.width = _NAME_WIDTH
        field.enabled.layout.flex = "0 0 auto"
        field.enabled.layout.margin = "26px 0 0"
        model.box.children = [body, model.error]  # the tick box 填写<source> names it
        model.box.layout.flex = "1 1 auto"
        field.box.children = [w.HBox([field.enabled, model.box], layout=w.Layout(align_items="flex-start")),
                              field.error]
    else:
        name = w.HTML(f"<b>{html.escape(title)}</b>",
                      layout=w.Layout(width=_NAME_WIDTH, flex="0 0 auto", margin="26px 0 0"))
        model.box.children = [w.HBox([name, body], layout=w.Layout(align_items="flex-start")), model.error]
    field.box.layout.border_bottom = "1px solid #eee"
