"""The shared kernel and the papermill engine that runs stages in it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
from conftest import ROOT
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from planlib.data.results import STAGES
from planlib.run.kernel import KernelSession, workbook_imports
from planlib.run.paths import workbook_path, workbooks_dir


def _notebook(path: Path, *sources: str, parameters: int | None = None) -> Path:
    """A workbook-like notebook: a title, code cells (the ``parameters``-th one tagged so)."""
    cells = [new_code_cell(s, metadata={"tags": ["parameters"]} if i == parameters else {})
             for i, s in enumerate(sources)]
    nb = new_notebook(cells=[new_markdown_cell("# 标题"), *cells], metadata={
        "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
        "language_info": {"name": "python"}})
    nbformat.write(nb, path)
    return path


def _ask(session: KernelSession, code: str) -> str:
    """Run ``code`` in the session's kernel through nbclient; the text it printed."""
    from nbclient import NotebookClient

    nb = new_notebook(cells=[new_code_cell(code)])
    client = NotebookClient(nb, km=session.km, timeout=30)
    client.kc = session.kc
    client.execute()
    return "".join(o.get("text", "") for o in nb.cells[0].outputs)


def test_workbook_imports_are_the_import_statements_of_code_cells(tmp_path):
    first = _notebook(tmp_path / "a.ipynb", "import json\nfrom pathlib import Path\nx = 1", "%matplotlib inline",
                      "def f():\n    import csv")
    second = _notebook(tmp_path / "b.ipynb", "import json\nimport textwrap as tw")
    (tmp_path / "broken.ipynb").write_text("{not json", encoding="utf-8")
    found = workbook_imports([first, tmp_path / "broken.ipynb", tmp_path / "missing.ipynb", second])
    # in order, each once; the magic cell and the import inside a function are not warm-up
    assert found == ["import json", "from pathlib import Path", "import textwrap as tw"]


def test_the_stage_workbooks_warm_up_planlib_and_its_libraries():
    found = workbook_imports(workbook_path(s) for s in STAGES)
    assert any(line.startswith("from planlib.stages.") and "charts" in line for line in found)
    assert "from planlib.run.stage import open_stage" in found


def test_warm_up_imports_stay_loaded_but_their_names_do_not(tmp_path):
    # a line that fails is passed over: the stage that needs it fails on its own import, visibly
    warm = ["import no_such_module_anywhere", "import json", "import textwrap as tw"]
    session = KernelSession(tmp_path, log_path=tmp_path / "kernel.log", warm_up=warm).start()
    try:
        loaded = _ask(session, "import sys, gc\nprint('textwrap' in sys.modules, 'tw' in dir(), gc.get_freeze_count() > 0)")
        assert loaded.split() == ["True", "True", "True"]  # one failing line did not stop the rest
        session.reset()
        after = _ask(session, "import sys\nprint('textwrap' in sys.modules, 'tw' in dir(), 'json' in dir())")
        assert after.split() == ["True", "False", "False"]
    finally:
        session.stop()


def test_a_kernel_that_cannot_start_fails_when_waited_for_not_when_launched(tmp_path):
    session = KernelSession(tmp_path, kernel_name="no-such-kernel").launch()  # no exception yet
    from jupyter_client.kernelspec import NoSuchKernel

    with pytest.raises(NoSuchKernel):
        session.wait_ready()
    session.stop()


@pytest.fixture
def session():
    with KernelSession(workbooks_dir()) as started:
        yield started


def _writes(monkeypatch) -> list[str]:
    """Record every notebook write papermill's execution manager makes."""
    import papermill.engines as engines

    calls: list[str] = []
    original = engines.write_ipynb

    def counting(nb, path):
        calls.append(path)
        return original(nb, path)

    monkeypatch.setattr(engines, "write_ipynb", counting)
    return calls


def test_engine_writes_at_start_and_end_not_per_cell(session, tmp_path, monkeypatch):
    source = _notebook(tmp_path / "in.ipynb", *(f"x{i} = {i}\nprint(x{i})" for i in range(8)))
    out = tmp_path / "out.ipynb"
    writes = _writes(monkeypatch)
    papermill.execute_notebook(str(source), str(out), progress_bar=False, **session.execute_kwargs())
    assert writes == [str(out), str(out)]  # papermill's default engine would write 18 times here
    nb = nbformat.read(out, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.outputs[0]["text"] for c in code] == [f"{i}\n" for i in range(8)]
    assert all(c.metadata.papermill["status"] == "completed" and c.metadata.papermill["duration"] is not None
               for c in code)
    assert nb.metadata.papermill["duration"] is not None and not nb.metadata.papermill["exception"]


def test_engine_output_matches_papermills_own_engine(session, tmp_path):
    source = _notebook(tmp_path / "in.ipynb", "a = 1", "print(a + 1)", parameters=0)
    ours, theirs = tmp_path / "ours.ipynb", tmp_path / "theirs.ipynb"
    papermill.execute_notebook(str(source), str(ours), parameters={"a": 2}, progress_bar=False,
                               **session.execute_kwargs())
    papermill.execute_notebook(str(source), str(theirs), parameters={"a": 2}, progress_bar=False,
                               kernel_name="python3")

    def shape(path: Path) -> list:
        nb = json.loads(path.read_text(encoding="utf-8"))
        return [(c["cell_type"], c["metadata"].get("tags"), sorted(c["metadata"].get("papermill", {})),
                 c["metadata"].get("papermill", {}).get("status"), [o.get("text") for o in c.get("outputs", [])])
                for c in nb["cells"]]

    assert shape(ours) == shape(theirs)


def test_a_failing_cell_is_on_disk_with_its_error(session, tmp_path):
    source = _notebook(tmp_path / "in.ipynb", "a = 1", "raise ValueError('坏了')", "b = 2")
    out = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError):
        papermill.execute_notebook(str(source), str(out), progress_bar=False, **session.execute_kwargs())
    nb = nbformat.read(out, as_version=4)
    failed = [c for c in nb.cells if c.cell_type == "code" and c.metadata.papermill.get("status") == "failed"]
    assert len(failed) == 1 and failed[0].outputs[0]["ename"] == "ValueError"
    assert nb.metadata.papermill["exception"] is True


def test_planlib_command_processes_skip_the_iri_grammar_and_still_validate_notebooks():
    code = (
        "import sys\n"
        "from planlib.cli import main\n"
        "sys.argv = ['planlib', 'validate', sys.argv[1]]\n"
        "code = main()\n"
        "import nbformat\n"
        "nbformat.validate(nbformat.v4.new_notebook())\n"
        "bad = nbformat.v4.new_notebook(); bad['cells'] = [{'cell_type': 'code'}]\n"
        "try:\n"
        "    nbformat.validate(bad)\n"
        "    print('not rejected')\n"
        "except nbformat.ValidationError:\n"
        "    print('rejected')\n"
        "print(code, sys.modules.get('rfc3987_syntax', 'absent'))\n"
    )
    plan = ROOT / "parameters/demo/2024Q2.yaml"
    done = subprocess.run([sys.executable, "-c", code, str(plan)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["rejected", "0 None"]


def test_main_called_by_a_program_leaves_its_imports_alone():
    code = ("import sys\nfrom planlib.cli import main\nmain(['validate', sys.argv[1]])\n"
            "print('rfc3987_syntax' in sys.modules)")
    plan = ROOT / "parameters/demo/2024Q2.yaml"
    done = subprocess.run([sys.executable, "-c", code, str(plan)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False"
