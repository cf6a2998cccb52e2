"""The hot loop of whole-log verification: bulk checks by chunks, a per-event walk for faults.

Records are taken ``CHUNK`` at a time (a power of two, so chunks are aligned subtrees of the
RFC 6962 tree) and checked in bulk, each kind of hash in one comprehension and each check
as one list comparison, not a chain of tests per event:

* seqs are exactly ``start .. start + n - 1``;
* each ``leaf_hash`` is SHA-256(0x00 ‖ canonical);
* each ``prev_hash`` is the stored ``chain_hash`` before it (the first one: the running
  head), and each ``chain_hash`` is SHA-256(prev_hash ‖ leaf_hash). By induction from the
  running head this is the sequential chain computation, with no dependency between events;
* (``check_canonical``) each event re-encodes identically under RFC 8785;
* the columns a store keeps beside the bytes (``audit.columns``) say what the bytes say;
* the Merkle levels of the chunk are built pair by pair, and at every checkpoint size inside
  the chunk the root (frontier before the chunk + aligned subtrees of the chunk's prefix)
  and the head must equal the signed ones.

If anything in a chunk disagrees, the chunk is walked again one event at a time from the
state before it (``_walk_events``, the reference algorithm), which raises at the first
fault in seq order with its exact reason. Speed therefore never changes what is reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from itertools import islice

from audit.chain import Record
from audit.checkpoint import Checkpoint
from audit.columns import all_agree, disagreement
from audit.event import is_canonical
from audit.merkle import node_hash

#: Records checked in bulk at once; a power of two (aligned subtrees), small enough that the
#: per-chunk lists stay a few MB whatever the log's size.
CHUNK_BITS = 13
CHUNK = 1 << CHUNK_BITS

_sha = hashlib.sha256
_ZERO = hashlib.sha256(b"\x00")


class VerifyFailure(Exception):
    """Raised inside verifiers at the first fault; turned into a ``VerifyResult``."""

    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


class WalkState:
    """Where the walk stands: next seq, chain head, frontier, next checkpoint to meet."""

    __slots__ = ("expected", "next_cp", "prev", "stack")

    def __init__(self, prev: bytes) -> None:
        self.expected = 0
        self.prev = prev
        # Roots of the perfect subtrees of the leaves so far, left to right (merkle.Frontier).
        self.stack: list[bytes] = []
        self.next_cp = 0


def walk_log(
    records: Iterable[Record],
    pending: list[Checkpoint],
    signed: list[Checkpoint],
    genesis: bytes,
    check_canonical: bool,
) -> tuple[int, bytes]:
    """Check a whole log from seq 0; returns (events seen, chain head); raises at the first fault.

    ``pending`` are the signed checkpoints of size > 0 in ascending size.
    """
    state = WalkState(genesis)
    for chunk in _chunks(iter(records)):
        if not check_chunk(chunk, state, pending, check_canonical):
            _walk_events(chunk, state, pending, signed, check_canonical)
    return state.expected, state.prev


def _chunks(records: Iterator[Record]) -> Iterator[list[Record]]:
    while chunk := list(islice(records, CHUNK)):
        yield chunk


def check_chunk(
    chunk: list[Record], state: WalkState, pending: list[Checkpoint], check_canonical: bool
) -> bool:
    """Check a chunk in bulk and advance ``state``; False (state untouched) on any doubt."""
    start, n = state.expected, len(chunk)
    if start % CHUNK or [r.seq for r in chunk] != list(range(start, start + n)):
        return False
    leaves = _leaf_hashes(chunk)
    if leaves != [r.leaf_hash for r in chunk]:
        return False
    prevs, chains = [r.prev_hash for r in chunk], [r.chain_hash for r in chunk]
    if prevs[0] != state.prev or prevs[1:] != chains[:-1]:
        return False
    sha = _sha
    if [sha(p + leaf).digest() for p, leaf in zip(prevs, leaves, strict=True)] != chains:
        return False
    if check_canonical and not all(is_canonical(r.canonical) for r in chunk):
        return False
    if not _columns_agree(chunk):
        return False
    levels = _levels(leaves)
    index = state.next_cp
    while index < len(pending) and pending[index].size <= start + n:
        cp, k = pending[index], pending[index].size - start
        root = _fold([*state.stack, *_prefix_roots(levels, k)])
        if (cp.root, cp.head) != (root, chains[k - 1]):
            return False
        index += 1
    state.next_cp = index
    state.expected, state.prev = start + n, chains[-1]
    if n == CHUNK:
        _push(state.stack, levels[-1][0], start >> CHUNK_BITS)
    else:  # the last, partial chunk: its aligned subtrees join the frontier as they are
        state.stack.extend(_prefix_roots(levels, n))
    return True


def _columns_agree(chunk: list[Record]) -> bool:
    """The stored columns of every record that has them say what its bytes say."""
    pairs = [(r.canonical, r.columns) for r in chunk if r.columns is not None]
    if not pairs:
        return True  # an export: nothing is stored beside the bytes
    canonicals, columns = zip(*pairs, strict=True)
    return all_agree(canonicals, columns)


def _leaf_hashes(chunk: list[Record]) -> list[bytes]:
    # Copying a context primed with 0x00 beats hashing b"\x00" + canonical (no 200-byte copy).
    zero, leaves = _ZERO, list[bytes]()
    add = leaves.append
    for record in chunk:
        digest = zero.copy()
        digest.update(record.canonical)
        add(digest.digest())
    return leaves


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every complete, aligned subtree hash over ``leaves``: level h holds subtrees of 2**h."""
    sha, levels, level = _sha, [leaves], leaves
    while len(level) >= 2:
        pairs = iter(level)  # zip(pairs, pairs) takes them two by two; an odd last one waits
        level = [
            sha(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)
        ]
        levels.append(level)
    return levels


