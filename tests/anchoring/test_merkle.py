"""The batch tree against a second, independently written RFC 6962 implementation (recursive, by the RFC)."""

from __future__ import annotations

import hashlib
import random

import pytest

from civiccert.chain.merkle import MerkleTree, leaf_hash, node_hash, verify_inclusion


# --- reference: RFC 6962 §2.1 written literally, recursion on D[0:k] / D[k:n] -----------------------------
def _ref_split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _ref_mth(data: list[bytes]) -> bytes:
    if len(data) == 1:
        return hashlib.sha256(bytes([0]) + data[0]).digest()
    k = _ref_split(len(data))
    return hashlib.sha256(bytes([1]) + _ref_mth(data[:k]) + _ref_mth(data[k:])).digest()


def _ref_path(m: int, data: list[bytes]) -> list[bytes]:
    if len(data) == 1:
        return []
    k = _ref_split(len(data))
    if m < k:
        return [*_ref_path(m, data[:k]), _ref_mth(data[k:])]
    return [*_ref_path(m - k, data[k:]), _ref_mth(data[:k])]


def _hashes(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(32) for _ in range(n)]


@pytest.mark.parametrize("size", range(1, 71))
def test_root_and_every_proof_match_the_reference_for_sizes_1_to_70(size: int) -> None:
    data = _hashes(size, seed=size)
    tree = MerkleTree(data)
    assert tree.size == size
    assert tree.root == _ref_mth(data)
    proofs = tree.proofs()
    for index in range(size):
        expected = _ref_path(index, data)
        assert tree.proof(index) == expected
        assert proofs[index] == expected
        assert verify_inclusion(data[index], index, size, expected, tree.root)


def test_random_proofs_in_large_trees_verify_and_match_the_reference() -> None:
    rng = random.Random(7)
    for size in (127, 128, 129, 1000, 1025):
        data = _hashes(size, seed=size)
        tree = MerkleTree(data)
        assert tree.root == _ref_mth(data)
        proofs = tree.proofs()
        for index in rng.sample(range(size), 12):
            assert proofs[index] == tree.proof(index) == _ref_path(index, data)
            assert verify_inclusion(data[index], index, size, proofs[index], tree.root)


def test_limit_case_single_leaf_tree_has_empty_proof() -> None:
    data = _hashes(1)
    tree = MerkleTree(data)
    assert tree.root == leaf_hash(data[0]) == hashlib.sha256(b"\x00" + data[0]).digest()
    assert tree.proof(0) == []
    assert tree.proofs() == [[]]
    assert verify_inclusion(data[0], 0, 1, [], tree.root)
    assert not verify_inclusion(data[0], 0, 2, [], tree.root)
    assert not verify_inclusion(data[0], 1, 1, [], tree.root)


def test_root_of_two_leaves_uses_both_prefixes() -> None:
    a, b = _hashes(2)
    expected = hashlib.sha256(b"\x01" + hashlib.sha256(b"\x00" + a).digest() + hashlib.sha256(b"\x00" + b).digest())
    assert MerkleTree([a, b]).root == expected.digest() == node_hash(leaf_hash(a), leaf_hash(b))


def test_odd_node_is_carried_up_never_duplicated() -> None:
    a, b, c = _hashes(3)
    tree = MerkleTree([a, b, c])
    assert tree.root == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c))
    assert tree.root != MerkleTree([a, b, c, c]).root
    assert tree.proof(2) == [node_hash(leaf_hash(a), leaf_hash(b))]


@pytest.mark.parametrize("size", [2, 3, 5, 8, 13, 70])
def test_manipulated_proofs_are_rejected(size: int) -> None:
    data = _hashes(size, seed=100 + size)
    tree = MerkleTree(data)
    for index in range(size):
        proof = tree.proof(index)
        root = tree.root
        assert verify_inclusion(data[index], index, size, proof, root)
        # every single flipped bit in every proof element
        for position in range(len(proof)):
            for bit in (0, 7, 255):
                bad = list(proof)
                element = bytearray(bad[position])
                element[bit // 8] ^= 1 << (bit % 8)
                bad[position] = bytes(element)
                assert not verify_inclusion(data[index], index, size, bad, root)
        assert not verify_inclusion(data[index], index, size, [*proof, proof[0] if proof else root], root)
        if proof:
            assert not verify_inclusion(data[index], index, size, proof[:-1], root)
            assert not verify_inclusion(data[index], index, size, [bytes(32), *proof[1:]], root)
            if len(proof) > 1 and proof[0] != proof[1]:
                swapped = [proof[1], proof[0], *proof[2:]]
                assert not verify_inclusion(data[index], index, size, swapped, root)
        other = (index + 1) % size
        assert not verify_inclusion(data[other], index, size, proof, root)
        assert not verify_inclusion(data[index], other, size, proof, root)
        wrong_root = bytes([root[0] ^ 1]) + root[1:]
        assert not verify_inclusion(data[index], index, size, proof, wrong_root)


def test_a_node_presented_as_a_leaf_is_rejected() -> None:
    data = _hashes(4, seed=4)
    tree = MerkleTree(data)
    left = node_hash(leaf_hash(data[0]), leaf_hash(data[1]))
    right = node_hash(leaf_hash(data[2]), leaf_hash(data[3]))
    assert tree.root == node_hash(left, right)
    # the inner node, claimed as a credential hash in a tree of 2 with the sibling node as its path
    assert not verify_inclusion(left, 0, 2, [right], tree.root)
    assert not verify_inclusion(left, 0, 4, [right], tree.root)
    # a leaf hash (already prefixed) claimed as the credential hash
    assert not verify_inclusion(leaf_hash(data[0]), 0, 4, tree.proof(0), tree.root)
    # the 64 bytes left||right of a node never fit: credential hashes are exactly 32 bytes
    assert not verify_inclusion(left + right, 0, 1, [], tree.root)


def test_malformed_inputs_answer_false_in_verification() -> None:
    data = _hashes(4, seed=9)
    tree = MerkleTree(data)
    proof = tree.proof(1)
    assert not verify_inclusion(data[1][:31], 1, 4, proof, tree.root)
    assert not verify_inclusion(data[1], 1, 4, proof, tree.root[:31])
    assert not verify_inclusion(data[1], 1, 4, [proof[0] + b"\x00", proof[1]], tree.root)
    assert not verify_inclusion(data[1], -1, 4, proof, tree.root)
    assert not verify_inclusion(data[1], 1, 0, proof, tree.root)
    assert not verify_inclusion(data[1], True, 4, proof, tree.root)
    assert not verify_inclusion(data[1], 1, 4, [bytearray(p) for p in proof], tree.root)  # type: ignore[misc]


def test_construction_rejects_empty_tree_and_non_32_byte_hashes() -> None:
    with pytest.raises(ValueError, match="at least one"):
        MerkleTree([])
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleTree([bytes(32), bytes(31)])
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleTree([bytes(64)])
    with pytest.raises(TypeError):
        MerkleTree(["00" * 32])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="32 bytes"):
        leaf_hash(bytes(33))
    tree = MerkleTree(_hashes(3))
    with pytest.raises(ValueError, match="outside"):
        tree.proof(3)
    with pytest.raises(ValueError, match="outside"):
        tree.proof(-1)
    with pytest.raises(TypeError):
        tree.proof(True)


def test_order_matters_and_leaf_accessor() -> None:
    data = _hashes(5, seed=5)
    assert MerkleTree(data).root != MerkleTree(list(reversed(data))).root
    assert MerkleTree(data).leaf(3) == leaf_hash(data[3])
