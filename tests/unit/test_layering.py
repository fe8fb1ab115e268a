"""The package layering, read from the source with ``ast`` (nothing is imported).

    ops/                         operator entry points: may import everything below
    api_shim/ scheduler/ workers/ tasks/   the roles: the core, and their own package only
    mediaq/                      the core: imports no role package and not ops/

A role that needs something another role also uses (the Celery contract, the view buffer's
Redis protocol, the preflight socket protocol) finds it in the core.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = "mediaq"
ROLES = ("api_shim", "scheduler", "workers", "tasks")
OPS = "ops"
ALL = (CORE, *ROLES, OPS)


def imported_packages(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level package) of every absolute import in one module, lazy ones included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def allowed(package: str) -> frozenset[str]:
    """The first-party packages that modules of ``package`` may import."""
    if package == OPS:
        return frozenset(ALL)
    if package in ROLES:
        return frozenset({CORE, package})
    return frozenset({CORE})


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, target in imported_packages(path):
            if target in ALL and target not in allowed(package):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    return found


@pytest.mark.parametrize("package", ALL)
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    assert violations(package) == []


def test_the_checker_sees_a_lazy_import_of_a_role(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from scheduler.service import Scheduler\n    import ops.cli\n")
    assert [t for _, t in imported_packages(module)] == ["scheduler", "ops"]
    assert "scheduler" not in allowed(CORE)
    assert "ops" not in allowed("api_shim")
    assert "tasks" not in allowed("scheduler")


def test_the_console_script_lives_in_ops() -> None:
    assert 'mediaq = "ops.cli:main"' in (ROOT / "pyproject.toml").read_text()
