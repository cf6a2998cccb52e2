"""The hash chain that links every stored event to all the events before it.

Exact format (SHA-256 throughout, ``‖`` is byte concatenation)::

    leaf_hash(seq)  = SHA-256(0x00 ‖ canonical(seq))             32 bytes
    prev_hash(seq)  = chain_hash(seq - 1), or 32 zero bytes for seq 0 (GENESIS)
    chain_hash(seq) = SHA-256(prev_hash(seq) ‖ leaf_hash(seq))   32 bytes

``canonical`` is the RFC 8785 encoding of the event (``audit.event``), stored and hashed
exactly as written, never re-serialised. The leaf hash is also the RFC 6962 leaf hash,
so the same value feeds the Merkle tree (``audit.merkle``). Sequence numbers start at 0
and have no gaps; ``chain_hash`` of the last event is the log's *head*.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: ``prev_hash`` of the first event.
GENESIS = bytes(32)

_LEAF_PREFIX = hashlib.sha256(b"\x00")


def leaf_hash(canonical: bytes) -> bytes:
    """SHA-256(0x00 ‖ canonical): the event's leaf hash (RFC 6962 leaf hash)."""
    digest = _LEAF_PREFIX.copy()
    digest.update(canonical)
    return digest.digest()


def chain_hash(prev: bytes, leaf: bytes) -> bytes:
    """SHA-256(prev_chain_hash ‖ leaf_hash)."""
    return hashlib.sha256(prev + leaf).digest()


@dataclass(frozen=True)
class Record:
    """One stored event: its place, its exact bytes and its three hashes.

    ``columns`` are the values a store keeps beside the bytes (``audit.columns.COLUMNS``),
    for verification to hold them to the bytes; None where there are none (an export).
    """

    seq: int
    canonical: bytes
    leaf_hash: bytes
    prev_hash: bytes
    chain_hash: bytes
    columns: tuple[Any, ...] | None = field(default=None, compare=False)


def link(seq: int, prev: bytes, canonical: bytes) -> Record:
    """The record for ``canonical`` placed at ``seq`` after a chain whose head is ``prev``."""
    leaf = leaf_hash(canonical)
    return Record(seq, canonical, leaf, prev, chain_hash(prev, leaf))


def link_all(first_seq: int, prev: bytes, canonicals: Iterable[bytes]) -> list[Record]:
    """Chain a batch of canonical events onto a head, in order."""
    records = []
    for offset, canonical in enumerate(canonicals):
        record = link(first_seq + offset, prev, canonical)
        records.append(record)
        prev = record.chain_hash
    return records
