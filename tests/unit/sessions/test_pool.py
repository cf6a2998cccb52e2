"""The warm pool over the in-memory backend: claims, refills, policy, age, restarts."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from audit.stores.base import EventFilter
from runner.core import SessionState, WorkspaceMode
from runner.policy import shipped_policies_dir
from runner.sandbox.backend import POOL_LABEL, SandboxSpec
from runner.sandbox.memory import MemoryBackend
from runner.services import Services
from runner.sessions.requests import SessionRequest
from tests.unit.sessions.fake_claude import FakeClaude
from tests.unit.sessions.test_lifecycle import ALICE, _reach, _services, _until, _work

POOLED_POLICY = """\
version: 1
name: pooled
description: the shipped default, from the warm pool
extends: default
container: {pool: true}
"""


def _policies(root: Path) -> Path:
    folder = root / "policies"
    shutil.copytree(shipped_policies_dir(), folder)
    (folder / "pooled.yaml").write_text(POOLED_POLICY)
    return folder


def _pool_settings(root: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "policies_dir": _policies(root),
        "pool_size": 1,
        "pool_keys": ["pooled"],
        **overrides,
    }


def _pooled(backend: MemoryBackend) -> list[str]:
    """Ids of the sandboxes started for the pool (claimed or not), oldest first."""
    return [s.id for s in backend.sandboxes.values() if s.spec.labels.get(POOL_LABEL) == "1"]


async def _ready_pool(backend: MemoryBackend, services: Services, count: int) -> None:
    async def filled() -> bool:
        unclaimed = [
            s
            for s in list(backend.sandboxes.values())
            if s.spec.labels.get(POOL_LABEL) == "1"
            and s.status == "running"
            and await asyncio.to_thread(services.store.get, s.spec.session_id) is None
        ]
        return len(unclaimed) >= count

    await _until(filled, 15.0)
    await asyncio.sleep(0.3)  # the idle input box is painted and classified


def _started(services: Services, session_id: str) -> dict[str, Any]:
    page = services.ledger.query(EventFilter(session=session_id), limit=100)
    (event,) = [e.event for e in page.entries if e.event.type == "container.started"]
    return event.data


def test_pooled_session_takes_a_started_sandbox_and_gets_its_workspace(tmp_path: Path) -> None:
    """A session under a pooling policy takes the ready sandbox (its id and container),
    gets its workspace copied in and its prompt briefed, and the pool starts another."""

    async def scenario() -> None:
        backend = MemoryBackend()
        claude = FakeClaude(backend)
        async with _services(tmp_path, backend, **_pool_settings(tmp_path)) as services:
            await _ready_pool(backend, services, 1)
            (waiting,) = _pooled(backend)
            record, _ = await services.manager.create(
                SessionRequest(
                    work_dir=str(_work(tmp_path)), prompt="explain app.py", policy="pooled"
                ),
                ALICE,
            )
            assert record.id == backend.sandboxes[waiting].spec.session_id
            await _reach(services, record.id, SessionState.IDLE)
            assert claude.prompts == ["explain app.py"]
            started = _started(services, record.id)
            assert started["pooled"] is True and started["container"] == waiting
            copied = services.manager.paths(record.id).workspace_copy / "app.py"
            assert copied.read_text() == "print('hi')\n"
            await _ready_pool(backend, services, 1)  # refilled in the background
            assert len(_pooled(backend)) == 2
            await services.manager.delete(record.id, ALICE)
            assert waiting not in backend.sandboxes

    asyncio.run(scenario())


def test_concurrent_claims_never_share_a_sandbox(tmp_path: Path) -> None:
    """Four sessions created at once against a pool of two: every session has its own
    container (pooled or cold), and each pooled one carries that session's id."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        settings = _pool_settings(tmp_path, pool_size=2)
        async with _services(tmp_path, backend, **settings) as services:
            await _ready_pool(backend, services, 2)
            work = str(_work(tmp_path))
            requests = [
                SessionRequest(work_dir=work, policy="pooled", workspace=None) for _ in range(4)
            ]
            created = await asyncio.gather(*(services.manager.create(r, ALICE) for r in requests))
            ids = [record.id for record, reused in created if not reused]
            for sid in ids:
                await _reach(services, sid, SessionState.IDLE)
            containers = [_started(services, sid)["container"] for sid in ids]
            assert len(set(containers)) == len(containers) == len(ids)
            pooled = [sid for sid in ids if _started(services, sid)["pooled"]]
            assert pooled  # refills may serve the later ones too; none serves two
            assert all(
                backend.sandboxes[_started(services, s)["container"]].spec.labels.get(POOL_LABEL)
                == "1"
                for s in pooled
            )
            for sid, container in zip(ids, containers, strict=True):
                assert backend.sandboxes[container].spec.session_id == sid

    asyncio.run(scenario())


