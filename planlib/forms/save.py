"""Save a plan file without losing anything: atomic, locked, stale-safe, comment-preserving.

A save from a planner form goes through :func:`modify_yaml`:

1. take an exclusive ``fcntl`` lock on a lock file beside the plan (``.2024Q2.yaml.lock``) —
   the plan file itself is replaced on every save, so it cannot carry the lock;
2. re-read the file and compare its content hash with the one the form recorded when it loaded
   the file: a difference means someone saved in between, and the save is refused
   (:class:`StalePlanError`) instead of overwriting their work;
3. apply the change to ruamel's round-trip document, so comments and key order written by hand
   survive;
4. write a temporary file in the same folder, ``fsync`` it, give it the old file's permissions,
   keep a copy of the old file in ``.2024Q2.yaml.bak/`` (the last ``keep`` versions) and
   ``os.replace`` the temporary file over the plan. A crash before the rename leaves the old file
   untouched; after it, the new file is complete.

What the file was stays what it is: a symlinked plan is written through to its target (the link
stays a link), the new file and the kept versions get the plan's permissions (a 0600 plan never
gets 0644 backups) and, where the process may (as root), its owner and group; CRLF line endings
and a UTF-8 BOM are written back as found. A folder that cannot be written is a
:class:`~planlib.errors.PlanError` of one line, which the form shows in its status line.
"""

from __future__ import annotations

import codecs
import fcntl
import hashlib
import io
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from planlib.errors import PlanError

KEEP_VERSIONS = 5


class StalePlanError(PlanError):
    """The plan file changed on disk after the form loaded it; saving would overwrite that change."""


def read_plan_file(path: Path) -> bytes | None:
    """The plan's bytes, or None when it does not exist. Only a regular file of a plan's size is
    read (a FIFO or ``/dev/zero`` would hang the form): anything else is a one-line PlanError."""
    from planlib.plan.yamlread import UnreadablePlanFile, read_plan_bytes

    try:
        return read_plan_bytes(Path(path))
    except FileNotFoundError:
        return None
    except UnreadablePlanFile as exc:
        raise PlanError(f"{path}: {exc},表单没有读取或保存 — {exc.hint}") from None


def file_digest(path: Path) -> str | None:
    """sha256 of the file's bytes, or None when it does not exist."""
    data = read_plan_file(path)
    return None if data is None else hashlib.sha256(data).hexdigest()


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def backup_dir(path: Path) -> Path:
    return path.with_name(f".{path.name}.bak")


