"""``planlib proposal PLAN`` end to end on a small demo: HTML, PDF and DOCX from one source."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from docx import Document
from docx.oxml.ns import qn

from planlib.cli import main
from planlib.proposal.content import PARTS
from tests.conftest import ROOT, make_small_demo

TEMPLATE_COLUMNS = {
    1: ["客户编号", "客户名称", "所属层级", "分层依据", "核心需求", "维护策略建议"],
    2: ["阶段", "任务内容", "负责人", "开始", "结束", "完成标准", "依赖资源"],
    3: ["预算科目", "明细说明", "预算金额", "实际支出", "差异说明"],
    4: ["评估维度", "核心指标", "目标值", "实际值", "达成情况", "分析与改进建议"],
}


def small_q3(folder: Path, customers: int = 800) -> Path:
    """The small demo company with the 2024Q3 plan (its approval, A/B tests and G1) beside 2024Q2."""
    q2 = make_small_demo(folder, customers)
    shutil.copy(ROOT / "parameters/demo/2024Q3.yaml", q2.with_name("2024Q3.yaml"))
    return q2.with_name("2024Q3.yaml")


def _poppler(tool: str, *args: str) -> str:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: install Debian's poppler-utils (make test does)")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("proposal")
    plan = small_q3(folder)
    code = main(["proposal", str(plan), "--output-root", str(folder / "outputs")])
    assert code == 0
    return folder / "outputs" / "demo" / "2024Q3" / "proposal", plan


def test_three_files_are_written(made, capsys):
    out, _ = made
    assert sorted(p.name for p in out.iterdir()) == ["proposal.docx", "proposal.html", "proposal.pdf"]


def test_html_is_offline_and_holds_the_six_parts(made):
    html = (made[0] / "proposal.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert re.search(r'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'', html)
    assert not re.search(r'(src|href)="(?!data:|#)', html)  # nothing loaded from outside
    heads = re.findall(r'<h2 class="pl-stage-title">(?:<span class="pl-stage-no">.</span>)?([^<]+)</h2>', html)
    assert heads == ["结论先行", *PARTS]
    for n in range(1, 5):
        assert f'data-template="{n}"' in html
    assert "修改后通过" in html and "王总(客户互动委员会主任)" in html  # the approval on the cover
    assert "请求决策" in html and "评估设计结论" in html


def test_pdf_text_fonts_and_page_numbers(made):
    pdf = made[0] / "proposal.pdf"
    text = _poppler("pdftotext", "-layout", str(pdf), "-")
    for title in PARTS:
        assert title in text
    assert "客户互动管理策划书" in text and "结论先行" in text
    for n in range(1, 5):
        assert f"模板{n}" in text
    pages = int(re.search(r"Pages:\s+(\d+)", _poppler("pdfinfo", str(pdf)))[1])
    assert pages >= 7
    flat = re.sub(r"\s", "", text)  # pdftotext may or may not keep the spaces
    assert f"第2页/共{pages}页" in flat and "第1页" not in flat  # the cover carries no number
    fonts = _poppler("pdffonts", str(pdf)).splitlines()[2:]
    cjk = [line for line in fonts if "CJK" in line]
    assert cjk, fonts
    assert all(line.split()[-5] == "yes" for line in cjk)  # emb column: embedded


def test_pdf_pages_render(made, tmp_path):
    _poppler("pdftoppm", "-r", "40", "-f", "1", "-l", "2", "-png", str(made[0] / "proposal.pdf"), str(tmp_path / "p"))
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == 2 and all(p.stat().st_size > 5_000 for p in pngs)


def test_docx_has_templates_as_word_tables(made):
    doc = Document(str(made[0] / "proposal.docx"))
    headers = {tuple(c.text for c in t.rows[0].cells): t for t in doc.tables}
    for n, columns in TEMPLATE_COLUMNS.items():
        assert tuple(columns) in headers, f"template {n} is not a Word table"
        table = headers[tuple(columns)]
        assert len(table.rows) > 1
        assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None  # header repeats on each page
    t4 = headers[tuple(TEMPLATE_COLUMNS[4])]
    rows = [[c.text for c in r.cells] for r in t4.rows[1:]]
    assert all(r[3] == r[4] == "" for r in rows) and any(r[2].startswith("≥") for r in rows)
    h1 = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert h1 == ["结论先行", *(f"{n}、{t}" for n, t in zip("一二三四五六", PARTS, strict=True))]
    assert len(doc.inline_shapes) >= 4  # the charts
    east = doc.styles["Normal"].element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia"))
    assert east == "微软雅黑"
    footer = doc.sections[1].footer.paragraphs[0]._p.xml
    assert "PAGE" in footer and "NUMPAGES" in footer
    assert "PAGE" not in doc.sections[0].footer.paragraphs[0]._p.xml


def test_validate_warns_but_passes(made, capsys):
    _, plan = made
    assert main(["validate", str(plan)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "校验通过" in out[0]
    warn = [line for line in out if "警告: 目标 G1" in line]
    assert len(warn) == 1 and "按计划无法检测目标变化" in warn[0]


class _Stop(Exception):
    pass


def test_data_inside_the_period_is_never_read(made, monkeypatch):
    """The frames the proposal computes on end the day before the period, though the exports go on."""
    from datetime import date

    from planlib.proposal import build as build_module
    from planlib.run.pulse import frames_as_of

    _, plan = made
    seen = {}

    def capture(loaded, frames):
        seen.update(frames)
        raise _Stop

    monkeypatch.setattr(build_module, "build", capture)
    with pytest.raises(_Stop):
        build_module.write_proposal(plan)
    full = frames_as_of(build_module.load_plan(plan), date(2100, 1, 1))
    full["transactions"] = full["transactions"].frame
    cut = pd.Timestamp("2024-07-01")  # period start of 2024Q3
    events = {"transactions": "order_date", "interactions": "sent_at", "surveys": "survey_date",
              "tickets": "created_at"}
    checked = 0
    for name, column in events.items():
        frame = getattr(seen.get(name), "frame", seen.get(name))  # the orders come as metrics.orders.FrameOrders
        if frame is not None and column in frame.columns:
            assert (full[name][column] >= cut).any(), f"the demo's {name} should reach into the period"
            assert not (frame[column] >= cut).any(), name
            checked += 1
    assert checked >= 3


def test_user_mistakes_are_one_chinese_line(tmp_path, capsys):
    assert main(["proposal", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.yaml" in err[0] and "文件不存在" in err[0]


def test_unreadable_data_is_one_error_line(made, tmp_path, capsys):
    """Data that cannot be read: validate lists it (and checks no design), proposal says it in one line."""
    _, made_plan = made
    shutil.copytree(made_plan.parents[2], tmp_path / "p", ignore=shutil.ignore_patterns("demo", "proposal"))
    shutil.copytree(made_plan.parents[2] / "parameters", tmp_path / "p" / "parameters", dirs_exist_ok=True)
    data = made_plan.parents[2] / "outputs" / "demo_data" / "demo"
    shutil.copytree(data, tmp_path / "p" / "outputs" / "demo_data" / "demo")
    (tmp_path / "p" / "outputs" / "demo_data" / "demo" / "customers.csv").write_text("甲,乙\n1,2\n", encoding="utf-8")
    plan = tmp_path / "p" / "parameters" / "demo" / "2024Q3.yaml"
    assert main(["validate", str(plan)]) == 2
    captured = capsys.readouterr()
    assert "customers.csv" in captured.err and "警告" not in captured.out
    assert main(["proposal", str(plan), "--output-root", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("错误: ") and "customers.csv" in err[0]


def test_a_full_run_keeps_the_proposal(tmp_path):
    from planlib.run.folder import carry_over

    published, staging = tmp_path / "2024Q3", tmp_path / ".2024Q3.staging"
    (published / "proposal").mkdir(parents=True)
    (published / "proposal" / "proposal.pdf").write_bytes(b"%PDF-1.7 approved version")
    (published / "report.html").write_text("old report", encoding="utf-8")
    staging.mkdir()
    carry_over(published, staging)
    assert (staging / "proposal" / "proposal.pdf").read_bytes() == b"%PDF-1.7 approved version"
    assert not (staging / "report.html").exists()  # the run's own files are not carried over


def test_unmasked_personal_data_is_never_written(made, tmp_path, capsys):
    _, made_plan = made
    shutil.copytree(made_plan.parents[2] / "parameters", tmp_path / "parameters")
    shutil.copytree(made_plan.parents[2] / "outputs" / "demo_data", tmp_path / "outputs" / "demo_data")
    plan = tmp_path / "parameters" / "demo" / "2024Q3.yaml"
    text = plan.read_text(encoding="utf-8")
    plan.write_text(text.replace("internal: 公司年度战略", "internal: 联系王经理 13812345678;公司年度战略"), encoding="utf-8")
    assert main(["proposal", str(plan), "--output-root", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "未脱敏的手机号" in err and "13812345678" not in err
    folder = tmp_path / "o" / "demo" / "2024Q3" / "proposal"
    assert not folder.exists() or not any(folder.iterdir())


def test_cadence_is_labelled_as_such(made):
    html = (made[0] / "proposal.html").read_text(encoding="utf-8")
    strategy = html[html.index('id="part-4"'):html.index('id="part-5"')]
    assert "<th>频次</th>" in strategy and "消费次数" not in strategy  # a channel's frequency, not purchases
    assert "每周1次" in strategy and "活动前1次" in strategy  # the channel plan's cadence per channel
    assert "T4" in strategy  # and the tasks of each phase


def test_an_orders_only_unit_gets_its_proposal(tmp_path, capsys):
    """A plan without data.customers (the shop demo: one XLSX orders export): customers come from the orders."""
    shutil.copytree(ROOT / "parameters" / "shop", tmp_path / "parameters" / "shop")
    base = tmp_path / "parameters" / "shop" / "base.yaml"
    base.write_text(re.sub(r"customers: \d+", "customers: 400", base.read_text(encoding="utf-8")), encoding="utf-8")
    plan = tmp_path / "parameters" / "shop" / "2024Q2.yaml"
    assert main(["proposal", str(plan), "--output-root", str(tmp_path / "o")]) == 0
    html = (tmp_path / "o" / "shop" / "2024Q2" / "proposal" / "proposal.html").read_text(encoding="utf-8")
    assert 'data-template="1"' in html and "评估与反馈机制" in html
