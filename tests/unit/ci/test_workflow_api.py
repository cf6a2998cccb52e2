"""Templates, memory and pipeline validation through the real app on SQLite (no containers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from audit.stores.base import EventFilter
from runner.api.schemas import CreateSession
from runner.api.templates import templated
from runner.core import Actor, utcnow
from runner.errors import NotFoundError
from runner.sessions.templates import SessionTemplate
from runner.settings import Settings
from runner.store.database import create_database_engine, migrate
from runner.store.memory import SqlMemoryStore
from runner.store.templates import SqlTemplateStore
from tests.offline_app import OfflineServices, client_for, offline_app


@asynccontextmanager
async def _client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, OfflineServices]]:
    settings = Settings(data_dir=tmp_path / "data")
    async with offline_app(settings) as (app, services), client_for(app) as client:
        yield client, services


def _run(
    tmp_path: Path,
    scenario: Callable[[httpx.AsyncClient, OfflineServices], Coroutine[Any, Any, None]],
) -> None:
    async def main() -> None:
        async with _client(tmp_path) as (client, services):
            await scenario(client, services)

    asyncio.run(main())


def test_template_crud(tmp_path: Path) -> None:
    """Create (409 on a taken name), read, replace (keeps its author), list, delete."""

    async def scenario(client: httpx.AsyncClient, _s: OfflineServices) -> None:
        body = {"name": "review", "prompt": "review it", "policy": "ci", "model": "claude-x"}
        created = await client.post("/v1/templates", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["createdBy"] == "local"
        assert (await client.post("/v1/templates", json=body)).status_code == 409
        replaced = await client.put("/v1/templates/review", json={"prompt": "again"})
        assert replaced.status_code == 200
        assert replaced.json()["prompt"] == "again" and replaced.json()["policy"] is None
        assert replaced.json()["createdAt"] == created.json()["createdAt"]
        listed = (await client.get("/v1/templates")).json()["templates"]
        assert [t["name"] for t in listed] == ["review"]
        assert (await client.delete("/v1/templates/review")).status_code == 204
        assert (await client.get("/v1/templates/review")).status_code == 404
        assert (await client.delete("/v1/templates/review")).status_code == 404
        bad = await client.put("/v1/templates/Bad Name", json={})
        assert bad.status_code == 422

    _run(tmp_path, scenario)


def test_session_fields_come_from_the_template_unless_given(tmp_path: Path) -> None:
    """A named template fills unset fields; fields the client gave win; unknown → 422."""
    engine = create_database_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate(engine)
    store = SqlTemplateStore(engine)

    async def scenario() -> None:
        actor = Actor("alice", "acme")
        body = {"name": "impl", "prompt": "implement", "policy": "ci", "model": "claude-t"}
        async with _client(tmp_path / "app") as (client, _s):
            assert (await client.post("/v1/templates", json=body)).status_code == 201
            refused = await client.post(
                "/v1/sessions", json={"workDir": str(tmp_path), "template": "missing"}
            )
            assert refused.status_code == 404 and "missing" in refused.json()["error"]["message"]
        now = utcnow()
        await asyncio.to_thread(
            store.put,
            SessionTemplate("acme", "impl", "alice", now, now, prompt="implement", policy="ci",
                            model="claude-t", env={"A": "1"}),
        )  # fmt: skip
        request = CreateSession.model_validate(
            {"workDir": "/w", "template": "impl", "policy": "strict"}
        )
        merged = await templated(request, store, actor)
        assert (merged.prompt, merged.policy, merged.model) == ("implement", "strict", "claude-t")
        assert merged.env == {"A": "1"} and merged.work_dir == "/w"
        other_tenant = Actor("bob", "globex")
        try:
            await templated(request, store, other_tenant)
        except NotFoundError as exc:
            assert "globex" in exc.message
        else:
            raise AssertionError("another tenant's template was used")

    asyncio.run(scenario())
    engine.dispose()


def test_memory_versions_prefixes_and_audit(tmp_path: Path) -> None:
    """Writes bump versions, ifVersion guards races (409), the ledger keeps a digest only."""

    async def scenario(client: httpx.AsyncClient, services: OfflineServices) -> None:
        first = await client.put("/v1/memory/plan.step", json={"value": {"done": ["a"]}})
        assert first.status_code == 200 and first.json()["version"] == 1
        second = await client.put(
            "/v1/memory/plan.step", json={"value": {"done": ["a", "b"]}, "ifVersion": 1}
        )
        assert second.json()["version"] == 2
        stale = await client.put("/v1/memory/plan.step", json={"value": 0, "ifVersion": 1})
        assert stale.status_code == 409 and stale.json()["error"]["details"]["version"] == 2
        fresh = await client.put("/v1/memory/other", json={"value": "x", "ifVersion": 0})
        assert fresh.status_code == 200
        listed = (await client.get("/v1/memory", params={"prefix": "plan."})).json()["entries"]
        assert [(e["key"], e["value"]) for e in listed] == [("plan.step", {"done": ["a", "b"]})]
        assert (await client.get("/v1/memory/bad key")).status_code == 422
        assert (await client.delete("/v1/memory/other")).status_code == 204
        assert (await client.get("/v1/memory/other")).status_code == 404
        big = await client.put("/v1/memory/big", json={"value": "x" * 70_000})
        assert big.status_code == 422
        services.ledger.checkpoint_now()
        writes = services.ledger.query(EventFilter(type="memory.write"), limit=10).entries
        # Each attempt is recorded before it is made (the stale one too); the oversized
        # value was refused before that.
        assert len(writes) == 4
        assert all(
            "value" not in w.event.data and len(w.event.data["sha256"]) == 64 for w in writes
        )

    _run(tmp_path, scenario)


def test_memory_is_per_tenant(tmp_path: Path) -> None:
    """One tenant's keys are invisible to another's."""
    engine = create_database_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate(engine)
    store = SqlMemoryStore(engine)
    store.put("acme", "k", 1, "alice", None)
    assert store.get("globex", "k") is None and store.find("globex") == []
    assert store.get("acme", "k") is not None
    engine.dispose()


def test_pipeline_graph_errors_are_422(tmp_path: Path) -> None:
    """Cycles, unknown dependencies, missing prompts and work dirs are refused up front."""
    work = str(tmp_path)

    async def scenario(client: httpx.AsyncClient, _s: OfflineServices) -> None:
        cycle = await client.post(
            "/v1/pipelines",
            json={
                "name": "loop",
                "workDir": work,
                "stages": [
                    {"name": "a", "prompt": "x", "dependsOn": ["b"]},
                    {"name": "b", "prompt": "y", "dependsOn": ["a"]},
                ],
            },
        )
        assert cycle.status_code == 422
        assert set(cycle.json()["error"]["details"]["cycle"]) == {"a", "b"}
        unknown = await client.post(
            "/v1/pipelines",
            json={"name": "u", "workDir": work,
                  "stages": [{"name": "a", "prompt": "x", "dependsOn": ["ghost"]}]},
        )  # fmt: skip
        assert unknown.status_code == 422
        assert unknown.json()["error"]["details"]["unknown"] == ["ghost"]
        no_prompt = await client.post(
            "/v1/pipelines", json={"name": "n", "workDir": work, "stages": [{"name": "a"}]}
        )
        assert no_prompt.status_code == 422
        bad_timeout = await client.post(
            "/v1/pipelines",
            json={"name": "t", "workDir": work,
                  "stages": [{"name": "a", "prompt": "x", "timeout": "3d"}]},
        )  # fmt: skip
        assert bad_timeout.status_code == 422
        assert (await client.get("/v1/pipelines")).json() == {"pipelines": []}
        missing = await client.get("/v1/pipelines/00000000-0000-4000-8000-000000000000")
        assert missing.status_code == 404

    _run(tmp_path, scenario)
