"""RFC 9162 Merkle tree: the CT test vectors, proofs checked against the definition."""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

from rtcc.evidence import merkle

# The 8-leaf test data of the Certificate Transparency implementations (RFC 6962/9162).
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
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
INCLUSION = [  # (leaf index, tree size, audit path)
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
CONSISTENCY = [  # (old size, new size, proof)
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

HASHES = [merkle.leaf_hash(x) for x in LEAVES]


def _hex(proof: list[bytes]) -> list[str]:
    return [p.hex() for p in proof]


def test_empty_tree_root_is_the_hash_of_nothing() -> None:
    assert merkle.root_of([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.CompactRange().root() == merkle.EMPTY_ROOT


def test_roots_match_the_ct_vectors_for_every_size() -> None:
    compact = merkle.CompactRange()
    tree = merkle.MerkleTree()
    for n, leaf in enumerate(HASHES, start=1):
        compact.append(leaf)
        tree.append(leaf)
        assert merkle.root_of(HASHES[:n]).hex() == ROOTS[n - 1]
        assert compact.root().hex() == ROOTS[n - 1]
        assert tree.root().hex() == ROOTS[n - 1]
        assert merkle.MerkleTree(HASHES[:n]).root().hex() == ROOTS[n - 1]


def test_inclusion_proofs_match_the_ct_vectors_and_verify() -> None:
    tree = merkle.MerkleTree(HASHES)
    for index, size, path in INCLUSION:
        proof = tree.inclusion_proof(index, size)
        assert _hex(proof) == path
        root = bytes.fromhex(ROOTS[size - 1])
        assert merkle.verify_inclusion(index, size, HASHES[index], proof, root)


def test_consistency_proofs_match_the_ct_vectors_and_verify() -> None:
    tree = merkle.MerkleTree(HASHES)
    for old, new, path in CONSISTENCY:
        proof = tree.consistency_proof(old, new)
        assert _hex(proof) == path
        old_root, root = bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1])
        assert merkle.verify_consistency(old, new, old_root, root, proof)
    assert tree.consistency_proof(4, 4) == []


def test_a_wrong_leaf_root_or_path_fails_inclusion() -> None:
    tree = merkle.MerkleTree(HASHES)
    proof = tree.inclusion_proof(5, 8)
    root = tree.root()
    assert not merkle.verify_inclusion(5, 8, HASHES[4], proof, root)
    assert not merkle.verify_inclusion(4, 8, HASHES[5], proof, root)
    assert not merkle.verify_inclusion(5, 8, HASHES[5], proof[:-1], root)
    assert not merkle.verify_inclusion(5, 8, HASHES[5], [*proof, proof[0]], root)
    assert not merkle.verify_inclusion(5, 8, HASHES[5], proof, tree.root(7))
    assert not merkle.verify_inclusion(8, 8, HASHES[5], proof, root)


def test_a_tree_that_rewrote_history_fails_consistency() -> None:
    tree = merkle.MerkleTree(HASHES)
    forked = merkle.MerkleTree([*HASHES[:3], merkle.leaf_hash(b"rewritten"), *HASHES[4:]])
    proof = forked.consistency_proof(5, 8)
    assert not merkle.verify_consistency(5, 8, tree.root(5), forked.root(), proof)
    assert not merkle.verify_consistency(4, 8, tree.root(4), tree.root(), [])
    assert not merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, tree.root(), [])


def test_compact_range_round_trips_through_bytes() -> None:
    compact = merkle.CompactRange()
    for leaf in HASHES[:7]:
        compact.append(leaf)
    again = merkle.CompactRange.from_bytes(7, compact.to_bytes())
    again.append(HASHES[7])
    assert again.root().hex() == ROOTS[7]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_proofs_verify_against_the_definition_for_any_tree(
    entries: list[bytes], data: st.DataObject
) -> None:
    leaves = [merkle.leaf_hash(e) for e in entries]
    tree = merkle.MerkleTree(leaves)
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    root = merkle.root_of(leaves[:size])
    assert tree.root(size) == root
    assert merkle.root_levelwise(leaves[:size]) == root
    path = tree.inclusion_proof(index, size)
    assert merkle.verify_inclusion(index, size, leaves[index], path, root)
    old_root = merkle.root_of(leaves[:old])
    proof = tree.consistency_proof(old, size)
    assert merkle.verify_consistency(old, size, old_root, root, proof)
    compact = merkle.CompactRange()
    for leaf in leaves[:size]:
        compact.append(leaf)
    assert compact.root() == root
