"""Sessions over HTTP, end to end: real ``warden serve``, real Docker, real Claude Code,
the scripted model. The same story runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer


@pytest.fixture
def server(database_url: str, start_warden: StartWarden) -> WardenServer:
    """A running controller on a fresh database."""
    return start_warden(database_url)


def _project(tmp_path: Path, name: str = "project") -> Path:
    project = tmp_path / name
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")
    return project


def _idle_after(warden: WardenServer, sid: str, text: str) -> dict[str, Any]:
    response = warden.post(sid, "send", {"text": text})
    assert response.status_code == 200, response.text
    return warden.wait_state(sid, "idle", "permission_prompt", "asking")


def _turns_when(
    warden: WardenServer, sid: str, predicate: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The transcript once it satisfies ``predicate`` (Claude Code writes it a moment later)."""
    deadline = time.monotonic() + 15
    while True:
        turns: list[dict[str, Any]] = warden.client.get(f"/v1/sessions/{sid}/read").json()["turns"]
        if predicate(turns) or time.monotonic() > deadline:
            assert predicate(turns), turns
            return turns
        time.sleep(0.3)


def run_story(
    warden: WardenServer,
    project: Path,
    tag: str,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
    **create: Any,
) -> dict[str, Any]:
    """The full story of issue 4 on one session; returns the deleted session.

    ``on_ready`` sees the session once it is idle, before anything else happens;
    ``create`` adds fields to the create request (e.g. ``policy``).
    """
    session = warden.create(project, prompt=f"hello from {tag}", **create)
    assert session["state"] == "starting"
    sid = session["id"]
    ready = warden.wait_for(sid, lambda s: s["state"] == "idle" and s["container"], timeout=120)
    if on_ready is not None:
        on_ready(ready)
    assert (
        f"Scripted reply to: hello from {tag}" in warden.client.get(f"/v1/sessions/{sid}/pane").text
    )

    # Bash → permission prompt with the command → approve → it ran.
    prompt = _idle_after(warden, sid, f"[[bash: echo ran-{tag} > ran.txt]]")
    assert prompt["state"] == "permission_prompt", prompt
    assert prompt["details"]["tool"] == "bash"
    assert f"echo ran-{tag} > ran.txt" in prompt["details"]["command"]
    refused = warden.post(sid, "send", {"text": "not now"})
    assert refused.status_code == 409
    assert "permission" in refused.json()["error"]["message"]
    approved = warden.post(sid, "approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["option"] == 1
    warden.wait_state(sid, "idle")
    patch = warden.client.get(f"/v1/sessions/{sid}/artifacts").json()["patch"]
    assert f"+ran-{tag}" in patch

    # Write → reject → the file does not exist.
    prompt = _idle_after(warden, sid, "[[write: never.txt | should not exist]]")
    assert prompt["state"] == "permission_prompt", prompt
    assert prompt["details"]["tool"] in ("write", "create")
    assert warden.post(sid, "reject").status_code == 200
    warden.wait_state(sid, "idle")
    assert "never.txt" not in warden.client.get(f"/v1/sessions/{sid}/artifacts").json()["patch"]

    # AskUserQuestion → option 2 → the transcript has that answer.
    prompt = _idle_after(warden, sid, "[[ask: Which colour? | Red | Blue]]")
    assert prompt["state"] == "asking", prompt
    assert warden.post(sid, "answer", {"option": 2}).status_code == 200
    warden.wait_state(sid, "idle")
    turns = _turns_when(
        warden, sid, lambda ts: any("Blue" in r["content"] for t in ts for r in t["toolResults"])
    )
    assert any(
        "→ Blue" in line
        for line in warden.client.get(f"/v1/sessions/{sid}/pane").json()["text"].splitlines()
    )

    # Cursor paging: every turn exactly once, in order.
    paged: list[int] = []
    before = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"before_id": before} if before else {})}
        page = warden.client.get(f"/v1/sessions/{sid}/transcript/cursor", params=params).json()
        paged = [t["id"] for t in page["turns"]] + paged
        before = page["nextBeforeId"]
        if before is None:
            break
    assert paged == [t["id"] for t in turns]
    assert len(set(paged)) == len(paged)

    deleted = warden.client.delete(f"/v1/sessions/{sid}")
    assert deleted.status_code == 200, deleted.text
    return {"id": sid, **deleted.json()}


