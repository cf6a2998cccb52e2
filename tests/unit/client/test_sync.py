"""The blocking client against the app served by uvicorn: live SSE, resuming with
Last-Event-ID, reconnecting after a drop, and downloads."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runner.client import Event, WardenClient
from runner.core import SessionState
from runner.sessions.requests import SessionRequest
from tests.unit.events.support import ALICE, free_port, reach, serve, work_dir


def _take(client: WardenClient, session_id: str, count: int, **kwargs: object) -> list[Event]:
    got: list[Event] = []
    for event in client.session_events(session_id, **kwargs):  # type: ignore[arg-type]
        got.append(event)
        if len(got) == count:
            break
    return got


def test_live_events_resume_after_the_last_id_seen(tmp_path: Path) -> None:
    """Events arrive live; a second stream with the last id seen continues exactly
    after it (no repeats, no gaps) until the session ends; the recording downloads."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            manager = served.services.manager
            record, _ = await manager.create(
                SessionRequest(work_dir=str(work_dir(tmp_path)), prompt="hello"), ALICE
            )
            await reach(served.services, record.id, SessionState.IDLE)
            with WardenClient(served.url) as client:
                first = await asyncio.to_thread(_take, client, record.id, 2)
                assert first[0].type == "session.created"

                def rest() -> list[Event]:
                    events: list[Event] = []
                    for event in client.session_events(record.id, last_event_id=first[-1].id):
                        events.append(event)
                        if event.type == "session.ended":
                            return events
                    return events

                following = asyncio.create_task(asyncio.to_thread(rest))
                await asyncio.sleep(0.3)
                assert not following.done()  # live: waiting for more
                await manager.delete(record.id, ALICE)
                later = await asyncio.wait_for(following, 10)
                ids = [e.id for e in first + later]
                assert ids == sorted(set(ids)) and later[-1].type == "session.ended"

                cast = await asyncio.to_thread(lambda: b"".join(client.recording(record.id)))
                assert cast.startswith(b'{"version": 2')

    asyncio.run(scenario())


def test_a_refused_stream_reconnects_once_the_server_is_up(tmp_path: Path) -> None:
    """With retry_seconds, a stream that cannot connect tries again (on_drop hears of
    each failure) and, once a server listens, follows it from the ledger's start."""
    port = free_port()
    drops: list[int | None] = []
    seen: list[Event] = []

    def follow() -> None:
        with WardenClient(f"http://127.0.0.1:{port}", timeout=2) as client:
            stream = client.events(
                last_event_id=-1, retry_seconds=0.1, on_drop=lambda _e, last: drops.append(last)
            )
            for event in stream:
                seen.append(event)
                if event.type == "session.ended":
                    return

    async def scenario() -> None:
        following = asyncio.create_task(asyncio.to_thread(follow))
        await asyncio.sleep(0.5)  # the port is closed: each try a drop
        async with serve(tmp_path, port=port) as served:
            record, _ = await served.services.manager.create(
                SessionRequest(work_dir=str(work_dir(tmp_path)), prompt="hello"), ALICE
            )
            await reach(served.services, record.id, SessionState.IDLE)
            await served.services.manager.delete(record.id, ALICE)
            await asyncio.wait_for(following, 15)

    asyncio.run(scenario())
    assert drops, "the closed port was never tried"
    ids = [e.id for e in seen]
    assert drops[0] == -1 and seen[0].type == "session.created"
    assert ids == sorted(set(ids)) and seen[-1].type == "session.ended"
