"""Rebuilding the writer's state from the store at start-up, checked against its last checkpoint.

The writer signs checkpoints over an in-memory Merkle frontier. Rebuilding that frontier
from rows that were edited while the writer was down would make it sign the forgery, so
start-up recomputes the root at the last signed checkpoint and refuses to continue
(fail closed) when it does not match or the stored log is shorter than that checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.chain import GENESIS
from audit.errors import LedgerUnavailableError
from audit.merkle import Frontier
from audit.signing import KeyRing
from audit.stores.base import Store

_STEP = 100_000


@dataclass
class WriterState:
    """Where the writer resumes: the frontier of all stored leaves and the chain head."""

    frontier: Frontier
    head: bytes
    last_checkpoint_size: int


def resume_state(store: Store, keys: KeyRing) -> WriterState:
    """Load every leaf hash into a frontier and check it against the last checkpoint.

    Raises:
        LedgerUnavailableError: the stored log contradicts its last trusted checkpoint.
    """
    size, head = store.head()
    trusted = [cp for cp in store.checkpoints() if cp.is_signed_by(keys.public)]
    last = trusted[-1] if trusted else None
    if last is not None and last.size > size:
        raise LedgerUnavailableError(
            f"the audit log has {size} events but checkpoint {last.size} was signed: truncated"
        )
    frontier = Frontier()
    for start in range(0, size, _STEP):
        stop = min(start + _STEP, size)
        if last is not None and start < last.size <= stop:
            _extend(frontier, store.leaf_hashes(start, last.size), last.size - start)
            if frontier.root() != last.root:
                raise LedgerUnavailableError(
                    f"the audit log does not match its signed checkpoint at size {last.size}"
                )
            start = last.size
        _extend(frontier, store.leaf_hashes(start, stop), stop - start)
    return WriterState(frontier, head if size else GENESIS, last.size if last else 0)


def _extend(frontier: Frontier, leaves: bytes, expected: int) -> None:
    if len(leaves) != 32 * expected:
        raise LedgerUnavailableError("the audit log has gaps: a stored event is missing")
    frontier.extend(leaves[i : i + 32] for i in range(0, len(leaves), 32))
