"""Workspace sources through the real app and services (SQLite, ledger), sandboxes in memory.

Every copy, extraction and refusal here is real (real files, the real copier and
checks); only the container is the in-memory backend, since none of this needs one.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tarfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from audit.stores.base import EventFilter
from runner.core import Actor
from runner.errors import NotFoundError
from runner.policy import shipped_policies_dir
from runner.sandbox.memory import MemoryBackend
from runner.sessions.requests import SessionRequest
from runner.settings import Settings
from runner.workspace.source import SessionSource
from tests.offline_app import OfflineServices, client_for, offline_app

#: A root policy without container.disk (no loop mounts for in-memory sandboxes), with
#: small caps; ``bounded`` is the same with tighter ones.
POLICIES = {
    "roomy": "workspace: {max_bytes: 64m, max_files: 1000}",
    "vast": "workspace: {max_bytes: 16g, max_files: 1000}",
    "bounded": "workspace: {max_bytes: 1m, max_files: 20, roots: [ROOT/allowed]}",
}
POLICY = """\
version: 1
name: {name}
container: {{images: ["*"]}}
model: {{allowed: ["*"]}}
tools: {{allow: [Read]}}
{workspace}
"""


@dataclass
class World:
    client: httpx.AsyncClient
    services: OfflineServices
    root: Path  # the server's one workspace root
    data: Path  # Warden's data dir (inside the root, as it is in a home directory)

    def events(self, type_: str) -> list[dict[str, Any]]:
        page = self.services.ledger.query(EventFilter(type=type_), limit=1000)
        return [dict(entry.event.data) for entry in page.entries]

    def project(self, name: str, files: dict[str, bytes] | None = None) -> Path:
        path = self.root / name
        path.mkdir(parents=True)
        for rel, data in (files or {"main.py": b"print('hi')\n"}).items():
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            (path / rel).write_bytes(data)
        return path

    async def create(self, **body: Any) -> httpx.Response:
        return await self.client.post("/v1/sessions", json={"policy": "roomy", **body})

    async def settled(self, sid: str) -> dict[str, Any]:
        """The session once its container runs on its workspace, or it failed (or 20 s)."""
        deadline = time.monotonic() + 20
        while True:
            got: dict[str, Any] = (await self.client.get(f"/v1/sessions/{sid}")).json()
            phase = (got["details"].get("workspace") or {}).get("phase")
            started = phase == "ready" and got["container"] is not None
            if got["state"] == "error" or started or time.monotonic() > deadline:
                return got
            await asyncio.sleep(0.05)

    def session_dirs(self) -> list[str]:
        sessions = self.data / "sessions"
        return sorted(p.name for p in sessions.iterdir()) if sessions.is_dir() else []


@asynccontextmanager
async def _world(tmp_path: Path, **settings: Any) -> AsyncIterator[World]:
    root = tmp_path / "root"
    policies = tmp_path / "policies"
    shutil.copytree(shipped_policies_dir(), policies)
    for name, workspace in POLICIES.items():
        text = POLICY.format(name=name, workspace=workspace.replace("ROOT", str(root)))
        (policies / f"{name}.yaml").write_text(text)
    (root / "allowed").mkdir(parents=True)
    config = Settings(
        data_dir=root / "warden-data",
        policies_dir=policies,
        workspace_roots=[root],
        **settings,
    )
    async with (
        offline_app(config, MemoryBackend()) as (app, services),
        client_for(app) as client,
    ):
        yield World(client, services, root, config.data_dir)


def _run(tmp_path: Path, scenario: Callable[[World], Awaitable[None]], **settings: Any) -> None:
    async def main() -> None:
        async with _world(tmp_path, **settings) as world:
            await scenario(world)

    asyncio.run(main())


def _tar_gz(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


async def _upload(world: World, body: bytes, media: str = "application/gzip") -> httpx.Response:
    return await world.client.post("/v1/workspaces", content=body, headers={"Content-Type": media})


def test_host_paths_outside_the_confinement_are_403_audited_and_nothing_copied(
    tmp_path: Path,
) -> None:
    """/etc, the data dir, the root holding it, / and a link to /etc: 403 with the rule
    id, a session.denied event each, and no session directory made."""

    async def scenario(world: World) -> None:
        (world.root / "etc-link").symlink_to("/etc")
        cases = {
            "/etc": "server.workspace_roots",
            str(world.data): "workspace.protected",
            str(world.root): "workspace.protected",
            "/": "workspace.protected",
            str(world.root / "etc-link"): "server.workspace_roots",
        }
        for path, rule in cases.items():
            refused = await world.create(workDir=path)
            assert refused.status_code == 403, refused.text
            error = refused.json()["error"]
            assert error["details"]["rule"] == rule, error
        denied = world.events("session.denied")
        assert [d["workspace"]["path"] for d in denied] == list(cases)
        assert [d["rule"] for d in denied] == list(cases.values())
        assert world.session_dirs() == []

    _run(tmp_path, scenario)


def test_a_policy_narrows_the_roots(tmp_path: Path) -> None:
    """Under the root but outside the policy's workspace.roots: 403 workspace.roots."""

    async def scenario(world: World) -> None:
        outside = world.project("elsewhere")
        refused = await world.create(workDir=str(outside), policy="bounded")
        assert refused.status_code == 403
        assert refused.json()["error"]["details"]["rule"] == "workspace.roots"
        inside = world.project("allowed/app")
        created = await world.create(workDir=str(inside), policy="bounded")
        assert created.status_code == 201, created.text

    _run(tmp_path, scenario)


