"""Script injected through data and plan text never runs: the whole pipeline, then Chromium.

A copied small demo gets ``<script>``, ``<img onerror>`` and ``javascript:`` links in its
customer names (the CRM export), and in the goal, background, task and budget text of the plan.
The pipeline runs end to end; the report is opened in Debian's headless Chromium, which must see
no dialog, no request other than file:/data:, no console error — and the injected text must be
readable as text (customer names masked, as every customer name is).
"""

from __future__ import annotations

import re

import nbformat
import pandas as pd
import pytest
from conftest import make_small_demo
from ruamel.yaml import YAML

from planlib.data.demo import ensure_demo_data
from planlib.plan.planfile import load_plan
from planlib.publish.scan import scan_outputs
from planlib.run.runner import run_plan
from publish.test_report_browser import browser, open_report  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_MD = "[点我](javascript:alert(1))"
JS_A = '<a href="javascript:alert(1)">点我</a>'
PAYLOADS = (SCRIPT, IMG, JS_MD, JS_A)
# markup that would run: a script element, a handler attribute on any element, a javascript: link
MARKUP = re.compile(r"<script\b|<[a-z][^>]*\son\w+\s*=|<a\b[^>]*href=[\"']?\s*javascript:", re.I)
CSP = ("default-src 'none'", "img-src data:", "style-src 'unsafe-inline'", "font-src data:")


def _inject_plan(plan_path):
    yaml = YAML()
    doc = yaml.load(plan_path.read_text(encoding="utf-8"))
    doc["meta"]["title"] = f"{SCRIPT}激活计划"
    doc["background"]["market"] = f"市场 {IMG}"
    doc["background"]["competitors"] = f"竞品 {JS_MD}"
    doc["background"]["internal"] = f"内部 {JS_A}"
    doc["goals"][0]["name"] = f"{SCRIPT}" + doc["goals"][0]["name"]
    doc["goals"][1]["relevance"] = f"{IMG} 参与是复购的前提"
    doc["tasks"][0]["name"] = f"{IMG}客户数据筛选"
    doc["tasks"][1]["done_when"] = f"{JS_MD} 物料终稿"
    # "$" in a chart label is text: were it mathtext, the unknown macro would fail stage 04's Gantt chart
    doc["tasks"][2]["name"] = "$\\zzz$ 邀约"
    doc["budget"]["lines"][0]["note"] = SCRIPT
    doc["review"]["actions"][0]["measure"] = f"{JS_A} 增加短信提醒"
    with plan_path.open("w", encoding="utf-8") as fh:
        yaml.dump(doc, fh)


def _inject_customers(plan_path):
    loaded = load_plan(plan_path)
    ensure_demo_data(loaded.plan.data, loaded.base_dir)
    path = loaded.resolve(loaded.plan.data.customers.path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    name = frame.columns[1]
    frame[name] = [f"{PAYLOADS[i % len(PAYLOADS)]}" for i in range(len(frame))]
    frame.to_csv(path, index=False, encoding="utf-8-sig")  # edited by hand: the generator keeps it


@pytest.fixture(scope="module")
def injected_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("xss")
    plan = make_small_demo(folder)
    _inject_plan(plan)
    _inject_customers(plan)
    result = run_plan(plan, output_root=folder / "outputs", log=lambda line: None)
    assert result.report.is_file()
    return result


def test_the_injected_plan_and_data_run_through(injected_run):
    assert injected_run.ok, [(s.stage, s.status, s.error) for s in injected_run.stages]


def test_executed_notebooks_hold_injected_text_only_escaped(injected_run):
    """The kernel view (JupyterLab) renders text/html outputs too: they must be inert."""
    seen_escaped = False
    for path in sorted(injected_run.folder.glob("0*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                html = output.get("data", {}).get("text/html", "")
                assert not MARKUP.search(html), (path.name, MARKUP.search(html))
                seen_escaped |= "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert seen_escaped


def test_the_report_carries_a_strict_csp_and_no_markup_from_data(injected_run):
    html = injected_run.report.read_text(encoding="utf-8")
    metas = [m for m in re.findall(r"<meta\b[^>]*>", html) if 'http-equiv="Content-Security-Policy"' in m]
    assert len(metas) == 1, "the report needs exactly one Content-Security-Policy meta"
    policy = re.search(r'content="([^"]+)"', metas[0])[1]
    assert [d.strip() for d in policy.split(";")] == list(CSP)  # nothing else: no script-src, no connect-src
    assert not MARKUP.search(html), MARKUP.search(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_published_run_holds_no_unmasked_customer_data(injected_run):
    """Customer names are masked by the stages, so the pre-publish scan lets the run through.
    (A phone number typed into the plan fails the run instead: tests/test_faults.py.)"""
    assert scan_outputs(injected_run.folder) == []


def test_nothing_runs_in_chromium_and_the_text_is_visible(browser, injected_run):  # noqa: F811
    page, seen = open_report(browser, injected_run.report)
    try:
        page.wait_for_timeout(500)  # give any injected handler the chance to fire
        assert seen["dialogs"] == []
        assert seen["errors"] == []
        assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
        assert page.locator("script, iframe, object, embed").count() == 0
        assert page.locator("[onerror], [onload], [onclick]").count() == 0
        assert page.locator('a[href^="javascript:" i]').count() == 0
        images = page.locator("img")
        assert page.evaluate("[...document.images].every(i => i.src.startsWith('data:'))"), images.count()

        # the plan's text reads as typed
        assert SCRIPT in page.locator(".pl-doc-title").inner_text()
        for text in (f"市场 {IMG}", f"竞品 {JS_MD}", f"内部 {JS_A}", f"{IMG}客户数据筛选", f"{JS_A} 增加短信提醒"):
            assert page.get_by_text(text, exact=False).first.is_visible(), text
        body = page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body")
        assert SCRIPT in body and IMG in body and JS_MD in body

        # customer names from the CRM export: shown masked, as text
        masked = [m for m in (f"{p[0]}{'*' * (len(p) - 1)}" for p in PAYLOADS) if m in body]
        assert masked, "the example customers of stage 02 should show masked names"
        for payload in PAYLOADS:
            assert f"<td>{payload}</td>" not in body
    finally:
        page.close()
