"""Egress decisions are public events: SSE and webhooks stream them like the rest."""

from __future__ import annotations

from runner.events.catalogue import LEDGER_TYPES, PUBLIC_TYPES, matches, public_event


def test_egress_events_are_in_the_catalogue() -> None:
    """Each egress ledger type maps to its public type, with camel-case fields."""
    assert {"egress.allowed", "egress.denied", "egress.closed"} <= LEDGER_TYPES
    event = public_event(
        seq=7, type="egress.closed", timestamp="t", session="s1", tenant="acme",
        actor="system", data={"session_id": "s1", "host": "pypi.corp", "port": 443,
                              "rule": "pypi", "bytes_up": 10, "bytes_down": 99, "seconds": 0.5},
    )  # fmt: skip
    assert event is not None and event.type == "egress.closed"
    assert dict(event.data) == {"host": "pypi.corp", "port": 443, "rule": "pypi",
                                "bytesUp": 10, "bytesDown": 99, "seconds": 0.5}  # fmt: skip
    assert [t for t in PUBLIC_TYPES if matches(["egress.*"], t)] == [
        "egress.allowed", "egress.denied", "egress.closed"]  # fmt: skip
