"""Chinese messages, with a fix, for the schema's validation errors.

pydantic says in English *what* failed. Planners need the field's Chinese label (its ``title``
in :mod:`planlib.plan.schema`), the value that was found and how to write it instead — for example
``1,200`` → ``1200`` or ``2024/4/1`` → ``2024-04-01``.
"""

from __future__ import annotations

import re
import types
from datetime import date
from difflib import get_close_matches
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from planlib.plan.schema import Plan
from planlib.plan.yamlread import KeyPath, format_path

_EXPECTED = {
    "string_type": "文字", "int_type": "整数", "float_type": "数字", "date_type": "日期",
    "bool_type": "true 或 false", "model_type": "一组键值(映射)", "dict_type": "一组键值(映射)",
    "list_type": "列表",
}
_PATTERNS = {
    r"^[A-Za-z0-9_-]+$": "只能用英文字母、数字、- 和 _,例如 G1、T2",
    r"^[a-z0-9_]+$": "只能用小写英文字母、数字和 _,例如 wechat_oa",
}
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:[,\uff0c_]\d{3})+(?:\.\d+)?")
_SEPARATOR = re.compile(r"[,\uff0c_]")
_LEADING_ZERO = re.compile(r"[-+]?0\d+(?:\.\d+)?")
_PERCENT = re.compile(r"([-+]?\d+(?:\.\d+)?)\s*[%\uff05]")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_LOOSE_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def explain_errors(errors: list[ErrorDetails], data: dict) -> list[tuple[KeyPath, str, str]]:
    """Turn pydantic's errors into ``(key path, message, hint)``, one entry per faulty value.

    A value failing every member of a union (``str | int``) yields one entry, not one per member.
    """
    grouped: dict[KeyPath, list[ErrorDetails]] = {}
    for err in errors:
        grouped.setdefault(_data_path(err["loc"], data), []).append(err)
    return [(path, *_explain(path, errs, data)) for path, errs in grouped.items()]


def _data_path(loc: tuple, data: Any) -> KeyPath:
    """The key path of ``loc`` in the data, leaving out pydantic's union member labels."""
    out: list[str | int] = []
    cur = data
    for seg in loc:
        tp = _strip(_type_at(tuple(out)))
        keyed = get_origin(tp) is dict or (isinstance(tp, type) and issubclass(tp, BaseModel))
        if keyed and isinstance(cur, dict):
            out.append(seg)
            cur = cur.get(seg)
        elif get_origin(tp) is list and isinstance(cur, list) and isinstance(seg, int):
            out.append(seg)
            cur = cur[seg] if seg < len(cur) else None
    return tuple(out)


def _strip(tp: Any) -> Any:
    """Remove ``Annotated`` and ``| None`` wrappers to reach the type that matters."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _type_at(path: KeyPath) -> Any:
    tp: Any = Plan
    for seg in path:
        tp = _strip(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if seg not in tp.model_fields:
                return None
            tp = tp.model_fields[seg].annotation
        elif get_origin(tp) is list and isinstance(seg, int):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return None
    return tp


def _field(path: KeyPath) -> FieldInfo | None:
    """The schema's declaration of the field at ``path`` (list items report their list)."""
    while path and isinstance(path[-1], int):
        path = path[:-1]
    if not path:
        return None
    parent = _strip(_type_at(path[:-1]))
    if isinstance(parent, type) and issubclass(parent, BaseModel):
        return parent.model_fields.get(path[-1])
    return None


def _fields_at(path: KeyPath) -> list[str]:
    model = _strip(_type_at(path))
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def _label(path: KeyPath) -> str:
    info = _field(path)
    name = info.title if info and info.title else str(path[-1] if path else "文件")
    return f"「{name}」"


