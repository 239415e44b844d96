"""``planlib lab``: a real Jupyter server with the pre-save hook keeps the stage templates clean."""

from __future__ import annotations

import copy
import json
import os
import shutil
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

from forms.labserver import TOKEN, running_lab
from planlib.cli import main
from planlib.forms.lab import clean_notebook, is_stage_template


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    project = tmp_path_factory.mktemp("lab-project")
    shutil.copytree(ROOT / "workbooks", project / "workbooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (project / "parameters").mkdir()
    (project / "notes").mkdir()
    home = tmp_path_factory.mktemp("lab-home")
    with running_lab(project, home) as base:
        yield base, project


def _put(base: str, path: str, content: dict) -> None:
    body = json.dumps({"type": "notebook", "format": "json", "content": content}).encode()
    req = urllib.request.Request(f"{base}/api/contents/{path}", data=body, method="PUT",
                                 headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert r.status in (200, 201)


def _worked_on(nb: dict) -> dict:
    """The notebook as JupyterLab saves it after Run All: outputs, counts, run-time metadata."""
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = i + 1
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "客户 张三 13812345678\n"}]
        cell["metadata"]["execution"] = {"iopub.status.busy": "2024-04-01T00:00:00Z"}
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb["metadata"].setdefault("language_info", {})["version"] = "3.99.0"
    return nb


def test_saving_a_worked_on_stage_workbook_leaves_the_template_as_committed(server):
    base, project = server
    target = project / "workbooks" / "02_needs.ipynb"
    committed = json.loads(target.read_text(encoding="utf-8"))
    _put(base, "workbooks/02_needs.ipynb", _worked_on(committed))
    assert json.loads(target.read_text(encoding="utf-8")) == committed
    assert "13812345678" not in target.read_text(encoding="utf-8")


def test_a_changed_narrative_is_still_saved_without_outputs(server):
    base, project = server
    target = project / "workbooks" / "03_channels.ipynb"
    nb = _worked_on(json.loads(target.read_text(encoding="utf-8")))
    nb["cells"][0]["source"] = "# 阶段三 · 渠道(修订)\n"
    _put(base, "workbooks/03_channels.ipynb", nb)
    saved = json.loads(target.read_text(encoding="utf-8"))
    assert "".join(saved["cells"][0]["source"]) == "# 阶段三 · 渠道(修订)\n"
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in saved["cells"] if c["cell_type"] == "code")


def test_other_notebooks_keep_their_outputs(server):
    base, project = server
    nb = _worked_on(json.loads((ROOT / "workbooks" / "01_goals.ipynb").read_text(encoding="utf-8")))
    _put(base, "notes/my_analysis.ipynb", nb)
    saved = json.loads((project / "notes" / "my_analysis.ipynb").read_text(encoding="utf-8"))
    assert any(c.get("outputs") for c in saved["cells"] if c["cell_type"] == "code")


def test_only_a_projects_workbooks_folder_holds_templates(tmp_path):
    (tmp_path / "workbooks").mkdir()
    assert not is_stage_template(tmp_path / "workbooks" / "01_goals.ipynb")  # no parameters/ beside it
    (tmp_path / "parameters").mkdir()
    assert is_stage_template(tmp_path / "workbooks" / "01_goals.ipynb")
    assert not is_stage_template(tmp_path / "workbooks" / "notes.txt")


def test_clean_notebook_strips_what_a_session_adds():
    nb = {"cells": [{"cell_type": "code", "execution_count": 3, "outputs": [{"x": 1}],
                     "metadata": {"tags": ["parameters"], "scrolled": True}, "source": "x = 1"}],
          "metadata": {"widgets": {}, "kernelspec": {"name": "python3"}}}
    out = clean_notebook(nb)
    assert out["cells"][0] == {"cell_type": "code", "execution_count": None, "outputs": [],
                               "metadata": {"tags": ["parameters"]}, "source": "x = 1"}
    assert out["metadata"] == {"kernelspec": {"name": "python3"}}


def test_planlib_lab_starts_jupyterlab_with_the_hook(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(os, "execv", lambda exe, argv: calls.append(argv))
    monkeypatch.chdir(ROOT)
    assert main(["lab", "--port", "8899"]) == 0
    (argv,) = calls
    assert argv[1:3] == ["-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={ROOT}" in argv
    assert "--FileContentsManager.pre_save_hook=planlib.forms.lab.keep_templates_clean" in argv
    assert argv[-2:] == ["--port", "8899"]
    assert Path(argv[0]).name.startswith("python")
