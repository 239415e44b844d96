"""Writing files so that a reader never sees half of one, and recognising a file by its bytes.

Every page and plan file planlib writes goes through :func:`write_text_atomic`: a temporary file
in the same folder, then ``os.replace``, so a crash or a full disk leaves the old file whole.
:func:`file_sha256` is what ``--resume`` and the stages' caches compare.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat as stat_
from pathlib import Path

# (path, inode, size, mtime in ns) → digest: a file hashed once in this process is hashed again
# only when it was replaced or written since (a CRM export can be hundreds of MB)
_DIGESTS: dict[tuple[str, int, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (read in blocks; remembered while the file is unchanged).

    Only a regular file is read: a FIFO or a device (``/dev/zero``) raises ``OSError`` instead of
    blocking or reading for ever.
    """
    path = Path(path)
    stat = path.stat()
    if not stat_.S_ISREG(stat.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        with open(path, "rb") as handle:
            _DIGESTS[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    return _DIGESTS[key]


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
