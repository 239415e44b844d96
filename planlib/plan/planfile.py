"""Load a plan file: read its YAML (and the files it ``extends``), validate it, report every problem.

Validation happens in three passes, each reporting everything it finds with file, line and
key path: the YAML itself (:mod:`planlib.plan.yamlread`), the schema (:mod:`planlib.plan.schema`, with
Chinese messages from :mod:`planlib.plan.schema_errors`) and, once the schema passes, the
cross-field checks (:mod:`planlib.plan.checks`) and the data files. A plan that loads is safe to run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from planlib.errors import PlanValidationError, Problem
from planlib.plan.analysis import AudienceData, check_with_data
from planlib.plan.checks import check_plan
from planlib.plan.schema import Canonical, Plan
from planlib.plan.schema_errors import explain_errors
from planlib.plan.yamlread import KeyPath, Loc, display, format_path, parse_path, read_yaml


@dataclass
class LoadedPlan:
    """A validated plan and where it came from."""

    plan: Plan
    path: Path  # the plan file, resolved
    files: list[Path]  # the plan file, then every base it extends
    base_dir: Path  # relative data paths resolve against this folder
    data: dict  # the merged plain data that was validated
    digest: str  # sha256 of the canonical JSON of ``data``: same parameters, same digest

    def resolve(self, path_str: str) -> Path:
        """Resolve a path written in the plan (relative to the plan file's folder)."""
        return (self.base_dir / Path(path_str).expanduser()).resolve()


@dataclass
class _Source:
    """Plain data of a file merged with its bases, with the origin of every key path."""

    data: dict
    locs: dict[KeyPath, Loc]
    flagged: set[KeyPath]
    files: list[Path]


def load_plan(path: str | Path, audiences: Callable[[Plan, Path], AudienceData | str] | None = None,
              notes: list[str] | None = None) -> LoadedPlan:
    """Load and validate a plan file; raise :class:`PlanValidationError` listing every problem.

    ``audiences(plan, base_dir)`` adds the checks that need the customer data (see :func:`check_data`).
    """
    plan_path = Path(path).expanduser().resolve()
    problems: list[Problem] = []
    source = _read_with_bases(plan_path, problems, (), project_folder(plan_path))
    if source is None:
        raise PlanValidationError(problems)
    sized = None if audiences is None else (lambda plan: audiences(plan, plan_path.parent))
    plan = _validate(source, problems, sized, notes)
    if plan is None or problems:
        order = {display(f): i for i, f in enumerate(source.files)}
        problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line or 0))
        raise PlanValidationError(problems)
    return LoadedPlan(plan, plan_path, source.files, plan_path.parent, source.data, _digest(source.data))


def validate_files(paths: Iterable[str | Path], audiences: Callable[[Plan, Path], AudienceData | str] | None = None,
                   notes: list[str] | None = None) -> list[Problem]:
    """Validate several plan files and return all their problems (empty when all are clean)."""
    problems: list[Problem] = []
    for path in paths:
        try:
            load_plan(path, audiences, notes)
        except PlanValidationError as exc:
            problems.extend(exc.problems)
    return problems


def project_folder(plan_path: Path) -> Path:
    """The folder a plan's ``extends`` may reach: the project holding it (the nearest folder above
    it with a ``parameters/`` folder), or for a plan outside any project the folder above its own
    (``plans/q2.yaml`` may extend ``../shared/base.yaml``, not ``/etc/passwd``)."""
    plan_path = Path(plan_path).resolve()
    for folder in plan_path.parents:
        if (folder / "parameters").is_dir():
            return folder
    return plan_path.parent.parent


