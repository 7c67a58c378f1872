"""How a backend realises an offering's precision with torch on this machine.

``fp32``, ``bf16`` and ``fp16`` load the weights in that dtype. ``int8`` loads fp32 and
then swaps every ``Linear`` layer for a dynamically quantized one (int8 weights, fp32
activations quantized per batch), which runs on any CPU. ``int4`` has no portable CPU
path and is refused.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING

from swarmgen.backends.base import BackendError
from swarmgen.core.offerings import Precision

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


def load_dtype(precision: Precision) -> torch.dtype:
    """The dtype to load weights in for ``precision``."""
    import torch

    dtypes = {
        Precision.FP32: torch.float32,
        Precision.BF16: torch.bfloat16,
        Precision.FP16: torch.float16,
        Precision.INT8: torch.float32,
    }
    if precision not in dtypes:
        raise BackendError(f"precision {precision} is not supported by the torch backends")
    return dtypes[precision]


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
