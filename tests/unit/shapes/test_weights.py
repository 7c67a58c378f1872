"""The weights digest pinned in the model registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmgen.registry import load_registry
from swarmgen.shapes import model_dir, weights_digest


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_digest_covers_bytes_and_names(tmp_path: Path) -> None:
    a = _folder(tmp_path / "a", {"unet/w.safetensors": b"abc", "vae/w.safetensors": b"de"})
    b = _folder(tmp_path / "b", {"unet/w.safetensors": b"abc", "vae/w.safetensors": b"df"})
    c = _folder(tmp_path / "c", {"unet/x.safetensors": b"abc", "vae/w.safetensors": b"de"})
    d = _folder(
        tmp_path / "d",
        {"unet/w.safetensors": b"abc", "vae/w.safetensors": b"de", "notes.txt": b"ignored"},
    )
    assert weights_digest(a) == weights_digest(d)
    assert len({weights_digest(a), weights_digest(b), weights_digest(c)}) == 3


def test_digest_refuses_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        weights_digest(tmp_path)


def test_registry_pins_the_shipped_weights() -> None:
    entry = load_registry().models["shapes-64"]
    assert entry.source == "builtin:shapes-64"
    assert entry.pins["weights_digest"] == weights_digest(model_dir())
