"""The quanto method packs 4-bit weights of the pinned layer types and keeps the rest."""

from __future__ import annotations

import pytest

from swarmgen.backends.base import BackendError
from swarmgen.backends.precision import QUANTO_GROUPS, inference, quantize_quanto
from swarmgen.core.tiers import TierPins
from swarmgen.tools.measurement import weight_bytes

torch = pytest.importorskip("torch")
pytest.importorskip("optimum.quanto")


class CoordConv(torch.nn.Conv2d):
    """A convolution with a forward of its own, like the shapes UNet's first layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.cat([x, torch.zeros_like(x[:, :1])], dim=1))


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        CoordConv(4, 8, 3, padding=1),
        torch.nn.Conv2d(8, 16, 3, padding=1),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * 4 * 4, 256),
        torch.nn.Linear(256, 10),
    )


def pins(layers: str = "Linear+Conv2d", **changes: object) -> TierPins:
    fields: dict[str, object] = {"bits": 4, "group_size": QUANTO_GROUPS, "modules": ("m",)}
    fields.update(changes)
    return TierPins("optimum-quanto", ">=0.2.7", "quanto-weight-only", layers=layers, **fields)  # type: ignore[arg-type]


def test_4_bit_weights_are_packed_two_per_byte_and_the_subclass_is_kept() -> None:
    model = net()
    x = torch.randn(2, 3, 4, 4)
    with inference():
        before = model(x)
    fp32_weights = sum(
        layer.weight.numel() for layer in list(model)[1:] if hasattr(layer, "weight")
    )
    quantize_quanto(model, pins())
    assert type(model[0]) is CoordConv  # its own forward survives
    assert all(type(layer).__name__.startswith("Q") for layer in (model[1], model[3], model[4]))
    stored, _, packed = weight_bytes([model])
    fp32, _, _ = weight_bytes([net()])
    kept = 4 * (
        model[0].weight.numel()
        + sum(layer.bias.numel() for layer in (model[0], model[1], model[3], model[4]))
    )
    assert stored == packed  # nothing stored unpacked
    assert stored - kept < 0.2 * 4 * fp32_weights  # half a byte each, plus scales
    assert stored < 0.3 * fp32
    with inference():
        after, again = model(x), model(x)
    assert torch.equal(after, again)
    assert not torch.equal(after, before) and torch.allclose(after, before, atol=0.5)


def test_only_the_pinned_layer_types_and_names_are_quantized() -> None:
    model = net()
    quantize_quanto(model, pins("Linear", keep=("4",)))
    assert type(model[1]) is torch.nn.Conv2d and type(model[4]) is torch.nn.Linear
    assert type(model[3]).__name__ == "QLinear"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"group_size": 32}, "groups 4-bit weights by 128, not 32"),
        ({"bits": 8}, "groups 8-bit weights by None, not 128"),
        ({"bits": 2}, "4 or 8 bits"),
        ({"layers": "Linear+Embedding"}, "not \\['Embedding'\\]"),
    ],
)
def test_settings_quanto_cannot_honour_are_refused(changes: dict[str, object], match: str) -> None:
    layers = str(changes.pop("layers", "Linear+Conv2d"))
    with pytest.raises(BackendError, match=match):
        quantize_quanto(net(), pins(layers, **changes))
