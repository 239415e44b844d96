"""The run folder's own facts: one run at a time per plan, publishing, what a run read, its cover.

Both ``planlib run`` and ``planlib run --as-of`` (the pulse) take the plan's lock, finish or roll
back a publish a killed process left half done, and show the same cover; ``planlib batch
--resume`` and ``planlib run --stage`` compare the inputs each stage recorded.

Publishing is recoverable at every instant. A complete run is first renamed to
``.<quarter>.ready`` (one atomic rename: before it, the run is an unfinished staging folder that
the next run deletes); then the published ``<quarter>`` becomes ``.<quarter>.old``, the ready
run becomes ``<quarter>`` and the old one is deleted. Whatever step a kill interrupts,
:func:`recover_publish` finds either a complete ready run to finish publishing or the last good
run to put back. planlib never follows a symbolic link inside ``outputs/``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from planlib.errors import PlanError
from planlib.plan.planfile import LoadedPlan


class OutputNotWritable(PlanError):
    """The output folder refused a write (read-only, no permission, full disk): the user's to fix."""


# errno of an output folder the user has to fix, and what to tell them
_OUTPUT_ERRNOS = {
    errno.ENOSPC: "磁盘空间不足 — 请清理磁盘",
    errno.EDQUOT: "磁盘配额已满 — 请清理磁盘或申请配额",
    errno.EROFS: "文件系统是只读的 — 请用 --output-root 指向可写的目录",
    errno.EACCES: "没有写入权限 — 请检查目录权限或用 --output-root 指向可写的目录",
    errno.EPERM: "没有写入权限 — 请检查目录权限或用 --output-root 指向可写的目录",
    errno.ENOTDIR: "路径中有同名的普通文件 — 请移走该文件或用 --output-root 指向别的目录",
}


def output_error(exc: OSError, where: Path) -> OutputNotWritable | None:
    """The one-line message for an OS error on the output folder, or ``None`` if it is a bug's."""
    fix = _OUTPUT_ERRNOS.get(exc.errno)
    if fix is None:
        return None
    return OutputNotWritable(f"{exc.filename or where}: 无法写入输出({fix});上一次成功的报告保持不变")


@contextmanager
def output_errors(where: Path) -> Iterator[None]:
    """Turn an OS error the user must fix on the output folder into one line naming the path."""
    try:
        yield
    except OSError as exc:
        error = output_error(exc, where)
        if error is None:
            raise
        raise error from exc


def refuse_links(*paths: Path) -> None:
    """planlib never follows a symbolic link inside ``outputs/``: say which one, and the fix."""
    for path in paths:
        if path.is_symlink():
            raise PlanError(f"{path}: 是符号链接,planlib 不跟随输出目录中的符号链接 — "
                            "请删除该链接(或换成普通文件夹)后重试")


