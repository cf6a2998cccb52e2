"""The audit ledger wired into sessions, on real PostgreSQL: every action is recorded,
proofs and exports verify, and when the ledger cannot write, the action does not happen."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import docker
import psycopg
import pytest

from audit.checkpoint import Checkpoint
from audit.merkle import verify_inclusion
from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer

BREAK_LEDGER = """
CREATE FUNCTION warden_test_refuse() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'ledger disk full (test)'; END $$;
CREATE TRIGGER warden_test_refuse BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION warden_test_refuse();
"""
MEND_LEDGER = "DROP TRIGGER warden_test_refuse ON audit_events; DROP FUNCTION warden_test_refuse();"


@pytest.fixture
def server(fresh_postgres_url: str, start_warden: StartWarden) -> WardenServer:
    return start_warden(fresh_postgres_url)


def _events(warden: WardenServer, **params: Any) -> list[dict[str, Any]]:
    response = warden.client.get("/v1/audit", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def _session(warden: WardenServer, project: Path, prompt: str) -> str:
    sid = str(warden.create(project, prompt=prompt)["id"])
    warden.wait_state(sid, "idle", timeout=120)
    return sid


def test_session_actions_are_recorded_in_order(server: WardenServer, tmp_path: Path) -> None:
    """Creation, container, input, states and model usage land in the ledger."""
    project = tmp_path / "p"
    project.mkdir()
    sid = _session(server, project, "hello ledger")
    types = [e["type"] for e in _events(server, session=sid)]
    for expected in (
        "session.created",
        "container.started",
        "input.sent",
        "session.state",
        "model.request",
    ):
        assert expected in types, types
    assert (
        types.index("session.created")
        < types.index("container.started")
        < types.index("input.sent")
    )
    usage = [e["data"] for e in _events(server, session=sid, type="model.request")]
    assert any(u["input_tokens"] > 0 and u["output_tokens"] > 0 for u in usage)
    assert server.session(sid)["usage"]["outputTokens"] > 0
    sent = _events(server, session=sid, type="input.sent")
    assert sent[0]["data"]["text"] == "hello ledger"


def test_proof_checkpoints_and_export_verify(server: WardenServer, tmp_path: Path) -> None:
    """An event's inclusion proof checks against a signed checkpoint; an export verifies offline."""
    project = tmp_path / "p"
    project.mkdir()
    sid = _session(server, project, "prove it")
    created = _events(server, session=sid, type="session.created")[0]
    deadline = time.monotonic() + 15
    while (proof := server.client.get(f"/v1/audit/{created['seq']}/proof")).status_code == 404:
        assert time.monotonic() < deadline, proof.text  # checkpoints come at most once a second
        time.sleep(0.5)
    body = proof.json()
    checkpoint = Checkpoint.from_json(body["checkpoint"])
    path = tuple(bytes.fromhex(p) for p in body["path"])
    assert verify_inclusion(
        bytes.fromhex(body["leaf_hash"]), body["seq"], checkpoint.size, path, checkpoint.root
    )
    assert server.client.get("/v1/audit/checkpoints").json()["checkpoints"]
    export = server.client.post("/v1/audit/exports", json={})
    assert export.status_code == 201, export.text
    verified = subprocess.run(
        [sys.executable, "-m", "audit", "verify", export.json()["path"]],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert server.client.get("/v1/audit/999999/proof").status_code == 404


def _containers_of(server: WardenServer, docker_client: docker.DockerClient) -> set[str]:
    """This server's session containers: those mounting something from its data dir (the
    engine may be shared with other controllers, whose containers come and go)."""
    mine = set()
    for container in docker_client.containers.list(all=True, filters={"label": "warden.session"}):
        sources = [m.get("Source", "") for m in container.attrs.get("Mounts", [])]
        if any(source.startswith(str(server.data_dir)) for source in sources):
            mine.add(container.id)
    return mine


def test_unwritable_ledger_stops_actions_with_503(
    server: WardenServer,
    fresh_postgres_url: str,
    tmp_path: Path,
    docker_client: docker.DockerClient,
) -> None:
    """While the ledger refuses writes: no session starts, no input is typed; both 503."""
    project = tmp_path / "p"
    project.mkdir()
    sid = _session(server, project, "before the outage")
    before = {s["id"] for s in server.client.get("/v1/sessions").json()["sessions"]}
    containers = _containers_of(server, docker_client)
    assert containers, "the session started before the outage has a container"
    with psycopg.connect(fresh_postgres_url, autocommit=True) as conn:
        conn.execute(BREAK_LEDGER)
    try:
        created = server.client.post("/v1/sessions", json={"workDir": str(project), "prompt": "x"})
        assert created.status_code == 503, created.text
        assert created.json()["error"]["code"] == "audit_unavailable"
        sent = server.post(sid, "send", {"text": "during the outage"})
        assert sent.status_code == 503, sent.text
        time.sleep(1)
        assert "during the outage" not in server.client.get(f"/v1/sessions/{sid}/pane").text
        assert {s["id"] for s in server.client.get("/v1/sessions").json()["sessions"]} == before
        assert _containers_of(server, docker_client) == containers
    finally:
        with psycopg.connect(fresh_postgres_url, autocommit=True) as conn:
            conn.execute(MEND_LEDGER)
    assert server.post(sid, "send", {"text": "after the outage"}).status_code == 200
    server.wait_for(
        sid, lambda s: "after the outage" in server.client.get(f"/v1/sessions/{sid}/pane").text
    )
