"""Sessions under gVisor (runsc), for real: Docker with runsc, real Claude Code, scripted model.

One module, with module-scoped servers and sandboxes where it can: gVisor on the ptrace
platform is slow to start on a small machine. The controller's policies are the shipped
ones, except that ``default`` runs under runsc (so the session story of
test_sessions_api runs unchanged), and ``lost-runtime``, a copy of the shipped default
under a runtime no engine has.
"""

from __future__ import annotations

import asyncio
import os
import platform
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from runner.policy import shipped_policies_dir
from runner.sandbox.docker import DockerBackend
from runner.sandbox.image import BuildResult
from runner.sandbox.statedir import new_session_token, prepare_session_dir
from runner.scripted.server import ScriptedModelServer
from tests.conftest import require
from tests.integration.conftest import StartWarden
from tests.integration.sandbox_support import Sandbox, session_spec
from tests.integration.server import WardenServer
from tests.integration.test_sessions_api import run_story

pytestmark = [pytest.mark.docker, pytest.mark.claude]

ROOT = Path(__file__).resolve().parents[2]
RUNSC = "runsc"
MISSING = "warden-test-no-such-runtime"


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def gvisor(docker_client: docker.DockerClient) -> dict[str, Any]:
    """The engine's runsc entry (``scripts/setup --gvisor`` registers it; CI runs it)."""
    runtimes = docker_client.info().get("Runtimes") or {}
    require(RUNSC in runtimes, "runsc is not registered with Docker: run scripts/setup --gvisor")
    entry: dict[str, Any] = runtimes[RUNSC]
    return entry


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped policies, ``default`` switched to runsc, plus ``lost-runtime``."""
    folder = tmp_path_factory.mktemp("policies") / "policies"
    shutil.copytree(shipped_policies_dir(), folder)
    text = (folder / "default.yaml").read_text()
    assert "\n  runtime: runc\n" in text
    (folder / "default.yaml").write_text(_runtime(text, RUNSC))
    lost = _runtime(text, MISSING).replace("\nname: default\n", "\nname: lost-runtime\n")
    (folder / "lost-runtime.yaml").write_text(lost)
    return folder


def _runtime(policy_text: str, runtime: str) -> str:
    return policy_text.replace("\n  runtime: runc\n", f"\n  runtime: {runtime}\n")


@pytest.fixture(scope="module")
def upstream_key() -> str:
    """The real-looking upstream key the controller injects; it must never enter a sandbox."""
    return "sk-ant-upstream-" + secrets.token_hex(24)


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    """The scripted model as the controller's upstream (it sees the injected key)."""
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture(scope="module")
def server_env(
    policies: Path, model: ScriptedModelServer, upstream_key: str, gvisor: dict[str, Any]
) -> dict[str, str]:
    return {
        "WARDEN_POLICIES_DIR": str(policies),
        "WARDEN_MODEL_UPSTREAM": model.url,
        "WARDEN_UPSTREAM_API_KEY": upstream_key,
    }


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox_image: BuildResult,
    docker_client: docker.DockerClient,
    server_env: dict[str, str],
) -> Iterator[WardenServer]:
    """One controller for the module (SQLite), whose default policy runs under runsc."""
    root = tmp_path_factory.mktemp("gvisor-server")
    warden = WardenServer(root / "data", f"sqlite:///{root / 'warden.db'}", extra_env=server_env)
    warden.start()
    yield warden
    warden.stop()


def _gvisor_sandbox(backend: DockerBackend, image: str, root: Path, **fields: Any) -> Sandbox:
    """A started, hardened, test-labelled sandbox under runsc, its state under ``root``."""
    (root / "work").mkdir(parents=True)
    token = new_session_token()
    state = prepare_session_dir(
        root / "state", work_dir=root / "work", workspace_mode="copy", token=token
    )
    spec = session_spec(
        image, f"test-{uuid.uuid4().hex[:12]}", state, token, runtime=RUNSC, **fields
    )
    info = _run(backend.create(spec))
    _run(backend.start(info.id))
    return Sandbox(backend, info, spec, state)


@pytest.fixture(scope="module")
def sandbox(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox_image: BuildResult,
    docker_client: docker.DockerClient,
    gvisor: dict[str, Any],
) -> Iterator[Sandbox]:
    """One hardened sandbox under runsc (Claude Code running in it) for the inside checks."""
    backend = DockerBackend(docker_client)
    made = _gvisor_sandbox(
        backend, sandbox_image.hash_tag, tmp_path_factory.mktemp("gvisor-sandbox"),
        pids_limit=256, memory_bytes=1024**3, cpus=1.0,
    )  # fmt: skip
    yield made
    _run(backend.remove(made.id))


