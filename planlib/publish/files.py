"""Writing files so that a reader never sees half of one, and recognising a file by its bytes.

Every page and plan file planlib writes goes through :func:`write_text_atomic`: a temporary file
in the same folder, then ``os.replace``, so a crash or a full disk leaves the old file whole.
:func:`file_sha256` is what ``--resume`` and the stages' caches compare.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

from planlib.errors import PlanError


class NotARegularFile(PlanError, OSError):
    """An input that is a pipe, a device or a folder: reading it could block or never end.

    An ``OSError`` too, so a caller that falls back to the data readers (their own message for a
    file they cannot read) still does; its text is one line naming the file and the fix.
    """

    def __str__(self) -> str:
        return str(self.strerror)

# (path, inode, size, mtime in ns) → digest: a file hashed once in this process is hashed again
# only when it was replaced or written since (a CRM export can be hundreds of MB)
_DIGESTS: dict[tuple[str, int, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (read in blocks; remembered while the file is unchanged).

    Only a regular file is read: a named pipe or a device (``/dev/zero``) would block or never
    end, so it raises :class:`NotARegularFile` (an ``OSError`` too) before anything is opened.
    """
    path = Path(path)
    found = path.stat()
    if not stat.S_ISREG(found.st_mode):
        raise NotARegularFile(errno.EINVAL, f"{path}: 不是普通文件(可能是命名管道、设备或文件夹),无法读取 — "
                              "请把数据导出为普通文件后在计划中引用")
    key = (str(path.resolve()), found.st_ino, found.st_size, found.st_mtime_ns)
    if key not in _DIGESTS:
        # O_NONBLOCK: a pipe swapped in since the check does not block the open (no effect on files)
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise NotARegularFile(errno.EINVAL, f"{path}: 不是普通文件,无法读取 — 请把数据导出为普通文件后在计划中引用")
            _DIGESTS[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    return _DIGESTS[key]


def data_sha256(path: Path) -> str:
    """:func:`file_sha256` of a data file; for a folder source (Parquet parts) one hash of every
    file under it — its path inside the folder and its :func:`file_sha256` — so a part added,
    removed, renamed or rewritten changes it (what ``--resume`` and the stages' caches compare).

    Every file counts, the writer's ``_SUCCESS`` too: a hash that moves without the data changing
    only costs a run; one that stayed while a part changed would publish stale results.
    """
    path = Path(path)
    if not stat.S_ISDIR(path.stat().st_mode):
        return file_sha256(path)
    digest = hashlib.sha256(b"planlib folder\n")
    for item in sorted(p for p in path.rglob("*") if not p.is_dir()):
        digest.update(f"{item.relative_to(path).as_posix()}\0{file_sha256(item)}\n".encode())
    return digest.hexdigest()


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (same-folder temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding=encoding)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
