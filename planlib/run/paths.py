"""Where the project's folders are. Kept free of heavy imports: a run asks before it starts its kernel."""

from __future__ import annotations

from pathlib import Path


def project_root(start: Path | None = None) -> Path:
    """The folder holding ``workbooks/`` and ``parameters/``, searched upwards from ``start``.

    Workbooks run with their own folder as working directory in JupyterLab and under
    ``planlib run``, but from wherever the user stands under the papermill CLI.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "workbooks").is_dir() and (folder / "parameters").is_dir():
            return folder
    return start


def workbooks_dir() -> Path:
    """The stage workbooks of the project planlib is installed from."""
    return project_root(Path(__file__).resolve().parent) / "workbooks"


def workbook_path(stage: str) -> Path:
    return workbooks_dir() / f"{stage}.ipynb"


def input_key(path: Path, root: Path) -> str:
    """How a run records a file it read: relative to the project root when inside it, so a
    copied or moved project still recognises its own inputs; absolute otherwise."""
    path = Path(path)
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def input_file(key: str, root: Path) -> Path:
    """The file an :func:`input_key` names."""
    return Path(root) / key