def _read_with_bases(path: Path, problems: list[Problem], chain: tuple[Path, ...], root: Path) -> _Source | None:
    """Read ``path`` and, through ``extends``, its bases (only inside ``root``); None when a file cannot be used."""
    doc = read_yaml(path)
    problems.extend(doc.problems)
    if doc.data is None:
        return None
    data = dict(doc.data)
    base_name = data.pop("extends", None)
    locs = {p: loc for p, loc in doc.locs.items() if p[:1] != ("extends",)}
    own = _Source(data, locs, doc.flagged, [path])
    if "extends" not in doc.data:
        return own
    line = doc.locs[("extends",)].line
    if not isinstance(base_name, str) or not base_name.strip():
        problems.append(Problem(display(path), "extends", "extends 应写基础文件的路径", "例如 extends: base.yaml", line))
        return None
    base = (path.parent / base_name).resolve()  # symlinks followed: a link out of the project is still out
    if not base.is_relative_to(root):
        problems.append(Problem(display(path), "extends", f"extends 只能继承本项目文件夹 {root} 内的文件,"
                                f"{base_name} 在它之外,没有读取",
                                "把基础文件放到项目的 parameters/ 下,再写相对路径(例如 extends: base.yaml)", line))
        return None
    if base in chain or base == path:
        names = " → ".join(p.name for p in (*chain, path, base))
        problems.append(Problem(display(path), "extends", f"extends 形成循环: {names}",
                                "删除其中一个 extends,让继承关系有头有尾", line))
        return None
    if not base.is_file():
        problems.append(Problem(display(path), "extends", f"继承的基础文件 {base_name} 不存在(查找位置: {base})",
                                "检查文件名;路径相对于本文件所在的目录", line))
        return None
    parent = _read_with_bases(base, problems, (*chain, path), root)
    return None if parent is None else _merge(parent, own)


def _merge(base: _Source, over: _Source) -> _Source:
    """Deep-merge mappings (``over`` wins) and replace lists whole, keeping each key's origin."""
    data = _merge_data(base.data, over.data)
    locs = {p: over.locs.get(p) or base.locs[p] for p in _paths(data, ())}
    flagged = over.flagged | {p for p in base.flagged if p in locs and p not in over.locs}
    return _Source(data, locs, flagged, over.files + base.files)


