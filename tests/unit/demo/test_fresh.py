"""Each demo run starts a new network; only a demo's own data folder is ever cleared."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmgen.demo.run import CACHE, MARKER, _fresh
from swarmgen.errors import Conflict


def test_a_new_folder_is_marked_as_the_demos(tmp_path: Path) -> None:
    data = _fresh(tmp_path / "out")
    assert data == tmp_path / "out" / "data"
    assert (data / MARKER).is_file()


def test_a_second_run_clears_the_first_but_keeps_the_model_cache(tmp_path: Path) -> None:
    out = tmp_path / "out"
    data = _fresh(out)
    (data / "swarmgen.db").write_text("old")
    (data / "logs").mkdir()
    (data / "logs" / "ann.log").write_text("old")
    (data / CACHE / "smollm2-135m").mkdir(parents=True)
    for name in ("00-image.png", "13-text.txt", "notes.txt"):
        (out / name).write_text("old")
    assert _fresh(out) == data
    assert sorted(p.name for p in data.iterdir()) == sorted([MARKER, CACHE])
    assert (data / CACHE / "smollm2-135m").is_dir()
    assert sorted(p.name for p in out.iterdir()) == ["data", "notes.txt"]


def test_a_data_folder_no_demo_wrote_is_refused_and_left_alone(tmp_path: Path) -> None:
    data = tmp_path / "out" / "data"
    data.mkdir(parents=True)
    (data / "swarmgen.db").write_text("a real coordinator's")
    with pytest.raises(Conflict, match="no demo wrote"):
        _fresh(tmp_path / "out")
    assert (data / "swarmgen.db").read_text() == "a real coordinator's"
    assert not (data / MARKER).exists()
