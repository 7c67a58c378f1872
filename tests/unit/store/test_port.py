"""The store is a port: nothing outside ``swarmgen.store`` reaches behind it, and the
SQLAlchemy adapter offers every member the port names, with the same parameters."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any, get_type_hints

import pytest

import swarmgen
from swarmgen.store import port
from swarmgen.store.ledger import Book
from swarmgen.store.sql import SqlStore, SqlTransaction

ROOT = Path(swarmgen.__file__).parent
BEHIND_THE_PORT = ("sqlalchemy", "alembic", "swarmgen.store.schema", "swarmgen.store.sql")
# the adapter's modules, one per repository (the port and the records are public)
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


def _members(protocol: type) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(protocol).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    }


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def _repositories() -> list[tuple[str, type, type]]:
    """``(name, protocol, adapter class)`` for every repository the transaction hands out."""
    out = []
    for name, member in _members(port.Transaction).items():
        protocol = get_type_hints(member.fget, vars(port))["return"]
        if name == "book":
            out.append((name, protocol, Book))
        elif getattr(protocol, "_is_protocol", False):
            adapter = get_type_hints(getattr(SqlTransaction, name).func)["return"]
            out.append((name, protocol, adapter))
    return out


@pytest.mark.parametrize(("name", "protocol", "adapter"), _repositories())
def test_each_repository_offers_what_its_protocol_names(
    name: str, protocol: type, adapter: type
) -> None:
    for member, declared in _members(protocol).items():
        found = inspect.getattr_static(adapter, member, None)
        if found is None and member in getattr(adapter, "__dataclass_fields__", {}):
            continue  # a dataclass field serves a read-only property
        assert found is not None, f"{adapter.__name__} lacks {member}"
        if callable(declared) and not isinstance(declared, property):
            assert _parameters(found) == _parameters(declared), f"{name}.{member}"


def test_the_store_offers_what_the_port_names() -> None:
    for member in _members(port.Store):
        assert inspect.getattr_static(SqlStore, member, None) is not None, member
    assert _parameters(SqlStore.transaction) == _parameters(port.Store.transaction)
