"""``planlib lab``: JupyterLab for planners, without dirtying the committed stage templates.

Planners open ``workbooks/01_goals.ipynb`` … and press Run All; JupyterLab then autosaves the
notebook with every output and execution count into ``workbooks/`` — business data in files that
are committed without outputs. ``planlib lab`` starts JupyterLab with a server-side pre-save hook
(:func:`keep_templates_clean`, jupyter_server's ``FileContentsManager.pre_save_hook``) that strips
outputs, execution counts and run-time metadata from a project's stage templates before they reach
the disk. The open notebook keeps its outputs on screen; the file stays as committed. Notebooks
anywhere else are saved untouched. The executed notebooks of a run live in ``outputs/``.

We chose the hook over per-plan working copies: planners keep opening the workbooks they know,
and a change to the narrative (by whoever maintains the templates) is still saved.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HOOK = "planlib.forms.lab.keep_templates_clean"
_CELL_RUNTIME = ("execution", "collapsed", "scrolled")  # metadata JupyterLab adds while a person works
_NOTEBOOK_RUNTIME = ("widgets",)


def is_stage_template(os_path: Path) -> bool:
    """A notebook in a project's ``workbooks/`` folder (one that has ``parameters/`` beside it)."""
    folder = os_path.parent
    return os_path.suffix == ".ipynb" and folder.name == "workbooks" and (folder.parent / "parameters").is_dir()


def clean_notebook(content: dict[str, Any], on_disk: dict[str, Any] | None = None) -> dict[str, Any]:
    """``content`` without outputs, execution counts and run-time metadata (changed in place).

    The notebook-level metadata is taken from ``on_disk`` (the committed file) when there is one:
    a kernel of another patch version must not rewrite ``language_info`` in the template.
    """
    for cell in content.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        meta = cell.get("metadata", {})
        for key in _CELL_RUNTIME:
            meta.pop(key, None)
    if on_disk is not None and "metadata" in on_disk:
        content["metadata"] = on_disk["metadata"]
    else:
        for key in _NOTEBOOK_RUNTIME:
            content.get("metadata", {}).pop(key, None)
    return content


def keep_templates_clean(model: dict[str, Any], path: str, contents_manager: Any, **_: Any) -> None:
    """jupyter_server pre-save hook: a stage template is saved as committed, without outputs."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    os_path = Path(contents_manager._get_os_path(path))
    if not is_stage_template(os_path):
        return
    on_disk = None
    if os_path.is_file():
        try:
            on_disk = json.loads(os_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            on_disk = None  # unreadable or half-written: strip what we can, keep the new metadata
    clean_notebook(model["content"], on_disk)


def lab_argv(root: Path, extra: Sequence[str] = ()) -> list[str]:
    """The JupyterLab command line ``planlib lab`` runs (tests start the same server)."""
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
            f"--FileContentsManager.pre_save_hook={HOOK}", *extra]


def start_lab(root: Path, extra: Sequence[str] = ()) -> int:
    """Replace this process with JupyterLab at ``root`` (Ctrl-C stops it as usual)."""
    argv = lab_argv(root, extra)
    os.execv(argv[0], argv)
    return 0  # not reached
