"""API keys in the shape AI Horde's clients accept."""

from __future__ import annotations

import string

from swarmgen.coordinator.auth import hash_key, new_api_key

URLSAFE = set(string.ascii_letters + string.digits + "-_")


def test_a_horde_key_has_22_urlsafe_characters_and_shows_only_4() -> None:
    keys = [new_api_key(horde=True) for _ in range(100)]
    assert all(len(k.key) == 22 and set(k.key) <= URLSAFE for k in keys)
    assert len({k.key for k in keys}) == 100
    assert all(k.prefix == k.key[:4] and k.key_hash == hash_key(k.key) for k in keys)
    native = new_api_key()
    assert (
        native.key.startswith("sg_") and len(native.key) > 22 and native.prefix == native.key[:10]
    )