def _text(value: Any) -> str:
    """A scalar as the planner would have typed it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value.isoformat() if isinstance(value, date) else str(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _show(value: Any) -> str:
    """A value as quoted in a message: text in quotes, so a planner sees '1,200' is text."""
    if value is None:
        return "空"
    if isinstance(value, dict | list):
        return "一组键值" if isinstance(value, dict) else "一个列表"
    return f"'{_text(value)}'" if isinstance(value, str) else _text(value)


def _explain(path: KeyPath, errs: list[ErrorDetails], data: dict) -> tuple[str, str]:
    kinds = [e["type"] for e in errs]
    if len(errs) > 1 and all(k in _EXPECTED for k in kinds):
        value = errs[0]["input"]
        expected = "或".join(dict.fromkeys(_EXPECTED[k] for k in kinds))
        return f"{_label(path)}应为{expected},实际是 {_show(value)}", f"改写成{expected}"
    return _explain_one(path, errs[0], data)


def _explain_one(path: KeyPath, err: ErrorDetails, data: dict) -> tuple[str, str]:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx", {})
    label, info = _label(path), _field(path)
    about = info.description if info and info.description else ""
    if kind == "missing":
        parent = f"在 {format_path(path[:-1])} 下" if len(path) > 1 else "在文件顶层"
        return f"缺少必填项{label}({path[-1]})", f"{parent}加上 {path[-1]}: …" + (f";{about}" if about else "")
    if kind == "extra_forbidden":
        return f"未知的键 {path[-1]}", _unknown_key_hint(path, data)
    if kind in _EXPECTED:
        if value is None:
            optional = info is not None and not info.is_required()
            return f"{label}不能为空", "填写内容" + (",或删除这一行使用默认值" if optional else "")
        return f"{label}应为{_EXPECTED[kind]},实际是 {_show(value)}", _type_hint(kind, value, path)
    if kind == "literal_error":
        literal = _strip(_type_at(path))
        options = [str(o) for o in get_args(literal)] if get_origin(literal) is Literal else []
        close = _closest(str(value), options)
        hint = (f"是不是 {close}?" if close else "") + "可选: " + (" / ".join(options) or str(ctx.get("expected")))
        return f"{label}的取值 {_show(value)} 不在可选范围内", hint
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern")
        return f"{label}的格式不对: {_show(value)}", _PATTERNS.get(pattern, about or f"应符合 {pattern}")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return _bound(label, kind, value, ctx)
    if kind in ("string_too_short", "too_short"):
        if kind == "string_too_short":
            return f"{label}不能是空文字", "填写内容"
        return f"{label}至少要有 {ctx.get('min_length')} 项,现在有 {ctx.get('actual_length')} 项", "补充缺少的项"
    if kind in ("string_too_long", "too_long"):
        limit = ctx.get("max_length")
        return f"{label}太长(最多 {limit} {'字' if kind == 'string_too_long' else '项'})", "删减内容"
    if kind == "value_error":
        message, _, hint = str(ctx.get("error", err["msg"])).partition(";")
        return message, hint or about or "按提示改正"
    return f"{label}的取值 {_show(value)} 不符合要求({err['msg']})", about or "对照 parameters/demo 中的示例改正"


def _bound(label: str, kind: str, value: Any, ctx: dict) -> tuple[str, str]:
    limit = next(iter(ctx.values()))
    limit = int(limit) if float(limit).is_integer() else limit
    words = {"greater_than_equal": "不小于", "greater_than": "大于", "less_than_equal": "不大于", "less_than": "小于"}
    hint = f"改为{words[kind]} {limit} 的数"
    if kind == "less_than_equal" and limit == 100:
        hint += ";比例按百分数填写,70 表示 70%"
    return f"{label}应{words[kind]} {limit},实际是 {_show(value)}", hint


def _type_hint(kind: str, value: Any, path: KeyPath) -> str:
    if kind in ("int_type", "float_type"):
        return _number_hint(kind, value)
    if kind == "date_type":
        return _date_hint(value)
    if kind == "string_type":
        if isinstance(value, dict | list):
            return "这里只写一段文字,不要写成列表或键值"
        return f"加引号,写成 '{_text(value)}'"
    if kind == "bool_type":
        return "写成 true 或 false(不加引号)"
    if kind == "list_type":
        return f"写成列表,例如 [{_text(value)}],或在下一行用「- 」开头逐项列出"
    fields = _fields_at(path)
    return "在下一行缩进写出子项" + (f",可用的键: {', '.join(fields)}" if fields else "")


def _number_hint(kind: str, value: Any) -> str:
    if isinstance(value, float) and kind == "int_type":
        return f"这里要整数,例如 {round(value)}"
    if not isinstance(value, str):
        return "写成数字(不加引号)"
    text = value.strip()
    if _THOUSANDS.fullmatch(text):
        return f"去掉千位分隔符,写成 {_SEPARATOR.sub('', text)}"
    if _LEADING_ZERO.fullmatch(text):
        return f"数字不要以 0 开头,写成 {text.lstrip('+').lstrip('0') or '0'}"
    if m := _PERCENT.fullmatch(text):
        return f"比例写成不带 % 的数字,写成 {m[1]}"
    if _NUMBER.fullmatch(text):
        return f"去掉引号,写成 {text}"
    return "写成数字,例如 1200(不加引号、不带单位)"


def _date_hint(value: Any) -> str:
    if not isinstance(value, str):
        return "日期写成 2024-04-01 这样的形式"
    if m := _LOOSE_DATE.fullmatch(value.strip()):
        try:
            iso = date(*(int(g) for g in m.groups())).isoformat()
        except ValueError:
            return "这个日期不存在,请检查月和日"
        if iso == value.strip():
            return f"去掉引号,写成 {iso}"
        return f"写成 {iso}(年-月-日,月和日写两位,不加引号)"
    return "日期写成 2024-04-01 这样的形式(不加引号)"


def _unknown_key_hint(path: KeyPath, data: dict) -> str:
    key, parent = str(path[-1]), _value_at(data, path[:-1])
    if not _IDENTIFIER.fullmatch(key) and isinstance(parent, dict):
        keys = list(parent)
        before = keys[keys.index(key) - 1] if keys.index(key) > 0 else None
        if before is not None and parent[key] is None and isinstance(parent[before], str):
            return (f"这像是文字而不是键名:值里的逗号把内容切开了。请给整个值加引号,"
                    f"写成 {before}: '{parent[before]},{key}'")
    fields = _fields_at(path[:-1])
    close = _closest(key, fields)
    if close:
        return f"是不是 {close}?"
    listed = f"此处可用的键: {', '.join(fields)}" if fields else "删除这个键"
    if _IDENTIFIER.fullmatch(key):
        return listed
    return f"键名要用英文;如果 {key} 是上一项文字的一部分(文字里有逗号或冒号),请给那个值加引号。{listed}"


def _closest(name: str, options: list[str]) -> str | None:
    """The option a typo most likely meant, ignoring case (``Increase`` → ``increase``)."""
    by_lower = {option.lower(): option for option in options}
    close = get_close_matches(name.lower(), by_lower, n=1)
    return by_lower[close[0]] if close else None


def _value_at(data: Any, path: KeyPath) -> Any:
    for seg in path:
        data = data[seg]
    return data
