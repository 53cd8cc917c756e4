"""Imports point one way between the folders (STYLE.md, Layout), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.paths import ROOT


def imported_packages(source: str, package: tuple[str, ...]) -> set[str]:
    """The top-level packages a module imports anywhere in it (inside functions too), relative
    imports resolved against `package`, the module's own package."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            if node.module:
                found.add(".".join([*base, node.module]))
            elif base:
                found.add(".".join(base))
            else:  # `from .. import name` at the top: the names are packages
                found.update(alias.name for alias in node.names)
    return {name.split(".")[0] for name in found}


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    return imported_packages(path.read_text(), path.relative_to(ROOT).parent.parts)


def name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", sources("tasks"), ids=name)
def test_tasks_never_import_the_intake(path: Path) -> None:
    assert "intake" not in imports_of(path)


@pytest.mark.parametrize("path", sources("intake"), ids=name)
def test_the_intake_never_imports_tasks(path: Path) -> None:
    assert "tasks" not in imports_of(path)


@pytest.mark.parametrize("path", sources("adapters"), ids=name)
def test_adapters_import_no_tasks_flows_cli_or_intake(path: Path) -> None:
    assert not imports_of(path) & {"tasks", "flows", "cli", "intake"}


@pytest.mark.parametrize("path", sources("reports"), ids=name)
def test_reports_import_no_prefect_and_no_tasks(path: Path) -> None:
    assert not imports_of(path) & {"prefect", "tasks", "flows", "cli", "intake"}


def test_the_check_sees_imports_inside_functions_and_relative_ones() -> None:
    source = (
        "from .store import Claimed\n"
        "from .. import intake\n"
        "def later() -> None:\n"
        "    import prefect.client\n"
        "    from flows.report import report\n"
    )

    assert imported_packages(source, ("tasks",)) == {"tasks", "intake", "prefect", "flows"}