def test_policy_that_does_not_pool_gets_a_cold_start(tmp_path: Path) -> None:
    """A session under a policy without container.pool starts its own container, and
    the pool's sandbox stays unclaimed; a key whose policy forbids pooling gets none."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        settings = _pool_settings(tmp_path, pool_keys=["pooled", "default"])
        async with _services(tmp_path, backend, **settings) as services:
            await _ready_pool(backend, services, 1)
            (waiting,) = _pooled(backend)  # none for "default": it does not allow pooling
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), policy="default"), ALICE
            )
            await _reach(services, record.id, SessionState.IDLE)
            started = _started(services, record.id)
            assert started["pooled"] is False and started["container"] != waiting
            assert await asyncio.to_thread(services.store.get, record.id) is not None
            assert _pooled(backend) == [waiting]

    asyncio.run(scenario())


def test_sandbox_past_its_age_is_replaced_and_unclaimed_ones_go_at_close(
    tmp_path: Path,
) -> None:
    """A pooled sandbox idle past pool_max_age_seconds is removed and replaced by a new
    one; closing the controller removes the unclaimed sandboxes and their directories."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        settings = _pool_settings(tmp_path, pool_max_age_seconds=1.0)
        async with _services(tmp_path, backend, **settings) as services:
            await _ready_pool(backend, services, 1)
            (first,) = _pooled(backend)
            first_dir = services.manager.paths(backend.sandboxes[first].spec.session_id).root

            async def replaced() -> bool:
                return first not in backend.sandboxes and len(_pooled(backend)) == 1

            await _until(replaced, 10.0)
            assert not first_dir.exists()
            (second,) = _pooled(backend)
            second_dir = services.manager.paths(backend.sandboxes[second].spec.session_id).root
        assert _pooled(backend) == []
        assert not second_dir.exists()

    asyncio.run(scenario())


def test_unclaimed_sandbox_a_previous_run_left_is_removed_at_start(tmp_path: Path) -> None:
    """A running pooled sandbox that no session record names (its controller died before
    a claim) is removed when the next controller starts."""

    async def scenario() -> None:
        backend = MemoryBackend()
        FakeClaude(backend)
        (tmp_path / "left").mkdir()
        left = await backend.create(_leftover_spec(tmp_path / "left", "orphan-session"))
        await backend.start(left.id)
        async with _services(tmp_path, backend, **_pool_settings(tmp_path, pool_size=0)):
            assert left.id not in backend.sandboxes

    asyncio.run(scenario())


def _leftover_spec(root: Path, session_id: str) -> SandboxSpec:
    return SandboxSpec(
        session_id=session_id,
        image=MemoryBackend.image_id("warden-sandbox:latest"),
        workspace=root,
        workspace_mode=WorkspaceMode.COPY,
        home_dir=root,
        run_dir=root,
        token="t",
        claude_session=session_id,
        labels={POOL_LABEL: "1"},
    )
