"""Form editors generated from the plan schema: one widget per field, nothing declared twice.

:func:`build_editor` walks a field's annotation and metadata (``model_fields``, ``Annotated``,
``Literal``, ``| None``) and returns an editor. Every input is an *unbounded* widget (``Text``,
``Textarea``, ``Dropdown``, ``DatePicker``, ``Checkbox``): ipywidgets' bounded number inputs
clamp out-of-range values, so numbers are typed as text and read by the same rules as a YAML
file — ``12`` is a number, ``1,200`` stays text and the schema says why it is wrong. Nothing is
clamped, rounded or coerced; the schema is the only judge.

Fields whose values come from a known set (:mod:`planlib.forms.choices`) show names and keep
codes: a field referring to a tier, segment, channel or work phase is a drop-down (``短信(sms)``
shown, ``sms`` written); a list of such names (前置任务, 可用渠道, 旅程阶段 …) is a ``TagsInput``
multi-select; owners and budget categories are combo boxes suggesting the values the plan already
uses. The options follow the plan as it changes (:meth:`Scalar.offer`). A saved value that is not
among the options is kept and marked 「不在可选范围」, never dropped or replaced.

An editor's :meth:`value` is what the planner entered, as plain data, or :data:`MISSING` when a
field with a default was left empty (the key is then not written).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import date
from typing import Any, Literal, get_args, get_origin

import ipywidgets as w
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from planlib.forms import choices
from planlib.forms.choices import Option
from planlib.forms.types import MISSING, is_model, read_scalar, scalar_types, show_scalar, strip
from planlib.plan import schema
from planlib.plan.kpis import CATALOGUE
from planlib.plan.yamlread import KeyPath

_LIST_SEP = re.compile(r"\s*[,,、]\s*")
_LONG_TEXT = 1000  # str fields allowing this many characters get a multi-line box
_FULL = "calc(100% - 8px)"  # input width: the widget margin would push a 100% input past its box

# Annotated validators whose values come from a known list: offered as a drop-down.
CHOICES: dict[Callable, Callable[[], list[tuple[str, str]]]] = {
    schema._check_kpi: lambda: [(f"{k.name}({k.id})", k.id) for k in CATALOGUE.values()],
}

# Fixed choices are shown by their Chinese names; the plan file keeps the codes.
CHOICE_LABELS: dict[Any, str] = {
    "increase": "提升", "decrease": "降低", "open": "进行中", "done": "已完成", "auto": "自动",
    "responses": "响应人数最多", "value": "价值最高", "zh": "中文", "en": "English", "CNY": "人民币",
    "csv": "CSV", "xlsx": "Excel(xlsx)", "parquet": "Parquet", "utf-8": "UTF-8", "utf-8-sig": "UTF-8(带 BOM)",
    "gbk": "GBK", "gb18030": "GB18030", "big5": "Big5", "open_rate": "打开率", "response_rate": "响应率",
    "crm": "CRM 导出(五个 CSV)", "orders_export": "商城订单导出", "bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD",
}
UNKNOWN = "(不在可选范围)"  # marks a saved value the options do not hold: kept, never dropped

TABLE = "table"  # ``compact`` for the cells of a table row: no label (the header names the column)
# A row's number and first column (its name or id) stay at the left edge of a table scrolled
# sideways (``position: sticky`` in the form's style, :data:`planlib.forms.form.STYLE`): channel
# plan and budget lines are wider than the notebook, and a row's cells mean little without it.
STICKY_NUMBER, STICKY_FIRST = "pl-sticky-num", "pl-sticky-first"
_NUM_WIDTH, _BUTTON_WIDTH = "30px", "36px"

OnChange = Callable[[], None]
Note = Callable[[KeyPath], str]


def css(path: KeyPath, prefix: str = "pl-f") -> str:
    """The CSS class of the widget editing ``path``: ``("goals", 0, "target")`` → ``pl-f-goals-0-target``."""
    return "-".join([prefix, *(re.sub(r"\s+", "_", str(p)) for p in path)])


def _default(info: FieldInfo) -> Any:
    if info.is_required():
        return MISSING
    return info.get_default(call_default_factory=True)


def _validators(info: FieldInfo, tp: Any) -> list:
    _, _, meta = strip(tp)
    return [*info.metadata, *meta]


def _options(inner: Any, info: FieldInfo, tp: Any) -> list[tuple[str, Any]] | None:
    """(label, value) of a field's choices: a list it is validated against (:data:`CHOICES`), else
    its ``Literal`` values; None for a field without choices."""
    known = next((CHOICES[v.func]() for v in _validators(info, tp) if getattr(v, "func", None) in CHOICES), None)
    if known or get_origin(inner) is not Literal:
        return known
    return [(CHOICE_LABELS.get(o, str(o)), o) for o in get_args(inner)]


def _marked(value: Any) -> str:
    return f"{show_scalar(value)}{UNKNOWN}"


def _dropdown_options(options: list[Option], value: Any) -> list[Option]:
    """``options`` after an empty choice, plus ``value`` marked when it is not one of them."""
    shown = list(options)
    if value not in (None, MISSING, "") and value not in [o[1] for o in shown]:
        shown.append((_marked(value), value))  # never silently replaced
    return [("", ""), *shown]


def _dropdown(options: list[Option], value: Any) -> w.Dropdown:
    """A drop-down over ``options`` plus an empty choice; a value outside them is kept and marked."""
    current = value if value not in (None, MISSING) else ""
    return w.Dropdown(options=_dropdown_options(options, value), value=current, layout=w.Layout(width=_FULL))


def _tags(options: list[Option], values: list) -> tuple[w.TagsInput, dict[str, Any]]:
    """A multi-select of ``options`` as chips on one line, and the map from chip label to value.

    ``TagsInput`` rather than ``SelectMultiple``: a table row has one line of height, and a
    select-multiple box is several lines tall, needs Ctrl+click and hides which items are chosen
    once it scrolls; chips show the choice in place, keep the planner's order (a list written in
    the plan keeps its order) and offer the allowed names as the planner types. Chips are plain
    strings, so each shows the option's label and :meth:`Scalar._read` maps it back to the value.
    """
    box = w.TagsInput(value=[], allowed_tags=[], allow_duplicates=False, placeholder="选择…",
                      layout=w.Layout(width=_FULL))
    labels = _set_tags(box, options, values)
    return box, labels


def _set_tags(box: w.TagsInput, options: list[Option], values: list) -> dict[str, Any]:
    """Show ``values`` as chips of ``options``' labels; a value outside them is kept, marked."""
    label_of = {value: label for label, value in options}
    shown = [label_of.get(v, _marked(v)) for v in values]
    allowed = [label for label, _ in options]
    allowed += [s for s in dict.fromkeys(shown) if s not in allowed]
    if list(box.allowed_tags) != allowed:
        box.allowed_tags = allowed  # first: the value is validated against the allowed chips
    if list(box.value) != shown:
        box.value = shown
    return {**{label: value for label, value in options},
            **{_marked(v): v for v in values if v not in label_of}}


