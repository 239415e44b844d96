"""planlib.publish.report: one self-contained, script-free HTML document from the stage notebooks."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from planlib.publish import display
from planlib.publish.report import _exporter, build_report, clean_html
from planlib.stages.execution import charts as execution_charts
from planlib.stages.goals import charts as goals_charts
from planlib.stages.review import charts as review_charts

STAGES = ["01_goals", "02_needs", "03_channels", "04_execution", "05_review"]
ATTACK_ROWS = pd.DataFrame({
    "customer_id": ["C001", "C002", "C003"],
    "name": ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "张*"],
    "monetary": [15000.0, 1234.5, 99.0],
    "status": ["超达成", "未达成", "达成"],
})
COVER = [("单位", "演示零售事业部"), ("季度", "2024Q2"), ("负责人", "王经理 <script>alert(1)</script>"),
         ("计划周期", "2024-04-01 至 2024-06-30")]


@pytest.fixture(scope="module")
def chart_pngs() -> list[str]:
    """Twelve real chart PNGs, base64 as notebooks store them."""
    figs = [
        execution_charts.budget_chart(pd.DataFrame({"category": ["物料费", "礼品费", "推广费"],
                                          "planned": [3000.0, 4000, 2000], "actual": [2800.0, 4200, 1700]})),
        review_charts.funnel(pd.DataFrame({"step": ["目标客户", "触达", "参与", "复购"],
                                    "customers": [400, 380, 180, 45]})),
        goals_charts.timeline([("预热期", "2024-04-01", "2024-04-15"), ("执行期", "2024-04-16", "2024-06-15")],
                        ("2024-04-01", "2024-06-30")),
    ]
    pngs = [base64.b64encode(display.png_bytes(f)).decode() for f in figs]
    return [pngs[i % len(pngs)] for i in range(12)]


def stage_notebook(stage: str, pngs: list[str], *, fail: bool = False) -> nbformat.NotebookNode:
    """An executed stage notebook as papermill leaves it, with every kind of output."""
    cells = [
        new_markdown_cell(f"# {stage} 工作簿\n\n本阶段的说明文字。<script>alert('md')</script>"
                          "[官网](https://example.com/x) ![外部图](http://example.com/a.png)"),
        new_code_cell("plan = 'demo.yaml'", metadata={"tags": ["parameters"]},
                      outputs=[new_output("stream", name="stdout", text="PARAMETERS-CELL-OUTPUT\n")]),
        new_code_cell("plan = 'east.yaml'", metadata={"tags": ["injected-parameters"]},
                      outputs=[new_output("stream", name="stdout", text="INJECTED-CELL-OUTPUT\n")]),
        new_code_cell("debug()", metadata={"tags": ["report-hide"]},
                      outputs=[new_output("stream", name="stdout", text="HIDDEN-CELL-OUTPUT\n")]),
        new_markdown_cell("## 1. 客户明细"),
        new_code_cell("show_table(df)", outputs=[new_output("display_data", data={
            "text/html": f"<style>{display.CSS}</style>" + display.html_table(ATTACK_ROWS, title="客户明细"),
            "text/plain": "客户明细"})]),
        new_code_cell("chart()", outputs=[
            new_output("stream", name="stderr", text="STDERR-NOISE\n"),
            *[new_output("display_data", data={"image/png": p, "text/plain": "<Figure>"}) for p in pngs],
        ]),
        new_code_cell("x = 1"),
    ]
    if fail:
        cells.append(new_code_cell("raise DataError", outputs=[new_output(
            "error", ename="DataError", evalue="数据文件 orders.csv 缺少列「消费金额」<b>",
            traceback=["\x1b[0;31mDataError\x1b[0m: 数据文件 orders.csv 缺少列"])]))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def write_run(folder: Path, pngs: list[str], *, fail_last: bool = False) -> list[Path]:
    """Write five executed stage notebooks; the charts are spread over them."""
    paths = []
    for i, stage in enumerate(STAGES):
        nb = stage_notebook(stage, pngs[i * 3:(i + 1) * 3], fail=fail_last and i == len(STAGES) - 1)
        path = folder / f"{stage}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def report(tmp_path_factory, chart_pngs) -> str:
    folder = tmp_path_factory.mktemp("run")
    out = build_report(write_run(folder, chart_pngs), folder / "out" / "report.html",
                       title="2024年Q2 沉睡中价值客户激活计划", cover=COVER)
    return out.read_text(encoding="utf-8")


class Tags(HTMLParser):
    """The real tags and attributes of a page (escaped text in cells is not markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def parse(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def test_no_script_and_nothing_external(report):
    assert "<script" not in report.lower()
    tags = parse(report)
    assert not [t for t, _ in tags if t in {"script", "iframe", "object", "embed", "link"}]
    for tag, attrs in tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for name in ("src", "href"):
            if name in attrs:
                assert attrs[name].startswith(("#", "data:")), (tag, attrs[name][:80])
    assert not re.search(r"url\(\s*['\"]?(?!data:)", report)
    assert "@import" not in report
    assert "http://" not in report and "https://" not in report


def test_content_security_policy_and_language(report):
    assert ('<meta content="default-src \'none\'; img-src data:; style-src \'unsafe-inline\'; '
            'font-src data:" http-equiv="Content-Security-Policy"/>') in report
    assert '<html lang="zh-CN">' in report
    assert '"Noto Sans CJK SC"' in report and '"Microsoft YaHei"' in report
    assert "@media print" in report


def test_cover_toc_and_sections(report):
    assert "2024年Q2 沉睡中价值客户激活计划" in report
    assert "<th>计划周期</th><td>2024-04-01 至 2024-06-30</td>" in report
    assert "王经理 &lt;script&gt;alert(1)&lt;/script&gt;" in report
    assert "生成时间" in report and "已完成" in report
    for n, title in enumerate(["项目背景与目标", "客户分层与需求分析", "互动渠道选择", "实施计划", "效果评估与复盘"], 1):
        assert f'<a href="#stage-{n}">' in report
        assert f'<section class="pl-stage pl-stage-ok" id="stage-{n}">' in report
        assert title in report
    # stages stay in the order given
    assert report.index('id="stage-1"') < report.index('id="stage-3"') < report.index('id="stage-5"')
    assert "本阶段的说明文字" in report and "1. 客户明细" in report
    assert "工作簿" not in report  # the workbook's own title gives way to the section heading


def test_hidden_cells_stderr_and_code_are_dropped(report):
    for text in ("PARAMETERS-CELL-OUTPUT", "INJECTED-CELL-OUTPUT", "HIDDEN-CELL-OUTPUT", "STDERR-NOISE",
                 "show_table(df)", "x = 1", "In&nbsp;["):
        assert text not in report


def test_tables_charts_and_escaped_data(report):
    assert report.count('<img alt="图表" src="data:image/png;base64,') == 12
    assert "&lt;img src=x onerror=alert(1)&gt;" in report
    assert "pl-badge-over" in report and "15,000" in report
    assert "<style>" not in report.split("</head>")[1]  # display's per-output CSS is folded into the head


def test_markdown_html_and_outside_links_are_neutralised(report):
    assert "alert('md')" not in report
    assert "官网" in report and "example.com" not in report


def test_failed_stage_shows_its_error_and_a_red_banner(tmp_path, chart_pngs):
    paths = write_run(tmp_path, chart_pngs, fail_last=True)
    html = build_report(paths, tmp_path / "report.html", title="计划", cover=COVER).read_text("utf-8")
    assert 'class="pl-banner"' in html and "本次运行失败" in html
    assert "阶段「效果评估与复盘」执行出错" in html
    assert "执行错误:DataError" in html
    assert "数据文件 orders.csv 缺少列「消费金额」&lt;b&gt;" in html
    assert "\x1b" not in html and "[0;31m" not in html
    assert '<span class="pl-flag">出错</span>' in html
    assert "已完成" not in html


def test_status_failed_with_message(tmp_path, chart_pngs):
    paths = write_run(tmp_path, chart_pngs)
    html = build_report(paths[:2] + [tmp_path / "03_channels_missing.ipynb"], tmp_path / "r.html",
                        title="计划", cover=COVER, status="failed",
                        failure="阶段 03 执行失败: <img src=x onerror=alert(1)>").read_text("utf-8")
    assert html.index('class="pl-banner"') < html.index('class="pl-cover"')
    assert "阶段 03 执行失败: &lt;img src=x onerror=alert(1)&gt;" in html
    assert "<title>【运行失败】计划</title>" in html
    assert "未运行" in html


def test_unknown_status_is_refused(tmp_path):
    with pytest.raises(ValueError):
        build_report([], tmp_path / "r.html", title="t", cover=[], status="done")


def test_size_stays_small_with_twelve_charts(tmp_path, chart_pngs):
    out = build_report(write_run(tmp_path, chart_pngs), tmp_path / "r.html", title="t", cover=COVER)
    size = out.stat().st_size
    assert size < 3_000_000
    images = sum(len(p) for p in chart_pngs)
    assert size - images < 60_000, "page overhead beyond the images should stay tiny"


def test_write_is_atomic_and_second_build_reuses_the_exporter(tmp_path, chart_pngs):
    # how long the second build takes: benchmarks/bench_hotpaths.py
    paths = write_run(tmp_path, chart_pngs)
    out = tmp_path / "r.html"
    build_report(paths, out, title="t", cover=COVER)
    loaded = _exporter.cache_info().misses
    build_report(paths, out, title="t", cover=COVER)
    assert _exporter.cache_info().misses == loaded  # the exporter and its templates are reused
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp" or p.name.startswith(".")] == []


@pytest.mark.parametrize("fragment", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '<a href="javascript:alert(1)">x</a>',
    '<iframe src="https://e.com"></iframe>', '<div style="background:url(https://e.com/t.png)">x</div>',
    "<svg><script>alert(1)</script></svg>", '<img src="https://e.com/p.png">',
])
def test_clean_html_keeps_nothing_active(fragment):
    cleaned = clean_html(fragment).lower()
    for bad in ("<script", "onerror", "javascript:", "<iframe", "url(", "https:", "<svg"):
        assert bad not in cleaned


def test_clean_html_keeps_tables_and_classes():
    html = display.html_table(ATTACK_ROWS)
    assert clean_html(html) == html
