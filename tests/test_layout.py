"""The package's shape: rooms by concern, no import cycles, clean workbooks.

The layer and independence contracts themselves are import-linter's (``lint-imports`` in
``make test``, contracts in pyproject.toml); these tests hold what a contract cannot say.
"""

from __future__ import annotations

import ast
import json

import grimp
import pytest
from conftest import ROOT

from planlib.data.results import STAGES

PACKAGE = ROOT / "planlib"
TOP_LEVEL = {"__init__.py", "__main__.py", "cli.py", "errors.py"}
FORBIDDEN = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
             ast.Try, ast.With)


def test_only_the_command_line_and_the_errors_live_at_the_top_of_the_package():
    modules = {p.name for p in PACKAGE.glob("*.py")}
    assert modules <= TOP_LEVEL, f"move {sorted(modules - TOP_LEVEL)} into the package of its concern"


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), i.e. every import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_one_that_imports_it_back():
    graph = grimp.build_graph("planlib")  # lazy imports inside functions count too
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("p.a", "p.b", "p.c"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    assert _cycles(graph) == [["p.a", "p.b", "p.c"]]


@pytest.mark.parametrize("stage", STAGES)
def test_workbooks_are_committed_clean_narrative_and_calls(stage):
    nb = json.loads((ROOT / "workbooks" / f"{stage}.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c.get("outputs") == [] and c.get("execution_count") is None for c in code), \
        "strip outputs and execution counts before committing"
    parameters = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(parameters) == 1, "exactly one cell tagged `parameters`"
    for cell in nb["cells"]:  # one list item per line, as Jupyter saves it: no diff after a save
        assert cell["source"] == "".join(cell["source"]).splitlines(keepends=True), \
            f"{stage}: cell {cell.get('id')} is not split into lines as Jupyter writes it"
    for cell in code:
        source = "".join(cell["source"])
        for node in ast.walk(ast.parse(source)):
            assert not isinstance(node, FORBIDDEN), (
                f"{stage}: `{ast.unparse(node).splitlines()[0]}` — logic belongs in planlib, the workbook only calls it")
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").startswith("planlib"), f"{stage}: imports only planlib ({node.module})"
                others = {f"planlib.stages.{s[3:]}" for s in STAGES if s != stage}
                assert not any(node.module.startswith(o) for o in others), \
                    f"{stage}: a stage reads another stage's results through ctx.load, not its code"


def test_the_cleanliness_check_catches_logic_in_a_cell():
    bad = "if x:\n    y = 1\n"
    assert any(isinstance(n, FORBIDDEN) for n in ast.walk(ast.parse(bad)))