def _list_text(value: Any) -> w.Text:
    """A short list typed on one line, items separated by commas."""
    text = ", ".join(show_scalar(v) for v in value) if isinstance(value, list) else show_scalar(value)
    return w.Text(value=text, placeholder="多项用逗号分隔", continuous_update=False, layout=w.Layout(width=_FULL))


def _dict_text(value: Any) -> w.Textarea:
    """A small key→value table, one ``名称: 值`` per line."""
    text = "\n".join(f"{k}: {show_scalar(v)}" for k, v in value.items()) if isinstance(value, dict) \
        else show_scalar(value)
    return w.Textarea(value=text, placeholder="每行一项,写成 名称: 值", continuous_update=False,
                      layout=w.Layout(width=_FULL, height="70px"))


def _long_text(info: FieldInfo) -> bool:
    """A str field allowing at least :data:`_LONG_TEXT` characters gets a multi-line box."""
    return any((getattr(m, "max_length", 0) or 0) >= _LONG_TEXT for m in info.metadata)


def _text_input(info: FieldInfo, tp: Any, value: Any) -> w.Text | w.Combobox:
    """One line of text; plain text fields are combo boxes: the form may offer names defined
    elsewhere in the plan (segments, task ids, channel codes) while any text can still be typed."""
    kind = w.Combobox if scalar_types(tp) == {str} else w.Text
    return kind(value=show_scalar(value), placeholder=info.description or "",
                continuous_update=False, layout=w.Layout(width=_FULL))


