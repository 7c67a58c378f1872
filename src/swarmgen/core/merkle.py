"""Merkle roots over an epoch's entry hashes, and inclusion proofs that verify offline.

Leaves and inner nodes are hashed with distinct one-byte prefixes (``0x00`` and
``0x01``), so an inner node can never pass for a leaf. A node without a sibling is
carried up unchanged instead of being paired with itself: duplicating it would let two
different leaf lists share a root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_LEAF = b"\x00"
_NODE = b"\x01"

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
"""The root of an epoch without entries."""


def _leaf(item: str) -> bytes:
    return hashlib.sha256(_LEAF + bytes.fromhex(item)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def _up(level: list[bytes]) -> list[bytes]:
    nxt = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        nxt.append(level[-1])
    return nxt


def merkle_root(leaves: Sequence[str]) -> str:
    """Root over ``leaves`` (hex SHA-256 digests, in ledger order)."""
    if not leaves:
        return EMPTY_ROOT
    level = [_leaf(item) for item in leaves]
    while len(level) > 1:
        level = _up(level)
    return level[0].hex()


@dataclass(frozen=True)
class Step:
    """One sibling on the way from a leaf to the root."""

    sibling: str
    left: bool
    """True when the sibling sits to the left of the path."""


@dataclass(frozen=True)
class MerkleProof:
    """The siblings that lead from leaf ``index`` of ``size`` leaves up to the root."""

    index: int
    size: int
    steps: tuple[Step, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "size": self.size,
            "steps": [[s.sibling, s.left] for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Any) -> MerkleProof:
        """Parse strictly; ``ValueError`` on any unexpected shape."""
        if not isinstance(data, dict) or set(data) != {"index", "size", "steps"}:
            raise ValueError("a Merkle proof has exactly index, size and steps")
        index, size, steps = data["index"], data["size"], data["steps"]
        if type(index) is not int or type(size) is not int or not isinstance(steps, list):
            raise ValueError("index and size are integers, steps a list")
        parsed = []
        for step in steps:
            if not (isinstance(step, list) and len(step) == 2 and isinstance(step[0], str)):
                raise ValueError("each step is [sibling hex, left flag]")
            if not isinstance(step[1], bool):
                raise ValueError("each step's left flag is a boolean")
            parsed.append(Step(step[0], step[1]))
        return cls(index, size, tuple(parsed))


def prove(leaves: Sequence[str], index: int) -> MerkleProof:
    """The inclusion proof of ``leaves[index]``."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside 0..{len(leaves) - 1}")
    level = [_leaf(item) for item in leaves]
    steps: list[Step] = []
    pos = index
    while len(level) > 1:
        sibling = pos ^ 1
        if sibling < len(level):
            steps.append(Step(level[sibling].hex(), left=sibling < pos))
        level = _up(level)
        pos //= 2
    return MerkleProof(index, len(leaves), tuple(steps))


def _expected_steps(index: int, size: int) -> list[bool]:
    """Which levels have a sibling for ``index`` in a tree of ``size`` leaves, and its side."""
    sides: list[bool] = []
    pos, width = index, size
    while width > 1:
        sibling = pos ^ 1
        if sibling < width:
            sides.append(sibling < pos)
        pos, width = pos // 2, (width + 1) // 2
    return sides


def verify_inclusion(leaf: str, proof: MerkleProof, root: str) -> bool:
    """True when ``proof`` leads from ``leaf`` to ``root``.

    The path's shape is recomputed from ``index`` and ``size``, so a proof cannot claim a
    position its siblings do not match.
    """
    if not 0 <= proof.index < proof.size:
        return False
    sides = _expected_steps(proof.index, proof.size)
    if [s.left for s in proof.steps] != sides:
        return False
    try:
        node = _leaf(leaf)
        for step in proof.steps:
            sibling = bytes.fromhex(step.sibling)
            if len(sibling) != len(node):
                return False
            node = _node(sibling, node) if step.left else _node(node, sibling)
    except ValueError:
        return False
    return node.hex() == root
