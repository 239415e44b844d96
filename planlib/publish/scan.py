"""Scanning what a run publishes for personal data that escaped masking.

Stages mask names and phone numbers before they show them (:mod:`planlib.run.contacts`), but a print in a
cell, a traceback quoting a row or a parameter can still carry a raw number. Before a run's
executed notebooks and report are published the runner scans them: every output (HTML, plain
text, markdown, JSON), every traceback, the cell sources (the injected parameters among them)
and the notebook and cell metadata. Any unmasked mainland mobile number, 18-digit resident ID
number or e-mail address is a :class:`Finding` naming the file and where in it, with a masked
excerpt — the raw value is never printed. :func:`check_outputs` raises :class:`PersonalDataFound`
(a :class:`~planlib.errors.PlanError`) when there is any.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planlib.data.masking import mask_email, mask_id, mask_phone
from planlib.errors import PlanError

# Full-width digits, plus and X (same length, so positions stay) → ASCII before matching.
_HALFWIDTH = str.maketrans("０１２３４５６７８９＋－ｘＸ", "0123456789+-xX")
_EDGE_BEFORE = r"(?<![0-9A-Za-z])(?<!\d\.)"  # not inside a longer run, a hex digest or a decimal
_EDGE_AFTER = r"(?![0-9A-Za-z])"
PATTERNS: dict[str, re.Pattern[str]] = {
    "phone": re.compile(_EDGE_BEFORE + r"(?:(?:\+|00)?86[ \-]?)?1[3-9]\d(?:[ \-]?\d){8}" + _EDGE_AFTER),
    "id": re.compile(_EDGE_BEFORE + r"\d{6}[ \-]?(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                     r"[ \-]?\d{3}[\dXx]" + _EDGE_AFTER),
    "email": re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
                        r"\.[A-Za-z]{2,}(?![A-Za-z0-9\-])"),
}
KIND_LABELS = {"phone": "手机号", "id": "身份证号", "email": "电子邮箱"}
_MASKERS = {"phone": mask_phone, "id": mask_id, "email": mask_email}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DATA_URI = re.compile(r"data:[\w/+.\-]+;base64,[A-Za-z0-9+/=\s]+")
_LONG_DIGITS = re.compile(r"\d{5,}")
_SKIPPED_MIME = ("image/",)  # base64 pixels, not text
CONTEXT = 16


@dataclass(frozen=True)
class Finding:
    """One unmasked value: the file, where in it, the output type and a masked excerpt."""

    file: str
    where: str  # "单元格 7 [injected-parameters]" or "第 120 行 (#stage-2)"
    output: str  # "source", "stream", "text/html", "error", "metadata", "html" …
    kind: str  # phone, id or email
    excerpt: str  # the surrounding text with the value masked

    def __str__(self) -> str:
        return (f"{self.file}: {self.where}, {self.output}: 未脱敏的{KIND_LABELS[self.kind]}"
                f" «{self.excerpt}»")


class PersonalDataFound(PlanError):
    """A run's outputs hold unmasked personal data; they were not published."""

    def __init__(self, findings: list[Finding]):
        self.findings = list(findings)
        shown = "\n".join(f"  {f}" for f in self.findings[:20])
        more = f"\n  …另有 {len(self.findings) - 20} 处" if len(self.findings) > 20 else ""
        super().__init__(
            f"输出中发现 {len(self.findings)} 处未脱敏的个人信息,本次结果没有发布:\n{shown}{more}\n"
            "  请在显示前用 planlib.run.contacts.mask_for_display 脱敏(或删除打印原始数据的语句)后重新运行")


def _excerpt(text: str, start: int, end: int, kind: str) -> str:
    """The match masked, with a little context whose own long digit runs are hidden."""
    def hide(part: str) -> str:
        return _LONG_DIGITS.sub(lambda m: "*" * len(m[0]), part).replace("\n", " ")

    value = re.sub(r"^(?:\+|00)?86[ \-]?(?=1)", "", text[start:end]) if kind == "phone" else text[start:end]
    masked = _MASKERS[kind](value) or ""
    return hide(text[max(0, start - CONTEXT):start]) + masked + hide(text[end:end + CONTEXT])


def find_in_text(text: str) -> Iterator[tuple[str, int, int, str]]:
    """(kind, start, end, masked excerpt) for each unmasked phone, ID number or e-mail in ``text``."""
    normal = text.translate(_HALFWIDTH)
    taken: list[tuple[int, int]] = []
    for kind in ("id", "phone", "email"):  # an ID number is not also reported as a phone number
        for m in PATTERNS[kind].finditer(normal):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            taken.append(m.span())
            yield kind, m.start(), m.end(), _excerpt(normal, m.start(), m.end(), kind)


