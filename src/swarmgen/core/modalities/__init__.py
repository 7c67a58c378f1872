"""Modalities as plug-ins: what differs between image and text jobs, one module each.

- :mod:`.base` — the :class:`Modality` protocol and the registry by kind;
- :mod:`.image` — text-to-image jobs returning PNGs;
- :mod:`.text` — text generation returning tokens with top-k logprobs.

A new modality is one module with a :class:`Modality` object plus one
:func:`register_modality` line in :mod:`.base`.
"""

from swarmgen.core.modalities.base import (
    Modality,
    Thresholds,
    modality,
    modality_of,
    register_modality,
)

__all__ = ["Modality", "Thresholds", "modality", "modality_of", "register_modality"]