def _exec(sandbox: Sandbox, script: str, user: str | None = None) -> tuple[int, str]:
    result = _run(sandbox.backend.exec(sandbox.id, ["bash", "-c", script], user=user))
    return result.exit_code, result.output


def _container_exec(client: docker.DockerClient, container: str, script: str) -> str:
    created = client.api.exec_create(container, ["bash", "-c", script])
    out: bytes = client.api.exec_start(created["Id"])
    return out.decode("utf-8", "replace")


def _audit(warden: WardenServer, sid: str, type_: str) -> list[dict[str, Any]]:
    response = warden.client.get("/v1/audit", params={"session": sid, "type": type_})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def _under_roots(server: WardenServer) -> Path:
    """A fresh directory under the module server's workspace roots."""
    return server.data_dir.parent / f"w-{uuid.uuid4().hex[:8]}"


def _project(root: Path) -> Path:
    project = root / "project"
    project.mkdir(parents=True)
    (project / "app.py").write_text("print('hello')\n")
    return project


def test_setup_registered_runsc_and_a_second_run_changes_nothing(
    gvisor: dict[str, Any],
) -> None:
    """runsc is registered with ptrace, no network and host UDS; re-running the setup step
    finds it registered: no write, no reload."""
    assert gvisor["runtimeArgs"] == ["--platform=ptrace", "--network=none", "--host-uds=open"]
    daemon_json = Path("/etc/docker/daemon.json")
    require(daemon_json.is_file(), "no /etc/docker/daemon.json on this Docker host")
    before = daemon_json.stat().st_mtime_ns
    again = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gvisor_runtime.py")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.strip() == "runtime 'runsc' is registered with the Docker engine"
    assert daemon_json.stat().st_mtime_ns == before


def test_session_story_runs_under_gvisor(
    server: WardenServer,
    docker_client: docker.DockerClient,
    model: ScriptedModelServer,
    upstream_key: str,
) -> None:
    """The whole story (Bash approved, Write rejected, question answered, delete) under
    runsc: HostConfig.Runtime is runsc, the kernel is gVisor's, the hook decides, the
    model is reached only through the gateway, and the upstream key never enters."""
    seen: dict[str, Any] = {}

    def inside(session: dict[str, Any]) -> None:
        container = session["container"]
        attrs = docker_client.api.inspect_container(container)
        seen["runtime"] = attrs["HostConfig"]["Runtime"]
        seen["kernel"] = _container_exec(docker_client, container, "cat /proc/version; dmesg")
        seen["env"] = attrs["Config"]["Env"]
        # Every process's environment, and every file in the writable places.
        seen["scan"] = _container_exec(
            docker_client, container,
            "cat /proc/[0-9]*/environ | tr '\\0' '\\n'; echo ===; "
            "find /tmp /dev/shm /home/warden /workspace -type f | wc -l; echo ===; "
            f"grep -rlF -- '{upstream_key}' /tmp /dev/shm /home/warden /workspace; echo grep=$?",
        )  # fmt: skip

    deleted = run_story(server, _project(_under_roots(server)), "gvisor", on_ready=inside)
    assert seen["runtime"] == RUNSC
    assert "Linux version 4.4.0" in seen["kernel"] and "Starting gVisor" in seen["kernel"]
    assert platform.release() not in seen["kernel"]  # not the host's kernel
    environ, files, grep = seen["scan"].split("===")
    assert "ANTHROPIC_API_KEY=" in environ and upstream_key not in environ
    assert int(files) > 3  # tmux's socket, the transcript, the workspace: the scan saw files
    assert grep.strip() == "grep=1"  # grep found nothing
    assert not any(upstream_key in item for item in seen["env"])
    calls = [r for r in model.requests if r.path.startswith("/v1/messages")]
    assert calls and {r.headers.get("x-api-key") for r in calls} == {upstream_key}

    sid = deleted["id"]
    # The PreToolUse hook asked the gateway for every tool call, from inside gVisor.
    decisions = {
        (d["data"]["tool_name"], d["data"]["decision"])
        for d in _audit(server, sid, "tool.decision")
    }
    assert {("Bash", "ask"), ("Write", "ask")} <= decisions
    names = {
        a["name"] for a in server.client.get(f"/v1/sessions/{sid}/artifacts").json()["artifacts"]
    }
    assert {"changes.patch", "transcript.jsonl", "recording.cast"} <= names
    left = docker_client.containers.list(all=True, filters={"label": f"warden.session={sid}"})
    assert left == []