def cell_width(info: FieldInfo, path: KeyPath | None = None) -> str:
    """The fixed width of a field's column in a table of rows (``path``: the field in some row)."""
    inner, _, _ = strip(info.annotation)
    named = path is not None and choices.reference(path) in choices.NAMED
    if named and get_origin(inner) is list:
        return "260px"  # three chips such as 企业微信/社群(wecom) side by side
    if named:
        return "190px"  # a name and its code: 企业微信/社群(wecom)
    if inner is bool:
        return "56px"
    if inner is date:
        return "150px"
    if _options(inner, info, info.annotation) is not None:
        return "150px"
    if get_origin(inner) is list:
        return "200px"  # room for two or three chips of a multi-select
    if get_origin(inner) is dict:
        return "220px"
    if inner is str and _long_text(info):
        return "240px"
    if scalar_types(info.annotation) <= {int, float}:
        return "100px"
    return "140px"


def is_flat(model: type[BaseModel]) -> bool:
    """True when every field of ``model`` is one value (its rows can be one line of a table)."""
    for info in model.model_fields.values():
        inner, _, _ = strip(info.annotation)
        if is_model(inner) or get_origin(inner) in (list, dict) and any(
                is_model(strip(a)[0]) for a in get_args(inner)):
            return False
    return True


def table_header(model: type[BaseModel], lead: list[w.Widget] | None = None, row: KeyPath | None = None) -> w.HBox:
    """The header row of a table of ``model`` rows: each column's title once (help as a tooltip);
    ``row`` is the path of a row, for the widths of columns that pick names (:func:`cell_width`)."""
    cells = []
    for name, info in model.model_fields.items():
        star = '<span style="color:#b3261e">*</span>' if info.is_required() else ""
        tip = f' title="{html.escape(info.description)}"' if info.description else ""
        cells.append(w.HTML(f"<b{tip}>{html.escape(info.title or name)}</b>{star}",
                            layout=w.Layout(width=cell_width(info, (*row, name) if row else None), flex="0 0 auto",
                                            margin="0 4px 0 0")))
    number = w.HTML("", layout=w.Layout(width=_NUM_WIDTH, flex="0 0 auto", margin="0"))
    number.add_class(STICKY_NUMBER)
    (lead or cells)[0].add_class(STICKY_FIRST)
    head = w.HBox([number, *(lead or []), *cells],
                  layout=w.Layout(border_bottom="1px solid #c5cfdb", flex="0 0 auto"))
    head.add_class("pl-table-head")
    return head


# ---------------------------------------------------------------------------------- editors
class Editor:
    path: KeyPath
    box: w.Widget
    error: w.HTML
    local = ""  # a problem the form itself found while reading the input (shown before the schema's)

    def value(self) -> Any:
        raise NotImplementedError

    def set_error(self, text: str) -> None:
        shown = f'<span style="color:#b3261e">⚠ {html.escape(text)}</span>' if text else ""
        if self.error.value != shown:
            self.error.value = shown


def _error_label(path: KeyPath) -> w.HTML:
    # classes given at construction travel in the widget's comm_open; add_class afterwards would send
    # one more message per class, and a form sends thousands (see forms/kernelio.py)
    return w.HTML("", _dom_classes=("pl-error", css(path, "pl-e")))


def _label(info: FieldInfo, name: str, note: str, required: bool) -> w.HTML:
    title = html.escape(info.title or name)
    star = '<span style="color:#b3261e">*</span>' if required else ""
    extra = f' <span style="color:#888;font-size:90%">{html.escape(note)}</span>' if note else ""
    tip = f' title="{html.escape(info.description)}"' if info.description else ""
    return w.HTML(f"<b{tip}>{title}</b>{star}{extra}")


