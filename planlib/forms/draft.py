"""Unsaved form edits kept beside the plan file, so Run All or a kernel restart loses nothing.

``.<plan>.draft.json`` next to ``<plan>`` (git-ignored like the lock and the backups) holds, per
form (one entry per stage), the form's values as the planner last left them, the hash of the plan
file they were entered against and when. The form writes its entry a short moment after each
change (:data:`DEBOUNCE` seconds; a burst of changes is one write), removes it when the values are
saved or match the file again, and offers an entry it finds when it is built — it never applies
one silently and never drops one the planner has not chosen to drop.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

DEBOUNCE = 0.5  # seconds between the last change and the write
_DATE = "__date__"


def draft_path(plan: Path) -> Path:
    return plan.with_name(f".{plan.name}.draft.json")


def _encode(value: Any) -> Any:
    if isinstance(value, date):
        return {_DATE: value.isoformat()}
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_DATE}:
            return date.fromisoformat(value[_DATE])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _read_all(plan: Path) -> dict:
    try:
        data = json.loads(draft_path(plan).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_LOCK = threading.Lock()  # the timers' threads and the kernel's thread write the same file


def _write_entry(plan: Path, key: str, entry: dict | None) -> None:
    with _LOCK:
        data = _read_all(plan)
        if entry is None:
            if key not in data:
                return
            data.pop(key)
        else:
            data[key] = entry
        target = draft_path(plan)
        if not data:
            target.unlink(missing_ok=True)
            return
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, target)


def read_draft(plan: Path, key: str) -> dict | None:
    """``{"values", "digest", "time"}`` of the draft of form ``key``, or None."""
    entry = _read_all(plan).get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
        return None
    return {"values": _decode(entry["values"]), "digest": entry.get("digest"), "time": entry.get("time", "")}


class DraftWriter:
    """Writes one form's draft entry :data:`DEBOUNCE` seconds after the last :meth:`keep`."""

    _pending: dict[tuple[Path, str], DraftWriter] = {}  # writers with a write still to do

    def __init__(self, plan: Path, key: str):
        self.plan, self.key = plan, key
        self._timer: threading.Timer | None = None
        self._entry: dict | None = None
        self._due = False

    def keep(self, values: dict, digest: str | None) -> None:
        """Remember ``values`` as unsaved (written after the debounce)."""
        self._schedule({"values": _encode(values), "digest": digest, "time": f"{datetime.now():%Y-%m-%d %H:%M:%S}"})

    def drop(self) -> None:
        """No unsaved values any more (saved, discarded or back to the file's): remove the entry."""
        self._cancel()
        _write_entry(self.plan, self.key, None)

    def _schedule(self, entry: dict) -> None:
        self._cancel()
        self._entry, self._due = entry, True
        DraftWriter._pending[(self.plan, self.key)] = self
        self._timer = threading.Timer(DEBOUNCE, self.flush)
        self._timer.daemon = True
        self._timer.start()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._due = None, False
        DraftWriter._pending.pop((self.plan, self.key), None)

    def flush(self) -> None:
        """Write now what is waiting for the debounce (nothing when nothing waits)."""
        if not self._due:
            return
        entry = self._entry
        self._cancel()
        _write_entry(self.plan, self.key, entry)

    @classmethod
    def flush_all(cls, plan: Path) -> None:
        """Write every waiting draft of ``plan`` (a new form on it reads them right after)."""
        for (path, _key), writer in list(cls._pending.items()):
            if path == plan:
                writer.flush()
