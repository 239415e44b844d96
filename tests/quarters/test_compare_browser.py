"""The comparison pages in Debian's headless Chromium: nothing loads from outside, nothing runs,
the relative links lead to the units' reports. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from publish.test_report_browser import ARTIFACTS, browser, open_report  # noqa: F401 — the browser fixture

from planlib.quarters.compare import compare
from quarters.test_compare import outputs  # noqa: F401 — the fixture of fake published runs

pytestmark = pytest.mark.browser


def test_trend_and_portfolio_pages_render_offline(browser, outputs):  # noqa: F811
    compare(root=outputs)
    ARTIFACTS.mkdir(exist_ok=True)
    for page_path, shot in ((outputs / "demo" / "trend.html", "compare-trend.png"),
                            (outputs / "portfolio-2024Q2.html", "compare-portfolio.png")):
        page, seen = open_report(browser, page_path)
        try:
            page.wait_for_timeout(200)
            assert seen["errors"] == [] and seen["dialogs"] == []
            assert all(url.startswith(("file:", "data:")) for url in seen["requests"]), seen["requests"]
            assert page.locator("html").get_attribute("lang") == "zh-CN"
            assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            assert "Noto Sans CJK SC" in page.evaluate("getComputedStyle(document.body).fontFamily")
            page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
        finally:
            page.close()
    page, seen = open_report(browser, outputs / "portfolio-2024Q2.html")
    try:
        assert page.get_by_text("华东<零售>事业部").first.is_visible()  # a name with markup shows as text
        page.locator('a[href="demo/2024Q2/report.html"]').first.click()
        page.wait_for_load_state()
        assert page.url.endswith("/demo/2024Q2/report.html")
    finally:
        page.close()
