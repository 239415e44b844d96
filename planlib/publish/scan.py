"""Scanning what a run publishes for personal data that escaped masking.

Stages mask names and phone numbers before they show them (:mod:`planlib.data.masking`), and free
text from data (survey comments) through :func:`planlib.data.masking.mask_text`; but a print in a
cell, a traceback quoting a row or a parameter can still carry a raw value. Before a run's
executed notebooks and report are published the runner scans them: every output (HTML, plain
text, markdown, JSON), every traceback, the cell sources (the injected parameters among them)
and the notebook and cell metadata. What is recognised (:func:`planlib.data.masking.find_personal`):
mainland mobile numbers in the usual ways of writing them (+86/0086/86, spaces, dashes, dots,
slashes, full-width digits, letters right next to them), landline numbers, 18- and 15-digit
resident ID numbers (check character x or X), e-mail addresses (non-ASCII names and domains too)
and, given the customer table's names (:func:`customer_names`), full names.

Each hit is a :class:`Finding`: one line naming the file, where in it and which kind — never the
value. :func:`check_outputs` raises :class:`PersonalDataFound` (a :class:`~planlib.errors.PlanError`)
when there is any.

:func:`scan_files` scans any list of published files — notebooks, HTML (``report.html``,
``pulse-*.html``), JSON (``pulse-*.json``, manifests), Parquet results, XLSX exports, CSV and
text — so a failed run or a pulse can be checked the same way; :func:`published_files` lists what
a run folder publishes (everything but ``private/``). Wiring these into the runner and the pulse
is the runner's concern (:mod:`planlib.run.runner`).
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planlib.data.masking import NameIndex, find_personal, mask_found
from planlib.errors import PlanError

KIND_LABELS = {"phone": "手机号", "landline": "固定电话", "id": "身份证号", "email": "电子邮箱", "name": "客户姓名"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DATA_URI = re.compile(r"data:[\w/+.\-]+;base64,[A-Za-z0-9+/=\s]+")
_LONG_DIGITS = re.compile(r"\d{5,}")
_SKIPPED_MIME = ("image/",)  # base64 pixels, not text
CONTEXT = 16
Names = NameIndex | Collection[str]


@dataclass(frozen=True)
class Finding:
    """One unmasked value: the file, where in it, the output type and the kind.

    ``excerpt`` (the value masked, with a little context) is kept for a planner looking into a
    withheld file on this machine; it is never part of the printed line.
    """

    file: str
    where: str  # "单元格 7 [injected-parameters]" or "第 120 行 (#stage-2)"
    output: str  # "source", "stream", "text/html", "error", "metadata", "html", "parquet" …
    kind: str  # phone, landline, id, email or name
    excerpt: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.where}, {self.output}: 未脱敏的{KIND_LABELS[self.kind]}"


class PersonalDataFound(PlanError):
    """A run's outputs hold unmasked personal data; they were not published."""

    def __init__(self, findings: list[Finding]):
        self.findings = list(findings)
        shown = "\n".join(f"  {f}" for f in self.findings[:20])
        more = f"\n  …另有 {len(self.findings) - 20} 处" if len(self.findings) > 20 else ""
        super().__init__(
            f"输出中发现 {len(self.findings)} 处未脱敏的个人信息,本次结果没有发布:\n{shown}{more}\n"
            "  请在显示前用 planlib.data.masking.mask_for_display(表格)或 mask_text(评价等文字)脱敏"
            "(或删除打印原始数据的语句)后重新运行")


def customer_names(frame: Any) -> NameIndex:
    """The full names of a customer table (its ``name`` column, or a known name header) for scanning."""
    from planlib.data.masking import personal_columns

    if frame is None:
        return NameIndex()
    columns = [c for c, kind in personal_columns(frame, "customers").items() if kind == "name"]
    return NameIndex(v for c in columns for v in frame[c].dropna().astype(str))


def _excerpt(text: str, start: int, end: int, kind: str) -> str:
    """The match masked, with a little context whose own long digit runs are hidden."""
    def hide(part: str) -> str:
        return _LONG_DIGITS.sub(lambda m: "*" * len(m[0]), part).replace("\n", " ")

    return hide(text[max(0, start - CONTEXT):start]) + mask_found(kind, text[start:end]) + hide(text[end:end + CONTEXT])


def find_in_text(text: str, names: Names = ()) -> Iterator[tuple[str, int, int, str]]:
    """(kind, start, end, masked excerpt) for each unmasked personal value in ``text``."""
    for kind, start, end in find_personal(text, names):
        yield kind, start, end, _excerpt(text, start, end, kind)


