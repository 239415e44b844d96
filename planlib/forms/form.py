"""Planner forms: each stage workbook edits its part of the plan file in JupyterLab.

``stage_form("01_goals", plan_path, run_dir)`` in a workbook shows a form generated from the plan
schema (:mod:`planlib.forms.fields`) for the sections that stage owns. Every change re-validates
the *whole* plan with the schema and the cross-field checks; each message appears next to its
field, and 保存 stays disabled while any field of this form is wrong. Problems in sections other
stages own are listed under the form but do not block saving, so a plan can be built stage by
stage from an empty file.

Inheritance: the form shows the merged values (quarter file over ``extends`` base). Saving writes
only what differs from the base into the quarter file, as overrides; the base file is never
written. Saving goes through :mod:`planlib.forms.save` (lock, stale check, atomic replace, comments
kept, last versions kept).

Under ``planlib run`` / papermill (``run_dir`` is given) or in any kernel not started by a
Jupyter server session, no form is shown and nothing waits for input.
"""

from __future__ import annotations

import html
import os
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

import ipywidgets as w

from planlib.errors import PlanError
from planlib.forms import previews
from planlib.forms.draft import DraftWriter, read_draft
from planlib.forms.fields import MISSING, Editor, Scalar, build_editor, css, walk
from planlib.forms.save import merge_into, modify_yaml
from planlib.forms.source import NAMES, REFERENCES, PlanSource, matches, overrides
from planlib.forms.types import is_model, strip
from planlib.plan.planfile import check_data
from planlib.plan.schema import Plan
from planlib.plan.yamlread import KeyPath

# The plan sections each stage's form edits; top-level fields no stage names (a section added to
# the schema later, ``run``) appear in the first stage's form.
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "01_goals": ("meta", "background", "scope", "goals"),
    "02_needs": ("data", "segmentation"),
    "03_channels": ("channels",),
    "04_execution": ("tasks", "budget"),
    "05_review": ("kpis", "review"),
}


TECHNICAL = frozenset({"data"})  # sections of settings rather than plan content


def sections_for(stage: str) -> tuple[str, ...]:
    if stage not in STAGE_SECTIONS:
        raise ValueError(f"unknown stage {stage!r}; expected one of {list(STAGE_SECTIONS)}")
    claimed = {s for secs in STAGE_SECTIONS.values() for s in secs}
    extra = tuple(f for f in Plan.model_fields if f not in claimed) if stage == "01_goals" else ()
    return STAGE_SECTIONS[stage] + extra


def is_interactive(run_dir: Any = None) -> bool:
    """True only in a kernel a person drives: not under ``planlib run`` or papermill.

    ``planlib run`` always injects ``run_dir``; papermill sets no marker of its own, but a
    kernel started by a Jupyter server for a notebook session has ``JPY_SESSION_NAME`` in its
    environment, which papermill/nbclient kernels lack. ``PLANLIB_FORMS=0/1`` overrides both.
    """
    forced = os.environ.get("PLANLIB_FORMS")
    if forced in ("0", "1"):
        return forced == "1"
    return run_dir is None and bool(os.environ.get("JPY_SESSION_NAME"))


def stage_form(stage: str, plan_path: str | Path, run_dir: Any = None) -> PlanForm | None:
    """Show the form of ``stage`` when a person is at the keyboard; in a batch run do nothing."""
    if not is_interactive(run_dir):
        return None
    from IPython.display import display

    from planlib.run.stage import resolve_plan_path

    form = PlanForm(resolve_plan_path(plan_path), sections_for(stage), stage=stage)
    display(form.widget)
    return form


