"""planlib.proposal.html: one self-contained page, and its PDF with repeated headers and whole rows."""

from __future__ import annotations

import re
import shutil
import subprocess

import pandas as pd
import pytest

from planlib.proposal.blocks import KeyValues, Note, Paragraph, Part, Proposal, Table
from planlib.proposal.html import render_html, write_pdf

EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>'


def _proposal(rows: int) -> Proposal:
    long = pd.DataFrame({"客户编号": [f"C{i:04d}" for i in range(rows)],
                         "分层依据": [f"第{i}行:近365天消费{i * 13}元,合作{i % 7}年,0投诉" for i in range(rows)],
                         "核心需求": ["定制化行业解决方案、高层对接、优先服务" for _ in range(rows)]})
    parts = [Part("一", "项目背景与目标", [Paragraph(EVIL), KeyValues([("市场环境", EVIL)])], "part-1"),
             Part("二", "客户需求分析", [Table(long, "模板1 客户分层与需求分析表", template=1)], "part-2")]
    return Proposal(title=f"测试策划书{EVIL}", unit="t", quarter="2024Q3", cover=[("单位", "测试")],
                    approval=[("审批状态", "待审批")], summary=Part("", "结论先行", [Note(EVIL, "warn")], "summary"),
                    parts=parts, generated="2024-06-20 09:00", as_of="2024-06-30")


def test_text_from_the_plan_is_escaped():
    html = render_html(_proposal(3))
    assert "<script" not in html and "onerror" not in html.replace("onerror=alert(2)&gt;", "")
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (make test installs it)")
def test_long_table_repeats_its_header_and_never_cuts_a_row(tmp_path):
    pdf = write_pdf(render_html(_proposal(120)), tmp_path / "p.pdf")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.split("\f")[:-1]
    with_rows = [p for p in pages if re.search(r"C\d{4}", p)]
    assert len(with_rows) >= 3  # the table runs over several pages
    for page in with_rows:
        assert "分层依据" in page and "核心需求" in page  # the header row on every page
    found = [m for p in with_rows for m in re.findall(r"C(\d{4})", p)]
    assert sorted(set(found)) == [f"{i:04d}" for i in range(120)] and len(found) == 120  # each row once: none cut
    for i, page in enumerate(pages[1:], start=2):
        assert f"第{i}页/共{len(pages)}页" in re.sub(r"\s", "", page)  # pdftotext may drop the spaces
