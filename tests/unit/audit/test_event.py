"""Audit events: RFC 8785 canonical bytes, validation, and the chain format."""

from __future__ import annotations

import hashlib
import json
import re
import uuid

import pytest

from audit.chain import GENESIS, chain_hash, leaf_hash, link_all
from audit.errors import InvalidEventError
from audit.event import Event, decode_event, is_canonical

TS = "2025-01-31T12:00:00.000000Z"
ID = "0123456789abcdef0123456789abcdef"


def test_canonical_bytes_are_rfc8785() -> None:
    """Keys are sorted, no whitespace, numbers in ECMAScript form, non-ASCII kept as UTF-8."""
    event = Event(
        type="input.sent",
        actor="user:alice",
        data={"z": 1.0, "a": [1e21, 0.5, -0], "€": "caf\u00e9", "ctl": "\u0001"},
        tenant="acme",
        session="s1",
        ts=TS,
        id=ID,
    )
    expected = (
        '{"actor":"user:alice","data":{"a":[1e+21,0.5,0],"ctl":"\\u0001","z":1,"€":"café"},'
        f'"id":"{ID}","session":"s1","tenant":"acme","ts":"{TS}","type":"input.sent","v":1}}'
    )
    assert event.canonical() == expected.encode("utf-8")


def test_canonical_bytes_round_trip() -> None:
    """Decoding stored bytes gives back the same event, which re-encodes identically."""
    event = Event(type="t", actor="system", data={"n": [1, {"b": None}]}, ts=TS, id=ID)
    decoded = decode_event(event.canonical(), seq=7)
    assert decoded.seq == 7
    assert decoded.canonical() == event.canonical()
    assert is_canonical(event.canonical())


def test_non_canonical_bytes_are_rejected() -> None:
    """Whitespace, reordered keys or an unknown layout make bytes non-canonical."""
    event = Event(type="t", actor="system", ts=TS, id=ID)
    body = json.loads(event.canonical())
    assert not is_canonical(json.dumps(body).encode())  # spaces after separators
    reordered = dict(reversed(list(body.items())))
    assert not is_canonical(json.dumps(reordered, separators=(",", ":")).encode())
    assert not is_canonical(b'{"v":1}')
    assert not is_canonical(b"\xff\xfe")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"type": ""}, "type"),
        ({"actor": ""}, "actor"),
        ({"ts": "2025-01-31T12:00:00Z"}, "ts"),
        ({"id": "not-hex"}, "id"),
        ({"session": ""}, "session"),
    ],
)
def test_malformed_fields_are_refused(fields: dict[str, str], problem: str) -> None:
    """Each malformed field raises InvalidEventError naming the field."""
    base = {"type": "t", "actor": "system", "ts": TS, "id": ID}
    with pytest.raises(InvalidEventError, match=problem):
        Event(**{**base, **fields})


def test_values_jcs_cannot_encode_are_refused() -> None:
    """NaN and integers beyond 2^53 cannot be canonicalised, so the event is refused."""
    with pytest.raises(InvalidEventError):
        Event(type="t", actor="system", data={"x": float("nan")}).canonical()
    with pytest.raises(InvalidEventError):
        Event(type="t", actor="system", data={"x": 2**60}).canonical()


def test_chain_format_matches_the_documented_hashes() -> None:
    """leaf = SHA-256(0x00‖bytes), chain = SHA-256(prev‖leaf), genesis prev = 32 zero bytes."""
    records = link_all(0, GENESIS, [b"a", b"b"])
    leaf0 = hashlib.sha256(b"\x00a").digest()
    assert records[0].leaf_hash == leaf0 == leaf_hash(b"a")
    assert records[0].prev_hash == bytes(32)
    assert records[0].chain_hash == hashlib.sha256(bytes(32) + leaf0).digest()
    assert records[1].prev_hash == records[0].chain_hash
    assert records[1].chain_hash == chain_hash(records[0].chain_hash, leaf_hash(b"b"))
    assert [r.seq for r in records] == [0, 1]


def test_generated_ids_are_uuid4_and_timestamps_are_ledger_form() -> None:
    """Fresh ids are version-4 RFC 4122 UUIDs in hex; fresh timestamps are in the ledger form."""
    for _ in range(200):
        event = Event(type="t", actor="system")
        parsed = uuid.UUID(hex=event.id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", event.ts)


def test_placed_sets_only_the_seq() -> None:
    """An event placed in the log keeps every field and its bytes, and gains its seq."""
    event = Event(type="t", actor="system", data={"k": [1, "x"]}, session="s")
    placed = event.placed(7)
    assert placed.seq == 7 and event.seq is None
    assert placed.canonical() == event.canonical()
    assert (placed.id, placed.ts, placed.data) == (event.id, event.ts, event.data)
