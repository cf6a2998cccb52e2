"""The terminal WebSocket over the real app (in-memory sandbox): snapshot, live bytes,
typing by role, tickets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pyte
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from audit.stores.base import EventFilter
from runner.auth.authenticator import Authenticator
from runner.auth.roles import effective_roles
from runner.core import Actor, SessionState
from runner.sessions.model import SessionRecord
from runner.sessions.requests import SessionRequest
from tests.unit.events.support import ALICE, Served, reach, serve, until, work_dir

ADMIN = Actor("root", "default", effective_roles(["admin"]))


def _render(data: bytes, cols: int = 80, rows: int = 24) -> str:
    screen = pyte.Screen(cols, rows)
    pyte.ByteStream(screen).feed(data)
    return "\n".join(line.rstrip() for line in screen.display).rstrip("\n")


async def _token(served: Served, role: str) -> str:
    _, secret = await served.services.auth.tokens.create(
        ADMIN, name=f"ws-{role}", roles=[role], expires_in_days=1
    )
    return secret


async def _enforce(served: Served) -> None:
    services = served.services
    services.auth = Authenticator(enforced=True, tokens=services.auth.tokens)


async def _idle_terminal(served: Served, tmp_path: Path) -> tuple[SessionRecord, str]:
    """A session briefed with "hello" and idle, and its terminal socket's URL."""
    record, _ = await served.services.manager.create(
        SessionRequest(work_dir=str(work_dir(tmp_path)), prompt="hello"), ALICE
    )
    await reach(served.services, record.id, SessionState.IDLE)
    return record, served.url.replace("http", "ws") + f"/v1/sessions/{record.id}/terminal"


async def _reply(socket: websockets.ClientConnection) -> dict[str, object]:
    """The next JSON reply, past the screen bytes that arrive in between."""
    while isinstance(frame := await asyncio.wait_for(socket.recv(), 5), bytes):
        pass
    reply: dict[str, object] = json.loads(frame)
    return reply


def test_typing_in_the_terminal_is_text_judged_as_send_judges_it(tmp_path: Path) -> None:
    """The socket's input is not a way around the input rules: control bytes, a shell
    escape and a slash command outside the allowlist are refused, nothing is typed, and
    each refusal is in the ledger."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            record, url = await _idle_terminal(served, tmp_path)
            async with websockets.connect(url) as socket:
                assert isinstance(await socket.recv(), bytes)
                for text in (
                    "aaa\u001b[201~\u001b[Z",
                    "!touch /workspace/bang.txt",
                    "/permissions",
                ):
                    await socket.send(json.dumps({"type": "input", "text": text}))
                    reply = await _reply(socket)
                    assert reply["type"] == "error", (text, reply)
                    assert reply["code"] in ("invalid_input", "policy_denied"), (text, reply)
            assert served.claude.prompts == ["hello"]
            ledger = served.services.ledger.query(_session_filter(record.id)).entries
            refused = [e.event for e in ledger if e.event.type == "input.refused"]
            assert len(refused) == 3

    asyncio.run(scenario())


def _session_filter(session_id: str) -> EventFilter:
    return EventFilter(session=session_id)


def test_the_snapshot_redraws_the_screen_and_live_bytes_follow(tmp_path: Path) -> None:
    """The first frame renders (in pyte) to exactly the pane; later screens arrive live;
    an operator's typed input is delivered as /send delivers it; resize is applied."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            record, url = await _idle_terminal(served, tmp_path)
            async with websockets.connect(url) as socket:
                snapshot = await socket.recv()
                assert isinstance(snapshot, bytes)
                _, pane = await served.services.views.pane(record.id, ALICE)
                assert _render(snapshot) == pane
                assert "❯" in pane

                await socket.send(json.dumps({"type": "input", "text": "second prompt"}))
                stream = bytearray(snapshot)
                reply = None
                while reply is None:
                    frame = await asyncio.wait_for(socket.recv(), 5)
                    if isinstance(frame, bytes):
                        stream += frame
                    else:
                        reply = json.loads(frame)
                assert reply == {"type": "sent"}, reply
                assert served.claude.prompts == ["hello", "second prompt"]
                await reach(served.services, record.id, SessionState.IDLE)
                await asyncio.sleep(0.3)
                while True:  # drain what was painted meanwhile
                    try:
                        frame = await asyncio.wait_for(socket.recv(), 0.3)
                    except TimeoutError:
                        break
                    if isinstance(frame, bytes):
                        stream += frame
                _, pane = await served.services.views.pane(record.id, ALICE)
                assert _render(bytes(stream)) == pane  # snapshot + live bytes = the screen

                await socket.send(json.dumps({"type": "resize", "cols": 100, "rows": 30}))
                while isinstance(reply := await asyncio.wait_for(socket.recv(), 5), bytes):
                    pass
                assert json.loads(reply)["type"] == "resized"
                (sandbox,) = served.backend.sandboxes.values()
                assert sandbox.resizes[-1] == (100, 30)
                await socket.send(json.dumps({"type": "resize", "cols": 5, "rows": 2}))
                while isinstance(reply := await asyncio.wait_for(socket.recv(), 5), bytes):
                    pass
                assert json.loads(reply)["code"] == "invalid_input"

    asyncio.run(scenario())


def test_viewers_watch_but_cannot_type_and_tickets_work_once(tmp_path: Path) -> None:
    """With auth on: no credentials → refused; a viewer's input is refused and not typed;
    a ticket opens the socket once, and not for another session."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            manager = served.services.manager
            record, _ = await manager.create(
                SessionRequest(work_dir=str(work_dir(tmp_path)), prompt="hello"), ALICE
            )
            await reach(served.services, record.id, SessionState.IDLE)
            await _enforce(served)
            viewer = await _token(served, "viewer")
            url = served.url.replace("http", "ws") + f"/v1/sessions/{record.id}/terminal"
            with pytest.raises(InvalidStatus) as refused:  # closed before accept: HTTP 403
                async with websockets.connect(url) as socket:
                    await socket.recv()
            assert refused.value.response.status_code == 403

            headers = {"Authorization": f"Bearer {viewer}"}
            async with websockets.connect(url, additional_headers=headers) as socket:
                assert isinstance(await socket.recv(), bytes)
                await socket.send(json.dumps({"type": "input", "text": "sneaky"}))
                while isinstance(reply := await asyncio.wait_for(socket.recv(), 5), bytes):
                    pass
                assert json.loads(reply)["code"] == "forbidden"
            assert served.claude.prompts == ["hello"]

            async with httpx.AsyncClient(base_url=served.url, headers=headers) as client:
                issued = await client.post(f"/v1/sessions/{record.id}/terminal/ticket")
                assert issued.status_code == 200, issued.text
                ticket = issued.json()["ticket"]
            with_ticket = f"{url}?ticket={ticket}"
            async with websockets.connect(with_ticket) as socket:
                assert isinstance(await socket.recv(), bytes)
            with pytest.raises(InvalidStatus):  # used up
                async with websockets.connect(with_ticket) as socket:
                    await socket.recv()

            async def audited() -> bool:
                from audit.stores.base import EventFilter

                page = served.services.ledger.query(EventFilter(type="auth.failed"), limit=100)
                return len(page.entries) >= 2

            await until(audited)

    asyncio.run(scenario())
