"""The controller image (top-level Dockerfile): built offline and cached, non-root with a
read-only root, answering /v1/health, and, with the host's Docker socket and the data
dir at the same path, serving a real session (real Claude Code, scripted model)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from runner import __version__
from runner.sandbox.controller_image import build_controller_image, version_tags
from runner.sandbox.image_build import BuildResult
from runner.settings import Settings
from tests.conftest import TEST_LABELS

pytestmark = pytest.mark.docker

DATA = "/var/lib/warden"
SOCKET = "/var/run/docker.sock"
#: Inside its container the controller listens on every interface; the port is
#: published on the host's loopback only.
ANY = "0.0.0.0"  # noqa: S104
RunController = Callable[..., Any]


@pytest.fixture(scope="module")
def controller_image(docker_client: docker.DockerClient) -> BuildResult:
    """The controller image, built through ``build_controller_image`` (cached once built)."""
    return build_controller_image(docker_client, Settings().cache_dir)


@pytest.fixture
def run_controller(
    docker_client: docker.DockerClient, controller_image: BuildResult
) -> Iterator[RunController]:
    """``docker run -d`` of the controller image (test-labelled); all removed with volumes."""
    started: list[Any] = []

    def run(*, command: list[str] | None = None, **options: Any) -> Any:
        container = docker_client.containers.run(
            controller_image.hash_tag, command, detach=True, labels=TEST_LABELS, **options
        )
        started.append(container)
        return container

    yield run
    for container in started:
        container.remove(force=True, v=True)  # v: its anonymous data volume too


def _published(container: Any) -> str:
    container.reload()
    binding = container.attrs["NetworkSettings"]["Ports"]["9100/tcp"][0]
    return f"http://127.0.0.1:{binding['HostPort']}"


def _wait_healthy_http(container: Any, timeout: float = 60) -> httpx.Client:
    """A client for the container's published API once /v1/health answers 200."""
    client = httpx.Client(base_url=_published(container), timeout=30)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        assert container.status != "exited", container.logs().decode()[-3000:]
        try:
            if client.get("/v1/health").status_code == 200:
                return client
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"no /v1/health answer: {container.logs().decode()[-3000:]}")


