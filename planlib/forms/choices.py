"""Where a form field's choices come from: names the plan defines, and values it already uses.

A plan names things once (tiers and segments in ``segmentation``, channel codes in
``channels.catalogue``, task ids in ``tasks``, work phases in ``meta``) and refers to them elsewhere
by that name. :data:`REFERENCES` says which fields refer to which kind of name; :func:`offered`
reads the current plan data and returns each kind's ``(label, value)`` pairs, so the form shows
``短信(sms)`` while the plan file keeps ``sms``. The options are recomputed from the plan on
every change, so a channel added in the catalogue is offered in the channel plan at once.

Two sorts of kinds:

- *names* (:data:`NAMED`): the value must be one of them (the cross-field checks say so), so the
  field is a drop-down, or a multi-select for a list field;
- *suggestions* (:data:`SUGGESTED`): owners and budget categories the plan already uses, offered
  while any text can still be typed (a new owner is a normal thing to add).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planlib.plan.schema import DefaultTier, Meta
from planlib.plan.yamlread import KeyPath

Option = tuple[str, Any]  # (what the planner sees, what the plan file keeps)
_LABEL_CHARS = 12  # task names are cut to this many characters in a chip: the id is what is kept


def _items(data: Any, *path: str) -> list[dict]:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return [x for x in data if isinstance(x, dict)] if isinstance(data, list) else []


def _section(data: Any, *path: str) -> dict:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _named(rows: list[dict], key: str = "name") -> list[Option]:
    return [(str(r[key]), r[key]) for r in rows if isinstance(r.get(key), str) and r[key].strip()]


def _tiers(data: dict) -> list[Option]:
    """The tier rules' names and the default tier's (every customer is in one of them)."""
    default = _section(data, "segmentation", "default_tier").get("name") or DefaultTier().name
    return [*_named(_items(data, "segmentation", "tiers")), (str(default), default)]


def _segments(data: dict) -> list[Option]:
    return _named(_items(data, "segmentation", "segments"))


# The tiers and segments of the template plan (``parameters/demo/base.yaml``, which ``planlib new``
# carries from quarter to quarter; the seed's tier table plus its 中价值 and 沉睡 examples). Written
# here because the package cannot read a project's files to fill a drop-down; a test keeps the two
# equal. Offered to a goal or the scope while the plan defines no tiers or segments of its own —
# a planner starting with stage 01 on an empty file has something to pick — and marked, because
# stage 02 must still define the one picked: until it does, the same check as ``planlib validate``
# (「目标客群 … 没有定义」) flags it; nothing is dropped.
TEMPLATE_TIERS: tuple[str, ...] = ("高价值客户", "潜力客户", "新客户", "流失风险客户", "中价值客户")
TEMPLATE_SEGMENTS: tuple[str, ...] = ("沉睡中价值客户",)
TEMPLATE_MARK = "(模板)"


def _audiences(data: dict) -> list[Option]:
    """A goal's or the scope's choices: the plan's tiers and segments, or the template's while
    the plan defines none (:data:`TEMPLATE_TIERS`)."""
    if _items(data, "segmentation", "tiers") or _items(data, "segmentation", "segments"):
        return [*_tiers(data), *_segments(data)]
    default = _section(data, "segmentation", "default_tier").get("name") or DefaultTier().name
    template = [name for name in (*TEMPLATE_TIERS, DefaultTier().name, *TEMPLATE_SEGMENTS) if name != default]
    return [(str(default), default), *((f"{name}{TEMPLATE_MARK}", name) for name in template)]


def _channels(data: dict) -> list[Option]:
    """``短信(sms)``: the Chinese name a planner knows, and the code the plan keeps."""
    out = []
    for row in _items(data, "channels", "catalogue"):
        code = row.get("id")
        if isinstance(code, str) and code.strip():
            name = row.get("name")
            out.append((f"{name}({code})" if isinstance(name, str) and name.strip() else code, code))
    return out


def _tasks(data: dict) -> list[Option]:
    """``T1 客户数据筛选与分层``: the id kept in ``depends_on``, with enough of the name to recognise it."""
    out = []
    for row in _items(data, "tasks"):
        code = row.get("id")
        if isinstance(code, str) and code.strip():
            name = str(row.get("name") or "").strip()
            short = name if len(name) <= _LABEL_CHARS else name[:_LABEL_CHARS] + "…"
            out.append((f"{code} {short}".strip(), code))
    return out


def _work_phases(data: dict) -> list[Option]:
    meta = _section(data, "meta")
    phases = meta["work_phases"] if "work_phases" in meta else \
        Meta.model_fields["work_phases"].get_default(call_default_factory=True)
    return [(str(p), p) for p in phases or [] if isinstance(p, str) and p.strip()]


def _used(data: dict, paths: list[tuple]) -> list[Option]:
    """Distinct text values found at ``paths`` (None stands for every row of a list), first use first."""
    found: list[str] = []

    def visit(node: Any, rest: tuple) -> None:
        if not rest:
            values = node if isinstance(node, list) else [node]
            found.extend(v.strip() for v in values if isinstance(v, str) and v.strip())
        elif rest[0] is None:
            for row in node if isinstance(node, list) else []:
                visit(row, rest[1:])
        elif isinstance(node, dict) and rest[0] in node:
            visit(node[rest[0]], rest[1:])

    for path in paths:
        visit(data, path)
    return [(v, v) for v in dict.fromkeys(found)]


_OWNERS = [("meta", "owner"), ("tasks", None, "owner"), ("checkpoints", None, "owner"),
           ("review", "actions", None, "owner"), ("review", "meetings", None, "owner")]
_CATEGORIES = [("budget", "lines", None, "category"), ("budget", "channel_categories")]

# each kind of name and how to read its options from the plan data
NAMED: dict[str, Callable[[dict], list[Option]]] = {
    "tier": _tiers,
    "audience": _audiences,  # a goal, the scope or a channel row: tier or segment
    "channel": _channels,
    "task": _tasks,
    "work_phase": _work_phases,
}
SUGGESTED: dict[str, Callable[[dict], list[Option]]] = {
    "owner": lambda d: _used(d, _OWNERS),
    "budget_category": lambda d: _used(d, _CATEGORIES),
}

# the fields that refer to a kind of name (None stands for any row of a list)
REFERENCES: list[tuple[tuple, str]] = [
    (("scope", "segment"), "audience"), (("goals", None, "segment"), "audience"),
    (("segmentation", "segments", None, "tiers"), "tier"),
    (("segmentation", "movement", "order"), "tier"), (("segmentation", "movement", "at_risk"), "tier"),
    (("channels", "plan", None, "audience"), "audience"), (("channels", "plan", None, "channel"), "channel"),
    (("channels", "rules", None, "audience"), "audience"),
    (("channels", "rules", None, "allowed"), "channel"), (("channels", "rules", None, "preferred"), "channel"),
    (("tasks", None, "phase"), "work_phase"), (("tasks", None, "depends_on"), "task"),
    (("budget", "lines", None, "channel"), "channel"), (("review", "ab_tests", None, "channel"), "channel"),
    *((path, "owner") for path in _OWNERS),
    *((path, "budget_category") for path in _CATEGORIES),
]


def matches(pattern: tuple, path: KeyPath) -> bool:
    return len(pattern) == len(path) and all(p is None and isinstance(s, int) or p == s
                                             for p, s in zip(pattern, path, strict=True))


def reference(path: KeyPath) -> str | None:
    """The kind of name the field at ``path`` refers to, or None."""
    return next((kind for pattern, kind in REFERENCES if matches(pattern, path)), None)


def offered(data: dict) -> dict[str, list[Option]]:
    """Every kind's options for the plan ``data`` (merged plan values), duplicates dropped."""
    out = {}
    for kind, read in {**NAMED, **SUGGESTED}.items():
        seen: dict[Any, str] = {}
        for label, value in read(data):
            seen.setdefault(value, label)
        out[kind] = [(label, value) for value, label in seen.items()]
    return out
