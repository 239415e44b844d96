"""Fixtures of the forms' browser tests (see ``browserkit.py``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, make_small_demo

from forms.browserkit import CHROME_ARGS, CHROME_ENV, CHROMIUM, LOCALE, STAGES
from forms.labserver import TOKEN, lab_settings, running_lab


# ----------------------------------------------------------------------------- server and browser
@pytest.fixture
def demo(tmp_path) -> Path:
    """The demo plan (and the base it extends) copied to a folder of the test's own."""
    for name in ("base.yaml", "2024Q2.yaml"):
        shutil.copy(ROOT / "parameters" / "demo" / name, tmp_path / name)
    return tmp_path / "2024Q2.yaml"


@pytest.fixture(scope="module")
def nb_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("forms-lab")


@pytest.fixture(scope="module")
def lab(nb_root, tmp_path_factory):
    home = tmp_path_factory.mktemp("forms-jhome")
    with running_lab(nb_root, home, lab_settings(home)) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (never `playwright install`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS, env={**os.environ, **CHROME_ENV})
        yield browser
        browser.close()


def _api(lab: str, path: str, method: str = "GET"):
    req = urllib.request.Request(f"{lab}{path}", method=method, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(req) as r:
        body = r.read()
    return json.loads(body) if body else None


@pytest.fixture
def project(nb_root, request, lab):
    """A project copy per test (workbooks/ + parameters/demo/); its kernel is shut down afterwards."""
    folder = nb_root / re.sub(r"\W+", "_", request.node.name)
    (folder / "workbooks").mkdir(parents=True)
    make_small_demo(folder, customers=300)
    for stage in STAGES:
        shutil.copy(ROOT / "workbooks" / f"{stage}.ipynb", folder / "workbooks")
    yield folder
    for session in _api(lab, "/api/sessions"):
        if session["path"].startswith(folder.name + "/"):
            _api(lab, f"/api/sessions/{session['id']}", "DELETE")


@pytest.fixture
def page(browser):
    from playwright.sync_api import expect

    # each check waits on a round trip through the kernel (widget sync, validation, reply):
    # Playwright's 5 s default is too short when JupyterLab, the kernel and Chromium share 2 cores
    expect.set_options(timeout=30_000)
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale=LOCALE)
    page.set_default_timeout(60_000)
    page.console_errors = []  # what JupyterLab logged, shown when a field never appears
    page.on("console", lambda m: m.type in ("error", "warning") and page.console_errors.append(m.text[:300]))
    page.on("pageerror", lambda e: page.console_errors.append(f"pageerror: {str(e)[:300]}"))
    yield page
    page.close()