class Scalar(Editor):
    """One value: text, number, date, choice, yes/no, a short list or a small key→value table.

    ``kind`` is ``bool``, ``date``, ``choice`` (a drop-down), ``multi`` (chips of a known set),
    ``list`` (free items typed with commas), ``dict``, ``text`` (several lines) or ``scalar``.
    """

    options: list[Option]  # what a choice, multi-select or suggesting field offers now
    _quiet = False  # True while the form changes the options: not the planner's edit

    def __init__(self, path: KeyPath, info: FieldInfo, value: Any, present: bool,
                 on_change: OnChange, note: str, compact: bool | str):
        self.path, self.info, self.present = path, info, present
        tp = info.annotation
        inner, _, _ = strip(tp)
        self.default = _default(info)
        self.required = info.is_required()
        if value is MISSING and self.default is not MISSING:
            value = self.default  # show what the plan will use when the key is left out
        self.options, self.chips = [], {}
        self.ref = choices.reference(path)
        self.kind, widget = self._widget(inner, info, tp, value)
        if compact == TABLE and self.kind == "text":
            widget.layout.height = "30px"  # one line in a table row; the text keeps its line breaks
        widget.add_class("pl-input")
        widget.observe(lambda _change: None if self._quiet else on_change(), "value")
        self.input = widget
        self.error = _error_label(path)
        help_text = [] if compact or not info.description else [
            w.HTML(f'<span style="color:#666;font-size:90%">{html.escape(info.description)}</span>')]
        if compact == TABLE:  # a cell: the table's header row names it once
            widget.layout.width = "100%"
            if info.description:
                widget.tooltip = info.description
            self.box = w.VBox([widget, self.error], layout=w.Layout(width=cell_width(info, path), flex="0 0 auto",
                                                                     margin="1px 4px 1px 0"),
                              _dom_classes=(css(path),))
            return
        wide = self.kind in ("text", "dict") or not compact
        self.box = w.VBox([_label(info, str(path[-1]), note, self.required), widget, *help_text, self.error],
                          layout=w.Layout(width="100%" if self.kind == "text" else ("420px" if wide else "190px"),
                                          margin="2px 8px 2px 0"),
                          _dom_classes=(css(path),))

    def _widget(self, inner: Any, info: FieldInfo, tp: Any, value: Any) -> tuple[str, w.Widget]:
        """The editor's kind and its input widget, chosen from the field's type and metadata."""
        if inner is bool:
            return "bool", w.Checkbox(value=isinstance(value, bool) and value, indent=False)
        if inner is date:
            return "date", w.DatePicker(value=value if isinstance(value, date) else None,
                                        layout=w.Layout(width=_FULL))
        options = _options(inner, info, tp)
        if options is not None:
            self.options = options
            return "choice", _dropdown(options, value)
        if self.ref in choices.NAMED and get_origin(inner) is not list and scalar_types(tp) == {str} \
                and (isinstance(value, str) or value in (None, MISSING)):
            return "choice", _dropdown([], value)  # the plan's names arrive with :meth:`offer`
        # chips for a list of plain values; anything else in the file is shown as text for the
        # schema to explain (a mapping cannot be a chip)
        if get_origin(inner) is list and (value in (None, MISSING) or isinstance(value, list) and all(
                isinstance(v, str | int | float | bool) or v is None for v in value)):
            item = strip(get_args(inner)[0])[0] if get_args(inner) else Any
            if get_origin(item) is Literal:  # a list of fixed choices (旅程阶段)
                self.options = [(CHOICE_LABELS.get(o, str(o)), o) for o in get_args(item)]
            if self.options or self.ref in choices.NAMED:
                widget, self.chips = _tags(self.options, value if isinstance(value, list) else [])
                return "multi", widget
        if get_origin(inner) is list:  # free items, or a value that is no list (the schema says so)
            return "list", _list_text(value)
        if get_origin(inner) is dict:
            return "dict", _dict_text(value)
        if inner is str and _long_text(info):
            return "text", w.Textarea(value=show_scalar(value), continuous_update=False,
                                      layout=w.Layout(width=_FULL, height="56px"))
        return "scalar", _text_input(info, tp, value)

    def _read(self) -> Any:
        self.local = ""
        raw = self.input.value
        tp = self.info.annotation
        if self.kind == "bool":
            return raw
        if self.kind == "date":
            return raw if raw is not None else MISSING
        if self.kind == "choice":
            return raw if raw != "" else MISSING
        if self.kind == "multi":  # a chip typed while nothing was offered is kept as typed
            return [self.chips.get(label, label) for label in raw]
        if raw == "":
            return [] if self.kind == "list" else ({} if self.kind == "dict" else MISSING)
        inner, _, _ = strip(tp)
        if self.kind == "list":
            item_types = scalar_types(get_args(inner)[0])
            return [read_scalar(part, item_types) for part in _LIST_SEP.split(raw.strip()) if part != ""]
        if self.kind == "dict":
            out: dict[str, Any] = {}
            value_types = scalar_types(get_args(inner)[1])
            for line in raw.splitlines():
                if not line.strip():
                    continue
                parts = re.split(r"[::]", line, maxsplit=1)
                if len(parts) != 2:
                    return raw  # not a "name: value" table; the schema says so
                key, rest = parts
                if key.strip() in out:
                    self.local = f"名称「{key.strip()}」写了两次,请只保留一行"
                    return raw  # never let the second line silently replace the first
                out[key.strip()] = read_scalar(rest, value_types)
            return out
        return read_scalar(raw, scalar_types(tp))

    def offer(self, options: list[Option]) -> None:
        """Offer ``options`` (label, value) from the plan as it is now; what is entered stays.

        A drop-down or multi-select whose current value is not among them keeps it, marked;
        a suggesting combo box or a list typed as text only shows them.
        """
        if options == self.options:
            return
        current = self._read()
        self.options = list(options)
        self._quiet = True  # relabelling is not an edit: the value read afterwards is the same
        try:
            if self.kind == "choice":
                self.input.options = _dropdown_options(self.options, current)
                self.input.value = "" if current is MISSING else current
            elif self.kind == "multi":
                self.chips = _set_tags(self.input, self.options, current)
            elif isinstance(self.input, w.Combobox):
                self.input.options = tuple(str(label) for label, _ in self.options)
            elif self.kind == "list":
                self.input.placeholder = ("可选: " + ", ".join(str(label) for label, _ in self.options)) \
                    if self.options else "多项用逗号分隔"
        finally:
            self._quiet = False

    def labels(self, values: list) -> list[str]:
        """The chips a multi-select shows for ``values`` (what a planner picks to enter them)."""
        label_of = {value: label for label, value in self.options}
        return [label_of.get(v, _marked(v)) for v in values]

    def value(self) -> Any:
        value = self._read()
        if value is MISSING:
            return None if self.required else MISSING
        if not self.present and value == self.default and type(value) is type(self.default):
            return MISSING  # left at its default: not written
        return value


