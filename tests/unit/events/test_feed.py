"""The feed behind SSE: ledger order on the bus, overflow falls back to the ledger, tenants."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runner.core import Actor
from runner.events.catalogue import PublicEvent
from runner.events.feed import EventFeed, Selection
from runner.sandbox.memory import MemoryBackend
from runner.services import build_services
from tests.unit.events.support import settings_for

ACME = Actor("alice", "acme")


async def _take(stream: object, count: int) -> list[PublicEvent]:
    got: list[PublicEvent] = []
    async with asyncio.timeout(10):
        async for batch in stream:  # type: ignore[attr-defined]
            got.extend(batch)
            if len(got) >= count:
                return got
    return got


def test_a_subscriber_that_overflows_gets_every_event_from_the_ledger(tmp_path: Path) -> None:
    """A listener with room for 2 events, 50 published at once while it does not read:
    it still receives all 50, in order, each once (the rest re-read from the ledger)."""

    async def scenario() -> None:
        services = await build_services(settings_for(tmp_path), backend=MemoryBackend())
        try:
            feed = EventFeed(services.ledger, services.bus, lambda _s: "acme", queue_size=2)
            stream = feed.follow(Selection(session="s1"), None)
            first = asyncio.ensure_future(stream.__anext__())  # subscribed, then idle
            await asyncio.sleep(0.1)
            await asyncio.gather(
                *(
                    services.recorder.emit(
                        "session.state", actor=ACME, session="s1", data={"state": f"s{i}"}
                    )
                    for i in range(50)
                )
            )
            got = list(await first)
            got += await _take(stream, 50 - len(got))
            assert len(got) == 50
            states = [e.data["state"] for e in got]
            assert states == [f"s{i}" for i in range(50)]
            ids = [e.id for e in got]
            assert ids == sorted(set(ids))
            await stream.aclose()
        finally:
            await services.close()

    asyncio.run(scenario())


def test_live_events_reach_the_bus_in_ledger_order(tmp_path: Path) -> None:
    """However the appends' awaits resume, the bus sees seqs strictly increasing."""

    async def scenario() -> None:
        services = await build_services(settings_for(tmp_path), backend=MemoryBackend())
        try:
            with services.bus.listen(1000) as listener:
                await asyncio.gather(
                    *(
                        services.recorder.emit("x.y", actor=ACME, session=None, data={"n": i})
                        for i in range(200)
                    )
                )
                seqs = [e.seq for e in listener.take()]
            assert len(seqs) == 200 and seqs == sorted(seqs)
        finally:
            await services.close()

    asyncio.run(scenario())


def test_another_tenant_sees_none_of_the_events(tmp_path: Path) -> None:
    """A selection for another tenant gets nothing of acme's sessions, live or stored."""

    async def scenario() -> None:
        services = await build_services(settings_for(tmp_path), backend=MemoryBackend())
        try:
            feed = EventFeed(services.ledger, services.bus, lambda _s: "acme")
            for i in range(3):
                await services.recorder.emit(
                    "session.state", actor=ACME, session="s1", data={"state": f"s{i}"}
                )
            theirs, _, _ = await asyncio.to_thread(feed.page, Selection(tenant="other"), None)
            ours, _, _ = await asyncio.to_thread(feed.page, Selection(tenant="acme"), None)
            assert theirs == [] and len(ours) == 3
        finally:
            await services.close()

    asyncio.run(scenario())
