"""The task list as an iCalendar file (RFC 5545) that imports into Outlook, Google, Apple and 钉钉/飞书.

One all-day ``VEVENT`` per task (DTSTART/DTEND as ``VALUE=DATE``, DTEND the day after the task's
last day, as the RFC defines an exclusive end) with the owner, phase, completion standard and
dependencies in DESCRIPTION, and one per checkpoint. UIDs are stable per plan and task, so
importing the file again after a change updates the events instead of duplicating them.

Written with the standard library: the subset needed (text escaping, CRLF, folding at 75
octets without splitting a UTF-8 character) is a few dozen lines, and a dependency would not
make it shorter. Tests parse the output back with the ``icalendar`` package.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from planlib.plan.kpis import CATALOGUE
from planlib.plan.schema import Plan

PRODID = "-//planlib//客户互动管理策划书//ZH"
LIMIT = 75  # octets per line, CRLF not counted


# Characters RFC 5545 does not allow in a TEXT value (CONTROL: C0 but tab, DEL), and C1 controls.
# The Unicode line and paragraph separators become escaped newlines like CR and LF.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")


def escape_text(value: str) -> str:
    """TEXT value escaping (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines; control
    characters (VT, FF, ESC, NUL …) that the RFC does not allow in text are dropped."""
    text = _CONTROL.sub("", str(value).replace("\u2028", "\n").replace("\u2029", "\n"))
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold a content line into ≤75-octet pieces joined by CRLF + space, never inside a character."""
    out, current, size = [], [], 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        limit = LIMIT if not out else LIMIT - 1  # continuation lines start with one space
        if size + n > limit:
            out.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    out.append("".join(current))
    return "\r\n ".join(out)


def uid(plan: Plan, kind: str, key: str) -> str:
    """Stable across runs and edits of other fields: unit, quarter, kind and the task id only."""
    digest = hashlib.sha256(f"{plan.meta.unit}/{plan.meta.quarter}/{kind}/{key}".encode()).hexdigest()[:20]
    return f"{digest}@planlib"


def _event(uid_: str, start: date, end_inclusive: date, summary: str, description: str, stamp: str,
           categories: Iterable[str] = ()) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid_}",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
        f"DTEND;VALUE=DATE:{end_inclusive + timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(description)}",
    ]
    cats = [escape_text(c) for c in categories if c]
    if cats:
        lines.append("CATEGORIES:" + ",".join(cats))
    lines += ["TRANSP:TRANSPARENT", "END:VEVENT"]  # all-day work items do not block the owner's day
    return lines


def calendar_text(plan: Plan, *, stamp: datetime | None = None) -> str:
    """The .ics text: tasks, then checkpoints (``stamp`` fixes DTSTAMP, for reproducible files)."""
    when = (stamp or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(plan.meta.title)}"]
    for t in plan.tasks:
        details = [f"负责人:{t.owner}", f"阶段:{t.phase}", f"计划:{t.start} 至 {t.end}"]
        if t.depends_on:
            details.append("前置任务:" + "、".join(t.depends_on))
        if t.done_when:
            details.append(f"完成标准:{t.done_when}")
        if t.resources:
            details.append(f"依赖资源:{t.resources}")
        lines += _event(uid(plan, "task", t.id), t.start, max(t.end, t.start), f"{t.id} {t.name}({t.owner})",
                        "\n".join(details), when, [t.phase, t.owner])
    seen: dict[str, int] = {}
    for cp in plan.checkpoints:
        seen[cp.name] = seen.get(cp.name, 0) + 1
        key = cp.name if seen[cp.name] == 1 else f"{cp.name}#{seen[cp.name]}"
        kpi = CATALOGUE[cp.kpi]
        sign = "≥" if kpi.direction == "higher" else "≤"
        details = [f"指标:{kpi.name}", f"预警阈值:{sign}{cp.threshold:g}{kpi.unit}",
                   f"未达阈值时 {cp.respond_within_hours} 小时内启动:{cp.action}"]
        if cp.owner:
            details.insert(0, f"负责人:{cp.owner}")
        lines += _event(uid(plan, "checkpoint", key), cp.due, cp.due, f"检查点:{cp.name}",
                        "\n".join(details), when, ["检查点"])
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def write_calendar(path: Path, plan: Plan, *, stamp: datetime | None = None) -> Path:
    """Write :func:`calendar_text` to ``path`` (UTF-8, CRLF) atomically and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(calendar_text(plan, stamp=stamp).encode("utf-8"))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