def _findings(file: str, where: str, output: str, text: Any, names: Names = ()) -> list[Finding]:
    if not isinstance(text, str):
        text = "".join(text) if isinstance(text, list) else json.dumps(text, ensure_ascii=False, default=str)
    return [Finding(file, where, output, kind, excerpt) for kind, _, _, excerpt in find_in_text(text, names)]


def _index(names: Names) -> NameIndex:
    return names if isinstance(names, NameIndex) else NameIndex(names)


def scan_notebook(path: Path, name: str | None = None, names: Names = ()) -> list[Finding]:
    """Every unmasked personal value in an executed notebook, by cell and output."""
    import nbformat

    path = Path(path)
    name = name or path.name
    names = _index(names)
    nb = nbformat.read(path, as_version=4)

    def _findings_(file: str, where: str, output: str, text: Any) -> list[Finding]:
        return _findings(file, where, output, text, names)

    found = _findings_(name, "笔记本元数据", "metadata", dict(nb.metadata))
    for index, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        where = f"单元格 {index}" + (f" [{', '.join(tags)}]" if tags else "")
        found += _findings_(name, where, "source", cell.source)
        found += _findings_(name, where, "metadata", dict(cell.get("metadata", {})))
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream":
                found += _findings_(name, where, f"stream:{output.get('name', '')}", output.get("text", ""))
            elif kind == "error":
                text = "\n".join([output.get("ename", ""), output.get("evalue", ""),
                                  *output.get("traceback", [])])
                found += _findings_(name, where, "error", _ANSI.sub("", text))
            else:
                for mime, value in output.get("data", {}).items():
                    if not mime.startswith(_SKIPPED_MIME):
                        found += _findings_(name, where, mime, value)
                found += _findings_(name, where, "metadata", dict(output.get("metadata", {})))
    return found


def scan_html(path: Path, name: str | None = None, names: Names = ()) -> list[Finding]:
    """Every unmasked personal value in an HTML page, by line and nearest anchor."""
    path = Path(path)
    name = name or path.name
    names = _index(names)
    found = []
    section = anchor = ""  # the stage section (id="stage-N") and the nearest element id before the line
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        ids = re.findall(r'\sid="([^"]+)"', line)
        text = html.unescape(_DATA_URI.sub("data:", line))
        hits = list(find_in_text(text, names))
        if hits:
            near = ids[0] if ids else anchor
            places = [f"#{a}" for a in dict.fromkeys([section, near]) if a]
            where = f"第 {number} 行" + (f" ({', '.join(places)})" if places else "")
            found += [Finding(name, where, "html", kind, excerpt) for kind, _, _, excerpt in hits]
        anchor = ids[-1] if ids else anchor
        section = next((i for i in reversed(ids) if i.startswith("stage-")), section)
    return found


def scan_text(path: Path, name: str | None = None, names: Names = ()) -> list[Finding]:
    """Every unmasked personal value in a text file (JSON, CSV, Markdown, logs), by line."""
    path = Path(path)
    name = name or path.name
    names = _index(names)
    found = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            found += [Finding(name, f"第 {number} 行", path.suffix.lstrip(".") or "text", kind, excerpt)
                      for kind, _, _, excerpt in find_in_text(line, names)]
    return found


def scan_parquet(path: Path, name: str | None = None, names: Names = ()) -> list[Finding]:
    """Every unmasked personal value in a Parquet result, by column and row."""
    import pandas as pd

    path = Path(path)
    name = name or path.name
    names = _index(names)
    frame = pd.read_parquet(path)
    found = []
    for column in frame.columns:
        values = frame[column]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        candidates = values[_may_hold_personal(values, names)]
        hits = {}  # each distinct text checked once: a tier's name repeats on a million rows
        for value in pd.unique(candidates.dropna().to_numpy()):
            if isinstance(value, str) and (found_here := list(find_in_text(value, names))):
                hits[value] = found_here
        if hits:
            for row, value in candidates[candidates.isin(list(hits))].items():
                found += [Finding(name, f"列 {column} 第 {row} 行", "parquet", kind, excerpt)
                          for kind, _, _, excerpt in hits[value]]
    found += [Finding(name, "列名", "parquet", kind, excerpt) for c in frame.columns
              for kind, _, _, excerpt in find_in_text(str(c), names)]
    return found


