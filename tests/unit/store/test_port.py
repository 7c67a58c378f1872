"""The store is a port: nothing outside ``swarmgen.store`` reaches behind it."""

from __future__ import annotations

import ast
from pathlib import Path

import swarmgen
from swarmgen.store import SqlStore
from swarmgen.store.port import Store

ROOT = Path(swarmgen.__file__).parent
BEHIND_THE_PORT = ("sqlalchemy", "alembic", "swarmgen.store.schema", "swarmgen.store.sql")
# the adapter's modules, each one repository (the port and the records are public)
ADAPTER = {"base", "dispatch", "engine", "jobs", "ledger", "nonces", "users", "validations",
           "verdicts", "workers"}  # fmt: skip


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_outside_the_store_imports_sqlalchemy_or_the_adapter() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        if (ROOT / "store") in path.parents:
            continue
        for name in _imports(path):
            adapter = name.startswith("swarmgen.store.") and name.split(".")[2] in ADAPTER
            if adapter or any(name == b or name.startswith(b + ".") for b in BEHIND_THE_PORT):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_the_sql_store_implements_the_port() -> None:
    def accepts(store: Store) -> Store:
        return store

    assert hasattr(accepts(SqlStore.__new__(SqlStore)), "transaction")
