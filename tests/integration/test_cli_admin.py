"""The administrative commands close what they open: a command run on PostgreSQL leaves
no connection for the garbage collector to find open (psycopg warns of each), and one on
SQLite leaves its log checkpointed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = [
    ["users", "create", "carol"],
    ["users", "create", "dave"],
    ["users", "role", "dave", "admin"],
    ["keys", "create", "--user", "carol"],
    ["keys", "rotate", "--user", "carol"],
    ["keys", "list", "--user", "carol"],
    ["credits", "grant", "carol", "5"],
    ["credits", "transfer", "carol", "dave", "2"],
    ["credits", "balance", "carol"],
    ["credits", "history", "carol"],
    ["users", "list"],
    ["ledger", "key"],
    ["ledger", "close", "--force"],
    ["ledger", "verify"],
    ["audit", "sampling", "0"],  # refused (exit 2): no pop in epoch 0 committed a seed
]
"""Each command runs once, in order, on one database: the later ones find what the earlier
ones made (users, money, a closed epoch)."""

REFUSED = {"audit"}
"""Commands expected to end in a refusal here: they must close the store on that path too."""


def expected(args: list[str]) -> int:
    return 2 if args[0] in REFUSED else 0


def run(args: list[str], *where: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "always::ResourceWarning"}
    return subprocess.run(
        [sys.executable, "-m", "swarmgen.cli.main", *args, *where],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.postgres
def test_no_command_leaves_a_postgresql_connection_open(postgres_url: str, tmp_path: Path) -> None:
    for args in COMMANDS:
        done = run(args, "--database-url", postgres_url, "--data", str(tmp_path))
        assert done.returncode == expected(args), (args, done.stdout, done.stderr)
        assert "ResourceWarning" not in done.stderr, (args, done.stderr)


def test_a_command_on_sqlite_leaves_its_log_checkpointed(tmp_path: Path) -> None:
    for args in COMMANDS:
        done = run(args, "--data", str(tmp_path))
        assert done.returncode == expected(args), (args, done.stdout, done.stderr)
        log = tmp_path / "swarmgen.db-wal"
        assert not log.exists() or log.stat().st_size == 0, args
