"""shapes-64: a small text-to-image diffusion model trained on procedural shape scenes.

The trained pipeline ships inside the package (``model_dir()``), so an installed
swarmgen generates images offline through the ordinary diffusers loading path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MODEL_NAME = "shapes-64"


def model_dir() -> Path:
    """The shipped ``StableDiffusionPipeline`` folder of shapes-64."""
    return Path(__file__).resolve().parent / MODEL_NAME


def weights_digest(folder: Path) -> str:
    """SHA-256 over every ``*.safetensors`` file under ``folder``.

    Files are taken in sorted relative-path order; each contributes its path, its
    length and its bytes, so renaming or moving a file changes the digest too.
    """
    digest = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*.safetensors") if p.is_file())
    if not files:
        raise FileNotFoundError(f"no safetensors files under {folder}")
    for path in files:
        data = path.read_bytes()
        name = path.relative_to(folder).as_posix().encode("utf-8")
        digest.update(len(name).to_bytes(8, "big") + name)
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def source(cache_dir: Path | None) -> str:
    """The ``builtin:shapes-64`` source hook: the shipped folder, its UNet class importable.

    ``model_index.json`` names ``swarmgen.shapes.unet.ShapesUNet``; importing it here is
    how this model registers its custom class, so the generic diffusers backend needs
    no knowledge of it.
    """
    from swarmgen.backends.base import ModelUnavailable

    folder = Path(model_dir())
    if not (folder / "model_index.json").is_file():
        raise ModelUnavailable(f"shapes-64 weights are missing at {folder}")
    import swarmgen.shapes.unet  # noqa: F401  (registers ShapesUNet for diffusers)

    return str(folder)
