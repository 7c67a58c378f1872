"""What training asks of shapes-64 beyond predicting the noise of its latents.

The diffusion loss alone left two-shape scenes at chance: shapes are a small share of
every image, and the text encoder was never asked which colour a relation puts on which
side (0003). ``shape_cells`` weighs the diffusion loss where shapes lie; ``Placement``
asks the text encoder where each named shape is. Both are used in training only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from swarmgen.tools.shapes.scenes import COLORS, SIZE, Scene


def shape_cells(pixels: np.ndarray, items: list[Scene], latent_size: int) -> Any:
    """``(N, 1, latent_size, latent_size)``: 1.0 where a latent cell covers any pixel of
    a shape (not the background's colour), else 0.0."""
    import torch

    backgrounds = np.array([COLORS[scene.background] for scene in items], dtype=np.uint8)
    shapes = (pixels != backgrounds[:, None, None, :]).any(axis=-1)
    cells = torch.from_numpy(shapes).float()[:, None]
    return torch.nn.functional.adaptive_max_pool2d(cells, latent_size)


class Placement:
    """Where each shape of a caption lies, read off the text encoder's colour words.

    A linear head regresses each shape's centre in [-1, 1] from the encoder's output at
    the shape's colour word.
    Where a caption fixes the side (two shapes and a relation) the word must learn it;
    elsewhere the centre is random and the best guess is the middle, which costs nothing.
    """

    def __init__(self, width: int, tokenizer: Any, ids: Any, items: list[Scene]) -> None:
        import torch

        self.head = torch.nn.Linear(width, 2)
        self.centres = torch.zeros(*ids.shape, 2)
        self.named = torch.zeros(ids.shape, dtype=torch.bool)
        # The vocabulary makes every grammar word one token.
        words = {c: tokenizer(c, add_special_tokens=False).input_ids[0] for c in COLORS}
        for row, scene in enumerate(items):
            for shape in scene.shapes:
                # Colours within a scene are distinct and never the background's, so the
                # first occurrence of a shape's colour word is that shape's.
                at = int((ids[row] == words[shape.color]).nonzero()[0, 0])
                self.centres[row, at] = torch.tensor([shape.x, shape.y]) / (SIZE - 1) * 2 - 1
                self.named[row, at] = True

    def loss(self, hidden: Any, pick: Any, kept: Any) -> Any:
        """Squared error of the predicted centres, summed over the named shapes of each
        caption in ``pick`` that was ``kept`` (not dropped for guidance), averaged over
        captions. Averaged per caption, not per shape, so that replicas holding equal
        shares of a batch average to the loss of the whole batch (0009)."""
        named = self.named[pick] & kept[:, None]
        error = (self.head(hidden) - self.centres[pick]).pow(2).sum(-1)
        return (error * named).sum() / len(pick)
