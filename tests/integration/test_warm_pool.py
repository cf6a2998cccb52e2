"""The warm pool for real: ``warden serve`` with pooled sandboxes, real Docker, real
Claude Code, the scripted model."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import pytest

from runner.policy import shipped_policies_dir
from tests.integration.conftest import StartWarden
from tests.integration.server import WardenServer
from tests.integration.test_sessions_api import run_story

POOLED_POLICY = """\
version: 1
name: pooled
description: the shipped default, from the warm pool
extends: default
container: {pool: true}
"""


def _pool_server(start_warden: StartWarden, tmp_path: Path, size: int) -> WardenServer:
    policies = tmp_path / "policies"
    shutil.copytree(shipped_policies_dir(), policies)
    (policies / "pooled.yaml").write_text(POOLED_POLICY)
    return start_warden(
        extra_env={
            "WARDEN_POLICIES_DIR": str(policies),
            "WARDEN_POOL_SIZE": str(size),
            "WARDEN_POOL_KEYS": "pooled",
        }
    )


def _ready_lines(warden: WardenServer) -> int:
    return warden.log.read_text(errors="replace").count("warm pool (pooled): sandbox ")


def _wait_ready(warden: WardenServer, count: int, timeout: float = 180) -> None:
    """Until the controller has said ``count`` pooled sandboxes became ready."""
    deadline = time.monotonic() + timeout
    while _ready_lines(warden) < count:
        assert time.monotonic() < deadline, warden.log.read_text(errors="replace")[-3000:]
        time.sleep(0.5)


def _pool_containers(client: docker.DockerClient) -> dict[str, str]:
    """Container id → the session id it carries, for every pooled sandbox running."""
    found = client.containers.list(filters={"label": "warden.pool=1"})
    return {c.id: c.labels["warden.session"] for c in found}


def _project(tmp_path: Path, name: str) -> Path:
    project = tmp_path / name
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")
    return project


def _started(warden: WardenServer, sid: str) -> dict[str, Any]:
    events = warden.client.get("/v1/audit", params={"session": sid, "limit": 100})
    assert events.status_code == 200, events.text
    (started,) = [e for e in events.json()["events"] if e["type"] == "container.started"]
    data: dict[str, Any] = started["data"]
    return data


@pytest.fixture
def pool_of_one(start_warden: StartWarden, tmp_path: Path) -> WardenServer:
    warden = _pool_server(start_warden, tmp_path, 1)
    _wait_ready(warden, 1)
    return warden


def test_pooled_session_completes_the_usual_story_and_is_refilled(
    pool_of_one: WardenServer, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """A session under a pooling policy runs the whole story in the pooled sandbox (its
    id and container); the pool starts a new sandbox for the next one."""
    ((waiting_id, waiting_sid),) = _pool_containers(docker_client).items()
    seen: dict[str, Any] = {}
    deleted = run_story(
        pool_of_one, _project(tmp_path, "p"), "pooled", on_ready=seen.update, policy="pooled"
    )
    assert deleted["id"] == waiting_sid
    started = _started(pool_of_one, waiting_sid)
    assert started["pooled"] is True and started["container"] == waiting_id
    _wait_ready(pool_of_one, 2)  # refilled
    ((fresh_id, fresh_sid),) = _pool_containers(docker_client).items()
    assert fresh_id != waiting_id and fresh_sid != waiting_sid


def test_concurrent_claims_never_share_a_sandbox(
    start_warden: StartWarden, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """Three sessions created at once against a pool of two each get their own
    container; each pooled one carries its own session's id."""
    warden = _pool_server(start_warden, tmp_path, 2)
    _wait_ready(warden, 2)
    projects = [_project(tmp_path, f"c{i}") for i in range(3)]
    with ThreadPoolExecutor(3) as threads:
        created = list(threads.map(lambda p: warden.create(p, policy="pooled"), projects))
    sids = [c["id"] for c in created]
    assert len(set(sids)) == 3
    for sid in sids:
        warden.wait_state(sid, "idle", timeout=180)
    started = {sid: _started(warden, sid) for sid in sids}
    containers = [s["container"] for s in started.values()]
    assert len(set(containers)) == 3
    assert any(s["pooled"] for s in started.values())
    for sid, data in started.items():
        labels = docker_client.containers.get(data["container"]).labels
        assert labels["warden.session"] == sid
        assert (labels.get("warden.pool") == "1") == data["pooled"]


def test_policy_that_does_not_pool_gets_a_cold_start(
    pool_of_one: WardenServer, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """A session under the shipped default (no container.pool) starts its own container;
    the pooled sandbox stays unclaimed."""
    before = _pool_containers(docker_client)
    session = pool_of_one.create(_project(tmp_path, "cold"), policy="default")
    pool_of_one.wait_state(session["id"], "idle", timeout=180)
    started = _started(pool_of_one, session["id"])
    assert started["pooled"] is False and started["container"] not in before
    assert _pool_containers(docker_client) == before
