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
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

import ipywidgets as w

from planlib.errors import PlanError
from planlib.forms import choices, datatab, previews
from planlib.forms.draft import DraftWriter, read_draft
from planlib.forms.fields import (
    MISSING,
    Editor,
    ListOf,
    Model,
    Scalar,
    build_editor,
    css,
    walk,
)
from planlib.forms.save import merge_into, modify_yaml
from planlib.forms.source import PlanSource, overrides
from planlib.forms.types import is_model, strip
from planlib.plan.planfile import check_data
from planlib.plan.schema import Plan
from planlib.plan.yamlread import KeyPath
from planlib.run.audiences import CachedAudiences

JUMPS = 8  # problems listed as jump buttons in the bar; the rest are counted (each field shows its own)

# The plan sections each stage's form edits; top-level fields no stage names (a section added to
# the schema later, ``run``) appear in the first stage's form.
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "01_goals": ("meta", "background", "scope", "goals"),
    "02_needs": ("data", "segmentation"),
    "03_channels": ("channels",),
    "04_execution": ("tasks", "milestones", "checkpoints", "budget"),
    "05_review": ("kpis", "review"),
}

# Sections of settings rather than plan content: their tab comes last and is not opened at first.
TECHNICAL = frozenset({"data", "run"})
# A change that reaches the kernel this soon after a save is saved too. ipywidgets' browser side
# sends a widget's next change only when the kernel has answered its previous one, so on a busy
# machine a value picked just before 保存 arrived after the click (measured: 3 of 4 runs of the
# stage-04 table test with the two cores loaded saved the old value) and the file missed what the
# form showed. Two seconds is far beyond that delay and shorter than moving on to another field.
SAVE_GRACE_S = 2.0
# Settings inside a planner's section: folded (collapsed) at the end of their section's tab.
TECHNICAL_FIELDS: dict[str, tuple[str, ...]] = {
    "segmentation": ("clv", "movement"),
    "channels": ("estimate", "optimizer"),
}
# A section too long for one tab: its fields split over tabs (the folded settings go to the last).
SPLIT: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "channels": (("分层渠道计划", ("plan", "rules", "contact_caps")), ("渠道目录", ("catalogue",))),
}


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

    from planlib.forms.kernelio import lossless_iopub
    from planlib.run.stage import resolve_plan_path

    lossless_iopub()  # before the form's widgets are sent (see kernelio: a burst must not be dropped)
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
        self._saved_at: float | None = None  # time.monotonic() of the last save, for SAVE_GRACE_S
        self.save_button = w.Button(description="保存", button_style="primary", disabled=True, icon="save")
        self.save_button.add_class("pl-save")
        self.save_button.on_click(lambda _b: self.save())
        self.state = w.HTML("")  # 已保存 / 有未保存的修改, at all times
        self.state.add_class("pl-state")
        self.status = w.HTML("")  # what the last save said
        self.status.add_class("pl-status")
        self.totals = w.HTML("")
        self.totals.add_class("pl-totals")
        # the validity summary: this form's problems as buttons that jump to their field, then the
        # rest of the plan as text (those fields are in another stage's form)
        self.summary_head = w.HTML("")
        self.jumps = w.VBox()
        self.jumps.add_class("pl-jumps")
        self.summary = w.HTML("")
        self.summary_box = w.VBox([self.summary_head, self.jumps, self.summary])
        self.summary_box.add_class("pl-summary")
        self.tabs = w.Tab()
        self.tabs.add_class("pl-tabs")
        self.tabs.observe(self._opened, "selected_index")
        self.tab_of: dict[KeyPath, int] = {}  # a section or a split-off field → its tab
        self.folds: dict[KeyPath, w.Accordion] = {}
        self.audiences = CachedAudiences(self.path.parent)  # sizes for the channel checks, read once
        self.notes: list[str] = []
        self.preview = w.HTML("")  # HTML, not an Output widget: see planlib.forms.previews
        self.preview.add_class("pl-preview")
        self.body = w.VBox()
        # the bar stays at the top of the notebook's view while the planner scrolls the form
        self.bar = w.VBox([w.HBox([self.save_button, self.state, self.status],
                                  layout=w.Layout(align_items="center")), self.totals, self.summary_box])
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
        """Build the editors from the file's merged values, or from ``values`` (a restored draft).

        One tab per section, the planner's sections first and the technical ones (data files,
        run settings) last; technical settings inside a section are folded at its end. A long
        stage form is then one screen per section instead of one page of several thousand px.
        """
        self._building = True
        self.tops: dict[str, Editor] = {}
        pages: list[tuple[list[KeyPath], w.Widget, str]] = []
        self.folds = {}
        for name in self.sections:
            info = Plan.model_fields[name]
            data = self.source.merged.get(name, MISSING) if values is None else values.get(name, MISSING)
            editor = build_editor((name,), info, data, name in self.source.merged, self.revalidate, self._note)
            self.tops[name] = editor
            if isinstance(editor, Scalar):  # a plain value at the top level: give it a heading too
                editor.box.children = (w.HTML(f"<h4>{html.escape(info.title or name)}</h4>"),
                                       *editor.box.children)
            if isinstance(editor, Model):
                _flow(editor)
                if len(editor.box.children) == 3:  # [heading, fields, error]: the tab already names it
                    editor.box.children = editor.box.children[1:]
            if isinstance(editor, Model) and name in TECHNICAL_FIELDS:
                self._fold(editor, TECHNICAL_FIELDS[name])
            if isinstance(editor, Model) and name == "data":
                self.folds.update(datatab.fold_sources(editor))
            title = info.title or name
            if isinstance(editor, Model) and name in SPLIT:
                pages += self._split(editor, SPLIT[name])
                continue
            page = w.VBox([editor.box], layout=w.Layout(padding="4px 0 0"))
            page.add_class("pl-section")
            page.add_class(f"pl-tab-{name}")
            pages.append(([(name,)], page, f"{title}(技术设置)" if name in TECHNICAL else title))
        # the planner's own sections first, technical settings after them
        pages.sort(key=lambda item: item[0][0][0] in TECHNICAL)
        self.tab_of = {key: i for i, (keys, _page, _title) in enumerate(pages) for key in keys}
        self.tabs.children = [page for _keys, page, _title in pages]
        self.tabs.titles = tuple(title for _keys, _page, title in pages)
        self.tabs.selected_index = 0 if pages else None
        self.body.children = [self.tabs]
        self._building = False
        if values is None:
            self.file_values = self.values()  # what the file says: the form is 已保存 while equal
        self.revalidate()

    def _fold(self, editor: Model, names: tuple[str, ...]) -> None:
        """Move the technical fields ``names`` of a section into one collapsed accordion at its end."""
        body = editor.box.children[-2]  # Model.box is [heading?, fields, error]
        technical = [editor.fields[n] for n in names if n in editor.fields]
        if not technical:
            return
        titles = "、".join(Plan.model_fields[editor.path[0]].annotation.model_fields[n].title or n
                          for n in names if n in editor.fields)
        fold = w.Accordion([w.VBox([f.box for f in technical])], titles=(f"技术设置:{titles}(点击展开)",),
                           selected_index=None, layout=w.Layout(margin="10px 0 0", width="100%"))
        fold.add_class("pl-technical")
        body.children = [f.box for n, f in editor.fields.items() if n not in names] + [fold]
        for f in technical:
            self.folds[f.path] = fold

    def _split(self, editor: Model, groups: tuple[tuple[str, tuple[str, ...]], ...]
               ) -> list[tuple[list[KeyPath], w.Widget, str]]:
        """One tab per group of a section's fields; fields in no group (and the folded technical
        settings) join the last tab, the section's own error the first."""
        body = editor.box.children[-2]
        grouped = {f for _title, fields in groups for f in fields}
        rest = [b for b in body.children if not any(b is editor.fields[f].box for f in grouped if f in editor.fields)]
        pages = []
        for i, (title, fields) in enumerate(groups):
            boxes = [editor.fields[f].box for f in fields if f in editor.fields]
            boxes = [*boxes, editor.error] if i == 0 else boxes
            boxes = [*boxes, *rest] if i == len(groups) - 1 else boxes
            page = w.VBox(boxes, layout=w.Layout(padding="4px 0 0"))
            page.add_class("pl-section")
            page.add_class(css((*editor.path, fields[0]), "pl-tab"))
            keys = [(*editor.path, f) for f in fields]
            if i == len(groups) - 1:
                keys += [(*editor.path, f) for f in editor.fields if f not in grouped]
            pages.append((keys if i else [editor.path, *keys], page, title))
        return pages

    def _opened(self, change: dict) -> None:
        """Mark the open tab as the kernel knows it (``pl-open-<n>``): a tab clicked in the browser
        reaches the kernel after a short delay, and a test must not jump before it has."""
        for name in [c for c in self.tabs._dom_classes if c.startswith("pl-open-")]:
            self.tabs.remove_class(name)
        if change["new"] is not None:
            self.tabs.add_class(f"pl-open-{change['new']}")

    def jump(self, path: KeyPath) -> None:
        """Show the field of a problem: open its tab (and its folded settings) and focus its input."""
        editors = self._editors()
        at = next((path[:n] for n in range(len(path), 0, -1) if path[:n] in editors), None)
        if at is None:
            return
        tab = next((self.tab_of[at[:n]] for n in range(len(at), 0, -1) if at[:n] in self.tab_of), None)
        # sent even when unchanged: the browser may show another tab than the kernel last heard of
        # (a tab clicked just before the jump), and an unchanged trait would send nothing
        if tab is not None:
            self.tabs.selected_index = tab
            self.tabs.send_state("selected_index")
        fold = next((self.folds[at[:n]] for n in range(len(at), 0, -1) if at[:n] in self.folds), None)
        if fold is not None:
            fold.selected_index = 0
            fold.send_state("selected_index")
        target = next((e for e in walk(editors[at]) if isinstance(e, Scalar)), None)
        if target is not None:
            if target.kind == "date":
                # ipywidgets' DatePicker view ignores focus() but its box takes it once tabbable
                target.input.tabbable = True
            target.input.focus()  # the browser scrolls the focused input into view

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
        self.notes = []
        # exactly what `planlib validate` checks, the customer data's audience sizes included
        self.plan, self.problems = check_data(data, self.audiences, self.notes)
        self._offer_names(data)
        self._show_problems()
        values = self.values()
        self.totals.value = html.escape(previews.totals(values))
        self._track(values)
        self._show_state()
        self._show_preview()
        if (self._saved_at is not None and time.monotonic() - self._saved_at <= SAVE_GRACE_S
                and values != self.file_values):
            self.save(late=True)  # a change the browser sent just after 保存: see SAVE_GRACE_S

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
        """Offer, where a field refers to names defined elsewhere in the plan (channels, tiers,
        segments, tasks, work phases) or suggests values it already uses (owners, budget
        categories), the options as the plan says now (:mod:`planlib.forms.choices`)."""
        offered = choices.offered(data)
        for editor in self._editors().values():
            if isinstance(editor, Scalar) and editor.ref is not None:
                editor.offer(offered[editor.ref])

    def _show_problems(self) -> None:
        editors = self._editors()
        shown: dict[KeyPath, list[str]] = {}
        for path, message, hint in self.own_problems():
            at = next(path[:n] for n in range(len(path), -1, -1) if path[:n] in editors or n == 0)
            shown.setdefault(at, []).append(f"{message} — {hint}" if hint else message)
        for path, editor in editors.items():
            editor.set_error(editor.local or ";".join(shown.get(path, [])))
        _anchor_cell_errors(editors.values())
        mine = self.own_problems()
        others = [p for p in self.problems if p not in mine]
        self.summary_head.value = (f"<span style='color:#b3261e'>本表单还有 {len(mine)} 处需要修改"
                                   f"(点击字段名跳到该字段):</span>") if mine else ""
        self.jumps.children = [self._jump_line(path, message) for path, message, _hint in mine[:JUMPS]] + (
            [w.HTML(f"…… 另有 {len(mine) - JUMPS} 处(字段下方有提示)")] if len(mine) > JUMPS else [])
        parts = []
        if others:
            listed = "".join(f"<li>{html.escape(label_path(p))}{html.escape(_owner(p))}:{html.escape(m)}</li>"
                             for p, m, _ in others[:8])
            more = f"<li>…… 另有 {len(others) - 8} 处</li>" if len(others) > 8 else ""
            parts.append(f"<span style='color:#8a5a00'>计划的其他部分还有 {len(others)} 处问题,"
                         f"请在对应阶段的表单中填写(不影响保存本表单):</span><ul>{listed}{more}</ul>")
        if not mine and not others:
            parts.append("<span style='color:#1b7a3a'>✓ 整个计划通过校验</span>")
        parts += [f"<span style='color:#8a5a00'>{html.escape(n)}</span>" for n in dict.fromkeys(self.notes)]
        self.summary.value = "<br>".join(parts)
        self.save_button.disabled = bool(mine)

    def _jump_line(self, path: KeyPath, message: str) -> w.HBox:
        """One problem of this form: its field's name as a button that jumps there, then the message."""
        button = w.Button(description=label_path(path), icon="arrow-right", tooltip="跳到这个字段",
                          layout=w.Layout(width="auto", max_width="45%", flex="0 0 auto", height="26px"))
        button.add_class("pl-jump")
        button.add_class(css(path, "pl-jump"))
        button.on_click(lambda _b: self.jump(path))
        text = w.HTML(f"<span style='color:#b3261e'>{html.escape(message)}</span>",
                      layout=w.Layout(flex="1 1 auto", min_width="0"))
        return w.HBox([button, text], layout=w.Layout(align_items="center", min_height="28px"))

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
    def save(self, late: bool = False) -> bool:
        """Write the form's sections into the plan file; False (and a message) when refused.

        ``late``: saving again a change that reached the kernel within :data:`SAVE_GRACE_S` of a save.
        """
        self._saved_at = None  # the grace of the last save ends with this one
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
        self._saved_at = time.monotonic()
        also = ",包括点击「保存」时仍在传送的修改" if late else ""
        self._status(f"已保存到 {self.path.name}({datetime.now():%H:%M:%S}){also};"
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
.pl-bar .pl-summary { max-height: 180px; overflow-y: auto; }
.pl-bar .pl-jump { text-align: left; }
.pl-form .pl-tabs > .lm-TabBar .lm-TabBar-tab { min-width: 90px; max-width: none; flex: 0 0 auto; }
.pl-bar .pl-summary ul { margin: 2px 0; }
.pl-bar .pl-state, .pl-bar .pl-status { margin-left: 10px; }
.pl-form .widget-box { min-width: 0; }
.pl-form .pl-rows { overflow-x: auto !important; max-width: 100%; }
/* a row's number and first column stay in view while the table scrolls sideways: boxes between
   them and the table must not clip (overflow visible), and they cover what scrolls under them */
.pl-form .pl-rows .widget-hbox { overflow: visible !important; }
.pl-form .pl-rows .pl-sticky-num { position: sticky; left: 0; z-index: 3;
  background: var(--jp-layout-color0, #fff); }
.pl-form .pl-rows .pl-sticky-first { position: sticky; left: 30px; z-index: 3;  /* 30px: the number's width */
  background: var(--jp-layout-color0, #fff); box-shadow: 3px 0 3px -2px #c5cfdb; }
/* a message under a table cell reads along the row instead of down a narrow column */
.pl-form .pl-rows .widget-vbox { overflow: visible !important; }
.pl-form .pl-rows .pl-error { width: max-content !important; max-width: 560px; position: relative; z-index: 1; }
.pl-form .pl-rows .pl-error-end { align-self: flex-end; text-align: right; }
.pl-draft { background: #fff4d6; border: 1px solid #e0b84c; padding: 4px 8px; margin: 4px 0; }
</style>"""


def _anchor_cell_errors(editors: Iterable[Editor]) -> None:
    """A message under a table cell is one line along the row: from the cell to the right in the
    row's left half, from the cell to the left in its right half, so it stays inside the table."""
    for table in editors:
        if not isinstance(table, ListOf) or not table.table:
            continue
        for row in table.rows:
            cells = list(row.fields.values())
            for j, cell in enumerate(cells):
                if j >= len(cells) / 2:
                    cell.error.add_class("pl-error-end")


def _flow(editor: Model) -> None:
    """Lay a section's single-value fields side by side (two or three per line at 1400 px) instead
    of one under the other; tables, sub-sections and long texts keep a line of their own."""
    body = editor.box.children[-2]
    body.layout.flex_flow = "row wrap"
    body.layout.align_items = "flex-start"
    for field in editor.fields.values():
        if isinstance(field, Scalar) and field.kind != "text":
            continue
        field.box.layout.width = "100%"
        if isinstance(field, Model):
            _flow(field)


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
