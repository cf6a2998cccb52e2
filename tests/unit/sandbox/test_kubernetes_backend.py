"""``KubernetesBackend`` at its HTTP seam: the real ``kubernetes`` client against the
project's stand-in API server (tests/kube/api.py), whose Pods are local processes."""

from __future__ import annotations

import asyncio
import sys
import tarfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from runner.core import WorkspaceMode
from runner.errors import SandboxError, SandboxNotFoundError
from runner.sandbox.backend import SESSION_LABEL, SandboxSpec
from runner.sandbox.kubernetes import KubernetesBackend
from runner.sandbox.pod import PodSettings
from tests.kube.local import LocalKubelet
from tests.kube.server import StandIn

SCREEN = [sys.executable, str(Path(__file__).parents[2] / "kube" / "screen.py")]
NAMESPACE = "warden-sessions"


def _place(pod: Mapping[str, Any], host_path: Any) -> None:
    """What the init container would do: the workspace and the seeded home."""
    (host_path("/workspace") / "app.py").write_text("print('hi')\n")
    (host_path("/home/warden") / ".claude.json").write_text('{"theme": "dark"}')


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    root = tmp_path_factory.mktemp("kube")
    with StandIn(lambda: LocalKubelet(root / "pods", SCREEN, place=_place), root) as server:
        yield server


def backend_for(standin: StandIn, **settings: Any) -> KubernetesBackend:
    pods = PodSettings(namespace=NAMESPACE, gateway_host="10.0.0.7", gateway_port=8788, **settings)
    return KubernetesBackend(standin.configuration(), pods, ready_seconds=10)


def spec_for(tmp: Path, **values: Any) -> SandboxSpec:
    base: dict[str, Any] = {
        "session_id": str(uuid.uuid4()),
        "image": "warden-sandbox:latest",
        "workspace": tmp,
        "workspace_mode": WorkspaceMode.COPY,
        "home_dir": tmp,
        "run_dir": tmp,
        "token": "wdn_" + "t" * 40,
        "claude_session": str(uuid.uuid4()),
        "labels": {"warden.test": "k8s"},
    }
    return SandboxSpec(**{**base, **values})


async def _until(predicate: Any, seconds: float = 5.0) -> bool:
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


