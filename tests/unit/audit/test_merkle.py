"""RFC 6962 Merkle tree: the certificate-transparency reference vectors and proof properties."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given

from audit.chain import leaf_hash
from audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    verify_consistency,
    verify_inclusion,
)

# The 8-leaf reference tree of google/certificate-transparency cpp/merkletree/merkle_tree_test.cc.
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, audit path)
PATHS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (old size, new size, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

TREE = MerkleTree([leaf_hash(entry) for entry in LEAVES])


def test_empty_tree_root_is_hash_of_empty_string() -> None:
    """The root of the empty tree is SHA-256 of the empty string."""
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MerkleTree([]).root() == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT


def test_reference_roots_for_every_prefix() -> None:
    """Roots of the first 1..8 reference leaves match the CT vectors, tree and frontier alike."""
    frontier = Frontier()
    for size, expected in enumerate(ROOTS, start=1):
        frontier.append(leaf_hash(LEAVES[size - 1]))
        assert TREE.root(size).hex() == expected
        assert frontier.root().hex() == expected
        assert MerkleTree([leaf_hash(e) for e in LEAVES[:size]]).root().hex() == expected


def test_reference_inclusion_proofs() -> None:
    """Audit paths match the CT vectors and verify against the reference roots."""
    for index, size, path in PATHS:
        proof = TREE.inclusion_proof(index, size)
        assert [p.hex() for p in proof] == path
        root = bytes.fromhex(ROOTS[size - 1])
        assert verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, root)


def test_reference_consistency_proofs() -> None:
    """Consistency proofs match the CT vectors and verify against the reference roots."""
    for old, new, path in CONSISTENCY:
        proof = TREE.consistency_proof(old, new)
        assert [p.hex() for p in proof] == path
        old_root, new_root = bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1])
        assert verify_consistency(old, new, old_root, new_root, proof)


def test_wrong_inputs_fail_verification() -> None:
    """A proof for another leaf, index, size or root does not verify."""
    proof = TREE.inclusion_proof(5, 8)
    root = bytes.fromhex(ROOTS[7])
    assert not verify_inclusion(leaf_hash(LEAVES[4]), 5, 8, proof, root)
    assert not verify_inclusion(leaf_hash(LEAVES[5]), 4, 8, proof, root)
    assert not verify_inclusion(leaf_hash(LEAVES[5]), 5, 6, proof, root)
    assert not verify_inclusion(leaf_hash(LEAVES[5]), 5, 8, proof[:-1], root)
    cons = TREE.consistency_proof(6, 8)
    assert not verify_consistency(6, 8, bytes.fromhex(ROOTS[4]), root, cons)
    assert not verify_consistency(5, 8, bytes.fromhex(ROOTS[5]), root, cons)
    assert not verify_consistency(6, 8, bytes.fromhex(ROOTS[5]), root, cons[:-1])


@given(st.integers(min_value=1, max_value=300), st.data())
def test_every_inclusion_proof_verifies(size: int, data: st.DataObject) -> None:
    """For random trees, every generated inclusion proof verifies and has at most log2 n steps."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    tree = MerkleTree(leaves)
    frontier = Frontier()
    frontier.extend(leaves)
    assert frontier.root() == tree.root()
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = tree.inclusion_proof(index, size)
    assert len(proof) <= max(1, (size - 1).bit_length())
    assert verify_inclusion(leaves[index], index, size, proof, tree.root())


@given(st.integers(min_value=1, max_value=300), st.data())
def test_every_consistency_proof_verifies(size: int, data: st.DataObject) -> None:
    """For random size pairs, consistency proofs verify; a tampered old root does not."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    tree = MerkleTree(leaves)
    old = data.draw(st.integers(min_value=1, max_value=size))
    proof = tree.consistency_proof(old, size)
    assert verify_consistency(old, size, tree.root(old), tree.root(), proof)
    if old < size:
        forged = bytes(32)
        assert not verify_consistency(old, size, forged, tree.root(), proof)