def _findings(file: str, where: str, output: str, text: Any) -> list[Finding]:
    if not isinstance(text, str):
        text = "".join(text) if isinstance(text, list) else json.dumps(text, ensure_ascii=False, default=str)
    return [Finding(file, where, output, kind, excerpt) for kind, _, _, excerpt in find_in_text(text)]


def scan_notebook(path: Path, name: str | None = None) -> list[Finding]:
    """Every unmasked phone, ID number or e-mail in an executed notebook, by cell and output."""
    import nbformat

    path = Path(path)
    name = name or path.name
    nb = nbformat.read(path, as_version=4)
    found = _findings(name, "笔记本元数据", "metadata", dict(nb.metadata))
    for index, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        where = f"单元格 {index}" + (f" [{', '.join(tags)}]" if tags else "")
        found += _findings(name, where, "source", cell.source)
        found += _findings(name, where, "metadata", dict(cell.get("metadata", {})))
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream":
                found += _findings(name, where, f"stream:{output.get('name', '')}", output.get("text", ""))
            elif kind == "error":
                text = "\n".join([output.get("ename", ""), output.get("evalue", ""),
                                  *output.get("traceback", [])])
                found += _findings(name, where, "error", _ANSI.sub("", text))
            else:
                for mime, value in output.get("data", {}).items():
                    if not mime.startswith(_SKIPPED_MIME):
                        found += _findings(name, where, mime, value)
                found += _findings(name, where, "metadata", dict(output.get("metadata", {})))
    return found


def scan_html(path: Path, name: str | None = None) -> list[Finding]:
    """Every unmasked phone, ID number or e-mail in an HTML report, by line and nearest anchor."""
    path = Path(path)
    name = name or path.name
    found = []
    section = anchor = ""  # the stage section (id="stage-N") and the nearest element id before the line
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        ids = re.findall(r'\sid="([^"]+)"', line)
        text = html.unescape(_DATA_URI.sub("data:", line))
        hits = list(find_in_text(text))
        if hits:
            near = ids[0] if ids else anchor
            places = [f"#{a}" for a in dict.fromkeys([section, near]) if a]
            where = f"第 {number} 行" + (f" ({', '.join(places)})" if places else "")
            found += [Finding(name, where, "html", kind, excerpt) for kind, _, _, excerpt in hits]
        anchor = ids[-1] if ids else anchor
        section = next((i for i in reversed(ids) if i.startswith("stage-")), section)
    return found


def scan_outputs(folder: Path, patterns: Iterable[str] = ("*.ipynb", "*.html")) -> list[Finding]:
    """Scan the executed notebooks and reports directly in ``folder`` (not ``private/``)."""
    folder = Path(folder)
    found: list[Finding] = []
    for pattern in patterns:
        for path in sorted(folder.glob(pattern)):
            scan = scan_notebook if path.suffix == ".ipynb" else scan_html
            found += scan(path)
    return found


def redact(text: str) -> str:
    """``text`` with every phone number, ID number and e-mail masked (for messages and logs)."""
    normal = text.translate(_HALFWIDTH)
    out, last = [], 0
    for kind, start, end, _ in sorted(find_in_text(text), key=lambda f: f[1]):
        value = re.sub(r"^(?:\+|00)?86[ \-]?(?=1)", "", normal[start:end]) if kind == "phone" else normal[start:end]
        out += [text[last:start], _MASKERS[kind](value) or ""]
        last = end
    return "".join(out) + text[last:]


def withhold(folder: Path, findings: list[Finding]) -> list[Path]:
    """Move the files with findings into ``folder/private/withheld/`` so they are not published.

    The runner then rebuilds the report as failed from what is left; the planner can still open
    the withheld notebooks on this machine to see which cell printed what.
    """
    folder = Path(folder)
    target = folder / "private" / "withheld"
    moved = []
    for name in dict.fromkeys(f.file for f in findings):
        source = folder / name
        if source.exists():
            target.mkdir(parents=True, exist_ok=True)
            os.replace(source, target / name)
            moved.append(target / name)
    return moved


def check_outputs(folder: Path) -> None:
    """Raise :class:`PersonalDataFound` when anything in ``folder`` would publish personal data."""
    found = scan_outputs(folder)
    if found:
        raise PersonalDataFound(found)
