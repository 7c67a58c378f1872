"""The import contracts in ``pyproject.toml`` hold, and mean what their comments say.

``make lint`` runs ``lint-imports`` too; this test keeps the contracts checked by a plain
``pytest`` run, and pins the one property they depend on: an import inside a function
counts like any other (so "the coordinator imports no torch" covers lazy imports too),
while one under ``if TYPE_CHECKING:`` never runs and does not count.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"


def _options() -> dict[str, object]:
    options: dict[str, object] = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return options


def test_every_import_contract_is_kept(capsys: pytest.CaptureFixture[str]) -> None:
    status = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    assert status == EXIT_STATUS_SUCCESS, out
    assert "0 broken" in out


def test_contracts_name_the_layers_the_issue_asks_for() -> None:
    names = [contract["name"] for contract in _options()["contracts"]]  # type: ignore[index]
    assert any("core" in name for name in names)
    assert any("SQLAlchemy" in name for name in names)
    assert any("coordinator" in name for name in names)
    assert any("tools" in name for name in names)


@pytest.fixture
def toy_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    package = tmp_path / "toy_contracts_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "lazy.py").write_text("def load():\n    import sqlite3\n    return sqlite3\n")
    (package / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import decimal\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "toy_contracts_pkg", raising=False)
    return package.name


def test_a_function_level_import_counts_and_a_type_checking_one_does_not(
    toy_package: str,
) -> None:
    options = _options()
    graph = grimp.build_graph(
        toy_package,
        include_external_packages=bool(options["include_external_packages"]),
        exclude_type_checking_imports=bool(options["exclude_type_checking_imports"]),
        cache_dir=None,
    )
    assert graph.direct_import_exists(importer=f"{toy_package}.lazy", imported="sqlite3")
    assert "decimal" not in graph.modules
