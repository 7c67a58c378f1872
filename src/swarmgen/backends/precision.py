"""How the torch backends realise a tier: a load dtype and an optional quantization method.

A tier's :class:`~swarmgen.core.tiers.TierPins` (from the registry) name the library, its
version range, the method and its parameters. Methods register by name
(:func:`register_method`) as ``"module:function"`` paths imported on first use, each a
``quantize(module, pins) -> module``; ``dtype`` is the method that only loads the weights
in the pinned dtype. Registered here:

- ``dtype``: ``fp32``, ``bf16``, ``fp16`` loads;
- ``int8-weight-only`` (torchao): int8 weights per output row, float activations;
- ``intx-weight-only`` (torchao): ``bits``-bit symmetric weights in groups of
  ``group_size`` along the input dimension, stored unpacked in int8, float activations;
- ``quanto-weight-only`` (optimum-quanto): ``bits``-bit weights of ``Linear`` and
  ``Conv2d`` layers packed below one byte (two 4-bit values per byte), in quanto's own
  groups (:data:`QUANTO_GROUPS`), float activations; the only method here that packs
  int4 and reaches convolutions;
- ``dynamic-int8`` (torch): ``Linear`` layers swapped for dynamically quantized ones
  (int8 weights, activations quantized per batch), the int8 of models with no int8 tier.

A model offered at a precision runs that tier's pins; a precision a model does not offer
(a cheater's, in tests and the calibration zoo) runs :func:`default_pins`. A new method is
a module with a quantize function plus one :func:`register_method` line.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from swarmgen.backends.base import BackendError
from swarmgen.backends.plugins import load_object
from swarmgen.core.offerings import Precision
from swarmgen.core.tiers import TierPins

if TYPE_CHECKING:
    import torch

    from swarmgen.registry import ModelEntry

logger = logging.getLogger(__name__)

_METHODS: dict[str, str | None] = {}
_DEFAULTS: dict[str, TierPins] = {}


def register_method(name: str, quantize: str | None) -> None:
    """Teach the torch backends method ``name``: ``quantize`` is the ``"module:function"``
    of its ``quantize(module, pins) -> module``, or ``None`` for a plain dtype load."""
    _METHODS[name] = quantize


def register_default(precision: Precision, pins: TierPins) -> None:
    """What ``precision`` runs on a model that does not offer it as a tier."""
    _DEFAULTS[precision.value] = pins


def tier_pins(entry: ModelEntry, precision: Precision) -> TierPins:
    """The pins ``precision`` runs on ``entry``: its tier's, else :func:`default_pins`."""
    offered = entry.offerings.get(precision)
    if offered is not None and offered.pins is not None:
        return offered.pins
    return default_pins(precision)


def default_pins(precision: Precision) -> TierPins:
    """The pins ``precision`` runs where no registry tier pins it; ``BackendError`` when
    the torch backends have none for it."""
    pins = _DEFAULTS.get(precision.value)
    if pins is None:
        raise BackendError(f"precision {precision} is not supported by the torch backends")
    return pins


def check_library(pins: TierPins) -> str:
    """The installed version of the tier's library; ``BackendError`` when it is missing
    or outside the pinned range (its arithmetic would not be the tier's)."""
    try:
        installed = importlib.metadata.version(pins.library)
    except importlib.metadata.PackageNotFoundError:
        raise BackendError(
            f"{pins.library} is not installed; the tier pins {pins.library}{pins.version}"
        ) from None
    if not pins.allows(installed):
        raise BackendError(
            f"{pins.library} {installed} is installed; the tier pins {pins.library}{pins.version}"
        )
    return installed


def _quantizer(pins: TierPins) -> Callable[[Any, TierPins], Any] | None:
    if pins.method not in _METHODS:
        raise BackendError(
            f"quantization method {pins.method!r} is not registered (known: {', '.join(_METHODS)})"
        )
    target = _METHODS[pins.method]
    return None if target is None else load_object(target)


