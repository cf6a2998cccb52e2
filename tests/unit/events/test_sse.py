"""SSE over the real app and ledger (in-memory sandbox): order, replay, slow clients."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from runner.core import SessionState
from runner.sessions.requests import SessionRequest
from runner.sessions.runtime import SANDBOX_WORKDIR
from runner.sessions.transcript import transcript_path
from tests.unit.events.support import ALICE, Served, reach, recorded, serve, work_dir


def _write_turn(served: Served, session_id: str, role: str, text: str) -> None:
    """Append a transcript line as Claude Code does (the file is its side of the boundary)."""
    home = served.services.manager.paths(session_id).home
    path = transcript_path(home, SANDBOX_WORKDIR, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"type": role, "uuid": f"u-{text}", "message": {"role": role, "content": text}}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")


async def _collect(
    url: str, count: int, headers: dict[str, str] | None = None, seconds: float = 10
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with (
        httpx.AsyncClient(timeout=seconds) as client,
        aconnect_sse(client, "GET", url, headers=headers or {}) as source,
        asyncio.timeout(seconds),
    ):
        async for sse in source.aiter_sse():
            if not sse.data:
                continue  # httpx-sse reports a keep-alive comment as an empty event
            body = json.loads(sse.data)
            assert sse.id == str(body["id"]) and sse.event == body["type"]
            got.append(body)
            if len(got) == count:
                break
    return got


def _summary(events: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for e in events:
        detail = {
            "session.state": e["data"].get("state"),
            "permission.asked": e["data"].get("command"),
            "permission.decided": (e["data"].get("decision"), e["data"].get("actor")),
            "message": e["data"].get("text"),
        }.get(e["type"])
        out.append((e["type"], detail))
    return out


def test_a_session_stream_shows_the_story_in_order_and_resumes_after_the_last_id(
    tmp_path: Path,
) -> None:
    """created → idle → asked (command) → decided (actor) → message → idle, ids strictly
    increasing; a reconnect with Last-Event-ID gets exactly the later events."""

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            manager = served.services.manager
            record, _ = await manager.create(
                SessionRequest(work_dir=str(work_dir(tmp_path)), prompt="hello"), ALICE
            )
            await reach(served.services, record.id, SessionState.IDLE)
            _write_turn(served, record.id, "user", "[[bash: ls -la /tmp]]")
            await manager.send(record.id, "[[bash: ls -la /tmp]]", ALICE)
            await recorded(served.services, record.id, "permission.asked")
            await manager.approve(record.id, ALICE)
            await reach(served.services, record.id, SessionState.IDLE)
            url = f"{served.url}/v1/sessions/{record.id}/events"
            first = await _collect(url, 10)
            story = _summary(first)
            # The turn is read by a poll or at the next state change, whichever is first;
            # either way before the prompt it led to.
            message = ("message", "[[bash: ls -la /tmp]]")
            assert story.index(message) < story.index(("session.state", "permission_prompt"))
            assert [e for e in story if e != message] == [
                ("session.created", None),
                ("session.state", "working"),  # the briefing's turn
                ("session.state", "idle"),
                ("session.state", "working"),
                ("session.state", "permission_prompt"),
                ("permission.asked", "ls -la /tmp"),
                ("permission.decided", ("approve", "alice")),
                ("session.state", "working"),
                ("session.state", "idle"),
            ], story
            ids = [e["id"] for e in first]
            assert ids == sorted(set(ids))

            # More happens while nobody listens; a reconnect gets only that.
            _write_turn(served, record.id, "assistant", "done")
            await manager.send(record.id, "again", ALICE)
            await reach(served.services, record.id, SessionState.IDLE)
            await asyncio.sleep(0.5)
            missed = await _collect(url, 6, {"Last-Event-ID": str(ids[3])})
            assert [e["id"] for e in missed] == ids[4:10]
            later = await _collect(url, 1, {"Last-Event-ID": str(ids[-1])})
            assert later[0]["id"] > ids[-1]
            assert later[0]["type"] in ("message", "session.state")

    asyncio.run(scenario())


def test_cli_watch_follows_the_stream_until_the_session_ends(tmp_path: Path) -> None:
    """``warden sessions watch`` prints the events from the start and returns once the
    session ended; ``warden events tail --json`` prints the same events as JSON."""
    from typer.testing import CliRunner

    from runner.cli import app

    async def scenario() -> None:
        async with serve(tmp_path) as served:
            manager = served.services.manager
            record, _ = await manager.create(
                SessionRequest(work_dir=str(work_dir(tmp_path)), prompt="hello"), ALICE
            )
            await reach(served.services, record.id, SessionState.IDLE)
            runner = CliRunner()
            args = ["sessions", "watch", record.id, "--server", served.url]
            watching = asyncio.create_task(asyncio.to_thread(runner.invoke, app, args))
            await asyncio.sleep(0.5)
            assert not watching.done()  # still following
            await manager.delete(record.id, ALICE)
            watched = await asyncio.wait_for(watching, 10)
            assert watched.exit_code == 0, watched.output
            lines = watched.output.splitlines()
            assert "session.created" in lines[0]
            assert any("session.state idle" in line for line in lines)
            assert "session.ended deleted (exited)" in lines[-1]

            tail = ["events", "tail", "--after", "-1", "--json", "--server", served.url]
            first = await asyncio.wait_for(asyncio.to_thread(_first_line, tail), 20)
            assert json.loads(first)["type"] == "session.created"

    asyncio.run(scenario())


def _first_line(args: list[str]) -> str:
    """The first line a following command prints; then it is stopped, as Ctrl-C would."""
    command = subprocess.Popen(
        [sys.executable, "-m", "runner.cli", *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert command.stdout is not None
        return command.stdout.readline()
    finally:
        command.terminate()
        command.wait(10)
