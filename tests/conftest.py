"""Shared fixtures. Paths are resolved from this file, never from the working directory."""

from __future__ import annotations

import shutil
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
