"""Low-level batch tree; use Issuer/Verifier.

A batch of credential hashes becomes one Merkle root anchored on chain; each credential keeps an audit
path (its receipt) from its leaf to that root. The construction is RFC 6962 / RFC 9162 §2.1:

    leaf  = SHA-256(0x00 ‖ credential_hash)
    node  = SHA-256(0x01 ‖ left ‖ right)
    MTH(D[0:n]) splits at k, the largest power of two smaller than n: node(MTH(D[0:k]), MTH(D[k:n]))

so an odd node at the end of a level is carried up unchanged, never paired with itself or a zero value.
Proofs are RFC 6962 audit paths, bottom-up, valid together with the leaf ``index`` and the tree ``size``.

WARNING: the 0x00 / 0x01 prefixes are what keep a leaf from ever passing as an inner node (and an inner
node from passing as a credential hash): without them, the 64 bytes ``left ‖ right`` of any inner node
would prove as a "leaf" (the second-preimage attack OpenZeppelin's MerkleProof warns about). Never change
them, never accept a proof checked with a different construction, and always check the proof length
against (index, size) as ``verify_inclusion`` does: a shorter path from a higher level is rejected.

WARNING: inputs are validated, not coerced: a credential hash is exactly 32 bytes (SHA-256 output), a tree
has at least one leaf, and an index lies inside the tree. Anything else is a programming error and raises
``ValueError``/``TypeError``; ``verify_inclusion`` instead answers ``False`` for any malformed proof data,
because proofs come from untrusted credential files.

Building is linear: the levels are computed once (2n - 1 hashes) and every proof is read off them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import chain, repeat

__all__ = [
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "verify_inclusion",
]

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

_sha256 = hashlib.sha256


def leaf_hash(credential_hash: bytes) -> bytes:
    """The tree leaf of one credential: SHA-256(0x00 ‖ credential_hash)."""
    _check_hash(credential_hash, "credential_hash")
    return _sha256(LEAF_PREFIX + credential_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An inner node: SHA-256(0x01 ‖ left ‖ right)."""
    _check_hash(left, "left")
    _check_hash(right, "right")
    return _sha256(NODE_PREFIX + left + right).digest()


class MerkleTree:
    """An RFC 6962 tree over a batch of 32-byte credential hashes, in the given order.

    ``levels[0]`` are the leaf hashes, ``levels[-1] == [root]``. The tree is immutable once built.
    """

    __slots__ = ("_levels",)

    def __init__(self, credential_hashes: Sequence[bytes]) -> None:
        if len(credential_hashes) == 0:
            raise ValueError("a Merkle tree needs at least one credential hash")
        sha = _sha256
        leaves: list[bytes] = []
        append = leaves.append
        for position, item in enumerate(credential_hashes):
            if type(item) is not bytes or len(item) != HASH_SIZE:
                _check_hash(item, f"credential_hashes[{position}]")
            append(sha(LEAF_PREFIX + item).digest())
        levels = [leaves]
        level = leaves
        while len(level) > 1:
            count = len(level)
            upper = [sha(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, count - 1, 2)]
            if count % 2:
                upper.append(level[-1])  # odd node: carried up unchanged (RFC 6962 split)
            levels.append(upper)
            level = upper
        self._levels = levels

    @property
    def root(self) -> bytes:
        """The 32-byte Merkle tree head anchored on chain."""
        return self._levels[-1][0]

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index`` (SHA-256(0x00 ‖ credential_hash))."""
        self._check_index(index)
        return self._levels[0][index]

    def proof(self, index: int) -> list[bytes]:
        """The audit path of leaf ``index``, sibling hashes from the leaf level upwards."""
        self._check_index(index)
        path: list[bytes] = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index >>= 1
        return path

    def proofs(self) -> list[list[bytes]]:
        """Every leaf's audit path, in leaf order; linear in the path total, no hashing."""
        size = self.size
        columns: list[list[bytes | None]] = []
        for height, level in enumerate(self._levels[:-1]):
            count = len(level)
            siblings: list[bytes | None] = [level[j ^ 1] for j in range(count - count % 2)]
            if count % 2:
                siblings.append(None)  # the carried-up node has no sibling at this level
            span = 1 << height
            column = list(chain.from_iterable(repeat(s, span) for s in siblings))
            columns.append(column[:size])
        if not columns:
            return [[]]
        result: list[list[bytes]] = [list(path) for path in zip(*columns, strict=True)]
        # Only leaves under a carried-up node hold None entries; they are the last leaves of the tree.
        first = min(
            ((len(level) - 1) << height for height, level in enumerate(self._levels[:-1]) if len(level) % 2),
            default=size,
        )
        for index in range(first, size):
            result[index] = [node for node in result[index] if node is not None]
        return result

    def _check_index(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError("index must be an int")
        if not 0 <= index < self.size:
            raise ValueError("index outside the tree")


def verify_inclusion(credential_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True when ``proof`` leads from ``credential_hash`` at ``index`` in a tree of ``size`` to ``root``.

    The algorithm of RFC 9162 §2.1.3.2: it consumes exactly the path length that (index, size) imply, so a
    proof of another length, a node presented as a leaf, or a leaf moved to another index all fail.
    Malformed inputs (wrong lengths, index out of range) answer ``False``, never raise.
    """
    if not _is_hash(credential_hash) or not _is_hash(root):
        return False
    if isinstance(index, bool) or isinstance(size, bool) or not isinstance(index, int):
        return False
    if not isinstance(size, int) or not 0 <= index < size:
        return False
    fn = index
    sn = size - 1
    r = _sha256(LEAF_PREFIX + credential_hash).digest()
    for p in proof:
        if not _is_hash(p) or sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _sha256(NODE_PREFIX + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def _is_hash(value: object) -> bool:
    return type(value) is bytes and len(value) == HASH_SIZE


def _check_hash(value: object, name: str) -> None:
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes")
    if len(value) != HASH_SIZE:
        raise ValueError(f"{name} must be exactly {HASH_SIZE} bytes")
