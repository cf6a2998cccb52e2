"""Session quotas through the real app: running limits per tenant, user and in all,
starts per minute, and memory admission; over a limit 429 names it, and a batch starts
exactly the allowed number."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from audit.stores.base import EventFilter
from runner.settings import Settings
from tests.offline_app import OfflineServices, run_with_fake_claude

Scenario = Callable[[httpx.AsyncClient, OfflineServices, Path], Coroutine[Any, Any, None]]


def _run(tmp_path: Path, scenario: Scenario, **settings: Any) -> None:
    work = tmp_path / "work"
    work.mkdir()
    config = Settings(
        data_dir=tmp_path / "data",
        workspace_roots=[tmp_path],
        delivery_seconds=0.9,
        idle_settle_seconds=0.1,
        **{"max_sessions": 0, "max_sessions_per_tenant": 0, "max_sessions_per_user": 0,
           "session_starts_per_minute": 0, **settings},
    )  # fmt: skip
    run_with_fake_claude(config, lambda client, services: scenario(client, services, work))


def _body(work: Path) -> dict[str, Any]:
    # unattended: each request starts a session of its own (no reuse of an idle one).
    return {"workDir": str(work), "unattended": True, "policy": "ci"}


def _refused(services: OfflineServices) -> list[dict[str, Any]]:
    page = services.ledger.query(EventFilter(type="session.refused"), limit=1000)
    return [dict(entry.event.data) for entry in page.entries]


def test_sessions_over_the_tenant_quota_get_429_naming_it(tmp_path: Path) -> None:
    """With 2 per tenant, the 3rd start is 429 with Retry-After and the limit's name,
    audited; deleting one frees its place."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        ids = []
        for _ in range(2):
            created = await client.post("/v1/sessions", json=_body(work))
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        over = await client.post("/v1/sessions", json=_body(work))
        assert over.status_code == 429, over.text
        assert int(over.headers["retry-after"]) >= 1
        error = over.json()["error"]
        assert (error["code"], error["details"]["limit"]) == ("rate_limited", "sessions_per_tenant")
        assert error["details"]["max"] == 2
        assert [e["limit"] for e in _refused(services)] == ["sessions_per_tenant"]
        assert (await client.delete(f"/v1/sessions/{ids[0]}")).status_code == 200
        again = await client.post("/v1/sessions", json=_body(work))
        assert again.status_code == 201, again.text

    _run(tmp_path, scenario, max_sessions_per_tenant=2)


def test_a_batch_over_the_quota_starts_exactly_the_allowed_number(tmp_path: Path) -> None:
    """A batch of 5 with 3 allowed: 3 sessions, then 2 items with the 429 error."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        reply = await client.post("/v1/sessions/batch", json={"sessions": [_body(work)] * 5})
        assert reply.status_code == 200, reply.text
        results = reply.json()["results"]
        assert [r["session"] is not None for r in results] == [True] * 3 + [False] * 2
        assert {r["error"]["details"]["limit"] for r in results[3:]} == {"sessions_per_user"}
        listed = (await client.get("/v1/sessions")).json()["sessions"]
        assert len(listed) == 3

    _run(tmp_path, scenario, max_sessions_per_user=3, max_sessions=10)


def test_the_server_wide_quota(tmp_path: Path) -> None:
    """With 1 session allowed on the server, the 2nd start is refused naming it."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        assert (await client.post("/v1/sessions", json=_body(work))).status_code == 201
        over = await client.post("/v1/sessions", json=_body(work))
        assert over.status_code == 429
        assert over.json()["error"]["details"]["limit"] == "sessions"

    _run(tmp_path, scenario, max_sessions=1)


def test_starts_per_minute(tmp_path: Path) -> None:
    """With 2 starts a minute, the 3rd is refused until the minute has passed."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        for _ in range(2):
            assert (await client.post("/v1/sessions", json=_body(work))).status_code == 201
        rate = await client.post("/v1/sessions", json=_body(work))
        assert rate.status_code == 429
        assert rate.json()["error"]["details"]["limit"] == "session_starts_per_minute"
        assert 50 <= int(rate.headers["retry-after"]) <= 60

    _run(tmp_path, scenario, session_starts_per_minute=2)


def test_memory_admission_refuses_what_the_host_cannot_hold(tmp_path: Path) -> None:
    """A reserve larger than the host's memory refuses the start with a clear 429."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        over = await client.post("/v1/sessions", json=_body(work))
        assert over.status_code == 429, over.text
        error = over.json()["error"]
        assert error["details"]["limit"] == "host_memory"
        assert "WARDEN_MEMORY_RESERVE_BYTES" in error["message"]
        assert error["details"]["sessionBytes"] == 4 * 1024**3  # the ci policy's memory
        assert (await client.get("/v1/sessions")).json()["sessions"] == []

    _run(tmp_path, scenario, memory_reserve_bytes=1024**5)