# ---------------------------------------------------------------------------------- the form
class PlanForm:
    """A form over some sections of one plan file; ``widget`` is what the notebook shows."""

    def __init__(self, path: Path, sections: tuple[str, ...], stage: str | None = None):
        self.path, self.sections, self.stage = Path(path), sections, stage
        self.source = PlanSource(self.path)
        self.problems: list[tuple[KeyPath, str, str]] = []
        self.plan: Plan | None = None
        self._building = True
        self._preview_key = ""
        self.save_button = w.Button(description="保存", button_style="primary", disabled=True, icon="save")
        self.save_button.add_class("pl-save")
        self.save_button.on_click(lambda _b: self.save())
        self.state = w.HTML("")  # 已保存 / 有未保存的修改, at all times
        self.state.add_class("pl-state")
        self.status = w.HTML("")  # what the last save said
        self.status.add_class("pl-status")
        self.totals = w.HTML("")
        self.totals.add_class("pl-totals")
        self.summary = w.HTML("")
        self.summary.add_class("pl-summary")
        self.preview = w.HTML("")  # HTML, not an Output widget: see planlib.forms.previews
        self.preview.add_class("pl-preview")
        self.body = w.VBox()
        # the bar stays at the top of the notebook's view while the planner scrolls the form
        self.bar = w.VBox([w.HBox([self.save_button, self.state, self.status],
                                  layout=w.Layout(align_items="center")), self.totals, self.summary])
        self.bar.add_class("pl-bar")
        # unsaved edits found beside the plan file: offered, never applied or dropped silently
        self.draft_key = stage or ",".join(sections)
        self.drafts = DraftWriter(self.path, self.draft_key)
        self.restore_button = w.Button(description="恢复未保存的修改", button_style="warning", icon="undo",
                                       layout=w.Layout(width="auto"))
        self.restore_button.add_class("pl-restore")
        self.restore_button.on_click(lambda _b: self.restore_draft())
        self.discard_button = w.Button(description="放弃", layout=w.Layout(width="auto"))
        self.discard_button.add_class("pl-discard")
        self.discard_button.on_click(lambda _b: self.discard_draft())
        self.draft_note = w.HTML("")
        self.draft_box = w.HBox([self.draft_note, self.restore_button, self.discard_button],
                                layout=w.Layout(display="none", align_items="center"))
        self.draft_box.add_class("pl-draft")
        self.widget = w.VBox([w.HTML(STYLE), self._header(), self.draft_box, self.bar, self.body, self.preview])
        self.widget.add_class("pl-form")
        DraftWriter.flush_all(self.path)  # a form of the cell's previous run may have a write waiting
        self.draft = read_draft(self.path, self.draft_key)
        self._build()
        if self.draft is not None and self.draft["values"] == self.file_values:
            self.drafts.drop()  # the file already says what the draft says: nothing is unsaved
            self.draft = None
        if self.draft is not None:
            changed = "" if self.draft["digest"] == self.source.digest else \
                f";{html.escape(self.path.name)} 在那之后已被修改,恢复后请核对再保存"
            self.draft_note.value = (f"<b>发现上次未保存的修改</b>({html.escape(str(self.draft['time']))}){changed}。"
                                     f"表单现在显示的是文件中的内容。")
            self.draft_box.layout.display = None
            self._show_state()

    def _header(self) -> w.HTML:
        base = self.source.base_name
        inherit = (f"灰字标「继承」的值来自 {html.escape(str(base))};修改后作为覆盖值写入 "
                   f"{html.escape(self.path.name)},{html.escape(str(base))} 本身不会被修改。") if base else ""
        return w.HTML(f"<div style='margin:4px 0 8px'><b>计划表单</b> · {html.escape(self.path.name)}<br>"
                      f"<span style='color:#666'>带 * 的为必填项;每次修改都会按计划规则检查,全部通过后才能保存。"
                      f"{inherit}</span></div>")

    def _note(self, path: KeyPath) -> str:
        return "继承" if self._lookup(self.source.base, path) is not MISSING \
            and self._lookup(self.source.own, path) is MISSING else ""

    @staticmethod
    def _lookup(data: Any, path: KeyPath) -> Any:
        for seg in path:
            if isinstance(data, dict) and seg in data or isinstance(data, list) and isinstance(seg, int) and seg < len(data):
                data = data[seg]
            else:
                return MISSING
        return data

    def _build(self, values: dict | None = None) -> None:
        """Build the editors from the file's merged values, or from ``values`` (a restored draft)."""
        self._building = True
        self.tops: dict[str, Editor] = {}
        boxes = []
        for name in self.sections:
            info = Plan.model_fields[name]
            data = self.source.merged.get(name, MISSING) if values is None else values.get(name, MISSING)
            editor = build_editor((name,), info, data, name in self.source.merged, self.revalidate, self._note)
            self.tops[name] = editor
            if isinstance(editor, Scalar):  # a plain value at the top level: give it a heading too
                editor.box.children = (w.HTML(f"<h4>{html.escape(info.title or name)}</h4>"),
                                       *editor.box.children)
            section = w.VBox([editor.box], layout=w.Layout(border_top="2px solid #c5cfdb",
                                                           margin="10px 0 0", padding="4px 0 0"))
            section.add_class("pl-section")
            if name in TECHNICAL:  # file paths, encodings: last, folded until a planner opens them
                section = w.Accordion([section], titles=(f"{info.title or name}(技术设置,点击展开)",),
                                      selected_index=None)
                section.add_class("pl-technical")
            boxes.append(section)
        # the planner's own sections first, technical settings after them
        self.body.children = sorted(boxes, key=lambda box: "pl-technical" in box._dom_classes)
        self._building = False
        if values is None:
            self.file_values = self.values()  # what the file says: the form is 已保存 while equal
        self.revalidate()

    # ------------------------------------------------------------------------------ drafts
    def restore_draft(self) -> None:
        """Show the draft's values in the form (still unsaved until 保存)."""
        if self.draft is None:
            return
        values, self.draft = self.draft["values"], None
        self.draft_box.layout.display = "none"
        self._build(values)

    def discard_draft(self) -> None:
        """Drop the draft; the form keeps the file's values."""
        self.draft = None
        self.draft_box.layout.display = "none"
        self.drafts.drop()
        self.revalidate()

    def dirty(self) -> bool:
        return self.values() != self.file_values

    def _track(self, values: dict) -> None:
        """Keep the unsaved values beside the plan file (or drop them when there are none)."""
        if self.draft is not None:
            return  # the planner has not chosen yet: the old draft is kept as it is
        if values != self.file_values:
            self.drafts.keep(values, self.source.digest)
        else:
            self.drafts.drop()

    def _show_state(self) -> None:
        if self.draft is not None:
            text, color = "有未恢复的草稿 — 请选择恢复或放弃", "#8a5a00"
        elif self.dirty():
            text, color = "● 有未保存的修改", "#b3261e"
        else:
            text, color = f"✓ 已保存(与 {self.path.name} 一致)", "#1b7a3a"
        self.state.value = f"<span style='color:{color};font-weight:bold'>{html.escape(text)}</span>"

    # ------------------------------------------------------------------------------ values
    def values(self) -> dict[str, Any]:
        """The sections as the planner entered them (plain data, defaults left out)."""
        out = {}
        for name, editor in self.tops.items():
            value = editor.value()
            if value is not MISSING:
                out[name] = value
        return out

    def merged(self) -> dict:
        data = {k: v for k, v in self.source.merged.items() if k not in self.sections}
        data.update(self.values())
        return {k: data[k] for k in sorted(data, key=_field_order)}

    # ------------------------------------------------------------------------------ validation
    def revalidate(self) -> None:
        if self._building:
            return
        data = self.merged()
        self.plan, self.problems = check_data(data)  # exactly what `planlib validate` checks
        self._offer_names(data)
        self._show_problems()
        values = self.values()
        self.totals.value = html.escape(previews.totals(values))
        self._track(values)
        self._show_state()
        self._show_preview()

    def own_problems(self) -> list[tuple[KeyPath, str, str]]:
        """Problems that block saving: in this form's sections, or found reading an input."""
        local = [(path, e.local, "") for path, e in self._editors().items() if e.local]
        return [p for p in self.problems if p[0][:1] and p[0][0] in self.sections] + local

    def _editors(self) -> dict[KeyPath, Editor]:
        editors: dict[KeyPath, Editor] = {}
        for top in self.tops.values():
            for editor in walk(top):
                editors.setdefault(editor.path, editor)
        return editors

    def _offer_names(self, data: dict) -> None:
        """Offer the names defined elsewhere in the plan where a field refers to one."""
        names = {kind: list(dict.fromkeys(str(n) for n in get(data) if n)) for kind, get in NAMES.items()}
        for path, editor in self._editors().items():
            kind = next((k for pattern, k in REFERENCES if matches(pattern, path)), None)
            if kind is None or not isinstance(editor, Scalar):
                continue
            if isinstance(editor.input, w.Combobox):
                if tuple(editor.input.options) != tuple(names[kind]):
                    editor.input.options = tuple(names[kind])
            elif editor.kind == "list":
                editor.input.placeholder = ("可选: " + ", ".join(names[kind])) if names[kind] else "多项用逗号分隔"

    def _show_problems(self) -> None:
        editors = self._editors()
        shown: dict[KeyPath, list[str]] = {}
        for path, message, hint in self.own_problems():
            at = next(path[:n] for n in range(len(path), -1, -1) if path[:n] in editors or n == 0)
            shown.setdefault(at, []).append(f"{message} — {hint}" if hint else message)
        for path, editor in editors.items():
            editor.set_error(editor.local or ";".join(shown.get(path, [])))
        mine = self.own_problems()
        others = [p for p in self.problems if p not in mine]
        parts = []
        if mine:
            where = "".join(f"<li>{html.escape(label_path(p))}:{html.escape(m)}</li>" for p, m, _ in mine[:8])
            more = f"<li>…… 另有 {len(mine) - 8} 处</li>" if len(mine) > 8 else ""
            parts.append(f"<span style='color:#b3261e'>本表单还有 {len(mine)} 处需要修改(字段下方有提示):</span>"
                         f"<ul>{where}{more}</ul>")
        if others:
            listed = "".join(f"<li>{html.escape(label_path(p))}{html.escape(_owner(p))}:{html.escape(m)}</li>"
                             for p, m, _ in others[:8])
            more = f"<li>…… 另有 {len(others) - 8} 处</li>" if len(others) > 8 else ""
            parts.append(f"<span style='color:#8a5a00'>计划的其他部分还有 {len(others)} 处问题,"
                         f"请在对应阶段的表单中填写(不影响保存本表单):</span><ul>{listed}{more}</ul>")
        if not mine and not others:
            parts.append("<span style='color:#1b7a3a'>✓ 整个计划通过校验</span>")
        self.summary.value = "".join(parts)
        self.save_button.disabled = bool(mine)

    def _show_preview(self) -> None:
        if self.stage not in previews.PREVIEWS:
            return
        values = self.values()
        key = repr((values, self.plan is None))
        if key == self._preview_key:
            return  # nothing it shows has changed: do not redraw (charts cost a second)
        self._preview_key = key
        self.preview.value = previews.render(self.stage, values, self.plan) or ""

    # ------------------------------------------------------------------------------ saving
    def save(self) -> bool:
        """Write the form's sections into the plan file; False (and a message) when refused."""
        self.revalidate()
        if self.own_problems():
            self._status("本表单还有需要修改的字段,没有保存", ok=False)
            return False
        values = self.values()
        source = self.source

        def change(doc: Any) -> None:
            for name in self.sections:
                new = overrides(values.get(name, MISSING), source.base.get(name, MISSING),
                                source.own.get(name, MISSING))
                if new is MISSING:
                    doc.pop(name, None)
                else:
                    merge_into(doc, name, new)

        changed = source.bases_changed()
        if changed:
            self._status(f"{'、'.join(f.name for f in changed)} 在表单打开后已被修改,本次没有保存 — "
                         f"重新运行表单单元格加载最新内容,再填写并保存", ok=False)
            return False
        try:
            modify_yaml(self.path, change, expected_digest=source.digest)
        except PlanError as exc:  # stale file, read-only folder, full disk, broken YAML: one line, nothing written
            self._status(str(exc), ok=False)
            return False
        self.source = PlanSource(self.path)
        self.file_values = values
        if self.draft is None:
            self.drafts.drop()
        self._show_state()
        self._status(f"已保存到 {self.path.name}({datetime.now():%H:%M:%S});"
                     f"重新运行 open_stage 单元格及之后的单元格,分析即使用新值", ok=True)
        return True

    def _status(self, text: str, ok: bool) -> None:
        color = "#1b7a3a" if ok else "#b3261e"
        self.status.value = f"<span style='color:{color}'>{html.escape(text)}</span>"


