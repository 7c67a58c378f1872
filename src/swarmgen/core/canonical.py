"""Canonical JSON and SHA-256 digests.

Canonical JSON is UTF-8, keys sorted, no insignificant whitespace. Floats are refused:
anything that is digested or signed must use integers (money is integer micro-credits)
or strings (a guidance scale is sent as its decimal text).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson


class NotCanonical(ValueError):
    """The value cannot be encoded canonically (a float, NaN, or a non-string key)."""


def _check(value: Any, path: str = "$") -> None:
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return
    if isinstance(value, float):
        raise NotCanonical(f"{path}: floats are not canonical; use an integer or a string")
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical(f"{path}: object keys must be strings")
            _check(item, f"{path}.{key}")
        return
    raise NotCanonical(f"{path}: {type(value).__name__} is not JSON")


_PLAIN = frozenset({str, int, bool, type(None)})
_CONTAINERS = 1_000_000
"""Most containers :func:`_plain` walks before it leaves the value to :func:`_check`."""


def _plain(value: Any) -> bool:
    """Whether ``value`` is JSON of exact built-in types and no float, at any depth: the
    common case, decided without building a path per item. ``False`` sends ``value``
    to :func:`_check`, which accepts or refuses it as before (subclasses, floats)."""
    stack = [value]
    budget = _CONTAINERS
    while stack:
        budget -= 1
        if not budget:  # a cycle, or a very large value: let the recursion judge it
            return False
        item = stack.pop()
        kind = type(item)
        if kind in _PLAIN:
            continue
        if kind is dict:
            for key, inner in item.items():
                if type(key) is not str:
                    return False
                if type(inner) not in _PLAIN:
                    stack.append(inner)
        elif kind is list or kind is tuple:
            stack.extend(inner for inner in item if type(inner) not in _PLAIN)
        else:
            return False
    return True


def canonical_json(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes.

    orjson writes the same bytes as ``json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` for plain values, several times faster. What it refuses
    (integers past 64 bits, lone surrogates, very deep nesting) and values that are not
    plain take the standard library's path, which encodes or refuses them as it always has.
    """
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass
    else:
        _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of raw bytes."""
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """Hex SHA-256 over the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