def _containers(client: docker.DockerClient, sid: str) -> list[Any]:
    return client.containers.list(all=True, filters={"label": f"warden.session={sid}"})


def test_full_story_over_http(
    server: WardenServer, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """Create → idle → Bash approved → Write rejected → question answered → pages → delete."""
    deleted = run_story(server, _project(tmp_path), "one")
    sid = deleted["id"]
    assert _containers(docker_client, sid) == []
    names = {
        a["name"] for a in server.client.get(f"/v1/sessions/{sid}/artifacts").json()["artifacts"]
    }
    assert {"changes.patch", "transcript.jsonl", "recording.cast"} <= names
    recording = server.client.get(f"/v1/sessions/{sid}/recording")
    assert recording.status_code == 200
    assert json.loads(recording.text.splitlines()[0])["version"] == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_five_sessions_in_parallel(server: WardenServer, tmp_path: Path) -> None:
    """Five sessions run the whole story at the same time, independently."""
    projects = [_project(tmp_path, f"p{i}") for i in range(5)]
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda i: run_story(server, projects[i], f"par{i}"), range(5)))
    assert len({r["id"] for r in results}) == 5
    for i, result in enumerate(results):
        patch = server.client.get(f"/v1/sessions/{result['id']}/artifacts/changes.patch").text
        assert f"+ran-par{i}" in patch


def test_bad_input_gets_clear_4xx(server: WardenServer, tmp_path: Path) -> None:
    """Unknown ids are 404, malformed bodies 422 with field errors, impossible dirs 422."""
    missing = server.client.get("/v1/sessions/does-not-exist")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert server.post("does-not-exist", "send", {"text": "hi"}).status_code == 404
    malformed = server.client.post("/v1/sessions", json={"workDir": 3, "permissionMode": "yolo"})
    assert malformed.status_code == 422
    fields = {f["field"] for f in malformed.json()["error"]["details"]["fields"]}
    assert {"body.workDir", "body.permissionMode"} <= fields
    nodir = server.client.post("/v1/sessions", json={"workDir": str(tmp_path / "nope")})
    assert nodir.status_code == 404
    assert "not a directory" in nodir.json()["error"]["message"]
    badenv = server.client.post(
        "/v1/sessions", json={"workDir": str(tmp_path), "env": {"ANTHROPIC_BASE_URL": "http://x"}}
    )
    assert badenv.status_code == 422
    answer = server.post("does-not-exist", "answer", {"option": 1, "text": "both"})
    assert answer.status_code == 422
    old = server.client.post("/v1/handshake", json={"protocolVersion": 0})
    assert old.status_code == 409
    assert "too old" in old.json()["error"]["message"]
    ok = server.client.post("/v1/handshake", json={"protocolVersion": 1})
    assert ok.status_code == 200 and "sessions" in ok.json()["capabilities"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_idle_session_of_same_workdir_is_reused(server: WardenServer, tmp_path: Path) -> None:
    """A second create asking for reuse of the same workDir while the first is idle: 200."""
    project = _project(tmp_path)
    first = server.create(project)
    server.wait_state(first["id"], "idle", timeout=120)
    again = server.client.post(
        "/v1/sessions", json={"workDir": str(project), "prompt": "again", "reuse": True}
    )
    assert again.status_code == 200
    assert again.json()["reused"] is True and again.json()["id"] == first["id"]
    server.wait_for(
        first["id"],
        lambda s: (
            "Scripted reply to: again" in server.client.get(f"/v1/sessions/{s['id']}/pane").text
        ),
    )
