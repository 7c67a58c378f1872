"""Backends and precision methods register by name and import lazily."""

from __future__ import annotations

import dataclasses
import sys
import types
from pathlib import Path

import pytest

from swarmgen.backends import plugins, precision
from swarmgen.backends.base import BackendError
from swarmgen.backends.echo import EchoBackend
from swarmgen.backends.factory import make_backend
from swarmgen.backends.plugins import BackendRequest, load_object, register_backend
from swarmgen.core.offerings import Kind, Offering, Precision
from swarmgen.core.tiers import TierPins
from swarmgen.registry import load_registry

ECHO = Offering.parse("echo-text@fp32")


def test_load_object_reads_module_colon_attribute() -> None:
    assert load_object("swarmgen.backends.echo:EchoBackend") is EchoBackend
    with pytest.raises(BackendError, match="module:attribute"):
        load_object("swarmgen.backends.echo.EchoBackend")
    with pytest.raises(BackendError, match="cannot load"):
        load_object("swarmgen.backends.nowhere:thing")


def test_a_new_backend_is_one_registration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    built: list[BackendRequest] = []
    module = types.ModuleType("swarmgen_test_backend")

    def build(request: BackendRequest) -> EchoBackend:
        built.append(request)
        return EchoBackend(request.offering, request.entry.kind, max_batch=request.option("n", 2))

    module.build = build  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "swarmgen_test_backend", module)
    monkeypatch.setattr(plugins, "_BACKENDS", dict(plugins._BACKENDS))
    register_backend("onnx", "swarmgen_test_backend:build", (Kind.TEXT,))
    entry = dataclasses.replace(load_registry().entry(ECHO), backend="onnx", options={"n": 7})
    backend = make_backend(entry, ECHO, cache_dir=tmp_path, threads=3)
    assert isinstance(backend, EchoBackend) and backend.max_batch == 7
    assert built[0].threads == 3 and built[0].run_precision is None
    image = Offering.parse("echo-image@fp32")
    image_entry = dataclasses.replace(load_registry().entry(image), backend="onnx")
    with pytest.raises(BackendError, match="no image backend named 'onnx'"):
        make_backend(image_entry, image, cache_dir=tmp_path, threads=1)


def test_each_precision_has_default_pins_and_tiers_override_them() -> None:
    assert precision.default_pins(Precision.BF16) == TierPins("torch", ">=2.0", "dtype", "bfloat16")
    assert precision.default_pins(Precision.INT8).method == "dynamic-int8"
    assert precision.default_pins(Precision.INT4).method == "intx-weight-only"
    shapes = load_registry().models["shapes-64"]
    tier = shapes.offerings[Precision.INT4].pins
    assert tier is not None and precision.tier_pins(shapes, Precision.INT4) is tier
    tiny = load_registry().models["tiny-sd"]  # offers no int8: runs the default
    assert precision.tier_pins(tiny, Precision.INT8) == precision.default_pins(Precision.INT8)


def test_an_unknown_method_is_refused_before_loading() -> None:
    pytest.importorskip("torch")
    pins = TierPins("torch", ">=2", "int3-magic", bits=3, modules=("model",))
    with pytest.raises(BackendError, match="'int3-magic' is not registered"):
        precision.load_dtype(pins)


def test_a_new_method_is_one_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("swarmgen_test_quant")
    module.halve = lambda net, pins: ("quantized", net, pins.bits)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "swarmgen_test_quant", module)
    monkeypatch.setattr(precision, "_METHODS", dict(precision._METHODS))
    precision.register_method("halve", "swarmgen_test_quant:halve")
    pins = TierPins("torch", ">=2", "halve", bits=3, modules=("unet",))
    net = object()
    assert precision.apply_pins(pins, "unet", net) == ("quantized", net, 3)  # type: ignore[arg-type, comparison-overlap]
    assert precision.apply_pins(pins, "text_encoder", net) is net  # type: ignore[arg-type]
    assert precision.apply_pins(precision.default_pins(Precision.FP32), "unet", net) is net  # type: ignore[arg-type]


def test_the_worker_checks_the_pinned_library_version(tmp_path: Path) -> None:
    registry = load_registry()
    entry = registry.models["shapes-64"]
    int8 = entry.offerings[Precision.INT8]
    assert int8.pins is not None
    assert precision.check_library(int8.pins)  # the installed torchao is inside the range
    too_new = dataclasses.replace(int8.pins, version=">=99")
    with pytest.raises(BackendError, match=r"torchao .* is installed; the tier pins torchao>=99"):
        precision.check_library(too_new)
    missing = dataclasses.replace(int8.pins, library="no-such-quantizer")
    with pytest.raises(BackendError, match="no-such-quantizer is not installed"):
        precision.check_library(missing)
    bad = dataclasses.replace(
        entry,
        offerings={**entry.offerings, Precision.INT8: dataclasses.replace(int8, pins=too_new)},
    )
    with pytest.raises(BackendError, match="tier pins torchao>=99"):
        make_backend(bad, Offering.parse("shapes-64@int8"), cache_dir=tmp_path, threads=1)
    # a cheater running int8 while declaring fp32 runs the same (checked) pins
    with pytest.raises(BackendError, match="tier pins torchao>=99"):
        make_backend(
            bad,
            Offering.parse("shapes-64@fp32"),
            cache_dir=tmp_path,
            threads=1,
            run_precision=Precision.INT8,
        )


def test_an_fp32_load_pins_ieee_fp32_so_no_gpu_rounds_through_tf32() -> None:
    torch = pytest.importorskip("torch")
    conv, rnn, matmul = (
        torch.backends.cudnn.conv,
        torch.backends.cudnn.rnn,
        torch.backends.cuda.matmul,
    )
    saved = (matmul.fp32_precision, conv.fp32_precision, rnn.fp32_precision)
    try:
        conv.fp32_precision = "tf32"  # PyTorch's default for cuDNN convolutions
        precision.load_dtype(precision.default_pins(Precision.BF16))
        assert conv.fp32_precision == "tf32"  # only fp32 promises IEEE arithmetic
        assert precision.load_dtype(precision.default_pins(Precision.FP32)) == torch.float32
        assert conv.fp32_precision == "ieee"
        assert matmul.fp32_precision == rnn.fp32_precision == "ieee"
    finally:
        matmul.fp32_precision, conv.fp32_precision, rnn.fp32_precision = saved
