"""The run folder's own facts: one run at a time per plan, what a run read, its cover.

Both ``planlib run`` and ``planlib run --as-of`` (the pulse) take the plan's lock and show the
same cover; ``planlib batch --resume`` compares the input digest recorded by the runner.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from planlib.errors import PlanError
from planlib.plan.planfile import LoadedPlan


@contextmanager
def plan_lock(unit_dir: Path, quarter: str) -> Iterator[None]:
    """Refuse a second concurrent run of the same plan (the lock dies with its process)."""
    unit_dir.mkdir(parents=True, exist_ok=True)
    path = unit_dir / f".{quarter}.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PlanError(f"{unit_dir / quarter}: 同一计划正在另一个进程中运行 — 请等它结束后再试") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def data_files(loaded: LoadedPlan) -> list[dict]:
    files = []
    for name in ("customers", "transactions", "interactions", "surveys", "tickets"):
        source = getattr(loaded.plan.data, name)
        if source is None:
            continue
        if source.url is not None:  # a database: where it is (password masked); its fingerprint is in the stage
            from planlib.data.sql import describe
            files.append({"source": name, "url": describe(source)})
            continue
        path = loaded.resolve(source.path)
        stat = path.stat() if path.exists() else None
        files.append({"source": name, "path": str(path), "bytes": stat.st_size if stat else None,
                      "mtime": stat.st_mtime if stat else None})
    return files


def cover(loaded: LoadedPlan) -> list[tuple[str, str]]:
    """The plan summary shown on the report's cover."""
    meta, plan = loaded.plan.meta, loaded.plan
    phases = ";".join(f"{p.name} {p.start:%m-%d}~{p.end:%m-%d}" for p in meta.phases)
    return [
        ("单位", f"{meta.unit_name}({meta.unit})"),
        ("季度", meta.quarter),
        ("计划周期", f"{meta.period.start} ~ {meta.period.end}"),
        ("活动阶段", phases or "—"),
        ("负责人", meta.owner),
        ("参与部门", "、".join(meta.departments) or "—"),
        ("目标客群", plan.scope.segment),
        ("预算上限", f"{plan.budget.limit:,.0f} 元"),
        ("计划文件", loaded.path.name),
        ("参数哈希", loaded.digest[:12]),
    ]


def inputs_digest(plan_path: Path, loaded: LoadedPlan | None = None) -> str:
    """Hash of everything a run depends on: the merged plan, its data files, the workbooks
    and the planlib version. ``--resume`` skips a plan whose hash matches its last success.
    ``loaded`` is the plan already loaded from ``plan_path``, if the caller has it."""
    from planlib import __version__
    from planlib.plan.planfile import load_plan
    from planlib.publish.files import file_sha256
    from planlib.run.paths import workbooks_dir

    loaded = loaded if loaded is not None else load_plan(plan_path)
    digest = hashlib.sha256()
    digest.update(loaded.digest.encode())
    digest.update(__version__.encode())
    for name in ("customers", "transactions", "interactions", "surveys", "tickets"):
        source = getattr(loaded.plan.data, name)
        path = loaded.resolve(source.path) if source and source.path else None
        digest.update(f"{name}:".encode())
        if source and source.url:  # the database's content is not hashed here (see data.sql.fingerprint)
            digest.update(source.model_dump_json().encode())
            continue
        digest.update(file_sha256(path).encode() if path and path.exists() else b"missing")
    for book in sorted(workbooks_dir().glob("*.ipynb")):
        digest.update(file_sha256(book).encode())
    return digest.hexdigest()


def carry_over(published: Path, staging: Path) -> None:
    """Copy earlier pulse reports (and the proposal) into a new run folder, so a full re-run does not delete them."""
    if published.is_dir():
        for path in published.glob("pulse-*.*"):
            shutil.copy2(path, staging / path.name)
        if (published / "proposal").is_dir():  # planlib proposal: written before the quarter, kept by its runs
            shutil.copytree(published / "proposal", staging / "proposal", dirs_exist_ok=True)
