"""`provision/` reads top-down: no module imports, even lazily or for type checking only, one that imports it back."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "provision"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, here: str, modules: set[str], *, is_package: bool = False) -> set[str]:
    """The modules of `modules` that module `here` imports anywhere: at the top, in a function, under TYPE_CHECKING."""
    package = here if is_package else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
            found.update(submodules or {base})
    # Importing a submodule runs its packages' __init__ first; that is not an import back.
    return {m for m in found & modules if m != here and not here.startswith(m + ".")}


def import_graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files}
    return {
        module_name(f): imports_of(
            f.read_text(encoding="utf-8"), module_name(f), modules, is_package=f.stem == "__init__"
        )
        for f in files
    }


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_no_module_of_provision_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    assert {"provision.client", "provision.ownership"} <= graph["provision.remote"]  # the graph is read whole
    cycle = cycle_in(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    "source",
    [
        "from provision.output import say",
        "def f() -> None:\n    from provision import output",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .output import say",
        "import provision.output",
    ],
    ids=["top", "in-a-function", "type-checking-relative", "plain-import"],
)
def test_the_check_finds_a_cycle_made_by_any_kind_of_import(source: str) -> None:
    graph = import_graph()
    edges = imports_of(source, "provision.client", set(graph))
    assert edges == {"provision.output"}
    graph["provision.client"] |= edges
    graph["provision.output"] |= {"provision.apply"}  # apply → plan → remote → client → output → apply
    assert cycle_in(graph) is not None


def test_the_lower_layers_import_nothing_above_them() -> None:
    graph = import_graph()
    assert graph["provision.errors"] == set()
    assert graph["provision.scrub"] == set()
    assert graph["provision.config"] <= {"provision.errors", "provision.scrub", "provision.urls"}
    top = {"provision.cli", "provision.options", "provision.output", "provision.workflow"}
    for module, imported in graph.items():
        if module not in top | {"provision.__main__"}:
            assert not imported & top, f"{module} imports {sorted(imported & top)}, which sit above it"
