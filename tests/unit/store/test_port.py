"""The store is a port: nothing outside ``swarmgen.store`` reaches behind it, and both
adapters (SQLAlchemy, in memory) offer every member the port names, with the same
parameters."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any, get_type_hints

import pytest

import swarmgen
from swarmgen.store import port
from swarmgen.store.journal import Journal
from swarmgen.store.ledger import Book
from swarmgen.store.memory import MemoryStore, MemoryTransaction
from swarmgen.store.memory.ledger import MemoryBook
from swarmgen.store.memory.tables import Tables
from swarmgen.store.records import OpenEpoch
from swarmgen.store.sql import SqlStore, SqlTransaction

ROOT = Path(swarmgen.__file__).parent
BEHIND_THE_PORT = ("sqlalchemy", "alembic", "swarmgen.store.schema", "swarmgen.store.sql")
# the SQL adapter's modules, one per repository (the port, the records and the
# in-memory fake are public)
ADAPTER = {"base", "dispatch", "engine", "idempotency", "jobs", "journal", "ledger", "network",
           "nonces", "outbox", "users", "validations", "verdicts", "workers"}  # fmt: skip


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


def _parameters(function: Any, bound: bool = False) -> list[str]:
    names = list(inspect.signature(function).parameters)
    return names if bound else names[1:]  # a Protocol's methods name ``self``


def _transactions() -> list[tuple[str, Any]]:
    sql_book = Book(conn=None, epoch=OpenEpoch(0, 0), next_seq=0, head="", now_ms=0)  # type: ignore[arg-type]
    memory = Tables()
    return [
        ("sql", SqlTransaction(None, sql_book, sql_book)),  # type: ignore[arg-type]
        ("memory", MemoryTransaction(memory, MemoryBook(memory, 0))),
    ]


def _repositories() -> list[Any]:
    """``(adapter, repository name, protocol, the adapter's repository)`` for every one."""
    out = []
    for adapter, tx in _transactions():
        for name, member in _members(port.Transaction).items():
            if not isinstance(member, property):
                continue  # a method of the transaction itself (see the next test)
            protocol = get_type_hints(member.fget, vars(port))["return"]
            if getattr(protocol, "_is_protocol", False):
                out.append(pytest.param(protocol, getattr(tx, name), id=f"{adapter}-{name}"))
    return out


@pytest.mark.parametrize(("protocol", "repository"), _repositories())
def test_each_repository_offers_what_its_protocol_names(protocol: type, repository: Any) -> None:
    for member, declared in _members(protocol).items():
        assert hasattr(repository, member), f"{type(repository).__name__} lacks {member}"
        if not isinstance(declared, property):
            found = getattr(repository, member)
            assert _parameters(found, bound=True) == _parameters(declared), member


@pytest.mark.parametrize(("adapter", "tx"), _transactions())
def test_each_transaction_offers_the_methods_the_port_names(adapter: str, tx: Any) -> None:
    for name, member in _members(port.Transaction).items():
        if not isinstance(member, property):
            assert _parameters(getattr(tx, name), bound=True) == _parameters(member), name


def test_the_journal_offers_what_job_money_needs() -> None:
    """On PostgreSQL ``tx.postings`` of a ``postings=True`` transaction is a Journal."""
    journal = Journal(conn=None, epoch=OpenEpoch(0, 0), now_ms=0)  # type: ignore[arg-type]
    test_each_repository_offers_what_its_protocol_names(port.Postings, journal)


@pytest.mark.parametrize("store", [SqlStore, MemoryStore])
def test_each_store_offers_what_the_port_names(store: type) -> None:
    for member in _members(port.Store):
        assert inspect.getattr_static(store, member, None) is not None, member
    assert _parameters(store.transaction) == _parameters(port.Store.transaction)
