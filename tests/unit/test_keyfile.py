from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from swarmgen.keyfile import load_or_create


def test_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "worker.key"
    first = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(path).public_key == first.public_key


def test_a_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "worker.key"
    load_or_create(path)
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError):
        load_or_create(path)