def test_a_malformed_source_is_422(tmp_path: Path) -> None:
    """Both workDir and workspace, neither, two sources at once, or a bad git URL: 422."""

    async def scenario(world: World) -> None:
        project = str(world.project("p"))
        for body in (
            {"workDir": project, "workspace": {"path": project}},
            {},
            {"workspace": {"path": project, "archive": "x"}},
            {"workspace": {"git": {"url": "git@github.com:o/r.git"}}},
        ):
            response = await world.create(**body)
            assert response.status_code == 422, (body, response.text)

    _run(tmp_path, scenario)


def test_a_copy_lists_special_files_and_reports_its_size(tmp_path: Path) -> None:
    """A FIFO in the project is skipped and named in details; bytes and files are counted."""

    async def scenario(world: World) -> None:
        project = world.project("p", {"a.txt": b"12345"})
        os.mkfifo(project / "pipe")
        created = await world.create(workDir=str(project))
        report = (await world.settled(created.json()["id"]))["details"]["workspace"]
        assert report["phase"] == "ready"
        assert (report["bytes"], report["files"]) == (5, 1)
        assert report["skipped"] == [{"path": "pipe", "kind": "fifo"}]

    _run(tmp_path, scenario)


def test_a_directory_over_max_bytes_fails_the_session_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    """3 MiB under a 1 MiB policy: state error, the limit and the policy in the message,
    no copy left in the session directory."""

    async def scenario(world: World) -> None:
        project = world.project("allowed/big", {f"f{i}": b"\1" * 1024**2 for i in range(3)})
        created = await world.create(workDir=str(project), policy="bounded")
        sid = created.json()["id"]
        failed = await world.settled(sid)
        assert failed["state"] == "error"
        assert "policy 'bounded'" in failed["error"] and "1.0 MiB" in failed["error"]
        assert "workspace.max_bytes" in failed["error"]
        assert not (world.data / "sessions" / sid / "workspace").exists()

    _run(tmp_path, scenario)


def test_delete_during_a_large_copy_stops_it_within_a_second(tmp_path: Path) -> None:
    """DELETE while an 8 GiB file is being copied: it returns in under a second, the copy
    has stopped, and nothing it copied is left (a finished copy would have stayed)."""

    async def scenario(world: World) -> None:
        project = world.project("huge", {"small.txt": b"x"})
        with (project / "disk.img").open("wb") as f:
            f.truncate(8 * 1024**3)  # sparse: cheap to make, 8 GiB to copy
        created = await world.create(workDir=str(project), policy="vast")
        sid = created.json()["id"]
        copy = world.data / "sessions" / sid / "workspace"
        while True:  # until the copy is visibly under way
            report = (await world.client.get(f"/v1/sessions/{sid}")).json()["details"]
            progress = report.get("workspace") or {}
            assert progress.get("phase") != "ready", "the copy finished before the test"
            if progress.get("phase") == "copying" and progress.get("bytes", 0) > 32 * 1024**2:
                break
            await asyncio.sleep(0.02)
        started = time.monotonic()
        deleted = await world.client.delete(f"/v1/sessions/{sid}")
        elapsed = time.monotonic() - started
        assert deleted.status_code == 200, deleted.text
        print(f"DELETE during the copy answered in {elapsed:.3f} s")
        assert elapsed < 1.0, elapsed
        assert not copy.exists()
        await asyncio.sleep(0.5)  # nothing keeps writing behind our back
        assert not copy.exists()

    _run(tmp_path, scenario)


