"""How the torch backends realise a precision: a load dtype and an optional quantizer.

Each precision name (registered in :mod:`swarmgen.core.offerings`) gets a
:class:`PrecisionMethod` here by one :func:`register_method` line. ``fp32``, ``bf16`` and
``fp16`` load the weights in that dtype. ``int8`` loads fp32 and then swaps every
``Linear`` layer for a dynamically quantized one (int8 weights, fp32 activations
quantized per batch), which runs on any CPU. ``int4`` has no portable CPU path and no
method, so it is refused. A new quantization method is a module with a
``quantize(module) -> module`` function plus a registration line naming it.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swarmgen.backends.base import BackendError
from swarmgen.backends.plugins import load_object
from swarmgen.core.offerings import Precision

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrecisionMethod:
    """How weights are loaded and then transformed for one precision."""

    dtype: str
    """Name of the ``torch`` dtype the weights load in, e.g. ``"float32"``."""
    quantize: str | None = None
    """``"module:function"`` applied to each loaded network, imported on first use."""


_METHODS: dict[str, PrecisionMethod] = {}


def register_method(precision: Precision, dtype: str, quantize: str | None = None) -> None:
    """Teach the torch backends to run ``precision``; the last registration wins."""
    _METHODS[precision.value] = PrecisionMethod(dtype, quantize)


def method_of(precision: Precision) -> PrecisionMethod:
    """The registered method of ``precision``; ``BackendError`` when it has none."""
    method = _METHODS.get(precision.value)
    if method is None:
        raise BackendError(f"precision {precision} is not supported by the torch backends")
    return method


def load_dtype(precision: Precision) -> torch.dtype:
    """The dtype to load weights in for ``precision``; an fp32 load also pins fp32
    arithmetic (:func:`pin_ieee_fp32`)."""
    import torch

    dtype: torch.dtype = getattr(torch, method_of(precision).dtype)
    if dtype == torch.float32:
        pin_ieee_fp32()
    return dtype


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


def apply_precision(precision: Precision, module: torch.nn.Module) -> torch.nn.Module:
    """``module`` after ``precision``'s quantizer (itself when the method has none)."""
    quantize = method_of(precision).quantize
    if quantize is None:
        return module
    transformed: torch.nn.Module = load_object(quantize)(module)
    return transformed


def quantize_int8(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with its ``Linear`` layers dynamically quantized to int8 weights."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        # Eager-mode quantization is deprecated upstream in favour of torchao, which
        # has no CPU wheel here; the eager path still works and is what int8 means.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantized: torch.nn.Module = quantize_dynamic(  # type: ignore[no-untyped-call]
            module, {torch.nn.Linear}, dtype=torch.qint8
        )
    logger.debug("quantized %s to int8", type(module).__name__)
    return quantized


def pin_threads(threads: int) -> None:
    """Fix torch's intra-op thread count (process-wide); results may depend on it."""
    import torch

    if threads < 1:
        raise BackendError(f"threads must be at least 1, got {threads}")
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


register_method(Precision.FP32, "float32")
register_method(Precision.BF16, "bfloat16")
register_method(Precision.FP16, "float16")
register_method(Precision.INT8, "float32", "swarmgen.backends.precision:quantize_int8")
