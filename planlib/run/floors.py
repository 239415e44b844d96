"""Check that every installed dependency meets the floor ``pyproject.toml`` declares for it.

Some floors exist because of security advisories (nbconvert ≥ 7.17.1, jupyterlab ≥ 4.6,
jupyter_server ≥ 2.18): an environment built from an old lock file or an old image would
otherwise run with a known hole and nobody would notice. CI runs::

    python -m planlib.run.floors --pyproject pyproject.toml --extra test

The floors are read from ``pyproject.toml`` when it is named, otherwise from the installed
``planlib`` distribution's metadata (what ``pip install`` recorded; it can lag behind an edit
of ``pyproject.toml`` until the next install).
Exit status 0 when all floors hold, 1 naming each package that is below its floor or missing.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

DISTRIBUTION = "planlib"


@dataclass(frozen=True)
class Shortfall:
    """A requirement the environment does not meet: ``installed`` is None when it is missing."""

    package: str
    floor: str
    installed: str | None

    def __str__(self) -> str:
        if self.installed is None:
            return f"{self.package}: 未安装,要求 {self.floor}"
        return f"{self.package}: 已安装 {self.installed},低于要求的 {self.floor} — 请升级: pip install '{self.package}{self.floor}'"


def _declared(pyproject: Path) -> list[str]:
    """Requirement lines of ``pyproject.toml``, extras written as markers like the metadata does."""
    project = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]
    lines = list(project.get("dependencies", []))
    for extra, reqs in project.get("optional-dependencies", {}).items():
        lines += [f'{r}; extra == "{extra}"' for r in reqs]
    return lines


def requirements(extras: Iterable[str] = (), distribution: str = DISTRIBUTION,
                 pyproject: Path | None = None) -> list[Requirement]:
    """The requirements that apply here (markers evaluated, chosen extras included).

    Read from the installed distribution's metadata, or from ``pyproject`` when given (in a
    source checkout, where the metadata may predate the last edit of ``pyproject.toml``).
    """
    wanted = set(extras)
    found = []
    lines = _declared(pyproject) if pyproject is not None else metadata.requires(distribution) or []
    for line in lines:
        req = Requirement(line)
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in wanted | {""}):
            continue
        found.append(req)
    return found


def _floor(specifier: SpecifierSet) -> str:
    return ",".join(str(s) for s in specifier) or "(任意版本)"


def check(reqs: Iterable[Requirement], version_of: Callable[[str], str] = metadata.version) -> list[Shortfall]:
    """Every requirement whose installed version is missing or outside its specifier."""
    problems = []
    for req in reqs:
        try:
            installed = version_of(req.name)
        except metadata.PackageNotFoundError:
            problems.append(Shortfall(req.name, _floor(req.specifier), None))
            continue
        try:
            ok = req.specifier.contains(Version(installed), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            problems.append(Shortfall(req.name, _floor(req.specifier), installed))
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m planlib.run.floors",
                                     description="检查已安装的依赖是否满足 pyproject.toml 中的最低版本")
    parser.add_argument("--extra", action="append", default=[], help="同时检查该可选依赖组(如 test)")
    parser.add_argument("--pyproject", type=Path, help="从该 pyproject.toml 读取最低版本(默认读已安装的 planlib 元数据)")
    args = parser.parse_args(argv)
    reqs = requirements(args.extra, pyproject=args.pyproject)
    problems = check(reqs)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} 个依赖不满足最低版本要求。", file=sys.stderr)
        return 1
    print(f"{len(reqs)} 个依赖均满足最低版本要求。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
