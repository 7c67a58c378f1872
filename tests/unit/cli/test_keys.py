"""``swarmgen keys create --horde``: a key of the 22 characters horde_sdk sends, that works."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from swarmgen.cli.main import app
from swarmgen.coordinator.admin import open_store
from swarmgen.coordinator.auth import hash_key
from swarmgen.coordinator.settings import CoordinatorSettings


def test_keys_create_horde_prints_a_22_character_key_of_that_user(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(
        app, ["keys", "create", "--user", "bob", "--horde", "--data", str(tmp_path)]
    )
    assert made.exit_code == 0, made.output
    key = made.output.strip()
    assert len(key) == 22 and not key.startswith("sg_")
    plain = runner.invoke(app, ["keys", "create", "--user", "bob", "--data", str(tmp_path)])
    assert plain.output.strip().startswith("sg_")
    store = open_store(CoordinatorSettings(data=tmp_path))
    try:
        with store.transaction() as tx:
            user = tx.users.by_key_hash(hash_key(key))
            assert user is not None and user.name == "bob"
            assert tx.users.by_id(user.id) == user
            assert tx.users.by_id("nobody") is None
    finally:
        store.dispose()
