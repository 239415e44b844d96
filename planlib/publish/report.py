"""The combined HTML report: a run's executed stage notebooks as one self-contained document.

The report is what reviewers read, so it shows narrative, tables and charts but no code; it
runs no script and loads nothing from outside (a Content-Security-Policy says so to the
browser, and :func:`_check_self_contained` checks the HTML before it is written). HTML and
markdown from cells pass through :func:`clean_html`; values from the plan go through
:func:`planlib.publish.display.esc`. A failed run carries a red banner and never looks successful.

One :class:`~nbconvert.HTMLExporter` is kept per process: loading its templates is the
expensive part of an export.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import bleach

from planlib.data.results import STAGE_TITLES
from planlib.publish import display, firstscreen
from planlib.publish.files import write_text_atomic

TEMPLATES = Path(__file__).resolve().parent / "templates"
HIDDEN_TAGS = frozenset({"parameters", "injected-parameters", "report-hide",
                         "papermill-error-cell-tag"})  # papermill's English banner: ours replaces it
_CN_NUMBERS = "一二三四五六七八九十"
_STATE_LABELS = {"ok": "", "failed": "出错", "missing": "未运行"}

# What HTML outputs and markdown may keep: structure and classes, never scripts, handlers,
# inline styles or links that leave the page.
_ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "s", "small", "span",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    "u", "ul",
})
_DROP_WITH_CONTENT = re.compile(r"<(script|style|template|noscript)\b.*?</\1\s*>", re.I | re.S)
# An image whose outside source was removed: say so instead of showing a broken icon.
_IMG_WITHOUT_SRC = re.compile(r'<img(?![^>]*\ssrc=)(?:[^>]*\salt="([^"]*)")?[^>]*>')


def _allow_attribute(tag: str, name: str, value: str) -> bool:
    if name in {"class", "id", "title", "colspan", "rowspan", "align", "lang", "open"}:
        return True
    if tag == "a" and name == "href":
        return value.startswith("#")
    if tag == "img" and name == "src":
        return value.startswith("data:image/")
    return tag == "img" and name in {"alt", "width", "height"}


_cleaner = bleach.Cleaner(tags=_ALLOWED_TAGS, attributes=_allow_attribute, protocols={"data"},
                          strip=True, strip_comments=True)


def clean_html(fragment: Any) -> str:
    """Sanitise an HTML fragment from a notebook: drop scripts, handlers, styles, outside links."""
    cleaned = _cleaner.clean(_DROP_WITH_CONTENT.sub("", str(fragment)))
    return _IMG_WITHOUT_SRC.sub(lambda m: f'<span class="pl-muted">(未嵌入的图片{":" + m[1] if m[1] else ""})</span>',
                                cleaned)


@dataclass
class _Section:
    anchor: str
    number: str
    title: str
    first: int
    last: int
    state: str  # ok, failed or missing
    error_cell: str | None = None  # anchor id of the first cell with an error output

    @property
    def state_label(self) -> str:
        return _STATE_LABELS[self.state]


@functools.cache
def _exporter() -> Any:
    from nbconvert import HTMLExporter  # slow import (~1 s): only when a report is built
    from traitlets.config import Config

    config = Config({
        # No code in the report, so no syntax-highlighting CSS to compute.
        "CSSHTMLHeaderPreprocessor": {"enabled": False},
        # Scripts and widgets never render; HTML first, images before plain text.
        "NbConvertBase": {"display_data_priority": [
            "text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg",
            "text/latex", "text/plain"]},
    })
    exporter = HTMLExporter(
        config=config, extra_template_basedirs=[str(TEMPLATES)], template_name="planlib_report",
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
        exclude_anchor_links=True,
    )
    exporter.register_filter("pl_esc", display.esc)
    exporter.register_filter("pl_clean", clean_html)
    return exporter


def warm_up() -> None:
    """Build the exporter and compile its templates (about 0.6 s) ahead of the first report.

    The runner calls this while the kernel is still starting, when this process would
    otherwise only wait.
    """
    import nbformat

    _exporter().from_notebook_node(nbformat.v4.new_notebook(), resources={"planlib": {
        "title": "", "cover": [], "generated": "", "failed": False, "failure": None, "first_screen": None,
        "approval": None, "unapproved": "",
        "sections": [], "display_css": ""}})


def _strip_title(cells: list[Any]) -> None:
    """Drop the workbook's own ``# title`` line: the section heading replaces it."""
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        first = next((j for j, line in enumerate(lines) if line.strip()), None)
        if first is not None and re.match(r"#\s", lines[first]):
            cell.source = "\n".join(lines[first + 1:]).strip()
            if not cell.source:
                del cells[i]
        return


