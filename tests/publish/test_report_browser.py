"""The built report in Debian's headless Chromium: nothing loads, nothing runs, all is visible.

Screenshots go to test-artifacts/ (git-ignored) for a person to look at the Chinese rendering.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from planlib.publish.report import build_report
from publish import test_report
from publish.test_report import COVER, write_run

chart_pngs = test_report.chart_pngs  # the same twelve real charts, as a fixture here too

CHROMIUM = Path("/usr/bin/chromium")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium); "
                    "never `playwright install`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
        yield browser
        browser.close()


def open_report(browser, path: Path):
    """Open ``path`` and record every request, console error, page error and dialog."""
    seen = {"requests": [], "errors": [], "dialogs": []}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))

    def on_dialog(dialog):
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(path.as_uri(), wait_until="load")
    return page, seen


def test_report_is_inert_self_contained_and_readable(browser, tmp_path, chart_pngs):
    out = build_report(write_run(tmp_path, chart_pngs), tmp_path / "report.html",
                       title="2024年Q2 沉睡中价值客户激活计划", cover=COVER)
    page, seen = open_report(browser, out)
    try:
        page.wait_for_timeout(300)  # give any injected handler the chance to fire
        assert seen["dialogs"] == []
        assert seen["errors"] == []
        assert seen["requests"], "the page itself should have been requested"
        assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]

        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.locator(".pl-doc-title").inner_text() == "2024年Q2 沉睡中价值客户激活计划"
        for n in range(1, 6):
            assert page.locator(f"#stage-{n} .pl-stage-title").is_visible()
        assert page.locator(".pl-banner").count() == 0
        # the injected markup is visible as text, never as elements
        assert page.get_by_text("<script>alert(1)</script>").first.is_visible()
        assert page.locator("main script, main iframe").count() == 0
        images = page.locator("img")
        assert images.count() == 12
        assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        family = page.evaluate("getComputedStyle(document.body).fontFamily")
        assert "Noto Sans CJK SC" in family

        page.locator('.pl-toc a[href="#stage-4"]').click()
        assert page.evaluate("location.hash") == "#stage-4"
        assert page.locator("#stage-4 .pl-stage-title").is_visible()

        ARTIFACTS.mkdir(exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ARTIFACTS / "report-top.png"))
        page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
    finally:
        page.close()
    assert seen["dialogs"] == [] and seen["errors"] == []


def test_failed_report_shows_the_banner_first(browser, tmp_path, chart_pngs):
    out = build_report(write_run(tmp_path, chart_pngs, fail_last=True), tmp_path / "report.html",
                       title="2024年Q2 沉睡中价值客户激活计划", cover=COVER, status="failed",
                       failure="阶段 05_review 执行失败: DataError")
    page, seen = open_report(browser, out)
    try:
        banner = page.locator(".pl-banner")
        assert banner.is_visible()
        assert banner.bounding_box()["y"] < 100
        assert "本次运行失败" in banner.inner_text()
        assert page.locator("#stage-5 .pl-error").is_visible()
        assert seen["errors"] == [] and seen["dialogs"] == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-failed-top.png"))
    finally:
        page.close()


def test_demo_report_opens_offline_with_every_stage(browser, demo_run):
    """The real report of a demo run: no request leaves the machine, no error, five stages."""
    result, _, _ = demo_run
    page, seen = open_report(browser, result.report)
    try:
        page.wait_for_timeout(300)
        assert seen["dialogs"] == [] and seen["errors"] == []
        assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
        for n in range(1, 6):
            assert page.locator(f"#stage-{n} .pl-stage-title").is_visible()
        assert page.locator(".pl-banner").count() == 0
        assert page.get_by_text("活动效果评估表").first.is_visible()
        assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        assert page.locator("img").count() >= 9  # one chart per figure the stages draw
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo-report.png"), full_page=True)
    finally:
        page.close()


@pytest.mark.parametrize(("device", "width", "height"), [("desktop", 1400, 900), ("phone", 390, 844)])
def test_first_screen_is_in_the_first_viewport_and_fits_the_width(browser, tmp_path, chart_pngs, device, width,
                                                                   height):
    from publish.test_firstscreen import write_results

    out = build_report(write_run(write_results(tmp_path), chart_pngs), tmp_path / "report.html",
                       title="2024年Q2 沉睡中价值客户激活计划", cover=COVER)
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(out.as_uri(), wait_until="load")
        first = page.locator("#first-screen")
        box = first.bounding_box()
        assert first.is_visible() and 0 <= box["y"] < 40  # the reviewer's first screen opens the page
        for part in ("结论先行", "本计划尚未审批", "目标与 KPI", "效果是否真实"):
            top = page.get_by_text(part, exact=False).first.bounding_box()["y"]
            assert top < height, (part, top)  # readable without scrolling
        if device == "desktop":  # the whole screen, decisions included, in one desktop viewport
            assert box["y"] + box["height"] <= height
        overflow = page.evaluate("""() => {
            const w = document.documentElement.clientWidth;
            const wide = [...document.querySelectorAll('#first-screen *, .pl-cover *')]
              .filter(e => e.getBoundingClientRect().right > w + 0.5).map(e => e.className || e.tagName);
            return {page: document.documentElement.scrollWidth - w, wide};
        }""")
        assert overflow == {"page": 0, "wide": []}
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report-first-screen-{device}.png"))
    finally:
        page.close()