@contextmanager
def plan_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for ``path`` (across threads and processes) while inside."""
    fd = os.open(lock_path(Path(path)), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _yaml(text: str = "") -> YAML:
    """A round-trip YAML that writes with the indentation the file already uses."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long Chinese sentence onto a second line
    mapping, sequence, offset = _guess_indent(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _guess_indent(text: str) -> tuple[int, int, int]:
    """``(mapping, sequence, dash offset)`` as written in ``text``; the demo's style by default."""
    mapping, sequence, offset = 2, 4, 2
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for before, line in zip(lines, lines[1:], strict=False):
        if before[:1] not in (" ", "-") and before.rstrip().endswith(":"):
            indent = len(line) - len(line.lstrip(" "))
            if line.lstrip().startswith("- "):
                offset, sequence = indent, indent + 2
            elif indent:
                mapping = indent
    return mapping, sequence, offset


def load_roundtrip(text: str) -> CommentedMap:
    """The file's text as ruamel's round-trip document (an empty file gives an empty mapping)."""
    doc = _yaml(text).load(text) if text.strip() else None
    if doc is None:
        return CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise PlanError("计划文件顶层应是键值映射,无法从表单保存 — 先在编辑器中修正文件")
    return doc


def dump_roundtrip(doc: Any, like: str = "") -> str:
    buf = io.StringIO()
    _yaml(like).dump(doc, buf)
    return buf.getvalue()


class SaveFailed(PlanError):
    """The plan could not be written (read-only folder, full disk …); the old file is untouched."""


def _save_failed(path: Path, exc: OSError) -> SaveFailed:
    reason = {13: "没有写入权限(文件夹或文件只读)", 1: "没有写入权限(文件夹或文件只读)", 30: "所在磁盘是只读的",
              28: "磁盘已满", 122: "超出磁盘配额"}.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return SaveFailed(f"{path}: 无法保存({reason}),文件保持原样 — 检查 {path.parent} 的写入权限和磁盘空间后再保存")


def modify_yaml(path: str | Path, change: Callable[[CommentedMap], None], *,
                expected_digest: str | None = None, check: bool = True, keep: int = KEEP_VERSIONS,
                _before_replace: Callable[[Path], None] | None = None) -> str:
    """Apply ``change`` to the file's round-trip document and save it safely; return the new digest.

    With ``check`` (the default) the file must still have ``expected_digest`` (None: the file
    must not exist yet); otherwise :class:`StalePlanError` is raised and nothing is written.
    A symlink is written through to its target; a file that cannot be written raises
    :class:`SaveFailed` (one line).
    """
    path = Path(os.path.realpath(Path(path)))  # a symlinked plan: lock, back up and replace its target
    try:
        return _modify(path, change, expected_digest, check, keep, _before_replace)
    except OSError as exc:
        if exc.errno is None:
            raise  # not the system refusing a write: a bug keeps its traceback
        raise _save_failed(path, exc) from None


def _modify(path: Path, change: Callable[[CommentedMap], None], expected_digest: str | None, check: bool,
            keep: int, _before_replace: Callable[[Path], None] | None) -> str:
    with plan_lock(path):
        current = read_plan_file(path)
        digest = hashlib.sha256(current).hexdigest() if current is not None else None
        if check and digest != expected_digest:
            raise StalePlanError(
                f"{path.name} 在表单打开后已被修改(可能是编辑器或另一个工作簿保存了它),为避免覆盖别人的修改,"
                f"本次没有保存 — 重新运行表单单元格加载最新内容,再填写并保存")
        try:
            text = current.decode("utf-8-sig") if current is not None else ""
        except UnicodeDecodeError as exc:
            raise PlanError(f"{path}: 文件不是 UTF-8 编码(第 {exc.start} 个字节起无法读取),表单没有保存 — "
                            "请在编辑器中另存为 UTF-8 后重新运行表单单元格") from None
        try:
            doc = load_roundtrip(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"第 {mark.line + 1} 行" if mark is not None else "某处"
            raise PlanError(f"{path}: {where} YAML 格式错误({exc.problem or exc.context}),表单没有保存 — "
                            "请先在编辑器中修正该行(planlib validate 会列出问题)") from None
        change(doc)
        crlf = text.count("\r\n") > text.count("\n") / 2  # the file's own line endings are written back
        lf_text = text.replace("\r\n", "\n")
        out = dump_roundtrip(doc, like=lf_text) if doc else ""
        if text.strip() and not len(load_roundtrip(text)):
            out = lf_text.rstrip("\n") + "\n" + out  # a file of comments only: keep them on top
        if crlf:
            out = out.replace("\r\n", "\n").replace("\n", "\r\n")
        bom = codecs.BOM_UTF8 if current is not None and current.startswith(codecs.BOM_UTF8) else b""
        data = bom + out.encode("utf-8")
        _write_atomic(path, data, current, keep, _before_replace)
        return hashlib.sha256(data).hexdigest()


def _keep_owner(target: Path, info: os.stat_result | None) -> None:
    """Give ``target`` the plan's owner and group: as root always, otherwise the group where allowed."""
    if info is None or not hasattr(os, "chown"):
        return
    try:
        if os.geteuid() == 0:
            os.chown(target, info.st_uid, info.st_gid)
        elif info.st_gid != target.stat().st_gid:
            os.chown(target, -1, info.st_gid)
    except PermissionError:
        pass  # not a member of the plan's group: the file keeps ours, as any editor would leave it


def _write_atomic(path: Path, data: bytes, previous: bytes | None, keep: int,
                  before_replace: Callable[[Path], None] | None) -> None:
    info = path.stat() if previous is not None else None
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o644
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        _keep_owner(tmp, info)
        if previous is not None and keep > 0:
            _keep_version(path, previous, keep, mode, info)
        if before_replace is not None:
            before_replace(tmp)  # tests simulate a crash here
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _keep_version(path: Path, previous: bytes, keep: int, mode: int, info: os.stat_result | None) -> None:
    """Copy the previous version into the backup folder with the plan's permissions and owner."""
    folder = backup_dir(path)
    if folder.is_symlink():  # a planted link would send the plan's history somewhere else
        raise PlanError(f"{folder} 是一个符号链接,表单没有保存 — 删除它(备份文件夹由 planlib 自己创建)后再保存")
    folder.mkdir(mode=0o700 if not mode & 0o077 else 0o755, exist_ok=True)  # a private plan's history stays private
    now = time.time_ns()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now // 1_000_000_000)) + f"-{now % 1_000_000_000:09d}"
    target = folder / f"{path.stem}.{stamp}{path.suffix}"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)  # private even briefly
    with os.fdopen(fd, "wb") as f:
        f.write(previous)
    os.chmod(target, mode)
    _keep_owner(target, info)
    versions = sorted(folder.glob(f"{path.stem}.*{path.suffix}"))
    for old in versions[:-keep]:
        old.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------- merging into a document
def merge_into(doc: CommentedMap, key: Any, value: Any) -> None:
    """Set ``doc[key] = value`` while keeping the comments, order and style already in ``doc``.

    Mappings are merged key by key (keys no longer in ``value`` are removed), lists item by
    item, and a scalar equal to the one written is left as written (quotes and all).
    """
    if key in doc:
        old = doc[key]
        if isinstance(old, CommentedMap) and isinstance(value, dict):
            _merge_map(old, value)
            return
        if isinstance(old, CommentedSeq) and isinstance(value, list):
            _merge_seq(old, value)
            return
        if _same_scalar(old, value):
            return
    doc[key] = _fresh(value)


def _merge_map(old: CommentedMap, new: dict) -> None:
    for key in [k for k in old if k not in new]:
        del old[key]
    for key, value in new.items():
        merge_into(old, key, value)


def _trailing(node: Any) -> tuple[Any, Any] | None:
    """Where ruamel keeps what follows a block (blank lines, a comment before the next key): on the
    last key of its last mapping, nested as deep as the block ends. (container, key) or None."""
    while isinstance(node, CommentedMap | CommentedSeq) and len(node):
        key = next(reversed(node)) if isinstance(node, CommentedMap) else len(node) - 1
        child = node[key]
        if not isinstance(child, CommentedMap | CommentedSeq) or not len(child):
            return node, key
        node = child
    return None


def _move_trailing(source: Any, target: Any) -> None:
    """Move the blank lines/comment that end ``source`` to the end of ``target`` (a row appended
    after it): otherwise the new row lands after the gap, and the gap before the next section goes."""
    old, new = _trailing(source), _trailing(target)
    if old is None or new is None:
        return
    (container, key), (to, to_key) = old, new
    entry = container.ca.items.get(key)
    if not entry or len(entry) < 3 or entry[2] is None:
        return
    to.ca.items.setdefault(to_key, [None, None, None, None])[2] = entry[2]
    entry[2] = None


def _merge_seq(old: CommentedSeq, new: list) -> None:
    while len(old) > len(new):
        removed = old[len(old) - 1]
        del old[len(old) - 1]
        if len(old):
            _move_trailing(removed, old[len(old) - 1])
    for i, value in enumerate(new):
        if i >= len(old):
            old.append(_fresh(value))
            if i:
                _move_trailing(old[i - 1], old[i])
        elif isinstance(old[i], CommentedMap) and isinstance(value, dict):
            _merge_map(old[i], value)
        elif isinstance(old[i], CommentedSeq) and isinstance(value, list):
            _merge_seq(old[i], value)
        elif not _same_scalar(old[i], value):
            old[i] = _fresh(value)


def _same_scalar(old: Any, new: Any) -> bool:
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        return False
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    for kind in (int, float, str):  # ruamel's ScalarFloat / quoted strings are subclasses
        if isinstance(old, kind) and isinstance(new, kind):
            return kind(old) == new
    return type(old) is type(new) and old == new


def _fresh(value: Any) -> Any:
    """Plain data as round-trip nodes; short lists of flat mappings are written inline like the demo."""
    if isinstance(value, dict):
        return CommentedMap((k, _fresh(v)) for k, v in value.items())
    if isinstance(value, list):
        seq = CommentedSeq(_fresh(v) for v in value)
        if all(not isinstance(v, dict | list) for v in value) and sum(len(str(v)) for v in value) < 60:
            seq.fa.set_flow_style()
        return seq
    return value