def load_dtype(pins: TierPins) -> torch.dtype:
    """The dtype to load weights in; an fp32 load also pins fp32 arithmetic
    (:func:`pin_ieee_fp32`)."""
    import torch

    _quantizer(pins)  # refuse an unknown method before loading anything
    dtype: torch.dtype = getattr(torch, pins.dtype)
    if dtype == torch.float32:
        pin_ieee_fp32()
    return dtype


def apply_pins(pins: TierPins, part: str, module: torch.nn.Module) -> torch.nn.Module:
    """``module`` (the model's part named ``part``) after the tier's method; itself when
    the method has no quantizer or the tier does not transform that part."""
    quantize = _quantizer(pins)
    if quantize is None or part not in pins.modules:
        return module
    transformed: torch.nn.Module = quantize(module, pins)
    logger.debug("applied %s to %s", pins.method, part)
    return transformed


def pin_ieee_fp32() -> None:
    """Run fp32 as IEEE fp32 on every device: no TF32 in matmuls or cuDNN convolutions.

    PyTorch lets cuDNN convolutions use TF32 by default on Ampere and later GPUs; such a
    worker's fp32 images differ from a CPU validator's by more than honest rounding
    (emulated: about 3 % of honest image checks rejected, decision 0006), so an fp32
    offering means IEEE fp32 everywhere. Process-wide, and a no-op without CUDA.
    """
    import torch

    backends: Any = torch.backends  # the fp32_precision flags are not in torch's stubs
    backends.cuda.matmul.fp32_precision = "ieee"
    backends.cudnn.conv.fp32_precision = "ieee"
    backends.cudnn.rnn.fp32_precision = "ieee"


def _linear_filter(pins: TierPins) -> Callable[[Any, str], bool]:
    """Which submodules a torchao method transforms: ``Linear`` layers not kept."""
    import torch

    if pins.layers != "Linear":
        raise BackendError(f"{pins.method} transforms Linear layers only, not {pins.layers}")
    keep = set(pins.keep)

    def chosen(module: Any, fqn: str) -> bool:
        return isinstance(module, torch.nn.Linear) and fqn not in keep

    return chosen


def _torchao_config(pins: TierPins) -> Any:
    import torch
    from torchao.quantization import Int8WeightOnlyConfig, IntxWeightOnlyConfig
    from torchao.quantization.granularity import PerGroup

    if pins.method == "int8-weight-only":
        if pins.bits != 8:
            raise BackendError(f"int8-weight-only has 8 bits, not {pins.bits}")
        return Int8WeightOnlyConfig(group_size=pins.group_size)
    weight_dtype = getattr(torch, f"int{pins.bits}", None)
    if weight_dtype is None or pins.group_size is None:
        raise BackendError(f"intx-weight-only needs bits in 1-8 and a group_size, got {pins}")
    return IntxWeightOnlyConfig(weight_dtype=weight_dtype, granularity=PerGroup(pins.group_size))


def quantize_torchao(module: torch.nn.Module, pins: TierPins) -> torch.nn.Module:
    """``module`` with its chosen ``Linear`` weights quantized in place by torchao."""
    with _quiet_torchao():
        from torchao.quantization import quantize_

        quantize_(module, _torchao_config(pins), filter_fn=_linear_filter(pins))
    return module


@contextmanager
def _quiet_torchao() -> Iterator[None]:
    """Silence what importing torchao logs about optional GPU kernels it cannot load."""
    torchao_log = logging.getLogger("torchao")
    level = torchao_log.level
    torchao_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        torchao_log.setLevel(level)


QUANTO_GROUPS = 128
"""The group size quanto itself chooses for sub-byte weights, and the only one a tier may
pin: 128 weights per scale, else the largest of 96, 64 or 32 that divides a layer's
inputs, else one scale per output row. quanto offers no other."""

_QUANTO_LAYERS = ("Linear", "Conv2d")


