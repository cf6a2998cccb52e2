"""RFC 6962 Merkle tree: roots, inclusion and consistency proofs, and their verification.

Hashes (SHA-256)::

    MTH({})       = SHA-256("")
    leaf          = SHA-256(0x00 ‖ entry)                 (= ``audit.chain.leaf_hash``)
    node(l, r)    = SHA-256(0x01 ‖ l ‖ r)
    MTH(D[0:n])   = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

Proof generation follows RFC 6962 §2.1.1-2.1.2 (PATH and SUBPROOF); verification follows
RFC 9162 §2.1.3.2 and §2.1.4.2. Inputs here are leaf hashes, not entries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
_HASH_SIZE = 32


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """All perfect, aligned subtree hashes of a list of leaf hashes, for O(log n) proofs.

    Each level is one ``bytes`` of 32-byte hashes, so a million leaves cost ~64 MB.
    """

    def __init__(self, leaves: Sequence[bytes] | bytes) -> None:
        level = leaves if isinstance(leaves, bytes) else b"".join(leaves)
        if len(level) % _HASH_SIZE:
            raise ValueError("leaf hashes must be 32 bytes each")
        self.size = len(level) // _HASH_SIZE
        self._levels = [level]
        while len(level) >= 2 * _HASH_SIZE:
            pairs = len(level) // (2 * _HASH_SIZE)
            sha = hashlib.sha256
            level = b"".join(
                sha(b"\x01" + level[i * 64 : i * 64 + 64]).digest() for i in range(pairs)
            )
            self._levels.append(level)

    def _perfect(self, height: int, index: int) -> bytes:
        level = self._levels[height]
        return level[index * _HASH_SIZE : (index + 1) * _HASH_SIZE]

    def hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        if not 0 <= lo <= hi <= self.size:
            raise ValueError(f"range [{lo}, {hi}) outside a tree of {self.size} leaves")
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        height = n.bit_length() - 1
        if n == 1 << height and lo % n == 0:
            return self._perfect(height, lo >> height)
        k = _split(n)
        return node_hash(self.hash(lo, lo + k), self.hash(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all by default)."""
        return self.hash(0, self.size if size is None else size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]): the audit path of leaf ``index`` in the tree of ``size``."""
        if not 0 <= index < size <= self.size:
            raise ValueError(f"no leaf {index} in a tree of {size} (have {self.size})")
        return self._path(index, 0, size)

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m - lo < k:
            return [*self._path(m, lo, lo + k), self.hash(lo + k, hi)]
        return [*self._path(m, lo + k, hi), self.hash(lo, lo + k)]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]); empty when the sizes are equal or old is 0."""
        if not 0 <= old_size <= new_size <= self.size:
            raise ValueError(f"bad sizes {old_size} -> {new_size} (have {self.size})")
        if old_size in (0, new_size):
            return []
        return self._subproof(old_size, 0, new_size, complete=True)

    def _subproof(self, m: int, lo: int, hi: int, *, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [self.hash(lo, hi)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, complete=complete), self.hash(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, complete=False), self.hash(lo, lo + k)]


class Frontier:
    """The compact right edge of a growing tree: append leaves, get the root, O(log n) memory."""

    __slots__ = ("_stack", "size")

    def __init__(self) -> None:
        self.size = 0
        # Roots of the perfect subtrees, left to right; one per set bit of ``size``,
        # so appending merges exactly as many times as ``size`` has trailing one bits.
        self._stack: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash on the right."""
        stack, n, value = self._stack, self.size, leaf
        sha = hashlib.sha256
        while n & 1:
            value = sha(b"\x01" + stack.pop() + value).digest()
            n >>= 1
        stack.append(value)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add leaf hashes in order."""
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of every leaf appended so far."""
        if not self._stack:
            return EMPTY_ROOT
        value = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            value = node_hash(left, value)
        return value


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` puts leaf hash ``leaf`` at ``index`` in the tree (size, root)."""
    if not 0 <= index < size:
        return False
    fn, sn, value = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            value = node_hash(sibling, value)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            value = node_hash(value, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and value == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows tree (old_size, old_root) is a prefix of (new_size, new_root)."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for step in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = node_hash(step, first)
            second = node_hash(step, second)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second = node_hash(second, step)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == old_root and second == new_root
