import dataclasses
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.merkle import (
    EMPTY_ROOT,
    MerkleProof,
    Step,
    merkle_root,
    prove,
    verify_inclusion,
)


def _leaves(n: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(n)]


@given(st.integers(1, 70), st.data())
def test_every_leaf_proves_against_the_root(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    index = data.draw(st.integers(0, n - 1))
    proof = prove(leaves, index)
    root = merkle_root(leaves)
    assert verify_inclusion(leaves[index], proof, root)
    assert MerkleProof.from_dict(proof.to_dict()) == proof
    other = data.draw(st.integers(0, n - 1))
    if other != index:
        assert not verify_inclusion(leaves[other], proof, root)
        assert not verify_inclusion(leaves[index], dataclasses.replace(proof, index=other), root)


@given(st.integers(2, 40), st.data())
def test_a_changed_sibling_breaks_the_proof(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    index = data.draw(st.integers(0, n - 1))
    proof = prove(leaves, index)
    k = data.draw(st.integers(0, len(proof.steps) - 1))
    step = proof.steps[k]
    flipped = ("0" if step.sibling[0] != "0" else "1") + step.sibling[1:]
    for bad in (Step(flipped, step.left), Step(step.sibling, not step.left)):
        steps = (*proof.steps[:k], bad, *proof.steps[k + 1 :])
        assert not verify_inclusion(
            leaves[index], dataclasses.replace(proof, steps=steps), merkle_root(leaves)
        )


def test_roots_tell_lists_apart() -> None:
    a, b, c = _leaves(3)
    roots = {
        merkle_root(x) for x in ([a], [a, b], [b, a], [a, b, c], [a, b, c, c], [a, b, c, c, c])
    }
    assert len(roots) == 6
    assert merkle_root([]) == EMPTY_ROOT


def test_a_leaf_is_not_an_inner_node() -> None:
    leaves = _leaves(4)
    proof = prove(leaves, 0)
    # Lifting the path one level up must not let the level-1 node pass as a leaf.
    level1 = hashlib.sha256(
        b"\x01"
        + hashlib.sha256(b"\x00" + bytes.fromhex(leaves[0])).digest()
        + hashlib.sha256(b"\x00" + bytes.fromhex(leaves[1])).digest()
    ).hexdigest()
    short = MerkleProof(0, 2, proof.steps[1:])
    assert not verify_inclusion(level1, short, merkle_root(leaves))


def test_out_of_range() -> None:
    with pytest.raises(IndexError):
        prove(_leaves(2), 2)
    assert not verify_inclusion(_leaves(1)[0], MerkleProof(1, 1, ()), merkle_root(_leaves(1)))
    assert not verify_inclusion("zz", MerkleProof(0, 1, ()), merkle_root(_leaves(1)))
