"""The Aegis-shaped routes through the real app (in-memory sandboxes): list filters and
pagination, stats, health, summary, kill, memory with a lifetime, templates from Aegis's
body, diagnostics and the JSON metrics; bad input is a clear 422."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from runner.settings import Settings
from tests.offline_app import OfflineServices, run_with_fake_claude

Scenario = Callable[[httpx.AsyncClient, OfflineServices, Path], Coroutine[Any, Any, None]]


def _run(tmp_path: Path, scenario: Scenario) -> None:
    work = tmp_path / "work"
    (work / "a").mkdir(parents=True)
    (work / "b").mkdir()
    config = Settings(
        data_dir=tmp_path / "data",
        workspace_roots=[tmp_path],
        delivery_seconds=0.9,
        idle_settle_seconds=0.1,
    )
    run_with_fake_claude(config, lambda client, services: scenario(client, services, work))


async def _start(client: httpx.AsyncClient, work_dir: Path, **extra: Any) -> dict[str, Any]:
    body = {"workDir": str(work_dir), "unattended": True, "policy": "ci", **extra}
    created = await client.post("/v1/sessions", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def _until_idle(client: httpx.AsyncClient, session_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got = (await client.get(f"/v1/sessions/{session_id}")).json()
        if got["state"] == "idle":
            return dict(got)
        await asyncio.sleep(0.1)
    raise AssertionError(f"session {session_id} never became idle: {got}")


def _error(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 422, reply.text
    return dict(reply.json()["error"])


def test_list_filters_by_status_and_workdir_and_pages(tmp_path: Path) -> None:
    """status (either vocabulary), workDir and project filter; page/pageSize (or limit)
    return one page with Aegis's pagination; no paging keeps the whole list."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        a1 = await _start(client, work / "a", name="first")
        a2 = await _start(client, work / "a")
        b1 = await _start(client, work / "b")
        for s in (a1, a2, b1):
            await _until_idle(client, s["id"])
        listed = (await client.get("/v1/sessions")).json()
        assert [s["id"] for s in listed["sessions"]] == [a1["id"], a2["id"], b1["id"]]
        assert listed["pagination"] is None
        assert listed["sessions"][0]["name"] == "first"
        by_dir = (await client.get("/v1/sessions", params={"workDir": str(work / "a")})).json()
        assert [s["id"] for s in by_dir["sessions"]] == [a1["id"], a2["id"]]
        by_project = (await client.get("/v1/sessions", params={"project": "/B"})).json()
        assert [s["id"] for s in by_project["sessions"]] == [b1["id"]]
        for status in ("idle", "all"):
            got = (await client.get("/v1/sessions", params={"status": status})).json()
            assert len(got["sessions"]) == 3, status
        working = (await client.get("/v1/sessions", params={"status": "working"})).json()
        assert working["sessions"] == []
        page = await client.get("/v1/sessions", params={"page": 2, "pageSize": 2})
        assert page.status_code == 200, page.text
        assert [s["id"] for s in page.json()["sessions"]] == [b1["id"]]
        assert page.json()["pagination"] == {
            "page": 2, "limit": 2, "pageSize": 2, "total": 3, "totalPages": 2,
        }  # fmt: skip
        aegis = (await client.get("/v1/sessions", params={"page": 1, "limit": 2})).json()
        assert len(aegis["sessions"]) == 2 and aegis["pagination"]["limit"] == 2
        beyond = (await client.get("/v1/sessions", params={"page": 9, "pageSize": 2})).json()
        assert beyond["sessions"] == [] and beyond["pagination"]["total"] == 3
        assert {s["status"] for s in listed["sessions"]} == {"idle"}

    _run(tmp_path, scenario)