def test_create_posts_the_hardened_pod(standin: StandIn, tmp_path: Path) -> None:
    """The Pod sent has the session label, no token, the init container and the limits."""
    spec = spec_for(tmp_path, cpus=1.5, memory_bytes=2 * 1024**3, disk_bytes=10**9, runtime="runsc")

    async def go() -> None:
        backend = backend_for(standin)
        info = await backend.create(spec)
        await backend.remove(info.id)
        await backend.close()

    asyncio.run(go())
    sent = standin.pods.created[-1]
    assert sent["metadata"]["namespace"] == NAMESPACE
    assert sent["metadata"]["labels"][SESSION_LABEL] == spec.session_id
    assert sent["metadata"]["labels"]["warden.test"] == "k8s"
    pod = sent["spec"]
    assert pod["runtimeClassName"] == "gvisor"  # the policy's runsc, as a RuntimeClass
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"
    assert [c["name"] for c in pod["initContainers"]] == ["workspace"]
    sandbox = pod["containers"][0]
    assert sandbox["resources"]["limits"] == {
        "cpu": "1500m", "memory": str(2 * 1024**3), "ephemeral-storage": str(10**9)
    }  # fmt: skip
    assert sandbox["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert sandbox["securityContext"]["readOnlyRootFilesystem"] is True
    assert not any("hostPath" in v for v in pod["volumes"])


def test_attach_before_start_sees_the_first_bytes_and_resizes(
    standin: StandIn, tmp_path: Path
) -> None:
    """Attached before start, the screen gets the program's first line; a resize goes
    down channel 4 to the Pod's TTY, which redraws at the new size."""

    async def go() -> bytes:
        backend = backend_for(standin)
        info = await backend.create(spec_for(tmp_path))
        stream = await backend.attach(info.id)
        await backend.start(info.id)
        seen, resized = b"", False
        async for chunk in stream:
            seen += chunk
            if not resized and b"hello" in seen:
                # Resized once the program runs: before, its TTY has no one to redraw.
                await backend.resize(info.id, 91, 33)
                resized = True
            if b"size 91x33" in seen:
                break
        await stream.aclose()
        await backend.remove(info.id)
        await backend.close()
        return seen

    seen = asyncio.run(asyncio.wait_for(go(), 20))
    assert b"hello from the pod, token wdn_tttt" in seen
    assert seen.index(b"hello") < seen.index(b"size 91x33")
    assert standin.pods.resizes[-1][1:] == (91, 33)


def test_exec_read_file_and_archive(standin: StandIn, tmp_path: Path) -> None:
    """Exec reports exit codes and both streams; files come out byte-exact from an
    offset, a missing one is None; an archive holds the workspace relative to it."""

    async def go() -> None:
        backend = backend_for(standin)
        info = await backend.create(spec_for(tmp_path))
        await backend.start(info.id)
        result = await backend.exec(info.id, ["sh", "-c", "echo out; echo err >&2; exit 3"])
        assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
        ok = await backend.exec(info.id, ["true"])
        assert ok.exit_code == 0
        seeded = await backend.read_file(info.id, "/home/warden/.claude.json", offset=2)
        assert seeded == b'theme": "dark"}'
        assert await backend.read_file(info.id, "/home/warden/nothing.jsonl") is None
        dest = tmp_path / "ws.tar"
        await backend.archive(info.id, "/workspace", dest, limit=10**6)
        with tarfile.open(dest) as tar:
            app = tar.extractfile("./app.py")
            assert app is not None and app.read() == b"print('hi')\n"
        with pytest.raises(SandboxError, match="larger than 100 bytes"):
            await backend.archive(info.id, "/workspace", tmp_path / "small.tar", limit=100)
        await backend.remove(info.id)
        with pytest.raises(SandboxNotFoundError):
            await backend.exec(info.id, ["true"])
        await backend.close()

    asyncio.run(asyncio.wait_for(go(), 30))


def test_list_by_label_inspect_and_remove(standin: StandIn, tmp_path: Path) -> None:
    """Pods are found by the session label selector; removing is idempotent."""
    first, second = spec_for(tmp_path), spec_for(tmp_path)

    async def go() -> None:
        backend = backend_for(standin)
        a = await backend.create(first)
        b = await backend.create(second)
        await backend.start(a.id)
        found = await backend.list({SESSION_LABEL: first.session_id})
        assert [i.id for i in found] == [a.id]
        assert {i.id for i in await backend.list({"warden.test": "k8s"})} >= {a.id, b.id}
        assert (await backend.inspect(a.id)).status == "running"
        await backend.remove(a.id)
        await backend.remove(a.id)
        with pytest.raises(SandboxNotFoundError):
            await backend.inspect(a.id)
        assert await backend.list({SESSION_LABEL: first.session_id}) == []
        await backend.remove(b.id)
        await backend.close()

    asyncio.run(asyncio.wait_for(go(), 30))
    selectors = [q for m, p, q in standin.pods.requests if m == "GET" and p.endswith("/pods")]
    assert f"labelSelector=warden.session%2Cwarden.session%3D{first.session_id}" in selectors


def test_a_failed_init_container_fails_start_with_its_log(tmp_path: Path) -> None:
    """A Pod whose workspace init container fails is reported with its exit code and log."""
    kubelet = LocalKubelet(tmp_path / "pods", SCREEN, init_exit=7)
    with StandIn(lambda: kubelet, tmp_path) as server:

        async def go() -> SandboxError:
            backend = backend_for(server)
            info = await backend.create(spec_for(tmp_path))
            with pytest.raises(SandboxError) as caught:
                await backend.start(info.id)
            await backend.remove(info.id)
            await backend.close()
            return caught.value

        error = asyncio.run(asyncio.wait_for(go(), 20))
    assert "placing the workspace failed" in error.message and "exit code 7" in error.message
    assert "fetching the workspace failed" in error.details["log"]


def test_a_wrong_token_is_an_api_error(standin: StandIn, tmp_path: Path) -> None:
    """Credentials the API server refuses surface as a SandboxError, not a client trace."""
    configuration = standin.configuration()
    configuration.refresh_api_key_hook = None
    configuration.api_key = {"BearerToken": "Bearer not-the-token"}

    async def go() -> None:
        pods = PodSettings(namespace=NAMESPACE, gateway_host="10.0.0.7", gateway_port=8788)
        backend = KubernetesBackend(configuration, pods)
        with pytest.raises(SandboxError, match="Unauthorized"):
            await backend.list({})
        await backend.close()

    asyncio.run(go())


def test_rw_workspaces_are_refused(standin: StandIn, tmp_path: Path) -> None:
    """rw cannot work without a shared filesystem: refused before any Pod is made."""
    before = len(standin.pods.created)

    async def go() -> None:
        backend = backend_for(standin)
        with pytest.raises(SandboxError, match="on Kubernetes use copy"):
            await backend.create(spec_for(tmp_path, workspace_mode=WorkspaceMode.RW))
        await backend.close()

    asyncio.run(go())
    assert len(standin.pods.created) == before