class Model(Editor):
    """A sub-model: its fields laid out in a box (rows of a list are laid out side by side)."""

    def __init__(self, path: KeyPath, model: type[BaseModel], data: Any, present: bool,
                 on_change: OnChange, note: Note, compact: bool, title: str | None = None,
                 required: bool = True):
        self.path, self.present, self.required = path, present, required
        data = data if isinstance(data, dict) else {}
        self.fields: dict[str, Editor] = {
            name: build_editor((*path, name), info, data.get(name, MISSING), name in data,
                               on_change, note, compact)
            for name, info in model.model_fields.items()
        }
        self.error = _error_label(path)
        children = [f.box for f in self.fields.values()]
        classes = (css(path),)
        if compact == TABLE:  # the row itself is the field's box
            body = w.HBox(children, layout=w.Layout(flex_flow="row nowrap", align_items="flex-start"),
                          _dom_classes=classes)
        elif compact:
            body = w.HBox(children, layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))
        else:
            body = w.VBox(children)
        head = [w.HTML(f"<h4 style='margin:6px 0 2px'>{html.escape(title)}</h4>")] if title else []
        # a row shows the error
        self.box = body if compact == TABLE else w.VBox([*head, body, self.error], _dom_classes=classes)

    def value(self) -> Any:
        out = {}
        for name, editor in self.fields.items():
            value = editor.value()
            if value is not MISSING:
                out[name] = value
        if not out and not self.present and not self.required:
            return MISSING
        return out


class OptionalModel(Editor):
    """A sub-model that may be left out (``X | None``): a tick box shows or hides it."""

    def __init__(self, inner: Model, path: KeyPath, title: str, on: bool, on_change: OnChange):
        self.path, self.inner = path, inner
        self.enabled = w.Checkbox(value=on, description=f"填写{title}", indent=False)
        self.enabled.add_class(css(path, "pl-on"))
        self.error = _error_label(path)
        self.inner.box.layout.display = None if on else "none"

        def toggle(change: dict) -> None:
            self.inner.box.layout.display = None if change["new"] else "none"
            on_change()

        self.enabled.observe(toggle, "value")
        self.box = w.VBox([self.enabled, inner.box, self.error])

    def value(self) -> Any:
        if not self.enabled.value:
            return MISSING
        value = self.inner.value()
        return {} if value is MISSING else value


