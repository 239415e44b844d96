"""The proposal as an editable Word document (python-docx): headings, templates 1–4 as real Word
tables (header row repeated on each page, rows never split), charts as pictures, page numbers.

East Asian fonts are set through ``w:rFonts w:eastAsia`` on the styles and the table-header runs,
or Word falls back to its own; the defaults are what a Chinese Windows or Mac Word has (微软雅黑 /
黑体); LibreOffice on Linux substitutes them through fontconfig.
"""

from __future__ import annotations

import io
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from planlib.proposal.blocks import (
    Block,
    Bullets,
    Heading,
    Image,
    KeyValues,
    Note,
    Paragraph,
    Proposal,
    Table,
)

EA_BODY = "微软雅黑"
EA_HEAD = "黑体"
_NOTE_LABELS = {"info": "说明", "warn": "注意", "error": "错误", "ok": "完成"}


def _set_east_asian(owner, east_asian: str, latin: str | None = None) -> None:
    """Set ``w:rFonts`` (eastAsia, and ascii/hAnsi when given) on a style or run element."""
    rpr = owner.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    rfonts.set(qn("w:eastAsia"), east_asian)
    if latin:
        rfonts.set(qn("w:ascii"), latin)
        rfonts.set(qn("w:hAnsi"), latin)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):  # theme fonts win otherwise
        rfonts.attrib.pop(qn(attr), None)


def _style_fonts(doc, body: str, head: str) -> None:
    normal = doc.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(10.5)
    _set_east_asian(normal.element, body, "Calibri")
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3", "Caption"):
        _set_east_asian(doc.styles[name].element, head)
    rpr = normal.element.get_or_add_rPr()
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")


def _field(run, instr: str) -> None:
    """A complex field (PAGE, NUMPAGES) in ``run``; Word shows the value when it updates fields."""
    for tag, kind in (("w:fldChar", "begin"), ("w:instrText", None), ("w:fldChar", "separate"),
                      ("w:t", None), ("w:fldChar", "end")):
        el = OxmlElement(tag)
        if tag == "w:fldChar":
            el.set(qn("w:fldCharType"), kind)
        elif tag == "w:instrText":
            el.set(qn("xml:space"), "preserve")
            el.text = f" {instr} "
        else:
            el.text = "1"
        run._r.append(el)


def _page_numbers(section) -> None:
    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.add_run("第 ")
    _field(p.add_run(), "PAGE")
    p.add_run(" 页 / 共 ")
    _field(p.add_run(), "NUMPAGES")
    p.add_run(" 页")


def _header_row(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    trpr.append(repeat)
    trpr.append(OxmlElement("w:cantSplit"))


def _cant_split(row) -> None:
    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _small(cell, size: float = 9) -> None:
    for p in cell.paragraphs:
        for r in p.runs:
            r.font.size = Pt(size)


def _table(doc, t: Table, head_font: str) -> None:
    if t.title:
        doc.add_paragraph(t.title, style="Caption")
    cols = list(t.df.columns)
    table = doc.add_table(rows=1, cols=max(len(cols), 1))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _header_row(table.rows[0])
    for cell, name in zip(table.rows[0].cells, cols, strict=False):
        run = cell.paragraphs[0].add_run(str(name))
        run.bold = True
        run.font.size = Pt(9)
        _set_east_asian(run._r, head_font)
    for values in t.df.itertuples(index=False, name=None):
        row = table.add_row()
        _cant_split(row)
        for j, (cell, value) in enumerate(zip(row.cells, values, strict=True)):
            cell.text = str(value)
            _small(cell)
            if cols[j] in t.numeric:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if t.note:
        doc.add_paragraph(t.note).runs[0].font.size = Pt(9)


def _block(doc, block: Block, head_font: str) -> None:
    if isinstance(block, Heading):
        doc.add_heading(block.text, level=2 if block.level <= 2 else 3)
    elif isinstance(block, Paragraph):
        doc.add_paragraph(block.text)
    elif isinstance(block, Bullets):
        for item in block.items:
            doc.add_paragraph(item, style="List Bullet")
    elif isinstance(block, Note):
        p = doc.add_paragraph()
        label = p.add_run(f"{_NOTE_LABELS.get(block.kind, '说明')}:")
        label.bold = True
        if block.kind in ("warn", "error"):
            label.font.color.rgb = RGBColor(0xC0, 0x39, 0x2B)
        p.add_run(block.text)
    elif isinstance(block, KeyValues):
        if block.title:
            doc.add_paragraph(block.title, style="Caption")
        table = doc.add_table(rows=0, cols=2)
        table.style = "Table Grid"
        for k, v in block.rows:
            row = table.add_row()
            _cant_split(row)
            row.cells[0].text = k
            para = row.cells[1].paragraphs[0]
            for i, line in enumerate(v.split("\n")):  # a value of several lines keeps its line breaks
                if i:
                    para.add_run().add_break()
                para.add_run(line)
            row.cells[0].paragraphs[0].runs[0].bold = True
            row.cells[0].width, row.cells[1].width = Cm(3.5), Cm(13.5)
    elif isinstance(block, Table):
        _table(doc, block, head_font)
    elif isinstance(block, Image):
        doc.add_picture(io.BytesIO(block.png), width=Cm(min(block.width_cm, 16.5)))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        if block.caption:
            doc.add_paragraph(block.caption, style="Caption").alignment = WD_ALIGN_PARAGRAPH.CENTER
    else:
        raise TypeError(f"unknown block {block!r}")


def write_docx(proposal: Proposal, path: Path, *, east_asian_font: str = EA_BODY,
               heading_font: str = EA_HEAD) -> Path:
    """Write the proposal to ``path``: a cover without page number, then the summary and six parts."""
    doc = Document()
    _style_fonts(doc, east_asian_font, heading_font)
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.left_margin = sec.right_margin = Cm(2.0)
    sec.top_margin, sec.bottom_margin = Cm(2.0), Cm(2.2)

    for _ in range(6):
        doc.add_paragraph()
    doc.add_paragraph("客户互动管理策划书").alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(proposal.title, style="Title").alignment = WD_ALIGN_PARAGRAPH.CENTER
    for label, value in [*proposal.cover, *proposal.approval]:
        doc.add_paragraph(f"{label}:{value}").alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(f"编制时间:{proposal.generated}").alignment = WD_ALIGN_PARAGRAPH.CENTER
    body = doc.add_section(WD_SECTION.NEW_PAGE)  # the cover carries no page number
    body.footer.is_linked_to_previous = False
    _page_numbers(body)

    for i, part in enumerate([proposal.summary, *proposal.parts]):
        if i:
            doc.add_page_break()
        doc.add_heading(f"{part.number}、{part.title}" if part.number else part.title, level=1)
        for block in part.blocks:
            _block(doc, block, heading_font)
    path = Path(path)
    doc.save(str(path))
    return path
