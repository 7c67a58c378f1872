"""A tier process's byte counts, on small synthetic models."""

from __future__ import annotations

import pytest

from swarmgen.core.tiers import TierPins
from swarmgen.tools.measurement import weight_bytes

torch = pytest.importorskip("torch")


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.LayerNorm(32))


def test_fp32_bytes_count_every_tensor_once() -> None:
    model = net()
    params = sum(p.numel() for p in model.parameters())
    assert weight_bytes([model, model]) == (4 * params, 4 * params, 4 * params)


def test_int4_weights_count_as_stored_and_as_packed() -> None:
    from swarmgen.backends.precision import quantize_torchao

    model = net()
    pins = TierPins("torchao", ">=0.18", "intx-weight-only", bits=4, group_size=32, modules=("m",))
    quantize_torchao(model, pins)
    stored, kept, packed = weight_bytes([model])
    kept_params = 32 + 32 + 32  # the bias and the LayerNorm stay fp32
    assert kept == 4 * kept_params
    groups = 32 * 64 // 32
    # int4 values are stored one per byte; packing would halve them
    assert stored - packed == 32 * 64 // 2
    assert stored >= kept + 32 * 64 + groups  # values + at least a byte of scale per group
