"""Three ``warden serve`` replicas on one PostgreSQL and one Docker engine (issue 19).

The replicas start once for the module (r2 reaches the database through a port the
tests can block). Killing: six sessions created through different replicas, each with
exactly one owner; actions through a replica that does not own the session are
forwarded; the replica owning two sessions (one at a permission prompt) and the audit
sequencer is SIGKILLed; within lease + 10 s the new owners report the right state, the
prompt is approved through a replica that does not own it, the stories finish, and the
audit chain verifies. Partition: r2's database link is cut while it owns two sessions;
it stops acting before anyone else can get their leases, another replica takes them
over with a higher token, and the input and approval sent meanwhile land exactly once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import httpx
import psycopg
import pytest

from audit.ledger import verify_store
from audit.signing import KeyRing
from audit.stores.factory import open_store
from runner.sandbox.image import BuildResult
from tests.conftest import TEST_LABELS
from tests.integration.blocked_port import BlockablePort
from tests.integration.server import WardenServer, unmount_under

pytestmark = pytest.mark.postgres

LEASE_SECONDS = 6
RENEW_SECONDS = 1
_MODULE_LABEL = "warden.test.replicas"


@dataclass
class Cluster:
    root: Path
    url: str  # the database, directly
    port: BlockablePort  # r2's way to it
    replicas: dict[str, WardenServer]

    def alive(self, *but: str) -> list[WardenServer]:
        return [
            r
            for name, r in self.replicas.items()
            if name not in but and r.process is not None and r.process.poll() is None
        ]

    def project(self, name: str) -> Path:
        project = self.root / name
        project.mkdir()
        (project / "README").write_text(name + "\n")
        return project


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
    sandbox_image: BuildResult,
    docker_client: docker.DockerClient,
) -> Iterator[Cluster]:
    """r0, r1 and r2 on a fresh database (r0 first: it holds the sequencer lock)."""
    root = tmp_path_factory.mktemp("replicas")
    name = f"warden_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres_url.rpartition("/")
    url = f"{base}/{name}"
    host, _, db_port = base.rpartition("@")[2].partition(":")
    port = BlockablePort(host, int(db_port or 5432))
    through_port = url.replace(f"{host}:{db_port}", f"127.0.0.1:{port.port}")
    mark = uuid.uuid4().hex[:12]  # this module's containers, removed however it ends
    replicas: dict[str, WardenServer] = {}
    try:
        for i in range(3):
            replica = WardenServer(
                root / "data",  # shared, as replicas on one host share it
                through_port if i == 2 else url,
                extra_env={
                    "WARDEN_REPLICA_ID": f"r{i}",
                    "WARDEN_LEASE_SECONDS": str(LEASE_SECONDS),
                    "WARDEN_LEASE_RENEW_SECONDS": str(RENEW_SECONDS),
                    "WARDEN_CONTAINER_LABELS": json.dumps({**TEST_LABELS, _MODULE_LABEL: mark}),
                    "WARDEN_LOG_FORMAT": "json",
                },
            )
            replica.log = root / f"r{i}.log"  # each its own: the partition test reads r2's
            replicas[f"r{i}"] = replica.start()
        yield Cluster(root, url, port, replicas)
    finally:
        port.unblock()
        for replica in replicas.values():
            replica.stop()
        port.close()
        for container in docker_client.containers.list(
            all=True, filters={"label": f"{_MODULE_LABEL}={mark}"}
        ):
            container.remove(force=True, v=True)
        unmount_under(root)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


def _audit(replica: WardenServer, session_id: str, type: str) -> list[dict[str, Any]]:
    response = replica.client.get(
        "/v1/audit", params={"session": session_id, "type": type, "limit": 1000}
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def _verify_chain(cluster: Cluster) -> None:
    store = open_store(cluster.url)
    try:
        result = verify_store(store, KeyRing.open(cluster.root / "data" / "keys").public)
    finally:
        store.close()
    assert result.ok and result.events > 0, result.describe()


def test_three_replicas_share_sessions_fail_over_and_keep_one_chain(cluster: Cluster) -> None:
    """Six sessions over three replicas; SIGKILL one owning two (one at a permission
    prompt): all finish, that prompt approved elsewhere, and the chain verifies."""
    replicas = list(cluster.replicas.values())
    by_id = cluster.replicas
    assert [_health(r)["replica"] for r in replicas] == ["r0", "r1", "r2"]
    assert _until_sequencer(replicas) == "r0"  # the first to start holds the lock

    sessions = [
        replicas[i % 3].create(cluster.project(f"p{i}"), prompt="stay idle")["id"] for i in range(6)
    ]
    for i, sid in enumerate(sessions):
        got = replicas[(i + 1) % 3].wait_state(sid, "idle", timeout=240)
        assert got["replica"] == f"r{i % 3}" and got["leaseExpiresAt"]  # one owner: its creator

    victim = replicas[0]
    prompting, working = sessions[0], sessions[3]  # both owned by r0
    # Sent through r2: forwarded to r0, the owner, and answered as if r0 had been asked.
    asked = replicas[2].post(prompting, "send", {"text": "[[bash: echo moved > proof.txt]]"})
    assert asked.status_code == 200, asked.text
    assert replicas[2].post(working, "send", {"text": "[[slow: 15]]"}).status_code == 200
    replicas[2].wait_state(prompting, "permission_prompt", timeout=120)
    replicas[2].wait_state(working, "working")

    victim.kill()
    killed = time.monotonic()
    survivors = replicas[1:]
    for sid, states in ((prompting, {"permission_prompt"}), (working, {"working", "idle"})):
        got = survivors[0].wait_for(
            sid,
            lambda s, states=states: s["replica"] in ("r1", "r2") and s["state"] in states,  # type: ignore[misc]
            timeout=LEASE_SECONDS + 10 + 5,
        )
        assert time.monotonic() - killed < LEASE_SECONDS + 10 + 5, got
    assert _until_sequencer(survivors) in ("r1", "r2")

    # The prompt r0 showed when it died, approved through the survivor that does not own
    # the session (forwarded to the new owner, which read the hook's ask back from the
    # ledger when it took the session over).
    owner = survivors[0].session(prompting)["replica"]
    other = next(r for name, r in by_id.items() if name not in ("r0", owner))
    approved = other.post(prompting, "approve")
    assert approved.status_code == 200, approved.text
    other.wait_state(prompting, "idle", timeout=120)
    patch = other.client.get(f"/v1/sessions/{prompting}/artifacts").json()["patch"]
    assert "+moved" in patch
    decided = _audit(other, prompting, "permission.decided")
    assert [(e["data"]["decision"], e["data"]["request"]) for e in decided] == [
        ("approve", _audit(other, prompting, "tool.decision")[-1]["data"]["request"])
    ]
    survivors[0].wait_state(working, "idle", timeout=120)
    for sid in sessions:  # every session, whoever owned it, is alive and owned by a survivor
        got = survivors[1].session(sid)
        assert got["replica"] in ("r1", "r2") and got["state"] == "idle", got

    # One chain, every event once, signed by the sequencers that held the lock in turn.
    _verify_chain(cluster)
    for sid in sessions:  # the next story starts with none of these running
        assert survivors[0].client.delete(f"/v1/sessions/{sid}").status_code == 200


def _leases(url: str, session_ids: list[str]) -> dict[str, tuple[str, int, datetime]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT session_id, owner, token, expires_at FROM session_leases"
            " WHERE session_id = ANY(%s)",
            (session_ids,),
        ).fetchall()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _end_backends(url: str, application_name: str) -> int:
    """End every PostgreSQL backend of one replica (its connections carry its name)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (application_name,),
        ).fetchall()
    return sum(1 for (ended,) in rows if ended)


