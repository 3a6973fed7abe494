"""The Merkle tree against the RFC 6962/9162 reference vectors, then hypothesis beyond them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.portable.merkle import (
    EMPTY_ROOT,
    Frontier,
    TreeLevels,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# The certificate-transparency reference tree (as in transparency-dev/merkle's tests).
DATA = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243",
        "5051525354555657", "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
LEAVES = [leaf_hash(d) for d in DATA]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
INCLUSION = [  # (leaf index, tree size, path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


def test_reference_roots_for_every_size() -> None:
    assert ROOTS[0] == EMPTY_ROOT
    for size in range(len(LEAVES) + 1):
        assert root(LEAVES[:size]) == ROOTS[size], size


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_reference_inclusion_proofs(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(index, LEAVES[:size])
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(index, size, LEAVES[index], proof, ROOTS[size])


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_reference_consistency_proofs(old: int, new: int, path: list[str]) -> None:
    proof = consistency_proof(old, LEAVES[:new])
    assert [p.hex() for p in proof] == path
    assert verify_consistency(old, new, proof, ROOTS[old], ROOTS[new])


trees = st.lists(st.binary(max_size=8), min_size=1, max_size=70).map(
    lambda data: [leaf_hash(d) for d in data]
)


@given(trees, st.data())
def test_every_inclusion_proof_verifies_and_a_changed_one_does_not(
    leaves: list[bytes], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof, top = inclusion_proof(index, leaves), root(leaves)
    assert verify_inclusion(index, len(leaves), leaves[index], proof, top)
    other = leaf_hash(b"forged")
    assert not verify_inclusion(index, len(leaves), other, proof, top)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bent = [*proof[:at], bytes(32), *proof[at + 1 :]]
        assert not verify_inclusion(index, len(leaves), leaves[index], bent, top)
        assert not verify_inclusion(index, len(leaves), leaves[index], proof[:-1], top)
    if len(leaves) > 1:
        wrong = (index + 1) % len(leaves)
        assert not verify_inclusion(wrong, len(leaves), leaves[index], proof, top) or (
            leaves[wrong] == leaves[index]
        )


@given(trees, st.data())
def test_every_consistency_proof_verifies_and_a_fork_does_not(
    leaves: list[bytes], data: st.DataObject
) -> None:
    old = data.draw(st.integers(1, len(leaves)))
    proof = consistency_proof(old, leaves)
    old_root, new_root = root(leaves[:old]), root(leaves)
    assert verify_consistency(old, len(leaves), proof, old_root, new_root)
    forked = [*leaves[: old - 1], leaf_hash(b"rewritten"), *leaves[old:]]
    if forked != leaves:  # the old tree's last leaf rewritten: no longer a prefix
        assert not verify_consistency(old, len(leaves), proof, old_root, root(forked))
    if proof:
        bent = [bytes(32), *proof[1:]]
        assert not verify_consistency(old, len(leaves), bent, old_root, new_root)


@given(trees)
def test_the_frontier_gives_the_same_root_after_every_append(leaves: list[bytes]) -> None:
    frontier = Frontier()
    for size, leaf in enumerate(leaves, start=1):
        frontier.append(leaf)
        assert frontier.root() == root(leaves[:size])
        assert len(frontier.hashes) == bin(size).count("1")


@given(trees, st.data())
def test_the_levels_give_the_list_functions_proofs_for_every_prefix(
    leaves: list[bytes], data: st.DataObject
) -> None:
    """A bundle proves many records with one TreeLevels; it must agree with the reference."""
    levels = TreeLevels(b"".join(leaves))
    size = data.draw(st.integers(1, len(leaves)))
    prefix = leaves[:size]
    assert levels.root(size) == root(prefix)
    index = data.draw(st.integers(0, size - 1))
    assert levels.inclusion_proof(index, size) == inclusion_proof(index, prefix)
    old = data.draw(st.integers(1, size))
    assert levels.consistency_proof(old, size) == consistency_proof(old, prefix)
    assert levels.leaf(index) == leaves[index]


def test_the_levels_match_the_reference_vectors() -> None:
    levels = TreeLevels(b"".join(LEAVES))
    assert [levels.root(n) for n in range(len(LEAVES) + 1)] == ROOTS
    for index, size, path in INCLUSION:
        assert levels.inclusion_proof(index, size) == [bytes.fromhex(h) for h in path]


@given(trees)
def test_a_frontier_resumed_from_its_hashes_continues_the_same_tree(leaves: list[bytes]) -> None:
    """Checkpoints store the frontier so the next one hashes only the records since."""
    half = len(leaves) // 2
    first = Frontier()
    for leaf in leaves[:half]:
        first.append(leaf)
    resumed = Frontier(first.size, first.hashes)
    for leaf in leaves[half:]:
        resumed.append(leaf)
    assert resumed.root() == root(leaves)
    with pytest.raises(ValueError, match="holds"):
        Frontier(3, first.hashes[:1] if first.hashes else [])
