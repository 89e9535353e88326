"""The layers of DESIGN.md "Layout", checked on the source: imports point one way.

    console -> routing -> credentials -> tenants, and any of them -> providers

`providers` imports none of them; `sinatra` (settings, URLs, WSGI) wires them all together and
nothing imports it. No module imports another of the project's packages inside a function
(the usual way to dodge a cycle).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from providers import Provider
from tests.helpers import PROJECT_DIR

# Lowest first: a package may import only packages before it in this list.
LAYERS = ("providers", "tenants", "credentials", "routing", "console")
WIRING = "sinatra"
PACKAGES = (*LAYERS, WIRING)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module's file, relative to the project
    line: int
    target: str  # the top-level package imported
    nested: bool  # inside a function body


def _imports(path: Path, root: Path) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    nested_nodes = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue  # relative imports stay inside their package
        for name in names:
            found.append(Import(str(path.relative_to(root)), node.lineno, name.split(".")[0], id(node) in nested_nodes))
    return found


def layer_violations(root: Path) -> list[str]:
    """Return every import of `root`'s packages that goes upward, into `sinatra`, or hides in a function."""
    problems = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for found in _imports(path, root):
                if found.target not in PACKAGES or found.target == package:
                    continue
                where = f"{found.module}:{found.line} imports {found.target}"
                if found.nested:
                    problems.append(f"{where} inside a function")
                if found.target == WIRING:
                    problems.append(f"{where}: nothing imports the wiring package")
                elif package != WIRING and LAYERS.index(found.target) > LAYERS.index(package):
                    problems.append(f"{where}: {package} sits below {found.target}")
    return problems


def package_graph(root: Path) -> dict[str, set[str]]:
    """Return which of the project's packages each package imports."""
    graph: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            graph[package] |= {
                found.target for found in _imports(path, root) if found.target in PACKAGES and found.target != package
            }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the import cycles between packages (each as a path that comes back to its start)."""
    found = []

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target == path[0]:
                found.append([*path, target])
            elif target not in path and target > path[0]:  # each cycle once, from its smallest name
                visit(target, [*path, target])

    for start in sorted(graph):
        visit(start, [start])
    return found


def test_every_package_imports_only_the_layers_below_it():
    assert layer_violations(PROJECT_DIR) == []


def test_no_two_packages_import_each_other_even_indirectly():
    assert cycles(package_graph(PROJECT_DIR)) == []


def test_providers_import_no_other_package_of_the_project():
    assert package_graph(PROJECT_DIR)["providers"] == set()


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"credentials/x.py": "from routing.service import resolve\n"}, "credentials/x.py:1 imports routing"),
        ({"providers/x.py": "import tenants.models\n"}, "providers/x.py:1 imports tenants"),
        ({"tenants/x.py": "def f():\n    from credentials import models\n"}, "inside a function"),
        ({"routing/x.py": "from sinatra import settings\n"}, "nothing imports the wiring package"),
    ],
    ids=["upward", "providers upward", "inside a function", "into the wiring"],
)
def test_the_check_reports_what_breaks_the_layers(tmp_path, files, expected):
    _write(tmp_path, files)

    assert any(expected in problem for problem in layer_violations(tmp_path))


def test_the_check_finds_a_cycle(tmp_path):
    _write(tmp_path, {"tenants/a.py": "import credentials.b\n", "credentials/b.py": "import tenants.a\n"})

    assert cycles(package_graph(tmp_path)) == [["credentials", "tenants", "credentials"]]


def test_the_check_accepts_downward_and_relative_imports(tmp_path):
    _write(
        tmp_path,
        {
            "console/v.py": "from routing.service import resolve\nfrom providers import spec\nfrom . import forms\n",
            "routing/s.py": "from credentials.services import credential_open\n",
            "sinatra/urls.py": "import console.urls\n",
        },
    )

    assert layer_violations(tmp_path) == []
    assert cycles(package_graph(tmp_path)) == []


def provider_names_written_outside_providers(root: Path, names: set[str]) -> list[str]:
    """Return each place outside `providers/` (and migrations) that spells a provider's name as a literal."""
    found = []
    for package in PACKAGES:
        if package == "providers":
            continue
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in names:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.value!r}")
        for path in sorted((root / "templates").rglob("*.html")) if package == WIRING else ():
            found.extend(f"{path.relative_to(root)} {name!r}" for name in names if f'"{name}"' in path.read_text())
    return found


def test_provider_names_are_spelled_only_in_the_registry():
    assert provider_names_written_outside_providers(PROJECT_DIR, set(Provider.values)) == []


def test_the_provider_name_check_finds_a_literal(tmp_path):
    _write(tmp_path, {"routing/x.py": 'CHOICES = ["anthropic", "x"]\n', "templates/a.html": '{% if "openrouter" %}'})

    found = provider_names_written_outside_providers(tmp_path, {"anthropic", "openrouter"})

    assert found == ["routing/x.py:1 'anthropic'", "templates/a.html 'openrouter'"]
