"""Queued starts through the real app: over a quota, a request that asks to wait (and
whose policy allows it) is created ``queued`` with its position and starts by itself,
in order, when a place frees; without either it is 429 as before."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from audit.stores.base import EventFilter
from runner.policy.loader import shipped_policies_dir
from runner.settings import Settings
from tests.offline_app import OfflineServices, run_with_fake_claude

Scenario = Callable[[httpx.AsyncClient, OfflineServices, Path], Coroutine[Any, Any, None]]

_QUEUED_POLICY = "version: 1\nname: queued\nextends: ci\ncontainer:\n  queue: true\n"


def _run(tmp_path: Path, scenario: Scenario, **settings: Any) -> None:
    work = tmp_path / "work"
    work.mkdir()
    policies = tmp_path / "policies"
    shutil.copytree(shipped_policies_dir(), policies)
    (policies / "queued.yaml").write_text(_QUEUED_POLICY)
    config = Settings(
        data_dir=tmp_path / "data",
        workspace_roots=[tmp_path],
        policies_dir=policies,
        delivery_seconds=0.9,
        idle_settle_seconds=0.1,
        **{"max_sessions": 0, "max_sessions_per_tenant": 1, "max_sessions_per_user": 0,
           "session_starts_per_minute": 0, **settings},
    )  # fmt: skip
    run_with_fake_claude(config, lambda client, services: scenario(client, services, work))


def _body(work: Path, **extra: Any) -> dict[str, Any]:
    return {"workDir": str(work), "unattended": True, "policy": "queued", **extra}


async def _state(client: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    return dict((await client.get(f"/v1/sessions/{sid}")).json())


async def _until(client: httpx.AsyncClient, sid: str, *states: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    got = await _state(client, sid)
    while got["state"] not in states and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        got = await _state(client, sid)
    assert got["state"] in states, got
    return got


def test_over_the_quota_a_start_waits_in_line_and_starts_in_order(tmp_path: Path) -> None:
    """With 1 per tenant: the 2nd and 3rd starts are queued at positions 1 and 2 (not
    counted as running); ending the 1st starts the 2nd and moves the 3rd up."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        first = await client.post("/v1/sessions", json=_body(work, queue=True))
        assert first.status_code == 201 and first.json()["state"] == "starting", first.text
        second = await client.post("/v1/sessions", json=_body(work, queue=True))
        assert second.status_code == 201, second.text
        assert second.json()["state"] == "queued"
        assert second.json()["details"]["queue"] == {"position": 1, "limit": "sessions_per_tenant"}
        third = (await client.post("/v1/sessions", json=_body(work, queue=True))).json()
        assert third["details"]["queue"]["position"] == 2
        health = (await client.get(f"/v1/sessions/{second.json()['id']}/health")).json()
        assert "position 1" in health["details"] and health["windowExists"] is False
        queued = (await client.get("/v1/sessions", params={"state": "queued"})).json()
        assert [s["id"] for s in queued["sessions"]] == [second.json()["id"], third["id"]]
        await _until(client, first.json()["id"], "idle")
        assert (await client.delete(f"/v1/sessions/{first.json()['id']}")).status_code == 200
        started = await _until(client, second.json()["id"], "starting", "idle")
        assert "queue" not in started["details"]
        moved = await _state(client, third["id"])
        deadline = time.monotonic() + 10  # the line's new positions are written after the start
        while moved["details"].get("queue", {}).get("position") != 1:
            assert time.monotonic() < deadline, moved
            await asyncio.sleep(0.05)
            moved = await _state(client, third["id"])
        assert (moved["state"], moved["details"]["queue"]["position"]) == ("queued", 1)
        page = services.ledger.query(EventFilter(type="session.queued"), limit=10)
        assert [e.event.data["position"] for e in page.entries] == [1, 2]

    _run(tmp_path, scenario)


def test_without_asking_or_without_the_policy_it_is_429(tmp_path: Path) -> None:
    """No "queue": true, or a policy without container.queue, or a full line: 429 naming
    the limit, as before; a queued session deleted leaves the line and never starts."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        assert (await client.post("/v1/sessions", json=_body(work))).status_code == 201
        unasked = await client.post("/v1/sessions", json=_body(work))
        assert unasked.status_code == 429
        assert unasked.json()["error"]["details"]["limit"] == "sessions_per_tenant"
        not_allowed = await client.post("/v1/sessions", json=_body(work, queue=True, policy="ci"))
        assert not_allowed.status_code == 429, not_allowed.text
        waiting = (await client.post("/v1/sessions", json=_body(work, queue=True))).json()
        assert waiting["state"] == "queued"
        full = await client.post("/v1/sessions", json=_body(work, queue=True))
        assert full.status_code == 429, full.text  # WARDEN_MAX_QUEUED_SESSIONS=1
        left = await client.delete(f"/v1/sessions/{waiting['id']}")
        assert left.status_code == 200, left.text
        assert (left.json()["state"], left.json()["details"]["deleted"]) == ("exited", True)
        assert left.json()["container"] is None
        bad = await client.post("/v1/sessions", json=_body(work, queue="yes"))
        assert bad.status_code == 422

    _run(tmp_path, scenario, max_queued_sessions=1)