def _may_hold_personal(values, names: NameIndex):
    """The cells :func:`find_in_text` could find anything in, decided for the whole column in pyarrow.

    A results table of 10M customers has tens of millions of text cells (IDs, tier names, RFM
    codes); finding personal values cell by cell in Python took minutes. A cell can only hold an ID
    card, mobile or landline number with at least 10 ASCII digits, an e-mail with ``@``, anything
    full-width or Chinese (full-width digits, ＠, a Chinese name) with a non-ASCII character, and a
    Latin name with the name's first letter — so columns of plain codes are skipped, and every
    other cell is checked as before. Not text pyarrow reads (mixed objects): every cell.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(values, from_pandas=True).cast(pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return np.ones(len(values), dtype=bool)
    hit = pc.or_(pc.greater_equal(pc.count_substring_regex(arr, "[0-9]"), 10),
                 pc.or_(pc.match_substring(arr, "@"), pc.invert(pc.string_is_ascii(arr))))
    latin = sorted(c for c in names.firsts if c.isascii()) if names else []
    if latin:
        hit = pc.or_(hit, pc.match_substring_regex(arr, "[" + "".join(re.escape(c) for c in latin) + "]"))
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def scan_xlsx(path: Path, name: str | None = None, names: Names = ()) -> list[Finding]:
    """Every unmasked personal value in a workbook's text cells, by sheet and cell."""
    from openpyxl import load_workbook

    path = Path(path)
    name = name or path.name
    names = _index(names)
    found = []
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str):
                        found += [Finding(name, f"工作表 {sheet.title} {cell.coordinate}", "xlsx", kind, excerpt)
                                  for kind, _, _, excerpt in find_in_text(cell.value, names)]
    finally:
        book.close()
    return found


SCANNERS = {".ipynb": scan_notebook, ".html": scan_html, ".htm": scan_html, ".parquet": scan_parquet,
            ".xlsx": scan_xlsx, ".json": scan_text, ".jsonl": scan_text, ".csv": scan_text, ".txt": scan_text,
            ".md": scan_text, ".log": scan_text, ".ics": scan_text}


def scan_files(paths: Iterable[Path], names: Names = (), *, root: Path | None = None) -> list[Finding]:
    """Scan any list of published files (by suffix: notebooks, HTML, JSON, Parquet, XLSX, text).

    For the runner, the pulse and failed runs alike: ``pulse-*.html`` and ``pulse-*.json``, a
    ``.failed/`` folder's notebooks and report. ``names`` (:func:`customer_names`) adds full
    names; ``root`` makes the file names in findings relative to it. A file of an unknown kind
    is scanned as text; a file that cannot be read is reported, not skipped silently.
    """
    names = _index(names)
    found: list[Finding] = []
    for path in paths:
        path = Path(path)
        shown = str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else path.name
        scan = SCANNERS.get(path.suffix.lower(), scan_text)
        try:
            found += scan(path, shown, names)
        except (OSError, ValueError) as exc:
            raise PlanError(f"{shown}: 无法检查个人信息({type(exc).__name__}),本次结果没有发布 — "
                            "检查这个文件是否完整") from exc
    return found


def published_files(folder: Path) -> list[Path]:
    """What a run folder publishes: every file in it and its subfolders except ``private/``."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
                  and p.relative_to(folder).parts[0] != "private")


def scan_outputs(folder: Path, patterns: Iterable[str] = ("*.ipynb", "*.html"), names: Names = ()) -> list[Finding]:
    """Scan the executed notebooks and reports directly in ``folder`` (not ``private/``)."""
    folder = Path(folder)
    return scan_files([p for pattern in patterns for p in sorted(folder.glob(pattern))], names)


def scan_run_folder(folder: Path, names: Names = ()) -> list[Finding]:
    """Scan everything a run folder publishes (:func:`published_files`): notebooks, report,
    ``results/*.parquet``/``.json``, ``exports/*.xlsx``/``.ics``, manifest."""
    return scan_files(published_files(folder), names, root=Path(folder))


def redact(text: str, names: Names = ()) -> str:
    """``text`` with every personal value masked (for messages and logs)."""
    from planlib.data.masking import mask_text

    return mask_text(text, names) or ""


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
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target / name)
            moved.append(target / name)
    return moved


def check_outputs(folder: Path, names: Names = ()) -> None:
    """Raise :class:`PersonalDataFound` when anything in ``folder`` would publish personal data."""
    found = scan_outputs(folder, names=names)
    if found:
        raise PersonalDataFound(found)