def _stage_cells(nb: Any, number: int) -> tuple[list[Any], bool, str | None]:
    """The cells a reader sees, whether the stage failed, and the first cell with an error."""
    failed = bool(nb.metadata.get("papermill", {}).get("exception"))
    cells, first_error = [], None
    for cell in nb.cells:
        if HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        has_error = False
        if cell.cell_type == "code":
            has_error = any(o.output_type == "error" for o in cell.outputs)
            failed |= has_error
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
            if not cell.outputs:
                continue
        elif cell.cell_type != "markdown":
            continue  # raw cells may hold anything; they are not narrative
        cell.id = f"s{number}-{len(cells)}"
        if has_error and first_error is None:
            first_error = cell.id
        cells.append(cell)
    _strip_title(cells)
    return cells, failed, first_error


def _merge(notebooks: list[Path]) -> tuple[Any, list[_Section]]:
    import nbformat

    merged = nbformat.v4.new_notebook()
    sections = []
    for number, path in enumerate(map(Path, notebooks), start=1):
        first = len(merged.cells)
        state, error_cell = "missing", None
        if path.exists():
            cells, failed, error_cell = _stage_cells(nbformat.read(path, as_version=4), number)
            merged.cells.extend(cells)
            state = "failed" if failed else "ok"
        label = _CN_NUMBERS[number - 1] if number <= len(_CN_NUMBERS) else str(number)
        title = STAGE_TITLES.get(path.stem, path.stem)
        sections.append(_Section(f"stage-{number}", label, title, first, len(merged.cells), state, error_cell))
    return merged, sections


class _Checker(HTMLParser):
    """Finds anything that would run or load: scripts, handlers, non-data sources, imports."""

    URL_ATTRS = frozenset({"src", "href", "srcset", "action", "formaction", "poster", "data",
                           "background", "xlink:href"})

    def __init__(self, relative_links: bool = False) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_style = False
        self.relative_links = relative_links  # index pages link to reports beside them

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "iframe", "object", "embed", "link", "base", "form"}:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = (value or "").strip()
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}=")
            elif name in self.URL_ATTRS and not value.startswith(("#", "data:")):
                if not (self.relative_links and tag == "a" and name == "href" and _is_relative(value)):
                    self.problems.append(f"{tag} {name}={value[:60]!r}")
            elif name == "style" and re.search(r"url\(|@import", value, re.I):
                self.problems.append(f"{tag} style url()")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and re.search(r"@import|url\(\s*['\"]?(?!data:)", data, re.I):
            self.problems.append("CSS url()/@import")


def _is_relative(url: str) -> bool:
    """A path beside the page (``../demo/2024Q2/report.html``): no scheme, host or root."""
    return not re.match(r"^\s*([a-zA-Z][a-zA-Z0-9+.-]*:|//|/|\\)", url)


def _check_self_contained(html: str, relative_links: bool = False) -> None:
    checker = _Checker(relative_links)
    checker.feed(html)
    checker.close()
    if checker.problems:  # the sanitiser or the template let something through: a bug
        raise RuntimeError(f"report is not self-contained: {checker.problems[:5]}")


def build_report(
    notebooks: list[Path],
    out_html: Path,
    *,
    title: str,
    cover: list[tuple[str, str]],
    status: str = "ok",
    failure: str | None = None,
    first_screen: bool | None = None,
) -> Path:
    """Write the run's report: the reviewer's first screen, cover, table of contents and one section per
    stage notebook.

    ``cover`` holds the plan summary as (label, value) pairs. ``status`` is ``"ok"`` or
    ``"failed"``; a stage notebook with an error output or a missing notebook also marks the
    report failed, so a broken run can never publish a report that looks successful.
    ``first_screen``: the 结论先行 screen and the approval on the cover, from the results in the report's
    folder (:mod:`planlib.publish.firstscreen`); by default when the notebooks include stage 05's and its
    summary is there (a pulse page has neither).
    """
    if status not in {"ok", "failed"}:
        raise ValueError(f"status must be 'ok' or 'failed', not {status!r}")
    nb, sections = _merge(list(notebooks))
    broken = [s for s in sections if s.state != "ok"]
    failed = status == "failed" or bool(broken)
    if failed and not failure and broken:
        failure = ";".join(f"阶段「{s.title}」{'执行出错' if s.state == 'failed' else '没有运行结果'}"
                          for s in broken)
    screen = None
    if first_screen or (first_screen is None and any(Path(p).stem == "05_review" for p in notebooks)):
        screen = firstscreen.build(Path(out_html).parent)
    resources = {"planlib": {
        "first_screen": screen,
        "approval": None if screen is None else screen.approval,
        "unapproved": "" if screen is None else screen.unapproved,
        "title": title,
        "cover": [(str(k), "" if v is None else str(v)) for k, v in cover],
        "generated": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "failed": failed,
        "failure": failure,
        "sections": sections,
        "display_css": display.CSS,
    }}
    html, _ = _exporter().from_notebook_node(nb, resources=resources)
    _check_self_contained(html)

    return write_text_atomic(Path(out_html), html)