def test_list_refuses_bad_filters_with_422(tmp_path: Path) -> None:
    """An unknown status, a relative workDir, page 0, pageSize over 100, or pageSize and
    limit that disagree are each a 422 naming the parameter."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        for params, field in (
            ({"status": "sleeping"}, "status"),
            ({"workDir": "relative/dir"}, "workDir"),
            ({"page": 0}, "page"),
            ({"pageSize": 101}, "pageSize"),
            ({"limit": "many"}, "limit"),
        ):
            reply = await client.get("/v1/sessions", params=params)
            assert field in reply.text, (params, reply.text)
            _error(reply)
        both = await client.get("/v1/sessions", params={"page": 1, "pageSize": 2, "limit": 3})
        assert both.json()["pagination"]["pageSize"] == 2  # pageSize wins

    _run(tmp_path, scenario)


def test_stats_health_summary_and_kill(tmp_path: Path) -> None:
    """Stats count the tenant's sessions; health says alive with the next call to make;
    summary counts turns; POST kill ends the session like DELETE and answers ok."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        created = await _start(client, work / "a", prompt="hello", name="feature-auth")
        assert created["promptDelivery"] == {"delivered": False, "attempts": 0}
        assert created["status"] == "unknown" and created["name"] == "feature-auth"
        sid = created["id"]
        idle = await _until_idle(client, sid)
        assert idle["promptDelivery"] == {"delivered": True, "attempts": 1}
        stats = (await client.get("/v1/sessions/stats")).json()
        assert stats == {
            "active": 1, "byStatus": {"idle": 1}, "totalCreated": 1,
            "totalCompleted": 0, "totalFailed": 0,
        }  # fmt: skip
        health = (await client.get(f"/v1/sessions/{sid}/health")).json()
        assert health["alive"] and health["windowExists"] and health["claudeRunning"]
        assert health["status"] == "idle" and health["paneCommand"] == "claude"
        assert f"POST /v1/sessions/{sid}/send" in health["details"]
        assert health["actionHints"]["send"]["url"] == f"/v1/sessions/{sid}/send"
        assert 0 <= health["lastActivityAgo"] <= health["sessionAge"] < 60_000
        assert health["hasTranscript"] is False
        summary = (await client.get(f"/v1/sessions/{sid}/summary")).json()
        assert summary["sessionId"] == sid and summary["windowName"] == "feature-auth"
        assert summary["status"] == "idle" and summary["permissionMode"] == "default"
        # The in-memory stand-in writes no transcript (the integration test reads a real one).
        assert (summary["totalMessages"], summary["messages"], summary["toolCalls"]) == (0, [], 0)
        bulk = (await client.get("/v1/sessions/health")).json()
        assert list(bulk) == [sid] and bulk[sid]["alive"] is True
        killed = await client.post(f"/v1/sessions/{sid}/kill")
        assert killed.status_code == 200, killed.text
        assert killed.json()["ok"] is True and killed.json()["state"] == "exited"
        after = (await client.get(f"/v1/sessions/{sid}/health")).json()
        assert after["alive"] is False and after["windowExists"] is False
        assert "has ended" in after["details"] and after["actionHints"] is None
        stats = (await client.get("/v1/sessions/stats")).json()
        assert (stats["active"], stats["totalCompleted"]) == (0, 1)
        assert (await client.get("/v1/sessions/health")).json() == {}
        missing = await client.get("/v1/sessions/00000000-0000-4000-8000-000000000000/health")
        assert missing.status_code == 404

    _run(tmp_path, scenario)


def test_memory_post_with_a_lifetime(tmp_path: Path) -> None:
    """POST /v1/memory takes Aegis's {key, value, ttlSeconds?} (or ttlMs), answers
    {ok, entry} with the namespace; the entry reads as absent once it expires."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        kept = await client.post("/v1/memory", json={"key": "project/context", "value": "v5"})
        assert kept.status_code == 200, kept.text
        entry = kept.json()["entry"]
        assert kept.json()["ok"] is True
        assert (entry["key"], entry["value"], entry["namespace"]) == (
            "project/context",
            "v5",
            "project",
        )
        assert entry["expires_at"] is None and entry["created_at"] <= entry["updated_at"]
        got = await client.get("/v1/memory/project/context")
        assert got.status_code == 200 and got.json()["value"] == "v5"
        brief = await client.post("/v1/memory", json={"key": "run/1", "value": "x", "ttlMs": 300})
        lifetime = brief.json()["entry"]["expires_at"] - brief.json()["entry"]["updated_at"]
        assert 250 <= lifetime <= 300
        assert (await client.get("/v1/memory/run/1")).status_code == 200
        await asyncio.sleep(0.5)
        assert (await client.get("/v1/memory/run/1")).status_code == 404
        listed = (await client.get("/v1/memory")).json()["entries"]
        assert [e["key"] for e in listed] == ["project/context"]
        again = await client.post(
            "/v1/memory", json={"key": "run/1", "value": "y", "ttlSeconds": 60}
        )
        assert again.json()["entry"]["version"] == 1  # an expired entry starts afresh
        for body, field in (
            ({"key": "k", "value": "v", "ttlSeconds": 0}, "ttlSeconds"),
            ({"key": "k", "value": "v", "ttlSeconds": 31 * 86400}, "ttlSeconds"),
            ({"key": "k", "value": "v", "ttlSeconds": 5, "ttlMs": 5000}, "ttlMs"),
            ({"key": "k", "value": "v", "ttlSeconds": None}, "ttlSeconds"),
            ({"key": "/leading", "value": "v"}, "key"),
            ({"key": "a/../b", "value": "v"}, "key"),
            ({"key": "a//b", "value": "v"}, "key"),
            ({"key": "a" * 201, "value": "v"}, "key"),
            ({"value": "v"}, "key"),
            ({"key": "k", "value": "v", "scope": "team"}, "scope"),
        ):
            reply = await client.post("/v1/memory", json=body)
            assert field in reply.text, (body, reply.text)
            _error(reply)
        deleted = await client.delete("/v1/memory/project/context")
        assert deleted.status_code == 204

    _run(tmp_path, scenario)


def test_templates_from_aegis_body(tmp_path: Path) -> None:
    """A template made from {name, description, prompt, workDir, permissionMode} answers
    with its id and workDir, and starts a session that names no workspace; sessionId
    copies a session's settings; a bad workDir is 422."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        body = {
            "name": "code-review",
            "description": "Standard code review session",
            "prompt": "Review the repo",
            "workDir": str(work / "a"),
            "permissionMode": "default",
        }
        made = await client.post("/v1/templates", json=body)
        assert made.status_code == 201, made.text
        assert (made.json()["id"], made.json()["workDir"]) == ("code-review", str(work / "a"))
        started = await client.post(
            "/v1/sessions", json={"template": "code-review", "unattended": True, "policy": "ci"}
        )
        assert started.status_code == 201, started.text
        assert started.json()["workDir"] == str(work / "a")
        own = await client.post(
            "/v1/sessions",
            json={"template": "code-review", "workDir": str(work / "b"), "policy": "ci",
                  "unattended": True},
        )  # fmt: skip
        assert own.json()["workDir"] == str(work / "b")
        copied = await client.post(
            "/v1/templates", json={"name": "copy", "sessionId": started.json()["id"]}
        )
        assert copied.status_code == 201, copied.text
        assert (copied.json()["workDir"], copied.json()["policy"]) == (str(work / "a"), "ci")
        unknown = await client.post(
            "/v1/templates",
            json={"name": "nope", "sessionId": "00000000-0000-4000-8000-000000000000"},
        )
        assert unknown.status_code == 404
        auto = await client.post("/v1/templates", json={"name": "auto", "autoApprove": True})
        assert auto.json()["permissionMode"] == "bypassPermissions"
        clash = await client.post(
            "/v1/templates", json={"name": "clash", "autoApprove": True, "permissionMode": "plan"}
        )
        assert "autoApprove means permissionMode bypassPermissions" in _error(clash)["message"]
        bad = await client.post("/v1/templates", json={"name": "bad", "workDir": "rel"})
        assert "workDir" in bad.text
        _error(bad)
        neither = await client.post("/v1/sessions", json={"policy": "ci"})
        assert "exactly one of 'workDir'" in neither.text

    _run(tmp_path, scenario)


