"""The subscription registry: which subscribed URIs a session's change touches."""

from __future__ import annotations

import pytest

from runner.mcp.ports import RESYNC, Change
from runner.mcp.subscriptions import (
    CHANGE_TYPES,
    SESSIONS,
    NotSubscribable,
    Registry,
    Target,
    target,
    uris_for,
)

SID = "3f2c9a1e-7b4d-4e8a-9c1f-0a2b3c4d5e6f"
ONE = f"warden://sessions/{SID}"


def test_targets_name_the_list_a_session_or_a_part_of_one() -> None:
    assert target(SESSIONS) == Target(None)
    assert target(ONE) == Target(SID)
    assert target(f"{ONE}/pane") == Target(SID, "pane")
    assert target(f"{ONE}/transcript") == Target(SID, "transcript")


@pytest.mark.parametrize(
    "uri",
    [
        "warden://health",
        "warden://policies/default",
        f"{ONE}/patch",
        f"{ONE}/pane/extra",
        "warden://sessions/",
        "warden://sessions/../health",
        "warden://sessions/a b",
        f"https://example.com/{SID}",
        "warden://sessions/" + "x" * 101,
    ],
)
def test_other_uris_are_refused_saying_what_can_be_subscribed(uri: str) -> None:
    with pytest.raises(NotSubscribable) as refused:
        target(uri)
    assert "sends no updates" in str(refused.value) and SESSIONS in str(refused.value)


def test_each_event_type_touches_its_resources() -> None:
    assert uris_for(Change("session.state", SID)) == [ONE, f"{ONE}/pane", SESSIONS]
    assert uris_for(Change("session.created", SID)) == [ONE, SESSIONS]
    assert uris_for(Change("session.ended", SID)) == [ONE, f"{ONE}/pane", SESSIONS]
    assert uris_for(Change("message", SID)) == [f"{ONE}/transcript"]
    assert uris_for(Change("usage", SID)) == []
    assert {"session.created", "session.state", "session.ended", "message"} == CHANGE_TYPES


def test_affected_is_only_what_is_subscribed_each_once() -> None:
    registry = Registry([ONE, f"{ONE}/transcript"])
    changes = [
        Change("session.state", SID),
        Change("message", SID),
        Change("session.state", SID),
        Change("session.state", "another-session"),
    ]
    assert registry.affected(changes) == [ONE, f"{ONE}/transcript"]
    assert registry.affected([Change("session.state", "another-session")]) == []


def test_the_list_hears_of_every_session_the_feed_carries() -> None:
    registry = Registry([SESSIONS])
    assert registry.affected([Change("session.created", "a"), Change("session.ended", "b")]) == [
        SESSIONS
    ]
    assert registry.affected([Change("message", "a")]) == []


def test_add_and_discard() -> None:
    registry = Registry()
    assert not registry
    assert registry.add(ONE) == Target(SID)
    registry.add(ONE)
    assert registry.uris == {ONE}
    assert registry.discard(ONE) is True
    assert registry.discard(ONE) is False
    assert not registry
    assert registry.affected([Change("session.state", SID)]) == []
    with pytest.raises(NotSubscribable):
        registry.add("warden://health")
    assert not registry


def test_a_resync_touches_everything_subscribed() -> None:
    registry = Registry([SESSIONS, f"{ONE}/pane", ONE])
    assert registry.affected([Change("message", SID), RESYNC]) == sorted(
        [SESSIONS, f"{ONE}/pane", ONE]
    )
    assert Registry().affected([RESYNC]) == []
