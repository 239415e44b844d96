"""Shared fixtures. Paths are resolved from this file, never from the working directory."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from planlib.run.runner import run_plan

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def demo_plan_path() -> Path:
    return ROOT / "parameters" / "demo" / "2024Q2.yaml"


def make_small_demo(folder: Path, customers: int = 800, unit: str = "demo") -> Path:
    """Copy the demo plan into ``folder/parameters/<unit>`` with a smaller generated company.

    Another ``unit`` gets its own code, data folder and seed, as a second business unit would.
    """
    target = folder / "parameters" / unit
    target.mkdir(parents=True)
    (folder / "workbooks").mkdir(exist_ok=True)  # a project folder, as planlib recognises one
    base = (ROOT / "parameters/demo/base.yaml").read_text(encoding="utf-8")
    base = base.replace("customers: 5000", f"customers: {customers}")
    if unit != "demo":
        base = base.replace("unit: demo", f"unit: {unit}").replace("demo_data/demo/", f"demo_data/{unit}/")
    (target / "base.yaml").write_text(base, encoding="utf-8")
    shutil.copy(ROOT / "parameters/demo/2024Q2.yaml", target / "2024Q2.yaml")
    return target / "2024Q2.yaml"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    plan = make_small_demo(folder)
    lines: list[str] = []
    result = run_plan(plan, output_root=folder / "outputs", log=lines.append)
    return result, folder, lines


@pytest.fixture
def read_only():
    """Return a function that makes a folder read-only, for real: a read-only bind mount of it
    onto itself when running as root (root ignores permissions), else its permissions."""
    mounted: list[Path] = []
    changed: list[Path] = []

    def make(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
            mounted.append(path)
            subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        else:
            for folder, _dirs, _files in os.walk(path):
                os.chmod(folder, 0o555)
                changed.append(Path(folder))
        with pytest.raises(OSError):  # the test below relies on it
            (path / ".probe").write_text("x", encoding="utf-8")
        return path

    yield make
    for path in reversed(mounted):
        subprocess.run(["umount", str(path)], check=False)
    for path in changed:
        os.chmod(path, 0o755)