def _let_go_at(log: Path) -> dict[str, datetime]:
    """When the replica stopped acting on each session it could not renew (its log)."""
    found: dict[str, datetime] = {}
    for line in log.read_text().splitlines():
        if "lease not renewed in time" not in line:
            continue
        entry = json.loads(line)
        session_id = entry["message"].split()[1].rstrip(":")
        found.setdefault(session_id, datetime.fromisoformat(entry["ts"]))
    return found


class _Retrying(threading.Thread):
    """A client that repeats one action through one replica until it is answered 200."""

    def __init__(self, replica: WardenServer, path: str, body: dict[str, Any] | None) -> None:
        super().__init__(daemon=True)
        self._replica, self._path, self._body = replica, path, body
        self.answers: list[int | str] = []

    def run(self) -> None:
        # Short attempts: one that reached the cut-off owner hangs there (and may never act).
        with httpx.Client(base_url=self._replica.url, timeout=8) as client:
            for _ in range(12):
                try:
                    status: int | str = client.post(self._path, json=self._body).status_code
                except httpx.TimeoutException:
                    status = "timeout"
                self.answers.append(status)
                if status == 200:
                    return
                time.sleep(1)


def test_a_partitioned_replica_stops_acting_before_its_sessions_are_taken_over(
    cluster: Cluster,
) -> None:
    """r2's database link is cut: it lets go of its sessions before their leases can be
    given to anyone; another replica takes them over (token + 1); the input and the
    approval sent meanwhile are delivered exactly once, also after the link is back."""
    cut_off = cluster.replicas["r2"]
    via = cluster.alive("r2")[-1]  # where the clients send everything
    text = f"note {uuid.uuid4().hex[:8]}"
    typing = cut_off.create(cluster.project("q0"), prompt="stay idle")["id"]
    asking = cut_off.create(cluster.project("q1"), prompt="[[bash: echo asked >> asked.txt]]")
    asking_id = asking["id"]
    via.wait_state(typing, "idle", timeout=240)
    via.wait_state(asking_id, "permission_prompt", timeout=240)
    before = _leases(cluster.url, [typing, asking_id])
    assert {owner for owner, _, _ in before.values()} == {"r2"}

    cluster.port.block()  # packets to and from r2's database port are dropped from now on
    # PostgreSQL ends r2's backends (as it would once it noticed): their locks are freed.
    assert _end_backends(cluster.url, "warden:r2") > 0
    cut = _leases(cluster.url, [typing, asking_id])  # the expiries r2's last renewal set
    clients = [
        _Retrying(via, f"/v1/sessions/{typing}/send", {"text": text}),
        _Retrying(via, f"/v1/sessions/{asking_id}/approve", None),
    ]
    for client in clients:
        client.start()

    taken: dict[str, datetime] = {}
    deadline = time.monotonic() + LEASE_SECONDS + 15
    while len(taken) < 2:
        assert time.monotonic() < deadline, f"not taken over: {_leases(cluster.url, list(cut))}"
        for sid, (owner, token, _) in _leases(cluster.url, list(cut)).items():
            if token > cut[sid][1] and sid not in taken:
                taken[sid] = datetime.now(UTC)
                assert owner != "r2" and token == before[sid][1] + 1, (owner, token)
        time.sleep(0.1)
    owners = _leases(cluster.url, list(cut))
    let_go = _let_go_at(cut_off.log)
    for sid, (_, _, expires) in cut.items():
        # r2 stopped acting at its own deadline, before anyone could have the lease.
        assert let_go[sid] < expires <= taken[sid], (sid, let_go, expires, taken)
        print(  # the figures, for -s / -rP
            f"{sid[:8]}: let go {(expires - let_go[sid]).total_seconds():.2f} s before"
            f" the lease expired; taken over {(taken[sid] - expires).total_seconds():.2f} s"
            f" after (token {owners[sid][1]}, by {owners[sid][0]})"
        )

    for client in clients:
        client.join(60)
        assert client.answers[-1:] == [200], client.answers
    via.wait_state(typing, "idle", timeout=120)
    via.wait_state(asking_id, "idle", timeout=120)

    cluster.port.unblock()  # r2 reaches the database again: it takes nothing back by itself
    deadline = time.monotonic() + 30
    while cut_off.client.get("/v1/health", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "r2 never recovered"
        time.sleep(0.5)
    time.sleep(3 * RENEW_SECONDS)  # room for anything r2 still had in hand to show
    now = _leases(cluster.url, list(cut))
    assert {sid: lease[:2] for sid, lease in now.items()} == {
        sid: lease[:2] for sid, lease in owners.items()
    }

    # Exactly once: in the agent's own transcript, in the ledger, in the workspace.
    turns = via.client.get(f"/v1/sessions/{typing}/read").json()["turns"]
    assert sum(text in turn["text"] for turn in turns if turn["role"] == "user") == 1, turns
    sent = [e for e in _audit(via, typing, "input.sent") if e["data"]["text"] == text]
    assert len(sent) == 1, sent
    decided = _audit(via, asking_id, "permission.decided")
    assert [e["data"]["decision"] for e in decided] == ["approve"], decided
    patch = via.client.get(f"/v1/sessions/{asking_id}/artifacts").json()["patch"]
    assert patch.count("+asked") == 1, patch
    _verify_chain(cluster)