class ListOf(Editor):
    """A list of sub-models: a table of one-line rows (header once; move up and delete per row,
    undo of the last delete), or boxed rows when a row holds sub-models of its own."""

    def __init__(self, path: KeyPath, info: FieldInfo, model: type[BaseModel], items: Any, present: bool,
                 on_change: OnChange, note: Note):
        self.path, self.model, self.present, self.on_change, self.note = path, model, present, on_change, note
        self.required = info.is_required()
        self.table = is_flat(model)
        self.rows: list[Model] = []
        self.deleted: tuple[int, Any] | None = None  # the last deleted row, for 撤销删除
        self.rows_box = w.VBox()
        if self.table:
            self.rows_box.add_class("pl-rows")  # scrolls sideways on its own when wider than the form
        self.add_button = add = w.Button(description="添加一行", icon="plus", layout=w.Layout(width="auto"))
        add.add_class(css(path, "pl-add"))
        add.on_click(lambda _b: self.add())
        self.undo_button = undo = w.Button(description="撤销删除", icon="undo",
                                           layout=w.Layout(width="auto", display="none"))
        undo.add_class(css(path, "pl-undo"))
        undo.on_click(lambda _b: self.undo())
        self.error = _error_label(path)
        title = html.escape(info.title or str(path[-1]))
        about = f' <span style="color:#666;font-size:90%">{html.escape(info.description)}</span>' \
            if info.description else ""
        self.box = w.VBox([w.HTML(f"<h4 style='margin:8px 0 2px'>{title}</h4>{about}"),
                           self.rows_box, w.HBox([add, undo]), self.error])
        self.box.add_class(css(path))
        self._rebuild(items if isinstance(items, list | dict) else [], notify=False)

    def _items(self) -> list:
        return [row.value() for row in self.rows]

    def _buttons(self, i: int, row: Model) -> list[w.Button]:
        up = w.Button(icon="arrow-up", tooltip="上移一行", disabled=i == 0,
                      layout=w.Layout(width=_BUTTON_WIDTH, flex="0 0 auto"),
                      _dom_classes=(css((*self.path, i), "pl-up"),))
        # the row is found when the button is clicked: rows move without being rebuilt
        up.on_click(lambda _b: self.move_up(self._index(row)))
        delete = w.Button(description="" if self.table else "删除", icon="trash", tooltip="删除这一行",
                          layout=w.Layout(width=_BUTTON_WIDTH if self.table else "80px", flex="0 0 auto"),
                          _dom_classes=(css((*self.path, i), "pl-del"),))
        delete.on_click(lambda _b: self.remove(self._index(row)))
        self.up_buttons.append(up)
        self.delete_buttons.append(delete)
        return [up, delete]

    def _index(self, row: Model) -> int:
        return next(i for i, r in enumerate(self.rows) if r is row)

    def _line(self, i: int, lead: list[w.Widget], row: Model) -> w.Widget:
        number = w.HTML(f"<b>{i + 1}.</b>", layout=w.Layout(width=_NUM_WIDTH, flex="0 0 auto"))
        self.numbers.append(number)
        if self.table:
            number.layout.margin = "0"  # the first column sticks at the number's width (form STYLE)
            number.add_class(STICKY_NUMBER)
            first = lead[0] if lead else next(iter(row.fields.values())).box
            first.add_class(STICKY_FIRST)
            line = w.HBox([number, *lead, row.box, *self._buttons(i, row)],
                          layout=w.Layout(align_items="flex-start", flex="0 0 auto"))
            return w.VBox([line, row.error], layout=w.Layout(border_bottom="1px solid #eee", flex="0 0 auto",
                                                             padding="2px 0", width="max-content"))
        row.box.layout.flex = "1 1 auto"
        return w.HBox([number, *lead, row.box, *self._buttons(i, row)],
                      layout=w.Layout(border="1px solid #ddd", padding="4px", margin="3px 0",
                                      align_items="flex-start"))

    def _rebuild(self, items: list, notify: bool = True) -> None:
        self.rows, self.lines, self.numbers, self.up_buttons, self.delete_buttons = [], [], [], [], []
        self.header = None
        for i, item in enumerate(items):
            row = Model((*self.path, i), self.model, item, isinstance(item, dict),
                        self.on_change, self.note, compact=TABLE if self.table else True)
            self.rows.append(row)
            self.lines.append(self._line(i, [], row))
        self._show()
        self.undo_button.layout.display = None if self.deleted is not None else "none"
        if notify:
            self.on_change()

    def add(self) -> None:
        """Append an empty row, leaving the rows above as they are (the same widgets).

        Rebuilding every row would replace the widgets the planner has just typed into, and the
        browser sends a widget's new text only once the kernel has answered that widget's last
        message (ipywidgets' per-widget message throttle): text typed into a cell just before
        添加一行 then arrived at a discarded widget and was lost (bench_forms_layout saw five of
        six rows lose their 依赖资源).
        """
        if not self.rows:
            self._rebuild([{}])
            return
        self._insert(len(self.rows), {}, present=True)
        self.on_change()

    # Deleting, moving and undoing keep the other rows' widgets too (same reason as :meth:`add`):
    # the rows after the change get their new number, key paths and CSS classes instead.
    def _insert(self, i: int, item: Any, present: bool) -> None:
        row = Model((*self.path, i), self.model, item, present, self.on_change, self.note,
                    compact=TABLE if self.table else True)
        line = self._line(i, [], row)  # appends its number and buttons: put them in place
        for seq in (self.numbers, self.up_buttons, self.delete_buttons):
            seq.insert(i, seq.pop())
        self.rows.insert(i, row)
        self.lines.insert(i, line)
        self._renumber(i + 1)
        self._show()

    def _show(self) -> None:
        """The rows box: the table's header (made once, while there are rows) and the lines."""
        if self.table and self.rows and self.header is None:
            self.header = table_header(self.model, row=(*self.path, 0))
        head = [self.header] if self.table and self.rows else []
        self.rows_box.children = [*head, *self.lines]
        self.undo_button.layout.display = None if self.deleted is not None else "none"

    def _renumber(self, start: int) -> None:
        """Give the rows from ``start`` on the key paths, classes and numbers of their position."""
        for i in range(start, len(self.rows)):
            row, old = self.rows[i], self.rows[i].path
            new = (*self.path, i)
            self.numbers[i].value = f"<b>{i + 1}.</b>"
            self.up_buttons[i].disabled = i == 0
            if old == new:
                continue
            for editor in walk(row):
                editor.path = (*new, *editor.path[len(old):])
            rename_classes(self.lines[i], css(old, "")[1:], css(new, "")[1:])

    def remove(self, i: int) -> None:
        self.deleted = (i, self.rows[i].value())
        del self.rows[i], self.lines[i], self.numbers[i], self.up_buttons[i], self.delete_buttons[i]
        self._renumber(i)
        self._show()
        self.on_change()

    def undo(self) -> None:
        """Put the last deleted row back where it was."""
        if self.deleted is None:
            return
        (i, item), self.deleted = self.deleted, None
        self._insert(min(i, len(self.rows)), item, present=isinstance(item, dict))
        self.on_change()

    def move_up(self, i: int) -> None:
        if 0 < i < len(self.rows):
            for seq in (self.rows, self.lines, self.numbers, self.up_buttons, self.delete_buttons):
                seq[i - 1], seq[i] = seq[i], seq[i - 1]
            self._renumber(i - 1)
            self._show()
            self.on_change()

    def editors(self) -> list[Editor]:
        return [e for row in self.rows for e in walk(row)]

    def value(self) -> Any:
        items = self._items()
        if not items and not self.present and not self.required:
            return MISSING
        return items


