"""What a planner form starts from and writes back: the plan file, its base, and overrides.

A quarter file ``extends`` a base; the form shows the merged values and :func:`overrides` works
out what the quarter file must say so that merging it over the base gives what the planner
entered. The names a plan defines and the fields that refer to them are in
:mod:`planlib.forms.choices`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from planlib.errors import PlanError, Problem
from planlib.forms.save import file_digest, load_roundtrip, read_plan_file
from planlib.forms.types import MISSING
from planlib.plan import planfile
from planlib.plan.yamlread import read_yaml


class PlanSource:
    """The quarter file as written, its base (``extends``) and the merged data, with the file hash."""

    def __init__(self, path: Path):
        self.path = path
        data = read_plan_file(path)
        self.digest = hashlib.sha256(data).hexdigest() if data is not None else None
        text = data.decode("utf-8-sig") if data is not None else ""
        doc = read_yaml(path) if text.strip() else None
        if doc is not None and doc.data is None:
            load_roundtrip(text)  # a file of comments only is empty, not broken
            if any(p.message != "文件是空的" for p in doc.problems):
                raise PlanError("\n".join(str(p) for p in doc.problems))
        self.own: dict = dict(doc.data) if doc is not None and doc.data else {}
        self.base: dict = {}
        self.base_digests: dict[Path, str | None] = {}
        self.base_name = self.own.pop("extends", None)
        if self.base_name is not None:
            problems: list[Problem] = []
            root = planfile.project_folder(path)
            base_path = (path.parent / str(self.base_name)).resolve()
            if not base_path.is_relative_to(root):
                raise PlanError(f"{path.name}: extends 只能继承本项目文件夹 {root} 内的文件,"
                                f"{self.base_name} 在它之外,没有读取 — 把基础文件放到项目的 parameters/ 下")
            base = planfile._read_with_bases(base_path, problems, (path,), root)
            if base is None:
                raise PlanError("\n".join(str(p) for p in problems))
            self.base = base.data
            self.base_digests = {f: file_digest(f) for f in base.files}
        self.merged: dict = planfile._merge_data(self.base, self.own)

    def bases_changed(self) -> list[Path]:
        """Base files that changed since loading (what is written as overrides was computed against them)."""
        return [f for f, digest in self.base_digests.items() if file_digest(f) != digest]


def overrides(new: Any, base: Any, own: Any) -> Any:
    """What the quarter file must say so that merging it over ``base`` gives ``new``.

    Keys equal to the base are left out unless the quarter file already writes them (a planner's
    explicit value stays explicit); a base value the form cleared is overridden with null.
    """
    if new is MISSING:
        return None if base is not MISSING and base is not None else MISSING
    if isinstance(new, dict) and isinstance(base, dict):
        own_map = own if isinstance(own, dict) else {}
        out = {}
        for key, value in new.items():
            o = overrides(value, base.get(key, MISSING), own_map.get(key, MISSING))
            if o is not MISSING:
                out[key] = o
        for key, value in base.items():
            if key not in new and value is not None:
                out[key] = None
        return out if out or own is not MISSING else MISSING
    if base is not MISSING and new == base and own is MISSING:
        return MISSING
    return new