def _quanto_layers(pins: TierPins) -> tuple[type, ...]:
    import torch

    named = pins.layers.split("+")
    unknown = [name for name in named if name not in _QUANTO_LAYERS]
    if unknown:
        raise BackendError(
            f"quanto-weight-only transforms {' and '.join(_QUANTO_LAYERS)} layers, not {unknown}"
        )
    return tuple(getattr(torch.nn, name) for name in named)


def quantize_quanto(module: torch.nn.Module, pins: TierPins) -> torch.nn.Module:
    """``module`` with its chosen layers' weights quantized and frozen by optimum-quanto.

    A chosen layer is one of exactly the pinned types (``Linear+Conv2d``) not kept:
    quanto swaps a layer for its own quantized class, so a subclass with a forward of its
    own (the shapes UNet's coordinate convolution) would lose it and is kept instead.
    """
    from optimum.quanto import freeze, qint4, qint8, quantize

    qtypes = {4: qint4, 8: qint8}
    if pins.bits not in qtypes:
        raise BackendError(f"quanto-weight-only has 4 or 8 bits, not {pins.bits}")
    groups = QUANTO_GROUPS if pins.bits == 4 else None  # 8 bits: one scale per row
    if pins.group_size != groups:
        raise BackendError(
            f"quanto-weight-only groups {pins.bits}-bit weights by {groups}, not {pins.group_size}"
        )
    chosen = _quanto_layers(pins)
    keep = set(pins.keep)
    names = [
        name for name, layer in module.named_modules() if type(layer) in chosen and name not in keep
    ]
    if any(char in name for name in names for char in "*?["):
        raise BackendError("a layer name holds a wildcard character quanto would expand")
    if names:
        quantize(module, weights=qtypes[pins.bits], include=names)
        freeze(module)
    return module


def quantize_dynamic_int8(module: torch.nn.Module, pins: TierPins) -> torch.nn.Module:
    """``module`` with its ``Linear`` layers dynamically quantized to int8 weights."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # Eager-mode quantization is deprecated upstream in favour of torchao; it stays
        # the int8 cheat of models without an int8 tier, whose figures were measured on it.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantized: torch.nn.Module = quantize_dynamic(  # type: ignore[no-untyped-call]
            module, {torch.nn.Linear}, dtype=torch.qint8
        )
    logger.debug("quantized %s to int8", type(module).__name__)
    return quantized


def inference() -> contextlib.AbstractContextManager[None]:
    """The autograd mode every backend computes in: no gradients. Not
    ``torch.inference_mode``, because quanto's quantized layers call autograd functions,
    which refuse the inference tensors that mode makes."""
    import torch

    return torch.no_grad()


def pin_threads(threads: int) -> None:
    """Fix torch's intra-op thread count (process-wide); results may depend on it."""
    import torch

    if threads < 1:
        raise BackendError(f"threads must be at least 1, got {threads}")
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


register_method("dtype", None)
register_method("int8-weight-only", "swarmgen.backends.precision:quantize_torchao")
register_method("intx-weight-only", "swarmgen.backends.precision:quantize_torchao")
register_method("quanto-weight-only", "swarmgen.backends.precision:quantize_quanto")
register_method("dynamic-int8", "swarmgen.backends.precision:quantize_dynamic_int8")

_TORCH = ">=2.0"
_PARTS = ("unet", "text_encoder", "model")
register_default(Precision.FP32, TierPins("torch", _TORCH, "dtype", "float32"))
register_default(Precision.BF16, TierPins("torch", _TORCH, "dtype", "bfloat16"))
register_default(Precision.FP16, TierPins("torch", _TORCH, "dtype", "float16"))
register_default(Precision.INT8, TierPins("torch", _TORCH, "dynamic-int8", bits=8, modules=_PARTS))
register_default(
    Precision.INT4,
    TierPins("torchao", ">=0.18,<0.19", "intx-weight-only", bits=4, group_size=32, modules=_PARTS),
)
