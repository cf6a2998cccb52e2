"""The async client drives sessions, uploads and their streams through the real app."""

from __future__ import annotations

import asyncio
import io
import tarfile
from pathlib import Path

import pytest

from runner.api.schemas import CreateSession
from runner.client import WardenApiError
from runner.core import SessionState
from tests.mounts import unmount_under
from tests.unit.client.support import until_state, world


def _tar(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_session_from_create_to_delete(tmp_path: Path) -> None:
    """Create (schema body), list with a state filter, get, pane, send, transcript pages,
    artifacts, patch (text and streamed), recording, ticket, the prompt actions' 409s,
    the event stream, delete: each call returns its typed schema."""

    async def scenario() -> None:
        async with world(tmp_path) as w, w.client() as client:
            body = CreateSession(work_dir=str(w.work), prompt="hello")
            created = await client.create_session(body)
            assert created.state == SessionState.STARTING and created.work_dir == str(w.work)
            await until_state(client, created.id, SessionState.IDLE)
            listed = await client.list_sessions([SessionState.IDLE])
            assert [s.id for s in listed.sessions] == [created.id]
            assert (await client.list_sessions(["exited"])).sessions == []
            assert (await client.get_session(created.id)).id == created.id
            pane = await client.pane(created.id)
            assert pane.state == SessionState.IDLE and isinstance(pane.text, str)
            sent = await client.send(created.id, "and again")
            assert sent.ok
            await until_state(client, created.id, SessionState.IDLE)
            assert isinstance((await client.transcript(created.id)).turns, list)
            page = await client.transcript_page(created.id, limit=5)
            assert len(page.turns) <= 5
            ticket = await client.terminal_ticket(created.id)
            assert ticket.url.endswith(ticket.ticket)
            for act in (client.approve, client.reject, client.interrupt):
                with pytest.raises(WardenApiError) as refused:
                    await act(created.id)
                assert refused.value.status == 409
            with pytest.raises(WardenApiError) as unasked:
                await client.answer(created.id, option=1)
            assert unasked.value.status == 409
            assert (await client.escape(created.id)).ok

            (w.work / "app.py").write_text("print('changed')\n")
            artifacts = await client.artifacts(created.id)
            assert isinstance(artifacts.artifacts, list)
            patch = await client.patch(created.id)
            streamed = b"".join([c async for c in client.download_patch(created.id)])
            assert streamed.decode() == patch

            ended = await client.delete_session(created.id)
            assert ended.state == SessionState.EXITED
            cast = b"".join([c async for c in client.recording(created.id)])
            assert cast.startswith(b'{"version": 2')
            listing = await client.artifacts(created.id)
            assert listing.artifacts, "a deleted session keeps its collected files"
            first = listing.artifacts[0]
            chunks = [c async for c in client.artifact(created.id, first.name)]
            assert sum(map(len, chunks)) == first.size

            stream = client.session_events(created.id, follow=False)
            events = [e async for e in stream]
            assert events[0].type == "session.created" and events[-1].type == "session.ended"
            assert all(e.session == created.id for e in events)
            ids = [e.id for e in events if e.id is not None]
            assert ids == sorted(ids)
            resumed = client.session_events(created.id, last_event_id=ids[-2], follow=False)
            assert [e.id async for e in resumed] == [ids[-1]]
            states = [e async for e in client.events(
                last_event_id=-1, types=["session.state"], follow=False
            )]  # fmt: skip
            assert states and {e.type for e in states} == {"session.state"}

    try:
        asyncio.run(scenario())
    finally:
        unmount_under(tmp_path)


def test_batches_uploads_and_mapping_bodies(tmp_path: Path) -> None:
    """A batch with one bad item answers per item; an uploaded archive is read back,
    used for a session (mapping body as the API spells it) and then gone."""

    async def scenario() -> None:
        async with world(tmp_path) as w, w.client() as client:
            batch = await client.create_batch(
                {"sessions": [{"workDir": str(w.work)}, {"workDir": "/nowhere/at/all"}]}
            )
            first, second = batch.results
            assert first.session is not None and first.error is None
            assert second.session is None and second.error is not None

            upload = await client.upload_workspace(_tar("a.txt", b"hi"), "application/x-tar")
            assert (await client.get_upload(upload.id)).entries == 1
            made = await client.create_session({"workspace": {"archive": upload.id}})
            assert made.workspace == {"archive": upload.id}
            spare = await client.upload_workspace(_tar("b.txt", b"x"), "application/x-tar")
            await client.discard_upload(spare.id)
            with pytest.raises(WardenApiError) as gone:
                await client.get_upload(spare.id)
            assert gone.value.status == 404
            for sid in (first.session.id, made.id):
                await client.delete_session(sid)

    try:
        asyncio.run(scenario())
    finally:
        unmount_under(tmp_path)
