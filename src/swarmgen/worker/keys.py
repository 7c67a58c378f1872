"""The worker's Ed25519 identity: a key file (see :mod:`swarmgen.keyfile`)."""

from __future__ import annotations

from swarmgen.keyfile import load_or_create

__all__ = ["load_or_create"]
