"""The shapes-64 UNet: diffusers' ``UNet2DConditionModel`` that also sees where it is.

Convolutions are translation-equivariant and the UNet's self-attention carries no
positions, so at pure noise, where sampling starts, nothing tells the network the top of
the image from the bottom: for "a red circle above a blue square" it can only predict the
same mean colour everywhere, and which shape lands on top is left to the noise (two-shape
scenes were right about half the time, chance level; 0003). ``ShapesUNet`` feeds two
channels of coordinates in [-1, 1] to its first convolution along with the latents
(CoordConv), so the mean it predicts from noise can already put the red at the top.

Everything else, the config, the weights format and ``from_pretrained``, is the stock
class's. A saved pipeline names this module in ``model_index.json``; diffusers resolves
such a name among the modules already imported, so loaders import this one first.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from diffusers import ModelMixin, UNet2DConditionModel

__all__ = ["ModelMixin", "ShapesUNet"]
"""``ModelMixin`` is re-exported on purpose: diffusers finds how to load a component from
a custom module by looking that base class up in the module itself."""

COORDINATES = 2
"""Extra input channels of the first convolution: the row and column of each pixel."""


class CoordConv(torch.nn.Conv2d):
    """A convolution whose input gains the pixel coordinates as ``COORDINATES`` channels."""

    def forward(self, sample: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = sample.shape
        rows = torch.linspace(-1.0, 1.0, height, dtype=sample.dtype, device=sample.device)
        cols = torch.linspace(-1.0, 1.0, width, dtype=sample.dtype, device=sample.device)
        grid = torch.stack(torch.meshgrid(rows, cols, indexing="ij"))
        return super().forward(torch.cat([sample, grid.expand(batch, -1, -1, -1)], dim=1))


class ShapesUNet(UNet2DConditionModel):
    """``UNet2DConditionModel`` with a :class:`CoordConv` as its input convolution."""

    # ``wraps`` keeps the stock signature visible: diffusers reads a model's config keys
    # from its ``__init__`` parameters.
    @functools.wraps(UNet2DConditionModel.__init__)  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        stock: torch.nn.Conv2d = getattr(self, "conv_in")  # noqa: B009 (untyped in diffusers)
        self.conv_in = CoordConv(
            stock.in_channels + COORDINATES,
            stock.out_channels,
            kernel_size=stock.kernel_size[0],
            padding=stock.kernel_size[0] // 2,
        )
