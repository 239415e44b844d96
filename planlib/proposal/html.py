"""The proposal as an offline HTML page (the report's look, no script, a CSP) and, from the same HTML,
as a PDF printed by WeasyPrint (A4, cover, page numbers, repeated table headers, embedded CJK fonts)."""

from __future__ import annotations

import base64
from pathlib import Path

from markupsafe import Markup

from planlib.proposal.blocks import (
    Block,
    Bullets,
    Heading,
    Image,
    KeyValues,
    Note,
    Paragraph,
    Part,
    Proposal,
    Table,
)
from planlib.publish import display
from planlib.publish.display import esc
from planlib.publish.pdf import write_pdf
from planlib.publish.report import TEMPLATES as REPORT_TEMPLATES
from planlib.publish.report import _check_self_contained

__all__ = ["block_html", "render_html", "write_pdf"]  # write_pdf: planlib.publish.pdf, shared with the report

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_TAG = "模板"


def _table(t: Table) -> str:
    head = "".join(f'<th class="pl-num">{esc(c)}</th>' if c in t.numeric else f"<th>{esc(c)}</th>"
                   for c in t.df.columns)
    rows = []
    for values in t.df.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(t.df.columns, values, strict=True):
            classes = ["pl-num"] if col in t.numeric else []
            if value == "":
                classes.append("pl-fill")  # to be filled in at the review
            elif value == "—":
                classes.append("pl-na")
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{cls}>{esc(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        rows.append(f'<tr><td class="pl-na" colspan="{max(len(t.df.columns), 1)}">无数据</td></tr>')
    title = t.title
    if t.template is not None and title.startswith(TEMPLATE_TAG):
        number, _, rest = title.partition(" ")
        title_html = f'<span class="pl-template-tag">{esc(number)}</span>{esc(rest)}'
    else:
        title_html = esc(title)
    parts = ['<div class="pl-block">']
    if title:
        parts.append(f'<div class="pl-title">{title_html}</div>')
    template = f' data-template="{t.template}"' if t.template is not None else ""
    parts.append(f'<div class="pl-scroll"><table class="pl-table pl-doc-table"{template}>'
                 f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
    if t.note:
        parts.append(f'<div class="pl-foot">{esc(t.note)}</div>')
    parts.append("</div>")
    return "".join(parts)


def block_html(block: Block) -> str:
    """One block as an escaped HTML fragment."""
    if isinstance(block, Heading):
        tag = "h3" if block.level <= 2 else "h4"
        return f'<{tag} class="pl-h">{esc(block.text)}</{tag}>'
    if isinstance(block, Paragraph):
        return f"<p>{esc(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{esc(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Note):
        return display.html_note(block.text, block.kind)
    if isinstance(block, KeyValues):
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v).replace(chr(10), '<br>')}</td></tr>" for k, v in block.rows)
        head = f'<div class="pl-title">{esc(block.title)}</div>' if block.title else ""
        return f'<div class="pl-block">{head}<table class="pl-table pl-kv"><tbody>{rows}</tbody></table></div>'
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Image):
        data = base64.b64encode(block.png).decode("ascii")
        caption = f"<figcaption>{esc(block.caption)}</figcaption>" if block.caption else ""
        return f'<figure><img src="data:image/png;base64,{data}" alt="{esc(block.caption or "图表")}">{caption}</figure>'
    raise TypeError(f"unknown block {block!r}")


def render_html(proposal: Proposal) -> str:
    """The whole page; checked to be self-contained (no script, nothing loaded from outside)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)

    def with_html(part: Part) -> dict:
        # each fragment was escaped piece by piece in block_html
        return {"number": part.number, "title": part.title, "anchor": part.anchor,
                "html": [Markup(block_html(b)) for b in part.blocks]}  # noqa: S704

    html = env.get_template("proposal.html.j2").render(
        p={"title": proposal.title, "cover": proposal.cover, "approval": proposal.approval,
           "generated": proposal.generated, "as_of": proposal.as_of, "summary": with_html(proposal.summary),
           "parts": [with_html(x) for x in proposal.parts]},
        report_css=Markup((REPORT_TEMPLATES / "planlib_report" / "static" / "report.css").read_text(encoding="utf-8")),
        display_css=Markup(display.CSS),
        proposal_css=Markup((TEMPLATES / "proposal.css").read_text(encoding="utf-8")))
    _check_self_contained(html)
    return html
