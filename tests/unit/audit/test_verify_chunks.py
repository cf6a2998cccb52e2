"""Whole-log verification across bulk-checked chunks: same verdicts, same first bad seq."""

from __future__ import annotations

from dataclasses import replace

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from audit.chain import GENESIS, Record, link_all
from audit.checkpoint import Checkpoint, sign_checkpoint
from audit.event import Event
from audit.merkle import MerkleTree, node_hash
from audit.signing import KeyRing
from audit.verify import verify_log
from audit.verify_walk import CHUNK, WalkState, check_chunk

TS = "2025-01-31T12:00:00.000000Z"
SIZE = 3 * CHUNK + 1234
# Checkpoints inside chunks, on both sides of chunk edges, twice at one size, and at the end.
SIGNED_AT = (1, 7, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 77, 2 * CHUNK + 77, 3 * CHUNK, SIZE)
FEW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _canonicals(count: int) -> list[bytes]:
    """Valid, distinct canonical events (the id differs) made without JCS per event."""
    event = Event(type="input.sent", actor="user:alice", session="s", data={"n": 1}, ts=TS)
    base = event.canonical()
    return [base.replace(event.id.encode(), f"{i:032x}".encode()) for i in range(count)]


@pytest.fixture(scope="module")
def log(keyring: KeyRing) -> tuple[list[Record], list[Checkpoint]]:
    """A log spanning four chunks, signed at the sizes in SIGNED_AT."""
    records = link_all(0, GENESIS, _canonicals(SIZE))
    tree = MerkleTree([r.leaf_hash for r in records])
    checkpoints = [
        sign_checkpoint(keyring, n, tree.root(n), records[n - 1].chain_hash, TS) for n in SIGNED_AT
    ]
    return records, checkpoints


def test_honest_log_across_chunks_verifies(
    keyring: KeyRing, log: tuple[list[Record], list[Checkpoint]]
) -> None:
    """A log of several chunks verifies, its roots matching checkpoints inside and at edges."""
    records, checkpoints = log
    result = verify_log(iter(records), checkpoints, keyring.public, check_canonical=False)
    assert result.ok, result.describe()
    assert (result.events, result.signed_size) == (SIZE, SIZE)
    strict = verify_log(records[: CHUNK + 3], checkpoints[:5], keyring.public)
    assert strict.ok and strict.events == CHUNK + 3, strict.describe()


@FEW
@given(data=st.data())
def test_single_byte_change_in_a_later_chunk_is_named(
    keyring: KeyRing, log: tuple[list[Record], list[Checkpoint]], data: st.DataObject
) -> None:
    """One changed byte in any field of any event fails at that seq, whatever its chunk."""
    records, checkpoints = log
    seq = data.draw(st.integers(0, SIZE - 1) | st.sampled_from([CHUNK - 1, CHUNK, SIZE - 1]))
    field = data.draw(st.sampled_from(["canonical", "leaf_hash", "prev_hash", "chain_hash"]))
    value: bytes = getattr(records[seq], field)
    pos = data.draw(st.integers(0, len(value) - 1))
    changed = value[:pos] + bytes([value[pos] ^ 0x5A]) + value[pos + 1 :]
    tampered = list(records)
    tampered[seq] = replace(records[seq], **{field: changed})
    result = verify_log(tampered, checkpoints, keyring.public, check_canonical=False)
    assert (result.ok, result.first_bad_seq) == (False, seq), result.describe()


@FEW
@given(data=st.data())
def test_rewritten_chain_fails_at_the_covering_checkpoint(
    keyring: KeyRing, log: tuple[list[Record], list[Checkpoint]], data: st.DataObject
) -> None:
    """An edit with every later hash recomputed is named from the last good checkpoint."""
    records, checkpoints = log
    seq = data.draw(st.integers(0, SIZE - 1))
    canonicals = [r.canonical for r in records]
    canonicals[seq] = canonicals[seq].replace(b"alice", b"mallo")
    rewritten = link_all(0, GENESIS, canonicals)
    result = verify_log(rewritten, checkpoints, keyring.public, check_canonical=False)
    covering = min(n for n in SIGNED_AT if n > seq)
    start = max([0] + [n for n in SIGNED_AT if n <= seq])
    assert (result.ok, result.first_bad_seq) == (False, start), result.describe()
    assert f"signed at size {covering}" in (result.reason or "")


@FEW
@given(data=st.data())
def test_deletion_and_truncation_across_chunks_are_named(
    keyring: KeyRing, log: tuple[list[Record], list[Checkpoint]], data: st.DataObject
) -> None:
    """A deleted event fails at its seq; a log cut short fails at its first missing seq."""
    records, checkpoints = log
    seq = data.draw(st.integers(0, SIZE - 1))
    deleted = verify_log(
        records[:seq] + records[seq + 1 :], checkpoints, keyring.public, check_canonical=False
    )
    assert (deleted.ok, deleted.first_bad_seq) == (False, seq), deleted.describe()
    cut = verify_log(records[:seq], checkpoints, keyring.public, check_canonical=False)
    assert (cut.ok, cut.first_bad_seq) == (False, seq), cut.describe()
    assert "truncated" in (cut.reason or "")


def test_non_canonical_event_in_a_later_chunk_is_named(
    keyring: KeyRing, log: tuple[list[Record], list[Checkpoint]]
) -> None:
    """Re-canonicalising finds a re-hashed non-JCS event past the first chunk, by its seq."""
    records, _ = log
    seq = CHUNK + 5
    canonicals = [r.canonical for r in records[: CHUNK + 10]]
    canonicals[seq] = canonicals[seq].replace(b'{"actor"', b'{ "actor"')
    rehashed = link_all(0, GENESIS, canonicals)
    result = verify_log(rehashed, [], keyring.public)
    assert (result.ok, result.first_bad_seq) == (False, seq), result.describe()
    assert "RFC 8785" in (result.reason or "")


def test_honest_chunks_pass_the_bulk_check(
    log: tuple[list[Record], list[Checkpoint]],
) -> None:
    """Every chunk of an honest log passes in bulk (no per-event fallback), frontier intact."""
    records, checkpoints = log
    pending = sorted(checkpoints, key=lambda cp: cp.size)
    state = WalkState(GENESIS)
    for start in range(0, SIZE, CHUNK):
        assert check_chunk(records[start : start + CHUNK], state, pending, False), start
    assert (state.expected, state.prev, state.next_cp) == (SIZE, records[-1].chain_hash, 9)
    # One perfect subtree per set bit of SIZE, folding to the tree's root.
    assert len(state.stack) == SIZE.bit_count()
    root = state.stack[-1]
    for left in reversed(state.stack[:-1]):
        root = node_hash(left, root)
    assert root == MerkleTree([r.leaf_hash for r in records]).root()


def test_a_bad_chunk_fails_the_bulk_check_and_leaves_the_state(
    log: tuple[list[Record], list[Checkpoint]],
) -> None:
    """A chunk with one altered leaf is refused in bulk and the walk state is not advanced."""
    records, _ = log
    state = WalkState(GENESIS)
    assert check_chunk(records[:CHUNK], state, [], False)
    chunk = records[CHUNK : 2 * CHUNK]
    chunk[3] = replace(chunk[3], leaf_hash=bytes(32))
    stack = list(state.stack)
    assert not check_chunk(chunk, state, [], False)
    assert (state.expected, state.stack) == (CHUNK, stack)
    assert state.prev == records[CHUNK - 1].chain_hash