class DictOf(ListOf):
    """A name → sub-model mapping (``dict[str, Model]``): a 名称 box and the model's fields per row."""

    # a row's path holds its name, not its position: the rows are rebuilt
    def add(self) -> None:
        self._rebuild([*self._items(), {}])

    def remove(self, i: int) -> None:
        items = self._items()
        self.deleted = (i, items[i])
        self._rebuild([x for j, x in enumerate(items) if j != i])

    def undo(self) -> None:
        if self.deleted is None:
            return
        (i, item), self.deleted = self.deleted, None
        items = self._items()
        items.insert(min(i, len(items)), item)
        self._rebuild(items)

    def move_up(self, i: int) -> None:
        items = self._items()
        if 0 < i < len(items):
            items[i - 1], items[i] = items[i], items[i - 1]
            self._rebuild(items)

    def _items(self) -> list:
        return [(key.value, row.value()) for key, row in zip(self.keys, self.rows, strict=True)]

    def _rebuild(self, items: Any, notify: bool = True) -> None:
        if isinstance(items, dict):
            items = list(items.items())
        items = [x if isinstance(x, tuple) else ("", x) for x in items]
        self.rows, self.keys, self.lines, self.numbers, self.up_buttons, self.delete_buttons = [], [], [], [], [], []
        name_head = w.HTML("<b>名称</b>*", layout=w.Layout(width="160px", flex="0 0 auto", margin="0 4px 0 0"))
        boxes: list[w.Widget] = [table_header(self.model, [name_head])] if self.table and items else []
        for i, (name, item) in enumerate(items):
            key = w.Text(value=str(name), placeholder="名称", continuous_update=False,
                         layout=w.Layout(width="160px", flex="0 0 auto", margin="1px 4px 1px 0"))
            key.add_class(css((*self.path, i), "pl-key"))
            key.observe(lambda _c: self._rebuild(self._items()), "value")
            row = Model((*self.path, name or f"#{i + 1}"), self.model, item, isinstance(item, dict),
                        self.on_change, self.note, compact=TABLE if self.table else True)
            self.rows.append(row)
            self.keys.append(key)
            boxes.append(self._line(i, [key] if self.table else [w.VBox([w.HTML("<b>名称</b>"), key])], row))
        self.rows_box.children = boxes
        self.undo_button.layout.display = None if self.deleted is not None else "none"
        if notify:
            self.on_change()

    def value(self) -> Any:
        out: dict[str, Any] = {}
        self.local = ""
        for name, item in self._items():
            if name in out or not name.strip():
                self.local = f"名称「{name}」重复,请合并这两行" if name.strip() else "有一行没有填写名称"
                return [list(pair) for pair in self._items()]  # not a mapping: never drop a row silently
            out[name] = item
        if not out and not self.present and not self.required:
            return MISSING
        return out