def test_diagnostics_and_metrics_summary(tmp_path: Path) -> None:
    """Diagnostics list the checks, the quotas and the tenant's failures (bounded by
    limit); the JSON metrics count the tenant's sessions in Aegis's keys."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        created = await _start(client, work / "a", prompt="hello")
        await _until_idle(client, created["id"])
        diag = await client.get("/v1/diagnostics")
        assert diag.status_code == 200, diag.text
        events = diag.json()["events"]
        assert diag.json()["count"] == len(events)
        assert {e["event"] for e in events} >= {"health.check", "limits"}
        limits = next(e for e in events if e["event"] == "limits")
        assert limits["attributes"]["maxSessionsPerTenant"] == 10
        assert len((await client.get("/v1/diagnostics", params={"limit": 1})).json()["events"]) == 1
        for limit in (0, 101, "x"):
            _error(await client.get("/v1/diagnostics", params={"limit": limit}))
        metrics = await client.get("/v1/metrics")
        assert metrics.status_code == 200, metrics.text
        body = metrics.json()
        assert body["sessions"]["total_created"] == 1
        assert body["sessions"]["currently_active"] == 1
        assert body["prompt_delivery"] == {
            "sent": 1, "delivered": 1, "failed": 0, "success_rate": 100,
        }  # fmt: skip
        assert body["uptime"] >= 0 and body["screenshots_taken"] == 0
        assert set(body["token_usage"]) == {"input_tokens", "output_tokens", "requests"}
        prometheus = await client.get("/metrics")
        assert prometheus.headers["content-type"].startswith("text/plain")

    _run(tmp_path, scenario)


def test_handshake_in_aegis_shape(tmp_path: Path) -> None:
    """Aegis's handshake body (protocolVersion, clientCapabilities) negotiates: the shared
    capabilities, a warning for each unknown one, compatible true."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        reply = await client.post(
            "/v1/handshake",
            json={"protocolVersion": "1", "clientCapabilities": ["session.create", "sessions"]},
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["compatible"] is True and body["negotiatedCapabilities"] == ["sessions"]
        assert body["warnings"] == ["unknown capability: session.create"]
        assert "sessions" in body["serverCapabilities"]
        old = await client.post("/v1/handshake", json={"protocolVersion": 0})
        assert old.status_code == 409

    _run(tmp_path, scenario)


def test_racing_first_puts_of_a_template_never_fail(tmp_path: Path) -> None:
    """Several PUTs of one new template at once: one creates it (201), the others replace
    it (200); none is a 500 (schemathesis found the race)."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices, work: Path) -> None:
        for round_ in range(3):
            replies = await asyncio.gather(
                *[client.put(f"/v1/templates/race-{round_}", json={"env": {}}) for _ in range(6)]
            )
            codes = sorted(r.status_code for r in replies)
            assert codes == [200] * 5 + [201], [r.text for r in replies]

    _run(tmp_path, scenario)