def _merge_data(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge_data(base[key], value) if key in base else value
        return merged
    return over


def _paths(data: Any, prefix: KeyPath) -> Iterator[KeyPath]:
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _paths(value, (*prefix, i))


_REPAIR_ROUNDS = 3  # each round drops the faulty values pydantic reported; more rounds find nothing new


# What the data-dependent checks need: the audiences' sizes for a plan, or why they cannot be had
# (a sentence). Computed above this layer (planlib.run.audiences reads the customer data).
Audiences = Callable[[Plan], "AudienceData | str"]


def check_data(data: dict, audiences: Audiences | None = None,
               notes: list[str] | None = None) -> tuple[Plan | None, list[tuple[KeyPath, str, str]]]:
    """The plan and every problem of merged plan ``data`` — the one validation behind ``planlib
    validate``, ``planlib run`` and the planner forms: schema and cross-field problems at once.

    When the schema fails, the faulty values are left out (an unknown key, a wrong optional value)
    and the rest is validated again, so the cross-field checks (dates, dependencies, budget …) still
    run on everything that is well-formed: a planner fixes a misspelt key and an impossible task
    date in one go. Problems under a value already reported are not reported twice.

    With ``audiences`` the checks that need the customer data run too (channel cost against the
    budget lines, contact caps: :mod:`planlib.plan.analysis`); when it answers with a sentence
    instead (the data cannot be read), that sentence is appended to ``notes`` and those checks are
    skipped — never silently.
    """
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        found = explain_errors(exc.errors(include_url=False), data)
        reported = [path for path, _m, _h in found]
        repaired = _repaired(data, reported)
        if repaired is not None:
            found += [(path, message, hint) for where, message, hint in _checks(repaired, audiences, notes)
                      if not _under(path := parse_path(where), reported)]
        elif audiences is not None and notes is not None:
            notes.append("渠道成本与触达上限尚未核对:计划中还有需要先修改的值")
        return None, found
    return plan, [(parse_path(where), message, hint) for where, message, hint in _checks(plan, audiences, notes)]


def _checks(plan: Plan, audiences: Audiences | None, notes: list[str] | None) -> list[tuple[str, str, str]]:
    found = check_plan(plan)
    if audiences is None:
        return found
    sizes = audiences(plan)
    if isinstance(sizes, str):
        if notes is not None:
            notes.append(sizes)
        return found
    return found + check_with_data(plan, sizes)


def _validate(source: _Source, problems: list[Problem], audiences: Audiences | None = None,
              notes: list[str] | None = None) -> Plan | None:
    """:func:`check_data` on a file's merged data, each problem located at its file and line."""
    plan, found = check_data(source.data, audiences, notes)
    for path, message, hint in found:
        # a value whose YAML was already reported (e.g. an impossible date) is not reported twice
        if not _under(path, source.flagged):
            problems.append(_at(source, path, message, hint))
    if plan is not None:
        problems.extend(_at(source, parse_path(where), message, hint)
                        for where, message, hint in _check_data_files(plan, source.files[0].parent))
    return plan


def _under(path: KeyPath, paths: Iterable[KeyPath]) -> bool:
    known = set(paths)
    return any(path[:n] in known for n in range(1, len(path) + 1))


def _repaired(data: dict, faulty: list[KeyPath]) -> Plan | None:
    """The plan without its faulty values, if that much validates (else None: nothing to cross-check)."""
    for _ in range(_REPAIR_ROUNDS):
        data = copy.deepcopy(data)
        for path in sorted(faulty, key=len, reverse=True):
            if not path or not _drop(data, path):
                return None
        try:
            return Plan.model_validate(data)
        except ValidationError as exc:
            faulty = [path for path, _m, _h in explain_errors(exc.errors(include_url=False), data)]
    return None


def _drop(data: Any, path: KeyPath) -> bool:
    """Remove ``path`` from ``data``; False when it is not there (a missing required key: no repair)."""
    parent = data
    for seg in path[:-1]:
        try:
            parent = parent[seg]
        except (KeyError, IndexError, TypeError):
            return False
    last = path[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
        return True
    return False


def _at(source: _Source, path: KeyPath, message: str, hint: str) -> Problem:
    """A problem located at ``path``, or at its nearest written parent (for a missing key)."""
    for n in range(len(path), 0, -1):
        loc = source.locs.get(path[:n])
        if loc is not None:
            return Problem(display(loc.file), format_path(path), message, hint, loc.line)
    return Problem(display(source.files[0]), format_path(path), message, hint)  # a missing top-level key


def _check_data_files(plan: Plan, base_dir: Path) -> list[tuple[str, str, str]]:
    """Every data file exists and is a regular file (a FIFO or ``/dev/zero`` would hang the run)
    or a folder (of Parquet parts: what it holds is checked where it is read,
    :mod:`planlib.data.parts`); a file's size is checked when it is read
    (:func:`planlib.data.load.check_data_file`)."""
    found = []
    for name in get_args(Canonical):
        src = getattr(plan.data, name)
        if src is None or src.path is None:  # a database source (url) has no file
            continue
        path = (base_dir / src.path).resolve()
        try:
            mode = os.stat(path).st_mode
        except OSError:
            if plan.data.demo is None:  # with demo settings, missing files are generated
                found.append((f"data.{name}.path", f"数据文件不存在: {path}",
                              f"检查路径(相对于计划文件所在目录 {base_dir});或设置 data.demo 使用演示数据"))
            continue
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            found.append((f"data.{name}.path", f"{path} 不是普通文件(管道、设备或套接字),不会读取",
                          "请指向导出的 CSV、XLSX 或 Parquet 文件"))
    return found


def _digest(data: dict) -> str:
    def default(value: Any) -> str:
        if isinstance(value, date):
            return value.isoformat()
        raise TypeError(f"unexpected value in plan data: {value!r}")

    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
