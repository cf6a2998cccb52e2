"""``warden sessions``: id prefixes, whole ids in pipes, answers, panes and downloads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer


@pytest.fixture
def server(start_warden: StartWarden) -> WardenServer:
    return start_warden()


def _cli(warden: WardenServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WARDEN_SERVER": warden.url}
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", "sessions", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_cli_takes_prefixes_answers_and_downloads(server: WardenServer, tmp_path: Path) -> None:
    """A prefix names a session; answer, pane, patch, recording and artifacts work by it."""
    work = tmp_path / "work"
    work.mkdir()
    sid = json.loads(_ok(_cli(server, "create", str(work), "--json")))["id"]
    prefix = sid[:8]
    server.wait_state(sid, "idle", timeout=120)

    listed = _ok(_cli(server, "list"))  # a pipe: whole ids, tab-separated
    assert listed.splitlines()[0] == "id\tstate\tworkDir\tpolicy\tcreated"
    assert any(line.startswith(f"{sid}\t") for line in listed.splitlines())
    assert "…" not in listed
    assert sid in _ok(_cli(server, "show", prefix))

    _ok(_cli(server, "send", prefix, "[[ask: Which colour? | Red | Blue]]"))
    server.wait_state(sid, "asking")
    assert "answered" in _ok(_cli(server, "answer", prefix, "--option", "2"))
    server.wait_for(sid, lambda s: s["state"] == "idle" and "→ Blue" in _pane(server, sid))
    assert "→ Blue" in _ok(_cli(server, "pane", prefix))

    _ok(_cli(server, "send", prefix, "[[bash: touch from-cli.txt]]"))
    server.wait_state(sid, "permission_prompt")
    _ok(_cli(server, "approve", prefix))
    server.wait_state(sid, "idle")
    assert "diff --git a/from-cli.txt b/from-cli.txt" in _ok(_cli(server, "patch", prefix))

    _ok(_cli(server, "kill", prefix))
    names = _ok(_cli(server, "artifacts", prefix))
    for name in ("changes.patch", "transcript.jsonl", "recording.cast"):
        assert name in names
    out = tmp_path / "artifacts"
    _ok(_cli(server, "artifacts", prefix, "--out", str(out)))
    assert "from-cli.txt" in (out / "changes.patch").read_text()
    cast = tmp_path / "session.cast"
    _ok(_cli(server, "recording", prefix, "--out", str(cast)))
    assert json.loads(cast.read_text().splitlines()[0])["version"] == 2


def _pane(server: WardenServer, sid: str) -> str:
    text: str = server.client.get(f"/v1/sessions/{sid}/pane").json()["text"]
    return text


def test_ambiguous_or_unknown_prefixes_are_refused(server: WardenServer, tmp_path: Path) -> None:
    """A prefix naming several sessions or none exits 1 saying which; nothing is acted on."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        server.create(tmp_path / name)
    several = _cli(server, "show", "")
    assert several.returncode == 1
    assert "'' matches 2 sessions" in several.stderr and "give more of the id" in several.stderr
    none = _cli(server, "kill", "zzz")
    assert none.returncode == 1 and "no session id starts with 'zzz'" in none.stderr


def test_flags_are_flags_in_help_and_watch_keeps_unicode(
    server: WardenServer, tmp_path: Path
) -> None:
    """Help shows --json as a flag (no <bool>); watch prints details with real characters."""
    helped = _ok(_cli(server, "list", "--help"))
    json_line = next(line for line in helped.splitlines() if "--json" in line)
    assert "<bool>" not in helped and json_line.split()[:2] == ["--json", "Print"]
    (tmp_path / "w").mkdir()
    sid = server.create(tmp_path / "w", "[[bash: echo grüße ☃]]")["id"]
    server.wait_state(sid, "permission_prompt", timeout=120)
    env = {**os.environ, "WARDEN_SERVER": server.url}
    watch = subprocess.Popen(
        [sys.executable, "-m", "runner.cli", "sessions", "watch", sid[:8], "--interval", "0.2"],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert watch.stdout is not None
    seen = []  # watch replays from the first event; the prompt is already in the ledger
    while not seen or " session.state permission_prompt {" not in seen[-1]:
        seen.append(watch.stdout.readline())
        assert seen[-1], f"watch ended before the prompt: {seen}"
    _ok(_cli(server, "kill", sid))  # watch has shown the prompt: now end the session
    rest, _ = watch.communicate(timeout=30)
    watched = "".join(seen) + rest
    assert watch.returncode == 0
    assert " session.created" in seen[0] and " session.ended " in rest
    assert '"command": "echo grüße ☃"' in watched
    assert "\\u" not in watched  # no escaped characters