def _uids(container: Any) -> set[int]:
    """Real and effective uids of every process of the container, read on the host."""
    top = container.top()
    pid_column = top["Titles"].index("PID")
    uids: set[int] = set()
    for row in top["Processes"]:
        status = Path(f"/proc/{row[pid_column]}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        uids.update(int(u) for u in uid_line.split()[1:3])
    return uids


def test_build_is_cached_tagged_and_labelled(
    controller_image: BuildResult, docker_client: docker.DockerClient
) -> None:
    """A rebuild is a fast cache hit; the image has the tags, OCI labels, user, volume, check."""
    started = time.monotonic()
    again = build_controller_image(docker_client, Settings().cache_dir)
    assert again.is_skipped and again.image_id == controller_image.image_id
    assert time.monotonic() - started < 10
    image = docker_client.images.get(controller_image.hash_tag)
    assert set(version_tags()) <= set(image.tags)
    assert f"warden-controller:{__version__}" in image.tags
    labels = image.labels
    assert labels["org.opencontainers.image.version"] == __version__
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", labels["org.opencontainers.image.revision"])
    assert labels["org.opencontainers.image.source"]
    assert labels["warden.image.hash"] == controller_image.content_hash
    config = image.attrs["Config"]
    assert config["User"] == "1000:1000"
    assert DATA in config["Volumes"]
    assert config["Healthcheck"]["Test"] == ["CMD", "/usr/local/bin/warden-healthcheck"]


def test_read_only_container_is_non_root_and_answers_health(run_controller: RunController) -> None:
    """The issue's `docker run --read-only --tmpfs /tmp …` serves /v1/health, authenticated."""
    container = run_controller(
        read_only=True, tmpfs={"/tmp": ""}, ports={"9100/tcp": ("127.0.0.1", None)},
        environment={"WARDEN_HOST": ANY, "WARDEN_AUTH_ENABLED": "true"},
    )  # fmt: skip
    client = _wait_healthy_http(container)
    health = client.get("/v1/health").json()
    assert health["version"] == __version__
    assert health["checks"]["database"] == "ok"
    # No Docker socket: the server runs, says why it cannot run sessions, and refuses them.
    assert health["status"] == "degraded" and "error" in health["checks"]["sandbox"]
    assert client.get("/v1/sessions").status_code == 401
    assert _uids(container) == {1000}
    wrote = container.exec_run(["sh", "-c", "touch /opt/warden/x || touch /etc/x"])
    assert wrote.exit_code != 0 and b"Read-only file system" in wrote.output
    check = container.exec_run(["/usr/local/bin/warden-healthcheck"])
    assert check.exit_code == 1  # the HEALTHCHECK fails while the runtime is unreachable
    assert json.loads(check.output)["status"] == "degraded"


def test_plain_read_only_run_works_as_is(run_controller: RunController) -> None:
    """`docker run --read-only warden-controller` with nothing else starts (loopback only)."""
    container = run_controller(read_only=True)
    deadline = time.monotonic() + 60
    while True:
        check = container.exec_run(["/usr/local/bin/warden-healthcheck"])
        if check.output.startswith(b"{") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert json.loads(check.output)["checks"]["database"] == "ok", container.logs()[-2000:]
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    assert mounts[DATA]["Type"] == "volume"  # the VOLUME took the writes
    assert _uids(container) == {1000}


def _same_path_dir(path: Path) -> Path:
    """A directory the container's uid 1000 owns, at the same path on host and in container."""
    path.mkdir(parents=True)
    if os.geteuid() == 0:
        os.chown(path, 1000, 1000)
    return path


def _bootstrap_token(docker_client: docker.DockerClient, image: str, data: Path) -> str:
    """`warden tokens bootstrap` in a one-off container on the data dir (no server runs)."""
    container = docker_client.containers.run(
        image, ["tokens", "bootstrap"], detach=True, read_only=True, labels=TEST_LABELS,
        volumes={str(data): {"bind": str(data), "mode": "rw"}},
        environment={"WARDEN_DATA_DIR": str(data)}, **_user_options(),
    )  # fmt: skip
    try:
        assert container.wait(timeout=120)["StatusCode"] == 0, container.logs().decode()
        output: bytes = container.logs(stdout=True, stderr=False)
    finally:
        container.remove(v=True)  # v: the image's unused data VOLUME too
    return output.decode().strip().splitlines()[-1]


def _user_options() -> dict[str, Any]:
    # As root the dirs are chowned to the image's uid; otherwise run as the caller.
    return {} if os.geteuid() == 0 else {"user": f"{os.geteuid()}:{os.getegid()}"}


def test_socket_mounted_container_runs_a_session(
    run_controller: RunController,
    controller_image: BuildResult,
    sandbox_image: BuildResult,
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    """With the socket and the data dir at the same path, a scripted session reaches idle."""
    data = _same_path_dir(tmp_path / "data")
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("print('hello')\n")
    token = _bootstrap_token(docker_client, controller_image.hash_tag, data)
    container = run_controller(
        read_only=True, tmpfs={"/tmp": ""}, ports={"9100/tcp": ("127.0.0.1", None)},
        group_add=[str(Path(SOCKET).stat().st_gid)],  # the socket's group, not root
        volumes={
            str(data): {"bind": str(data), "mode": "rw"},
            str(project): {"bind": str(project), "mode": "ro"},
            SOCKET: {"bind": SOCKET, "mode": "rw"},
        },
        environment={
            "WARDEN_DATA_DIR": str(data), "WARDEN_HOST": ANY,
            "WARDEN_AUTH_ENABLED": "true", "WARDEN_MODEL_UPSTREAM": "scripted",
            "WARDEN_IMAGE": sandbox_image.hash_tag, "WARDEN_STALL_SECONDS": "120",
            "WARDEN_CONTAINER_LABELS": json.dumps(TEST_LABELS),
            # A server on all interfaces names its workspace roots, and a non-root
            # controller cannot mount quota volumes: the operator says so explicitly.
            "WARDEN_WORKSPACE_ROOTS": str(project), "WARDEN_DISK_QUOTA_REQUIRED": "false",
        },
        **_user_options(),
    )  # fmt: skip
    client = _wait_healthy_http(container)
    client.headers["authorization"] = f"Bearer {token}"
    assert client.get("/v1/health").json()["status"] == "ok"
    assert container.exec_run(["/usr/local/bin/warden-healthcheck"]).exit_code == 0
    created = client.post("/v1/sessions", json={"workDir": str(project), "prompt": "hi there"})
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    session = _wait_idle(client, sid)
    pane = client.get(f"/v1/sessions/{sid}/pane").json()["text"]
    assert "Scripted reply to: hi there" in pane
    sandbox = docker_client.containers.get(session["container"])
    sources = {m["Source"] for m in sandbox.attrs["Mounts"]}
    assert all(s.startswith(f"{data}/sessions/{sid}/") for s in sources), sources
    assert not any("docker.sock" in s for s in sources)  # sessions never get the socket
    assert client.delete(f"/v1/sessions/{sid}").status_code == 200
    assert docker_client.containers.list(all=True, filters={"label": f"warden.session={sid}"}) == []
    stopping = time.monotonic()
    container.stop(timeout=30)
    # SIGTERM is handled (no SIGKILL after the timeout) and a stop exits 0, not 143.
    assert container.wait(timeout=10)["StatusCode"] == 0
    assert time.monotonic() - stopping < 25


def _wait_idle(client: httpx.Client, sid: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session: dict[str, Any] = client.get(f"/v1/sessions/{sid}").json()
        if session["state"] == "idle" and session["container"]:
            return session
        assert session["state"] != "error", session
        time.sleep(0.5)
    pane = client.get(f"/v1/sessions/{sid}/pane").text
    raise AssertionError(f"session {sid} not idle: {session}\n{pane}")
