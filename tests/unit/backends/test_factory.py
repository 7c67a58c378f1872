"""Choosing a backend from a registry entry (without loading any weights)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from swarmgen.backends.base import BackendError
from swarmgen.backends.diffusers_image import DiffusersImageBackend
from swarmgen.backends.echo import EchoBackend
from swarmgen.backends.factory import make_backend
from swarmgen.backends.transformers_text import TransformersTextBackend
from swarmgen.core.offerings import Kind, Offering, Precision
from swarmgen.registry import ModelEntry, OfferingEntry, load_registry

REGISTRY = load_registry()


def entry_for(offering: Offering) -> ModelEntry:
    return REGISTRY.entry(offering)


@pytest.mark.parametrize(
    ("name", "kind", "cls"),
    [
        ("echo-image@fp32", Kind.IMAGE, EchoBackend),
        ("echo-text@fp32", Kind.TEXT, EchoBackend),
        ("tiny-sd@fp32", Kind.IMAGE, DiffusersImageBackend),
        ("smollm2-135m@fp32", Kind.TEXT, TransformersTextBackend),
    ],
)
def test_shipped_registry_entries_get_their_backend(
    name: str, kind: Kind, cls: type, tmp_path: Path
) -> None:
    offering = Offering.parse(name)
    backend = make_backend(entry_for(offering), offering, cache_dir=tmp_path, threads=1)
    assert isinstance(backend, cls)
    assert backend.offering == offering
    assert entry_for(offering).kind is kind


def test_echo_options_come_from_the_registry(tmp_path: Path) -> None:
    offering = Offering.parse("echo-text@fp32")
    entry = dataclasses.replace(entry_for(offering), options={"max_batch": 3, "delay_s": 0.5})
    backend = make_backend(entry, offering, cache_dir=tmp_path, threads=1)
    assert isinstance(backend, EchoBackend)
    assert (backend.max_batch, backend.delay_s) == (3, 0.5)


def test_image_guidance_rescale_comes_from_the_registry(tmp_path: Path) -> None:
    shapes = Offering.parse("shapes-64@fp32")
    backend = make_backend(entry_for(shapes), shapes, cache_dir=tmp_path, threads=1)
    assert isinstance(backend, DiffusersImageBackend)
    assert backend.guidance_rescale == 1.0
    tiny = Offering.parse("tiny-sd@fp32")
    plain = make_backend(entry_for(tiny), tiny, cache_dir=tmp_path, threads=1)
    assert isinstance(plain, DiffusersImageBackend) and plain.guidance_rescale == 0.0
    wild = dataclasses.replace(entry_for(tiny), options={"guidance_rescale": 1.5})
    with pytest.raises(BackendError, match=r"guidance_rescale 1\.5 is outside"):
        make_backend(wild, tiny, cache_dir=tmp_path, threads=1)


@pytest.mark.parametrize("name", ["tiny-sd@fp32", "smollm2-135m@fp32"])
def test_run_precision_defaults_to_the_offering_and_can_differ(name: str, tmp_path: Path) -> None:
    offering = Offering.parse(name)
    honest = make_backend(entry_for(offering), offering, cache_dir=tmp_path, threads=1)
    cheat = make_backend(
        entry_for(offering), offering, cache_dir=tmp_path, threads=1, run_precision=Precision.INT8
    )
    assert isinstance(honest, DiffusersImageBackend | TransformersTextBackend)
    assert isinstance(cheat, DiffusersImageBackend | TransformersTextBackend)
    assert honest.precision is Precision.FP32
    assert cheat.precision is Precision.INT8
    assert cheat.offering == offering


def test_unknown_backend_is_refused(tmp_path: Path) -> None:
    offering = Offering.parse("tiny-sd@fp32")
    entry = dataclasses.replace(entry_for(offering), backend="onnx")
    with pytest.raises(BackendError, match="onnx"):
        make_backend(entry, offering, cache_dir=tmp_path, threads=1)


def test_offering_must_match_the_entry(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="not model"):
        make_backend(
            entry_for(Offering.parse("tiny-sd@fp32")),
            Offering.parse("echo-image@fp32"),
            cache_dir=tmp_path,
            threads=1,
        )
    entry = ModelEntry(
        "m", Kind.TEXT, "echo", "builtin:echo", offerings={Precision.FP32: OfferingEntry()}
    )
    with pytest.raises(BackendError, match="not offered"):
        make_backend(entry, Offering.parse("m@bf16"), cache_dir=tmp_path, threads=1)


def test_building_backends_imports_no_torch(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from swarmgen.backends.factory import make_backend\n"
        "from swarmgen.core.offerings import Offering\n"
        "from swarmgen.registry import load_registry\n"
        "r = load_registry()\n"
        "for o in r.all_offerings():\n"
        f"    make_backend(r.entry(o), o, cache_dir=Path({str(tmp_path)!r}), threads=1)\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]\n"
        "sys.exit(str(heavy) if heavy else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