# the bar stays in view: sticky inside the notebook's scrolling area, which needs the boxes around
# the form to let it out (Lumino widgets and output areas clip with overflow: hidden/auto); with
# overflow visible a flex item grows to its content, hence min-width 0 (wide tables scroll alone)
STYLE = """<style>
.jp-Cell:has(.pl-form), .jp-Cell:has(.pl-form) :has(.pl-form), .pl-form { overflow: visible !important;
  min-width: 0; }
.pl-form > .pl-bar { position: sticky; top: 0; z-index: 20; background: var(--jp-layout-color0, #fff);
  border-bottom: 1px solid #c5cfdb; padding: 4px 0; }
.pl-bar .pl-summary { max-height: 96px; overflow-y: auto; }
.pl-bar .pl-summary ul { margin: 2px 0; }
.pl-bar .pl-state, .pl-bar .pl-status { margin-left: 10px; }
.pl-form .widget-box { min-width: 0; }
.pl-form .pl-table { overflow-x: auto !important; max-width: 100%; }
.pl-draft { background: #fff4d6; border: 1px solid #e0b84c; padding: 4px 8px; margin: 4px 0; }
</style>"""


def label_path(path: KeyPath) -> str:
    """``("goals", 0, "target")`` → ``目标 › 第 1 项 › 目标值``: the field names planners see."""
    parts, model = [], Plan
    for seg in path:
        if isinstance(seg, int):
            parts.append(f"第 {seg + 1} 项")
            continue
        info = getattr(model, "model_fields", {}).get(seg) if model is not None else None
        parts.append(info.title or str(seg) if info is not None else str(seg))
        model = _model_in(info.annotation) if info is not None else None
    return " › ".join(parts) or "计划"


def _model_in(annotation: Any) -> Any:
    """The pydantic model a field holds, directly or as list/dict items (else None)."""
    inner, _, _ = strip(annotation)
    if is_model(inner):
        return inner
    args = [strip(a)[0] for a in get_args(inner)]
    return next((a for a in reversed(args) if is_model(a)), None)


def _owner(path: KeyPath) -> str:
    """Which stage's form edits ``path``, as shown after a problem elsewhere in the plan."""
    stage = next((st for st in STAGE_SECTIONS if path[:1] and path[0] in sections_for(st)), None)
    return f"(工作簿 {stage})" if stage else ""


def _field_order(name: str) -> int:
    names = list(Plan.model_fields)
    return names.index(name) if name in names else len(names)


__all__ = ["STAGE_SECTIONS", "PlanForm", "css", "is_interactive", "overrides", "sections_for", "stage_form"]
