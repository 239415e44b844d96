"""planlib.publish.pdf: report.pdf beside report.html (planlib run --pdf), A4 with page numbers and CJK fonts."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, make_small_demo

from planlib.cli import EXIT_FAILED, main
from planlib.errors import PlanError
from planlib.publish.pdf import write_report_pdf
from planlib.publish.report import build_report
from publish.test_firstscreen import write_results
from publish.test_report import COVER, write_run


def poppler(*args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout


def check_pdf(pdf: Path, *texts: str) -> str:
    text = poppler("pdftotext", "-layout", str(pdf), "-")
    flat = re.sub(r"\s", "", text)  # pdftotext may or may not keep the spaces
    for t in texts:
        assert re.sub(r"\s", "", t) in flat, t
    pages = int(re.search(r"Pages:\s+(\d+)", poppler("pdfinfo", str(pdf)))[1])
    assert pages >= 3 and f"第1页/共{pages}页" in flat and f"第{pages}页/共{pages}页" in flat
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", poppler("pdfinfo", str(pdf)))
    fonts = poppler("pdffonts", str(pdf)).splitlines()[2:]
    cjk = [line for line in fonts if "CJK" in line]
    assert cjk, fonts
    assert all(line.split()[-5] == "yes" for line in cjk)  # emb column: embedded
    return flat


def test_report_pdf_has_the_first_screen_page_numbers_and_embedded_cjk_fonts(tmp_path):
    notebooks = write_run(write_results(tmp_path), [])
    html = build_report(notebooks, tmp_path / "report.html", title="2024年Q2 沉睡中价值客户激活计划", cover=COVER)
    pdf = write_report_pdf(html)
    assert pdf == tmp_path / "report.pdf" and not list(tmp_path.glob(".*.tmp"))
    flat = check_pdf(pdf, "结论先行", "本计划尚未审批(计划中没有审批记录)", "需要审批人决定", "2024年Q2 沉睡中价值客户激活计划",
                     "效果评估与复盘")
    assert flat.index("结论先行") < flat.index("目录")  # the first screen is the first page


def test_missing_report_is_one_line_in_chinese(tmp_path):
    with pytest.raises(PlanError, match=r"找不到复盘报告,无法生成 PDF"):
        write_report_pdf(tmp_path / "report.html")


def test_pdf_is_for_the_retrospective_report_not_the_pulse(capsys):
    plan = ROOT / "parameters" / "demo" / "2024Q2.yaml"
    assert main(["run", str(plan), "--as-of", "2024-05-01", "--pdf"]) == EXIT_FAILED
    assert capsys.readouterr().err.strip() == "错误: --pdf 只用于复盘报告,不能与 --as-of(中期检查)同时使用"


@pytest.mark.slow
def test_planlib_run_pdf_writes_report_pdf_of_the_published_run(tmp_path, capsys):
    plan = make_small_demo(tmp_path)
    assert main(["run", str(plan), "--pdf", "--output-root", str(tmp_path / "outputs")]) == 0
    folder = tmp_path / "outputs" / "demo" / "2024Q2"
    assert "PDF:" in capsys.readouterr().out
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="first-screen"' in html and "评估设计检查(计划 vs 实际)" in html
    check_pdf(folder / "report.pdf", "结论先行", "效果是否真实", "评估设计检查", "本计划尚未审批")
