"""Property tests: verify accepts every honest log and names the first bad seq of a tampered one."""

from __future__ import annotations

from dataclasses import replace

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from audit.chain import GENESIS, Record, link_all
from audit.checkpoint import Checkpoint, sign_checkpoint
from audit.event import Event
from audit.merkle import MerkleTree
from audit.signing import KeyRing
from audit.verify import verify_log

TS = "2025-01-31T12:00:00.000000Z"
FIXTURE_OK = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])


def honest_log(
    keys: KeyRing, payloads: list[str], every: int
) -> tuple[list[Record], list[Checkpoint]]:
    """A chained log of one event per payload, signed every ``every`` events and at the end."""
    canonicals = [
        Event(type="t", actor="user:a", data={"p": p, "i": i}, ts=TS, id=f"{i:032x}").canonical()
        for i, p in enumerate(payloads)
    ]
    records = link_all(0, GENESIS, canonicals)
    tree = MerkleTree([r.leaf_hash for r in records])
    sizes = sorted({*range(every, len(records) + 1, every), len(records)})
    checkpoints = [
        sign_checkpoint(keys, n, tree.root(n), records[n - 1].chain_hash, TS) for n in sizes
    ]
    return records, checkpoints


logs = st.lists(st.text(max_size=12), min_size=1, max_size=40)


@FIXTURE_OK
@given(payloads=logs, every=st.integers(1, 10))
def test_honest_logs_verify(keyring: KeyRing, payloads: list[str], every: int) -> None:
    """Every honestly written log verifies, with and without re-canonicalisation."""
    records, checkpoints = honest_log(keyring, payloads, every)
    for strict in (True, False):
        result = verify_log(records, checkpoints, keyring.public, check_canonical=strict)
        assert result.ok, result.describe()
        assert result.events == len(records)
        assert result.signed_size == len(records)


@FIXTURE_OK
@given(payloads=logs, every=st.integers(1, 10), data=st.data())
def test_any_single_byte_change_is_named(
    keyring: KeyRing, payloads: list[str], every: int, data: st.DataObject
) -> None:
    """Changing one byte of any stored field of any event fails verification at that seq."""
    records, checkpoints = honest_log(keyring, payloads, every)
    seq = data.draw(st.integers(0, len(records) - 1))
    field = data.draw(st.sampled_from(["canonical", "leaf_hash", "prev_hash", "chain_hash"]))
    value: bytes = getattr(records[seq], field)
    pos = data.draw(st.integers(0, len(value) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = value[:pos] + bytes([value[pos] ^ flip]) + value[pos + 1 :]
    records[seq] = replace(records[seq], **{field: changed})
    for strict in (True, False):
        result = verify_log(records, checkpoints, keyring.public, check_canonical=strict)
        assert not result.ok
        assert result.first_bad_seq == seq, result.describe()


@FIXTURE_OK
@given(payloads=logs, every=st.integers(1, 10), data=st.data())
def test_rewritten_chain_is_caught_by_the_checkpoint(
    keyring: KeyRing, payloads: list[str], every: int, data: st.DataObject
) -> None:
    """An edit with every later hash recomputed fails at the checkpoint, at or before the edit."""
    records, checkpoints = honest_log(keyring, payloads, every)
    seq = data.draw(st.integers(0, len(records) - 1))
    forged = Event(type="t", actor="user:mallory", ts=TS, id=f"{seq:032x}").canonical()
    canonicals = [r.canonical for r in records]
    canonicals[seq] = forged
    rewritten = link_all(0, GENESIS, canonicals)
    result = verify_log(rewritten, checkpoints, keyring.public)
    assert not result.ok
    assert result.first_bad_seq is not None and result.first_bad_seq <= seq
    covering = min(cp.size for cp in checkpoints if cp.size > seq)
    assert result.first_bad_seq >= max([0] + [cp.size for cp in checkpoints if cp.size <= seq])
    assert f"size {covering}" in (result.reason or "")


@FIXTURE_OK
@given(payloads=st.lists(st.text(max_size=8), min_size=2, max_size=40), data=st.data())
def test_reordering_is_named(keyring: KeyRing, payloads: list[str], data: st.DataObject) -> None:
    """Swapping two events (as rows, or with their seqs renumbered) fails at the earlier seq."""
    records, checkpoints = honest_log(keyring, payloads, 5)
    i = data.draw(st.integers(0, len(records) - 2))
    j = data.draw(st.integers(i + 1, len(records) - 1))
    swapped = list(records)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    result = verify_log(swapped, checkpoints, keyring.public)
    assert (result.ok, result.first_bad_seq) == (False, i), result.describe()
    renumbered = list(swapped)
    renumbered[i] = replace(swapped[i], seq=i)
    renumbered[j] = replace(swapped[j], seq=j)
    result = verify_log(renumbered, checkpoints, keyring.public)
    assert (result.ok, result.first_bad_seq) == (False, i), result.describe()


@FIXTURE_OK
@given(payloads=logs, data=st.data())
def test_deletion_is_named(keyring: KeyRing, payloads: list[str], data: st.DataObject) -> None:
    """Deleting any one event fails at its seq (a deleted last event as truncation)."""
    records, checkpoints = honest_log(keyring, payloads, 4)
    seq = data.draw(st.integers(0, len(records) - 1))
    result = verify_log(records[:seq] + records[seq + 1 :], checkpoints, keyring.public)
    assert (result.ok, result.first_bad_seq) == (False, seq), result.describe()


@FIXTURE_OK
@given(payloads=logs, data=st.data())
def test_truncation_is_named_against_the_last_checkpoint(
    keyring: KeyRing, payloads: list[str], data: st.DataObject
) -> None:
    """Cutting the tail below the last signed size fails at the first missing seq."""
    records, checkpoints = honest_log(keyring, payloads, 7)
    keep = data.draw(st.integers(0, len(records) - 1))
    result = verify_log(records[:keep], checkpoints, keyring.public)
    assert (result.ok, result.first_bad_seq) == (False, keep), result.describe()
    assert "truncated" in (result.reason or "")


def test_forged_checkpoint_signature_is_refused(keyring: KeyRing) -> None:
    """A checkpoint whose signature does not verify fails the whole log."""
    records, checkpoints = honest_log(keyring, ["a", "b", "c"], 1)
    checkpoints[1] = replace(checkpoints[1], signature=bytes(64))
    result = verify_log(records, checkpoints, keyring.public)
    assert not result.ok
    assert "signature" in (result.reason or "")