def test_a_policy_naming_a_missing_runtime_gets_a_424(server: WardenServer) -> None:
    """Creation under ``lost-runtime`` is refused at once, naming the runtime and the fix;
    nothing starts (no fallback to runc)."""
    project = _project(_under_roots(server))
    response = server.client.post(
        "/v1/sessions", json={"workDir": str(project), "policy": "lost-runtime"}
    )
    assert response.status_code == 424, response.text
    error = response.json()["error"]
    assert error["code"] == "runtime_unavailable"
    assert f"'{MISSING}'" in error["message"] and "'lost-runtime'" in error["message"]
    assert "daemon.json" in error["message"] and "SIGHUP" in error["message"]
    assert RUNSC in error["details"]["available"]
    sessions = server.client.get("/v1/sessions").json()["sessions"]
    assert not [s for s in sessions if s["workDir"] == str(project)]


def test_hardened_profile_holds_under_gvisor(
    sandbox: Sandbox, docker_client: docker.DockerClient
) -> None:
    """Inspect: runsc, network none, read-only root, no capabilities, no-new-privileges,
    limits. Inside: only lo, no route off the loopback, zero capabilities, gVisor's kernel."""
    attrs = docker_client.api.inspect_container(sandbox.id)
    host = attrs["HostConfig"]
    assert host["Runtime"] == RUNSC
    assert (host["NetworkMode"], host["ReadonlyRootfs"], host["CapDrop"]) == ("none", True, ["ALL"])
    assert "no-new-privileges" in host["SecurityOpt"]
    # 256 processes for the agent: gVisor's own host threads on top (see hardening.py).
    assert (host["PidsLimit"], host["Memory"], host["NanoCpus"]) == (2304, 1024**3, 10**9)
    assert attrs["Config"]["User"] == "1000:1000"

    code, links = _exec(sandbox, "ip -o link show")
    assert code == 0, links
    assert [line.split(":")[1].strip() for line in links.strip().splitlines()] == ["lo"]
    # gVisor lists the loopback's own 127.0.0.0/8 and ::1 routes; Linux lists none in the
    # main table. Either way nothing leads off the loopback device.
    code, routes = _exec(sandbox, "ip -4 route show; ip -6 route show")
    assert code == 0, routes
    assert all(" dev lo " in f"{line} " for line in routes.strip().splitlines()), routes
    code, table = _exec(sandbox, "cat /proc/net/route")
    assert code == 0 and len(table.strip().splitlines()) == 1, table  # the header only
    # gVisor's /proc/self/status has no NoNewPrivs line: ask prctl, through setpriv.
    code, out = _exec(
        sandbox,
        "id -u; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status; "
        "setpriv --dump 2>/dev/null | grep no_new_privs",
    )
    assert code == 0, out
    assert out.split()[0] == "1000"
    assert out.split()[2:8:2] == ["0000000000000000"] * 3
    assert out.split()[-2:] == ["no_new_privs:", "1"]
    code, kernel = _exec(sandbox, "uname -r; dmesg | head -1")
    assert code == 0 and kernel.split()[0] == "4.4.0" and "Starting gVisor" in kernel


def test_root_is_read_only_and_no_docker_socket_under_gvisor(sandbox: Sandbox) -> None:
    """No write under /usr or /etc, even as root; no runtime socket anywhere."""
    for user in (None, "0"):
        code, out = _exec(
            sandbox, "touch /usr/evil; echo x >> /etc/claude-code/managed-settings.json", user
        )
        assert code != 0
        # gVisor checks permissions before the read-only mount: the agent sees EACCES.
        wanted = "Read-only file system" if user == "0" else "Permission denied"
        assert out.count(wanted) == 2, out
    code, _ = _exec(sandbox, "touch /tmp/scratch /workspace/f ~/.ok")
    assert code == 0
    # No mount brings a socket in (a bind mount is the only way one could get here), and
    # none of the usual places has one: gVisor's root walks slowly, so not all of `/`.
    _code, out = _exec(
        sandbox,
        "ls -la /var/run/docker.sock /run/docker.sock /run/containerd 2>&1; "
        "find /run /var /tmp /home /workspace \\( -name docker.sock -o -name containerd.sock \\)"
        " 2>/dev/null; cut -d' ' -f2 /proc/mounts",
    )
    assert out.count("No such file or directory") == 3, out
    mounts = [line for line in out.splitlines() if line.startswith("/")]
    assert {"/", "/workspace", "/home/warden", "/run/warden", "/tmp"} <= set(mounts), out
    assert not [m for m in mounts if "docker" in m or "containerd" in m or m.endswith(".sock")]


