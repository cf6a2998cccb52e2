"""Three ``warden serve`` replicas on one PostgreSQL and one Docker engine (issue 19).

One module, one story, because each step needs the sessions of the step before: six
sessions created through different replicas, each with exactly one owner; actions
through a replica that does not own the session are forwarded; the replica owning two
working sessions (and the audit sequencer) is SIGKILLed; within lease + 10 s the new
owners report the right state, the stories finish, and the audit chain verifies.
"""

from __future__ import annotations

import time
from pathlib import Path

import docker
import pytest

from audit.ledger import verify_store
from audit.signing import KeyRing
from audit.stores.factory import open_store
from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer

pytestmark = pytest.mark.postgres

LEASE_SECONDS = 6


def _project(tmp_path: Path, name: str) -> Path:
    project = tmp_path / name
    project.mkdir()
    (project / "README").write_text(name + "\n")
    return project


def _health(replica: WardenServer) -> dict[str, object]:
    response = replica.client.get("/v1/health")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _until_sequencer(replicas: list[WardenServer], timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        holders = [h["replica"] for h in map(_health, replicas) if h["sequencer"]]
        if len(holders) == 1:
            return str(holders[0])
        assert time.monotonic() < deadline, f"sequencer holders: {holders}"
        time.sleep(0.3)


def test_three_replicas_share_sessions_fail_over_and_keep_one_chain(
    start_warden: StartWarden, fresh_postgres_url: str, tmp_path: Path,
    docker_client: docker.DockerClient,
) -> None:  # fmt: skip
    """Six sessions over three replicas; SIGKILL one owning two: all finish, chain verifies."""
    replicas = [
        start_warden(
            fresh_postgres_url,
            extra_env={
                "WARDEN_REPLICA_ID": f"r{i}",
                "WARDEN_LEASE_SECONDS": str(LEASE_SECONDS),
                "WARDEN_LEASE_RENEW_SECONDS": "1",
            },
        )
        for i in range(3)
    ]
    by_id = {f"r{i}": replica for i, replica in enumerate(replicas)}
    assert [_health(r)["replica"] for r in replicas] == ["r0", "r1", "r2"]
    assert _until_sequencer(replicas) == "r0"  # the first to start holds the lock

    sessions = [
        replicas[i % 3].create(_project(tmp_path, f"p{i}"), prompt="stay idle")["id"]
        for i in range(6)
    ]
    for i, sid in enumerate(sessions):
        got = replicas[(i + 1) % 3].wait_state(sid, "idle", timeout=240)
        assert got["replica"] == f"r{i % 3}" and got["leaseExpiresAt"]  # one owner: its creator

    victim = replicas[0]
    prompting, working = sessions[0], sessions[3]  # both owned by r0; one idle, one working
    # Sent through r2: forwarded to r0, the owner, and answered as if r0 had been asked.
    assert replicas[2].post(working, "send", {"text": "[[slow: 15]]"}).status_code == 200
    replicas[2].wait_state(working, "working")

    victim.kill()
    killed = time.monotonic()
    survivors = replicas[1:]
    for sid, states in ((prompting, {"idle"}), (working, {"working", "idle"})):
        got = survivors[0].wait_for(
            sid,
            lambda s, states=states: s["replica"] in ("r1", "r2") and s["state"] in states,  # type: ignore[misc]
            timeout=LEASE_SECONDS + 10 + 5,
        )
        assert time.monotonic() - killed < LEASE_SECONDS + 10 + 5, got
    assert _until_sequencer(survivors) in ("r1", "r2")

    # Through the survivor that does not own it (forwarded to the new owner): a tool call
    # that asks, then its approval. (A prompt already open when its owner died cannot be
    # approved after a takeover: the hook's pending request died with that replica.)
    owner = survivors[0].session(prompting)["replica"]
    other = next(r for name, r in by_id.items() if name not in ("r0", owner))
    sent = other.post(prompting, "send", {"text": "[[bash: echo moved > proof.txt]]"})
    assert sent.status_code == 200, sent.text
    other.wait_state(prompting, "permission_prompt", timeout=120)
    approved = other.post(prompting, "approve")
    assert approved.status_code == 200, approved.text
    other.wait_state(prompting, "idle", timeout=120)
    patch = other.client.get(f"/v1/sessions/{prompting}/artifacts").json()["patch"]
    assert "+moved" in patch
    survivors[0].wait_state(working, "idle", timeout=120)
    for sid in sessions:  # every session, whoever owned it, is alive and owned by a survivor
        got = survivors[1].session(sid)
        assert got["replica"] in ("r1", "r2") and got["state"] == "idle", got

    # One chain, every event once, signed by the sequencers that held the lock in turn.
    store = open_store(fresh_postgres_url)
    try:
        result = verify_store(store, KeyRing.open(tmp_path / "data" / "keys").public)
    finally:
        store.close()
    assert result.ok and result.events > 0, result.describe()
