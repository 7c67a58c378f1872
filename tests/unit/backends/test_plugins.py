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


def test_a_precision_without_a_torch_method_is_refused() -> None:
    with pytest.raises(BackendError, match="not supported"):
        precision.method_of(Precision.INT4)
    assert precision.method_of(Precision.INT8).quantize is not None
    assert precision.method_of(Precision.BF16) == precision.PrecisionMethod("bfloat16")


def test_apply_precision_runs_the_registered_quantizer(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("swarmgen_test_quant")
    module.halve = lambda net: ("quantized", net)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "swarmgen_test_quant", module)
    monkeypatch.setattr(precision, "_METHODS", dict(precision._METHODS))
    precision.register_method(Precision.INT4, "float32", "swarmgen_test_quant:halve")
    net = object()
    assert precision.apply_precision(Precision.INT4, net) == ("quantized", net)  # type: ignore[arg-type, comparison-overlap]
    assert precision.apply_precision(Precision.FP32, net) is net  # type: ignore[arg-type]


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
        precision.load_dtype(Precision.BF16)
        assert conv.fp32_precision == "tf32"  # only fp32 promises IEEE arithmetic
        assert precision.load_dtype(Precision.FP32) == torch.float32
        assert conv.fp32_precision == "ieee"
        assert matmul.fp32_precision == rnn.fp32_precision == "ieee"
    finally:
        matmul.fp32_precision, conv.fp32_precision, rnn.fp32_precision = saved
