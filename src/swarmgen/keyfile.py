"""Ed25519 key files: made once, readable by their owner only (mode 0600).

Workers keep their identity in one and the coordinator signs epoch seals with one, so the
file handling lives here, beside neither: the coordinator never imports worker code.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from swarmgen.core.signing import KeyPair


def load_or_create(path: Path) -> KeyPair:
    """Load the key at ``path``; create it (mode 0600, never world-readable) if missing."""
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise PermissionError(f"{path} is mode {mode:o}; a key file must be 0600")
        return KeyPair.from_seed(bytes.fromhex(path.read_text().strip()))
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = KeyPair.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(keys.seed.hex() + "\n")
    return keys