def rename_classes(widget: w.Widget, old: str, new: str) -> None:
    """Rewrite the key path ``old`` (``tasks-3``) to ``new`` in the CSS classes of ``widget`` and
    everything inside it: ``pl-f-tasks-3-name`` → ``pl-f-tasks-2-name``, ``pl-del-tasks-3`` → …;
    ``pl-f-tasks-30`` is another row and stays. One message per widget whose classes change."""
    pattern = re.compile(rf"(?<=-){re.escape(old)}(?=-|$)")
    stack = [widget]
    while stack:
        x = stack.pop()
        classes = tuple(getattr(x, "_dom_classes", ()))
        renamed = tuple(pattern.sub(new, c, count=1) if c.startswith("pl-") else c for c in classes)
        if renamed != classes:
            x._dom_classes = renamed
        stack.extend(getattr(x, "children", ()) or ())


def build_editor(path: KeyPath, info: FieldInfo, value: Any, present: bool, on_change: OnChange,
                 note: Note, compact: bool = False) -> Editor:
    """The editor for one schema field, chosen from its annotation."""
    inner, optional, _ = strip(info.annotation)
    title = info.title or str(path[-1])
    if is_model(inner):
        model = Model(path, inner, value, present, on_change, note, compact=False, title=title,
                      required=info.is_required() and not optional)
        if optional:
            return OptionalModel(model, path, title, isinstance(value, dict), on_change)
        return model
    if get_origin(inner) is list and is_model(strip(get_args(inner)[0])[0]):
        return ListOf(path, info, strip(get_args(inner)[0])[0], value, present, on_change, note)
    if get_origin(inner) is dict and is_model(strip(get_args(inner)[1])[0]):
        return DictOf(path, info, strip(get_args(inner)[1])[0], value, present, on_change, note)
    return Scalar(path, info, value, present, on_change, note(path), compact)


def walk(editor: Editor) -> list[Editor]:
    """The editor and every editor inside it."""
    found: list[Editor] = [editor]
    if isinstance(editor, Model):
        for child in editor.fields.values():
            found.extend(walk(child))
    elif isinstance(editor, OptionalModel):
        found.extend(walk(editor.inner)[1:])
    elif isinstance(editor, ListOf):
        found.extend(editor.editors())
    return found