@contextmanager
def plan_lock(unit_dir: Path, quarter: str) -> Iterator[None]:
    """Refuse a second concurrent run of the same plan (the lock dies with its process)."""
    refuse_links(unit_dir)
    unit_dir.mkdir(parents=True, exist_ok=True)
    path = unit_dir / f".{quarter}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        refuse_links(path)
        raise
    with os.fdopen(fd, "r+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PlanError(f"{unit_dir / quarter}: 同一计划正在另一个进程中运行 — 请等它结束后再试") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            recover_publish(unit_dir, quarter)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_folders(unit_dir: Path, quarter: str) -> dict[str, Path]:
    """The folders of one plan's runs beside each other in its unit folder."""
    return {"published": unit_dir / quarter, "staging": unit_dir / f".{quarter}.staging",
            "ready": unit_dir / f".{quarter}.ready", "old": unit_dir / f".{quarter}.old",
            "failed": unit_dir / f"{quarter}.failed"}


def _sync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable (best effort: some file systems refuse)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def publish(staging: Path, published: Path) -> None:
    """Put the complete run in ``staging`` in place of ``published``, recoverably at every step."""
    f = run_folders(published.parent, published.name)
    refuse_links(*f.values())
    if f["ready"].exists():
        shutil.rmtree(f["ready"])  # never left by a run holding the lock: recover_publish ran first
    os.replace(staging, f["ready"])  # from here on the new run is complete and will be published
    _sync_dir(published.parent)
    try:
        _finish_publish(f)
    except OSError:  # e.g. a full disk: this process says the last good run stays, so it does
        if f["old"].exists() and not f["published"].exists():
            os.replace(f["old"], f["published"])
        shutil.rmtree(f["ready"], ignore_errors=True)
        raise


def _finish_publish(f: dict[str, Path]) -> None:
    published, ready, old = f["published"], f["ready"], f["old"]
    if published.exists():
        if old.exists():
            shutil.rmtree(old)  # a previous publish's leftover: its replacement is published
        os.replace(published, old)
    os.replace(ready, published)
    _sync_dir(published.parent)
    if old.exists():
        shutil.rmtree(old)


def recover_publish(unit_dir: Path, quarter: str) -> None:
    """Finish or roll back a publish that a killed process interrupted (call under the plan's lock).

    A ``.<quarter>.ready`` folder is a complete run: it is published. Without one, a missing
    ``<quarter>`` whose ``.<quarter>.old`` survived is the last good run: it is put back. An
    ``.<quarter>.old`` beside a published run is deleted.
    """
    f = run_folders(unit_dir, quarter)
    refuse_links(*f.values())
    if f["ready"].exists():
        _finish_publish(f)
    elif f["old"].exists():
        if f["published"].exists():
            shutil.rmtree(f["old"])
        else:
            os.replace(f["old"], f["published"])
            _sync_dir(unit_dir)


def data_files(loaded: LoadedPlan, read: dict[str, dict] | None = None) -> list[dict]:
    """The manifest's list of data sources: files with size and mtime; databases with the masked
    URL, the query run and — from ``read``, the fingerprints the stages recorded — rows and hash."""
    files = []
    for name in ("customers", "transactions", "interactions", "surveys", "tickets"):
        source = getattr(loaded.plan.data, name)
        if source is None:
            continue
        if source.url is not None:  # a database: where it is (password masked) and what was read
            from planlib.data.sql import describe, shown_query

            entry = {"source": name, "url": describe(source), "query": shown_query(source)}
            if read and name in read:
                entry.update({k: v for k, v in read[name].items() if k != "source"})
            files.append(entry)
            continue
        path = loaded.resolve(source.path)
        found = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
        stats = [p.stat() for p in found]  # a folder of Parquet parts: all its files together
        files.append({"source": name, "path": str(path), "bytes": sum(s.st_size for s in stats) if stats else None,
                      "mtime": max(s.st_mtime for s in stats) if stats else None})
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
    from planlib.publish.files import data_sha256, file_sha256
    from planlib.run.paths import workbooks_dir

    loaded = loaded if loaded is not None else load_plan(plan_path)
    digest = hashlib.sha256()
    digest.update(loaded.digest.encode())
    digest.update(__version__.encode())
    for name in ("customers", "transactions", "interactions", "surveys", "tickets"):
        source = getattr(loaded.plan.data, name)
        path = loaded.resolve(source.path) if source and source.path else None
        digest.update(f"{name}:".encode())
        if source and source.url:  # the database's content is not hashed here (each stage records data.sql.fingerprint_of)
            digest.update(source.model_dump_json().encode())
            continue
        digest.update(data_sha256(path).encode() if path and path.exists() else b"missing")
    for book in sorted(workbooks_dir().glob("*.ipynb")):
        digest.update(file_sha256(book).encode())
    return digest.hexdigest()


def _regular(path: Path) -> bool:
    """A regular file itself, not a link to one (nor a pipe or device)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


DATA_SOURCES = ("customers", "transactions", "interactions", "surveys", "tickets")


def input_hashes(loaded: LoadedPlan, workbooks: list[Path]) -> dict[str, str]:
    """What a run may read, hashed once as it starts: plan files, data files, stage workbooks,
    each under its :func:`~planlib.run.paths.input_key`.

    A data file that does not exist is left out (the stage that reads it says so); one that is
    not a regular file stops the run here with one line, before anything opens it. A folder of
    Parquet parts is hashed as one input (:func:`~planlib.publish.files.data_sha256`).
    """
    from planlib.publish.files import data_sha256
    from planlib.run.paths import input_key, project_root

    root = project_root(loaded.path.parent)

    paths = [*loaded.files, *workbooks]
    for name in DATA_SOURCES:
        source = getattr(loaded.plan.data, name)
        if source is not None and source.path is not None:  # a database source has no file to hash
            path = loaded.resolve(source.path)
            if path.exists() or path.is_symlink():
                paths.append(path)
    return {input_key(path, root): data_sha256(path) for path in paths}


def refuse_special_files(loaded: LoadedPlan) -> None:
    """Stop with one line when a data path is a pipe or a device: reading it would block or never end.
    A folder is a source of Parquet parts (:mod:`planlib.data.parts`), which says what it may hold."""
    from planlib.publish.files import NotARegularFile

    for name in DATA_SOURCES:
        source = getattr(loaded.plan.data, name)
        path = loaded.resolve(source.path) if source is not None and source.path is not None else None
        mode = path.stat().st_mode if path is not None and path.exists() else None
        if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            raise NotARegularFile(f"{path}: 不是普通文件(可能是命名管道或设备),无法读取 — "
                                  "请把数据导出为普通文件后在计划中引用")


def changed_input(loaded: LoadedPlan, recorded: dict[str, str]) -> Path | None:
    """The first file of ``recorded`` (input key → hash) that is gone or has other bytes now,
    or the first of the plan's own files that was not read at all (another plan file)."""
    from planlib.publish.files import data_sha256
    from planlib.run.paths import input_file, input_key, project_root

    root = project_root(loaded.path.parent)
    missing = next((path for path in loaded.files if input_key(path, root) not in recorded), None)
    if missing:
        return missing
    for key, digest in recorded.items():
        path = input_file(key, root)
        try:
            if data_sha256(path) != digest:
                return path
        except (OSError, PlanError):
            return path
    return None


def database_sources(loaded: LoadedPlan) -> dict[str, Any]:
    """The plan's sources that live in a database (``url``), by name."""
    found = {name: getattr(loaded.plan.data, name) for name in DATA_SOURCES}
    return {name: source for name, source in found.items() if source is not None and source.url is not None}


class CurrentFingerprints:
    """What each database source of a plan holds now (:func:`planlib.data.sql.source_fingerprint`),
    asked of the database at most once per source: ``--resume`` compares every stage's record
    with the same answer. An unreachable database raises its one-line :class:`~planlib.errors.DataError`."""

    def __init__(self, loaded: LoadedPlan):
        self.loaded = loaded
        self.sources = database_sources(loaded)
        self._found: dict[str, dict] = {}

    def of(self, name: str) -> dict:
        if name not in self._found:
            from planlib.data.sql import source_fingerprint

            self._found[name] = source_fingerprint(name, self.sources[name], self.loaded.base_dir)
        return self._found[name]


def changed_database(recorded: dict[str, dict], current: CurrentFingerprints) -> tuple[str, str] | None:
    """The first database source a stage read (``recorded``: its fingerprints by source name)
    whose data is not the same now: ``(source as shown, what changed)``, or ``None``.

    A stage record without ``sources`` (from before fingerprints were kept) is the caller's to
    refuse when the plan has database sources: nothing says what that stage read.
    """
    from planlib.data.sql import label_of

    for name, before in recorded.items():
        if name not in current.sources:
            continue  # the plan reads a file now: the plan file's own hash has changed
        label = label_of(name, current.sources[name])
        now = current.of(name)
        if (now["source"], now["query"]) != (before.get("source"), before.get("query")):
            return label, "读取的表或查询语句不同了"
        if now["sha256"] != before.get("sha256"):
            return label, f"数据库中的数据已变化({rows_change(before, now)})"
    return None


def rows_change(before: dict, now: dict) -> str:
    """How two fingerprints of one source differ, for a planner: the row counts, or same count."""
    if now.get("rows") != before.get("rows"):
        return f"行数 {before.get('rows')} → {now.get('rows')}"
    return f"行数仍为 {now.get('rows')},但内容不同"


def carry_over(published: Path, staging: Path) -> None:
    """Copy earlier pulse reports (and the proposal) into a new run folder, so a full re-run does
    not delete them.

    Only regular files: a link named ``pulse-*.json`` (or inside ``proposal/``) is neither
    followed nor copied.
    """
    if published.is_dir() and not published.is_symlink():
        for path in published.glob("pulse-*.*"):
            if _regular(path):
                shutil.copy2(path, staging / path.name)
        proposal = published / "proposal"
        if proposal.is_dir() and not proposal.is_symlink():  # planlib proposal: written before the quarter
            copy_run(proposal, staging / "proposal")


def copy_run(published: Path, staging: Path) -> None:
    """Copy a published run to a new staging folder (``--stage``), leaving every link out."""
    shutil.copytree(published, staging, symlinks=True, dirs_exist_ok=True,
                    ignore=lambda folder, names: [n for n in names if (Path(folder) / n).is_symlink()])
