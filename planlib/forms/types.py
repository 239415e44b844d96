"""Plan schema types as the forms see them, and typed text read by the rules of a YAML file.

:func:`read_scalar` is why the forms never coerce: ``12`` typed into a number field is the number
12, ``1,200`` stays the text ``'1,200'`` and the schema explains what is wrong with it, exactly as
if the planner had written it in the plan file.
"""

from __future__ import annotations

import re
import types
from datetime import date
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)?(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def strip(tp: Any) -> tuple[Any, bool, list]:
    """``(inner type, optional?, metadata)`` with ``Annotated`` and ``| None`` removed."""
    optional, meta = False, []
    while True:
        if get_origin(tp) is Annotated:
            meta.extend(tp.__metadata__)
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            optional = optional or len(args) < len(get_args(tp))
            if len(args) != 1:
                return tp, optional, meta
            tp = args[0]
        else:
            return tp, optional, meta


def scalar_types(tp: Any) -> set[type]:
    """The plain types a scalar annotation accepts (``str | int | None`` → {str, int})."""
    inner, _, _ = strip(tp)
    if get_origin(inner) in (Union, types.UnionType):
        return set().union(*(scalar_types(a) for a in get_args(inner) if a is not type(None)))
    if get_origin(inner) is Literal:
        return {type(a) for a in get_args(inner)}
    return {inner} if isinstance(inner, type) else {str}


def is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def read_scalar(text: str, allowed: set[type]) -> Any:
    """Read ``text`` as a YAML file would, unless the field takes text (then it stays text)."""
    t = text.strip()
    value: Any = text
    if _INT.fullmatch(t):
        value = int(t)
    elif _FLOAT.fullmatch(t) and any(c.isdigit() for c in t):
        value = float(t)
    elif (m := _ISO_DATE.fullmatch(t)) is not None:
        try:
            value = date(*(int(g) for g in m.groups()))
        except ValueError:
            value = text
    elif t in ("true", "false"):
        value = t == "true"
    if type(value) in allowed or (type(value) is int and float in allowed):
        return value
    # a field taking text keeps the text (as if quoted); otherwise the value goes to the schema as
    # the file would hold it, and the schema says what is wrong (12.5 for an integer, '1,200' …)
    return text if str in allowed else value


def show_scalar(value: Any) -> str:
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
