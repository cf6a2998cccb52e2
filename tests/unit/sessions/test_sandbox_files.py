"""Sessions whose sandbox shares no files with the controller (as Pods do): the
transcript and the workspace are pulled through the backend, and the Pod provisions
itself from the gateway port. Over the in-memory backend with a private filesystem."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from pathlib import Path

import httpx

from runner.core import SessionState
from runner.sandbox.memory import MemoryBackend
from runner.sessions.requests import SessionRequest
from runner.sessions.transcript import transcript_path
from tests.integration.server import free_port
from tests.unit.sessions.fake_claude import FakeClaude
from tests.unit.sessions.test_lifecycle import ALICE, _reach, _run, _services, _work


def _line(kind: str, text: str) -> str:
    return json.dumps({"type": kind, "uuid": f"{kind}-{text}",
                       "message": {"role": kind, "content": text}}) + "\n"  # fmt: skip


def test_transcript_and_workspace_come_from_the_sandbox(tmp_path: Path) -> None:
    """What the agent wrote inside reaches the transcript view, the live patch and the
    collected artifacts only through read_file and archive; the user's directory and
    the sandbox's first copy stay as they were until pulled."""
    port = free_port()

    async def scenario() -> None:
        backend = MemoryBackend(files_root=tmp_path / "pods")
        FakeClaude(backend)
        async with _services(
            tmp_path, backend, kubernetes_gateway_host="127.0.0.1", kubernetes_gateway_port=port
        ) as services:
            work = _work(tmp_path)
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(work), prompt="go"), ALICE
            )
            await _reach(services, record.id, SessionState.IDLE)
            (sandbox,) = backend.sandboxes.values()
            inside = transcript_path(Path("/home/warden"), "/workspace", record.id)
            agent_transcript = sandbox.path_of(inside.as_posix())
            assert agent_transcript is not None
            agent_transcript.parent.mkdir(parents=True)
            agent_transcript.write_text(_line("user", "go") + _line("assistant", "done"))
            agent_app = sandbox.path_of("/workspace/app.py")
            assert agent_app is not None
            agent_app.write_text("print('changed inside')\n")

            turns = await services.views.transcript(record.id, ALICE)
            assert [(t.role, t.text) for t in turns] == [("user", "go"), ("assistant", "done")]
            with agent_transcript.open("a") as fh:  # it grows: only the rest is read
                fh.write(_line("user", "more"))
            turns = await services.views.transcript(record.id, ALICE)
            assert [t.text for t in turns] == ["go", "done", "more"]
            patch, _ = await services.views.artifacts(record.id, ALICE)
            assert patch is not None and "+print('changed inside')" in patch

            await services.manager.delete(record.id, ALICE)
            out = services.manager.paths(record.id).artifacts
            assert "+print('changed inside')" in (out / "changes.patch").read_text()
            assert (out / "transcript.jsonl").read_text().count("\n") == 3
            assert (work / "app.py").read_text() == "print('hi')\n"

    _run(scenario())


def test_the_pod_provisions_itself_from_the_gateway_port(tmp_path: Path) -> None:
    """With its token a sandbox fetches its workspace and seeded home as tars on the
    gateway port; without, or with another session's, it gets a 401 and nothing."""
    port = free_port()

    async def scenario() -> None:
        backend = MemoryBackend(files_root=tmp_path / "pods")
        FakeClaude(backend)
        async with _services(
            tmp_path, backend, kubernetes_gateway_host="127.0.0.1", kubernetes_gateway_port=port,
            model_upstream="scripted",
        ) as services:  # fmt: skip
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="go"), ALICE
            )
            await _reach(services, record.id, SessionState.IDLE)
            token = services.manager.paths(record.id).token()
            base = f"http://127.0.0.1:{port}/v1/sandbox"
            async with httpx.AsyncClient() as client:
                workspace = await client.get(f"{base}/workspace.tar", headers={"x-api-key": token})
                home = await client.get(f"{base}/home.tar", headers={"x-api-key": token})
                refused = await client.get(f"{base}/workspace.tar", headers={"x-api-key": "x" * 40})
                bare = await client.get(f"{base}/home.tar")
                model = await client.post(
                    f"http://127.0.0.1:{port}/v1/messages", headers={"x-api-key": token},
                    json={"model": "claude-opus-5-5", "max_tokens": 5,
                          "messages": [{"role": "user", "content": "hi"}]},
                )  # fmt: skip
            assert workspace.status_code == home.status_code == 200
            with tarfile.open(fileobj=io.BytesIO(workspace.content)) as tar:
                assert tar.getnames() == ["app.py"]
                member = tar.extractfile("app.py")
                assert member is not None and member.read() == b"print('hi')\n"
            with tarfile.open(fileobj=io.BytesIO(home.content)) as tar:
                member = tar.extractfile(".claude.json")
                assert member is not None
                seeded = json.loads(member.read())
            assert seeded["customApiKeyResponses"]["approved"] == [token[-20:]]
            assert refused.status_code == bare.status_code == 401
            assert b"app.py" not in refused.content
            assert model.status_code == 200  # the session's gateway answers behind the mux
            await services.manager.delete(record.id, ALICE)
            async with httpx.AsyncClient() as client:
                after = await client.get(f"{base}/workspace.tar", headers={"x-api-key": token})
            assert after.status_code == 401  # the token died with the session

    _run(asyncio.wait_for(scenario(), 30))  # type: ignore[arg-type]


def test_links_out_of_the_workspace_are_not_taken_back(tmp_path: Path) -> None:
    """The pulled tar is the agent's: a link to the controller's files, or out of the
    tree, is dropped; the rest of its work arrives."""
    port = free_port()
    secret = tmp_path / "controller-secret"
    secret.write_text("the controller's own file\n")

    async def scenario() -> None:
        backend = MemoryBackend(files_root=tmp_path / "pods")
        FakeClaude(backend)
        async with _services(
            tmp_path, backend, kubernetes_gateway_host="127.0.0.1", kubernetes_gateway_port=port
        ) as services:
            record, _ = await services.manager.create(
                SessionRequest(work_dir=str(_work(tmp_path)), prompt="go"), ALICE
            )
            await _reach(services, record.id, SessionState.IDLE)
            (sandbox,) = backend.sandboxes.values()
            inside = sandbox.path_of("/workspace")
            assert inside is not None
            (inside / "leak").symlink_to(secret)
            (inside / "up").symlink_to("../../..")
            (inside / "new.txt").write_text("kept\n")
            await services.manager.delete(record.id, ALICE)
            copy = services.manager.paths(record.id).workspace_copy
            assert (copy / "new.txt").read_text() == "kept\n"
            assert not (copy / "leak").exists() and not (copy / "leak").is_symlink()
            assert not (copy / "up").is_symlink()
            patch = (services.manager.paths(record.id).artifacts / "changes.patch").read_text()
            assert "+kept" in patch and "controller's own" not in patch

    _run(scenario())