def test_an_uploaded_archive_becomes_the_workspace_once(tmp_path: Path) -> None:
    """Upload a tar.gz, start a session from it: its files are the workspace; the upload
    is then gone (a second use is 404) and the ledger has both steps."""

    async def scenario(world: World) -> None:
        uploaded = await _upload(world, _tar_gz({"src/app.py": b"print(1)\n"}))
        assert uploaded.status_code == 201, uploaded.text
        upload_id = uploaded.json()["id"]
        assert uploaded.json()["entries"] == 1
        created = await world.create(workspace={"archive": upload_id})
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        assert created.json()["workspace"] == {"archive": upload_id}
        assert (await world.settled(sid))["details"]["workspace"]["phase"] == "ready"
        copy = world.data / "sessions" / sid / "workspace"
        assert (copy / "src" / "app.py").read_text() == "print(1)\n"
        again = await world.create(workspace={"archive": upload_id})
        assert again.status_code == 404
        assert (await world.client.get(f"/v1/workspaces/{upload_id}")).status_code == 404
        assert not list((world.data / "uploads").iterdir())
        assert [e["id"] for e in world.events("workspace.uploaded")] == [upload_id]

    _run(tmp_path, scenario)


def test_upload_refusals_are_413_415_and_422_each_audited(tmp_path: Path) -> None:
    """Over the cap: 413 (nothing kept); not an archive type: 415; a hostile archive: 422."""

    async def scenario(world: World) -> None:
        too_big = await _upload(world, b"\0" * 5000, "application/x-tar")
        assert too_big.status_code == 413
        assert "WARDEN_UPLOAD_MAX_BYTES" in too_big.json()["error"]["message"]
        wrong = await _upload(world, b"{}", "application/json")
        assert wrong.status_code == 415
        hostile = await _upload(world, _tar_gz({"../escape": b"x"}))
        assert hostile.status_code == 422
        assert "'..' in the name" in hostile.json()["error"]["message"]
        codes = [e["code"] for e in world.events("workspace.refused")]
        assert codes == ["payload_too_large", "unsupported_media_type", "invalid_input"]
        assert not list((world.data / "uploads").iterdir())

    _run(tmp_path, scenario, upload_max_bytes=4096)


def test_an_archive_declaring_more_than_the_policy_allows_is_refused_at_create(
    tmp_path: Path,
) -> None:
    """An upload whose entries add up to 2 MiB, under a 1 MiB policy: 403 at once."""

    async def scenario(world: World) -> None:
        uploaded = await _upload(world, _tar_gz({"big": b"\0" * (2 * 1024**2)}))
        refused = await world.create(workspace={"archive": uploaded.json()["id"]}, policy="bounded")
        assert refused.status_code == 403
        assert refused.json()["error"]["details"]["rule"] == "workspace.max_bytes"

    _run(tmp_path, scenario)


def test_uploads_belong_to_their_tenant_and_expire(tmp_path: Path) -> None:
    """Another tenant sees no upload; an expired one is swept with its file."""

    async def scenario(world: World) -> None:
        uploads = world.services.workspaces.uploads
        uploaded = await _upload(world, _tar_gz({"a": b"1"}))
        upload_id = uploaded.json()["id"]
        with pytest.raises(NotFoundError):
            await uploads.get(upload_id, Actor("mallory", tenant="other"))
        await asyncio.sleep(1.1)
        assert await uploads.sweep() == 1
        assert not uploads.path(upload_id).exists()
        assert [e["id"] for e in world.events("workspace.expired")] == [upload_id]

    _run(tmp_path, scenario, upload_ttl_seconds=1)


def test_a_pipeline_stage_starts_from_the_copy_an_earlier_session_left(tmp_path: Path) -> None:
    """A session source copies what the earlier (deleted) session's agent left behind."""

    async def scenario(world: World) -> None:
        project = world.project("p")
        first = (await world.create(workDir=str(project))).json()["id"]
        await world.settled(first)
        (world.data / "sessions" / first / "workspace" / "made.txt").write_text("by agent 1")
        assert (await world.client.delete(f"/v1/sessions/{first}")).status_code == 200
        manager = world.services.manager
        request = SessionRequest(work_dir="", policy="roomy", workspace=SessionSource(first))
        record, _ = await manager.create(request, Actor("local"))
        await world.settled(record.id)
        second = world.data / "sessions" / record.id / "workspace"
        assert (second / "made.txt").read_text() == "by agent 1"
        assert record.work_dir == f"session:{first}"

    _run(tmp_path, scenario)
