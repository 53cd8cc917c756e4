"""qualification/ stays pure: no Prefect, database, SMTP or HTTP client imports."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.paths import ROOT

FORBIDDEN = {
    "prefect",
    "sqlmodel",
    "sqlalchemy",
    "smtplib",
    "httpx",
    "requests",
    "urllib3",
    "aiohttp",
    "socket",
    "http",
    "tasks",
    "flows",
    "intake",
    "models",
}
SOURCES = sorted((ROOT / "qualification").rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_qualification_modules_import_nothing_impure(path) -> None:  # type: ignore[no-untyped-def]
    tree = ast.parse(path.read_text())
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.append(node.module)
    assert not [n for n in imported if n.split(".")[0] in FORBIDDEN]


def test_importing_the_core_loads_no_impure_module_at_run_time() -> None:
    code = (
        "import sys, qualification.evaluate, qualification.criteria;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'prefect','sqlmodel','sqlalchemy','smtplib','httpx','requests'});"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == ""