def _prefix_roots(levels: list[list[bytes]], k: int) -> list[bytes]:
    """Roots of the perfect subtrees that make up the first ``k`` leaves, left to right."""
    roots, offset = list[bytes](), 0
    for height in range(k.bit_length() - 1, -1, -1):
        if k >> height & 1:
            roots.append(levels[height][offset >> height])
            offset += 1 << height
    return roots


def _push(stack: list[bytes], subtree: bytes, index: int) -> None:
    """Append the ``index``-th aligned subtree of one size, merging as ``Frontier.append``."""
    while index & 1:
        subtree = node_hash(stack.pop(), subtree)
        index >>= 1
    stack.append(subtree)


def _fold(stack: list[bytes]) -> bytes:
    value = stack[-1]
    for left in reversed(stack[:-1]):
        value = node_hash(left, value)
    return value


def _walk_events(
    chunk: list[Record],
    state: WalkState,
    pending: list[Checkpoint],
    signed: list[Checkpoint],
    check_canonical: bool,
) -> None:
    """The reference walk, one event at a time: raises at the first fault, else advances."""
    sha, stack, prev, expected = _sha, state.stack, state.prev, state.expected
    index = state.next_cp
    for record in chunk:
        seq, canonical = record.seq, record.canonical
        if seq != expected:
            _gap(expected, seq)
        leaf = _ZERO.copy()
        leaf.update(canonical)
        digest = leaf.digest()
        if digest != record.leaf_hash:
            _bad_leaf(seq, canonical, check_canonical)
        if record.prev_hash != prev:
            raise VerifyFailure(seq, "prev_hash is not the chain hash of the previous event")
        prev = sha(prev + digest).digest()
        if prev != record.chain_hash:
            raise VerifyFailure(seq, "chain_hash is not SHA-256(prev_hash ‖ leaf_hash)")
        if check_canonical and not is_canonical(canonical):
            raise VerifyFailure(seq, "canonical bytes are not a valid RFC 8785 event")
        if record.columns is not None and (why := disagreement(canonical, record.columns)):
            raise VerifyFailure(seq, why)
        _push(stack, digest, seq)
        expected = seq + 1
        while index < len(pending) and pending[index].size == expected:
            _match_checkpoint(pending[index], _fold(stack), prev, signed)
            index += 1
    state.prev, state.expected, state.next_cp = prev, expected, index


def _gap(expected: int, seq: int) -> None:
    if seq > expected:
        raise VerifyFailure(expected, f"seq {expected} is missing (next stored is {seq})")
    raise VerifyFailure(
        expected, f"seq {seq} appears again or out of order where {expected} belongs"
    )


def _bad_leaf(seq: int, canonical: bytes, check_canonical: bool) -> None:
    if check_canonical and not is_canonical(canonical):
        raise VerifyFailure(seq, "canonical bytes are not a valid RFC 8785 event")
    raise VerifyFailure(seq, "leaf_hash does not match the canonical bytes (event altered)")


def _match_checkpoint(cp: Checkpoint, root: bytes, head: bytes, signed: list[Checkpoint]) -> None:
    if cp.root == root and cp.head == head:
        return
    earlier = [c.size for c in signed if c.size < cp.size]
    start = earlier[-1] if earlier else 0
    raise VerifyFailure(
        start,
        f"events {start}..{cp.size - 1} do not match the checkpoint signed at size {cp.size} "
        f"({'Merkle root' if cp.root != root else 'chain head'} differs): "
        f"they were rewritten at or after seq {start}",
    )
