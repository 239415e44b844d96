"""Dependency floors for known advisories (planlib.run.floors)."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from conftest import ROOT
from packaging.requirements import Requirement

from planlib.run import floors

ADVISORY_FLOORS = {"nbconvert": "7.17.1", "jupyterlab": "4.6", "jupyter_server": "2.18"}


def test_the_advisory_floors_are_declared():
    declared = {r.name: r.specifier for r in floors.requirements()}
    for package, floor in ADVISORY_FLOORS.items():
        assert package in declared, f"{package} has no floor in pyproject"
        assert f">={floor}" in {str(s) for s in declared[package]}


def test_this_environment_meets_every_floor():
    assert floors.check(floors.requirements(["test"])) == []
    assert floors.main([]) == 0


def test_a_version_below_its_floor_is_named():
    installed = {"nbconvert": "7.16.4", "jupyterlab": "4.6.0", "jupyter_server": "2.18.0"}
    reqs = [Requirement(f"{p}>={f}") for p, f in ADVISORY_FLOORS.items()]
    problems = floors.check(reqs, installed.__getitem__)
    assert [p.package for p in problems] == ["nbconvert"]
    text = str(problems[0])
    assert "nbconvert" in text and "7.16.4" in text and ">=7.17.1" in text


def test_a_missing_package_and_a_garbled_version_fail():
    def version_of(name):
        if name == "gone":
            raise metadata.PackageNotFoundError(name)
        return "not-a-version"

    problems = floors.check([Requirement("gone>=1"), Requirement("odd>=1")], version_of)
    assert [(p.package, p.installed) for p in problems] == [("gone", None), ("odd", "not-a-version")]
    assert "未安装" in str(problems[0])


def test_floors_can_be_read_from_pyproject(tmp_path):
    root = ROOT
    declared = {r.name: str(r.specifier) for r in floors.requirements(["test"], pyproject=root / "pyproject.toml")}
    assert declared["nbconvert"] == ">=7.17.1" and "pytest" in declared
    toml = tmp_path / "pyproject.toml"
    toml.write_text('[project]\nname = "x"\ndependencies = ["nbconvert>=999"]\n'
                    '[project.optional-dependencies]\ntest = ["pytest>=1"]\n', encoding="utf-8")
    assert [str(r) for r in floors.requirements(pyproject=toml)] == ["nbconvert>=999"]
    assert floors.main(["--pyproject", str(toml)]) == 1


def test_markers_select_the_extras():
    names = {r.name for r in floors.requirements()}
    assert "pytest" not in names and "nbconvert" in names
    assert "pytest" in {r.name for r in floors.requirements(["test"])}


def test_the_command_exits_non_zero_below_a_floor(monkeypatch, capsys):
    monkeypatch.setattr(floors, "requirements", lambda extras=(), pyproject=None: [Requirement("nbconvert>=999")])
    assert floors.main([]) == 1
    err = capsys.readouterr().err
    assert "nbconvert" in err and ">=999" in err


def test_the_module_runs_as_a_command():
    root = ROOT
    done = subprocess.run([sys.executable, "-m", "planlib.run.floors", "--pyproject", str(root / "pyproject.toml"),
                           "--extra", "test"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "均满足" in done.stdout