def test_ls_l_and_stat_work_under_gvisor(sandbox: Sandbox) -> None:
    """coreutils' statx calls (AT_NO_AUTOMOUNT) work through the image's statx-compat."""
    code, out = _exec(
        sandbox,
        "cat /etc/ld.so.preload; ls -l /etc/hostname; ls -la /workspace | head -2; "
        "stat -c '%U %a %n' /usr/local/bin/claude",
    )
    assert code == 0, out
    assert "/usr/local/lib/warden/statx-compat.so" in out
    assert "root 755 /usr/local/bin/claude" in out
    assert "Invalid argument" not in out


def test_a_fork_bomb_ends_the_gvisor_sandbox_not_the_host(
    sandbox: Sandbox, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    """Under runsc the pids limit caps the sandbox's host threads: a fork bomb hits it, the
    gVisor kernel aborts and the sandbox ends; the host and other sandboxes stay fine."""
    backend = sandbox.backend
    bombed = _gvisor_sandbox(backend, sandbox.spec.image, tmp_path, pids_limit=128)
    limit = docker_client.api.inspect_container(bombed.id)["HostConfig"]["PidsLimit"]
    assert limit == 256 + 8 * 128
    try:
        bomb = "f(){ if [ $SECONDS -lt 10 ]; then f & f & wait; fi; }; f"
        exec_id = docker_client.api.exec_create(
            bombed.id, ["timeout", "-s", "KILL", "30", "bash", "-c", bomb]
        )
        # Detached: when gVisor aborts, Docker never closes a running exec's stream.
        docker_client.api.exec_start(exec_id["Id"], detach=True)
        peak, started = 0, time.monotonic()
        while time.monotonic() - started < 20:
            stats = docker_client.api.stats(bombed.id, stream=False, one_shot=True)
            peak = max(peak, int(stats.get("pids_stats", {}).get("current", 0)))
            assert docker_client.ping()
            if _run(backend.inspect(bombed.id)).status != "running":
                break
            time.sleep(0.2)
        assert peak <= limit, f"peak host pids {peak}, limit {limit}"
        assert _run(backend.inspect(bombed.id)).status == "exited"
        # The module's sandbox, also under gVisor, never noticed.
        code, out = _exec(sandbox, "echo alive")
        assert (code, out) == (0, "alive\n")
    finally:
        _run(backend.remove(bombed.id))


def test_a_gvisor_session_is_readopted_after_sigkill_and_its_hook_still_denies(
    start_warden: StartWarden, server_env: dict[str, str], tmp_path: Path
) -> None:
    """A controller killed with SIGKILL comes back; its gVisor session answers again, and
    a denied Bash call (sudo, rule ``privilege``) is stopped by the hook, with no prompt."""
    first = start_warden(extra_env=server_env)
    sid = first.create(_project(tmp_path), prompt="before")["id"]
    first.wait_state(sid, "idle", timeout=120)
    first.kill()
    second = start_warden(port=first.port, extra_env=server_env)
    second.wait_state(sid, "idle", timeout=30)

    def pane() -> str:
        return str(second.client.get(f"/v1/sessions/{sid}/pane").text)

    assert second.post(sid, "send", {"text": "after the restart"}).status_code == 200
    second.wait_for(sid, lambda _s: "Scripted reply to: after the restart" in pane())
    second.wait_state(sid, "idle")
    assert second.post(sid, "send", {"text": "[[bash: sudo id]]"}).status_code == 200
    second.wait_for(sid, lambda _s: "privilege" in pane())
    second.wait_state(sid, "idle")
    states = [e["data"]["state"] for e in _audit(second, sid, "session.state")]
    assert "permission_prompt" not in states
    denied = [d for d in _audit(second, sid, "tool.decision") if d["data"]["decision"] == "deny"]
    assert [d["data"]["rule"] for d in denied] == ["privilege"]
    assert second.client.delete(f"/v1/sessions/{sid}").status_code == 200


def test_doctor_reports_gvisor_and_a_missing_runtime(
    policies: Path, tmp_path: Path, sandbox_image: BuildResult
) -> None:
    """doctor: runsc starts a container (gVisor's kernel); a policy's missing runtime fails
    the check with the fix."""
    env = {
        **os.environ,
        "WARDEN_DATA_DIR": str(tmp_path / "data"),
        "WARDEN_POLICIES_DIR": str(policies),
    }
    result = subprocess.run(
        [sys.executable, "-m", "runner.cli", "doctor"],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip
    out = " ".join(result.stdout.split())
    assert result.returncode == 1, out
    assert "runsc starts a container (policies: default, strict), kernel 4.4.0" in out
    assert f"{MISSING} not registered (policies: lost-runtime)" in out
    assert f"register '{MISSING}' under \"runtimes\"" in out
