"""ShapesUNet: the stock UNet plus pixel coordinates, saved and loaded like the stock class."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.models

torch = pytest.importorskip("torch")

from swarmgen.shapes.unet import CoordConv, ShapesUNet  # noqa: E402

SMALL = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    "block_out_channels": [8, 16],
    "layers_per_block": 1,
    "cross_attention_dim": 16,
    "attention_head_dim": 4,
    "norm_num_groups": 4,
}


def test_the_input_convolution_tells_rows_and_columns_apart() -> None:
    """On a blank input a stock convolution gives the same output at every inner pixel;
    with the coordinates every pixel gets its own."""
    torch.manual_seed(0)
    conv = CoordConv(3 + 2, 4, kernel_size=3, padding=1)
    out = conv(torch.zeros(1, 3, 6, 6))[0, :, 1:-1, 1:-1]
    pixels = out.reshape(4, -1).T
    assert len({tuple(p.tolist()) for p in pixels}) == pixels.shape[0]


def test_the_unet_keeps_the_stock_interface(tmp_path: Path) -> None:
    torch.manual_seed(0)
    unet = ShapesUNet(**SMALL).eval()
    assert unet.config.in_channels == 4  # what pipelines draw latents with
    assert unet.conv_in.in_channels == 6
    unet.save_pretrained(tmp_path)
    loaded = ShapesUNet.from_pretrained(tmp_path).eval()
    assert isinstance(loaded.conv_in, CoordConv)
    sample, text = torch.randn(2, 4, 8, 8), torch.randn(2, 5, 16)
    with torch.no_grad():
        first = unet(sample, 10, text).sample
        again = loaded(sample, 10, text).sample
    assert first.shape == sample.shape
    assert torch.equal(first, again)
