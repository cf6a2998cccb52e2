"""A started session sandbox is hardened: per docker inspect and from inside via exec."""

from __future__ import annotations

import asyncio
import subprocess
import time

import docker
import pytest

from runner.errors import SandboxNotFoundError
from tests.conftest import TEST_LABELS
from tests.integration.sandbox_support import (  # noqa: F401 (fixtures)
    Sandbox,
    SandboxFactory,
    make_sandbox,
    run,
    sandbox_image,
)

pytestmark = pytest.mark.docker


@pytest.fixture
def sandbox(make_sandbox: SandboxFactory) -> Sandbox:  # noqa: F811
    """One default-profile sandbox with small, recognisable limits."""
    return make_sandbox(pids_limit=256, memory_bytes=1024**3, cpus=1.0)


def _exec(sandbox: Sandbox, script: str, user: str | None = None) -> tuple[int, str]:
    result = run(sandbox.backend.exec(sandbox.id, ["bash", "-c", script], user=user))
    return result.exit_code, result.output


def test_docker_inspect_shows_the_hardened_profile(
    sandbox: Sandbox, docker_client: docker.DockerClient
) -> None:
    """NetworkMode none, read-only root, CapDrop ALL, no-new-privileges, non-root, limits."""
    attrs = docker_client.api.inspect_container(sandbox.id)
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["CapAdd"] in (None, [])
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Privileged"] is False
    assert host["PidsLimit"] == 256
    assert host["Memory"] == 1024**3
    assert host["NanoCpus"] == 1_000_000_000
    assert attrs["Config"]["User"] == "1000:1000"
    assert attrs["Config"]["Labels"]["warden.session"] == sandbox.spec.session_id
    assert attrs["State"]["Running"] is True
    targets = {m["Destination"]: m for m in attrs["Mounts"]}
    assert set(targets) == {"/workspace", "/home/warden", "/run/warden"}
    assert targets["/run/warden"]["RW"] is False
    assert not any(
        "docker.sock" in m["Source"] or "containerd" in m["Source"] for m in attrs["Mounts"]
    )
    assert "/tmp" in host["Tmpfs"]


def test_runs_as_the_unprivileged_user_with_no_capabilities(sandbox: Sandbox) -> None:
    """id is 1000, every capability set is empty, NoNewPrivs is on."""
    code, out = _exec(
        sandbox, "id -u; id -g; grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status"
    )
    assert code == 0, out
    lines = out.split()
    assert lines[:2] == ["1000", "1000"]
    status = dict(zip(lines[2::2], lines[3::2], strict=True))
    assert status["CapEff:"] == status["CapPrm:"] == status["CapBnd:"] == "0000000000000000"
    assert status["NoNewPrivs:"] == "1"


def test_only_loopback_and_no_route(sandbox: Sandbox) -> None:
    """The interface table holds only lo; the IPv4 route table is empty (no traffic sent)."""
    code, links = _exec(sandbox, "ip -o link show")
    assert code == 0, links
    names = [line.split(":")[1].strip() for line in links.strip().splitlines()]
    assert names == ["lo"]
    code, routes = _exec(sandbox, "ip -4 route show; ip -6 route show | grep -v ' dev lo ' || true")
    assert code == 0 and routes.strip() == "", routes
    code, table = _exec(sandbox, "cat /proc/net/route")
    assert code == 0
    assert len(table.strip().splitlines()) == 1  # the header line only


def test_no_docker_socket_inside(sandbox: Sandbox) -> None:
    """No Docker or containerd socket exists anywhere the agent could look."""
    _code, out = _exec(
        sandbox,
        "ls -la /var/run/docker.sock /run/docker.sock /run/containerd 2>&1; "
        "find / -xdev \\( -name 'docker.sock' -o -name 'containerd.sock' \\) 2>/dev/null",
    )
    assert "No such file or directory" in out
    assert "docker.sock\n" not in out.replace("ls: cannot access", "")
    assert not [line for line in out.splitlines() if line.startswith("/") and "sock" in line]


def test_root_filesystem_is_read_only_even_for_root(sandbox: Sandbox) -> None:
    """Writing under /usr or /etc fails for the agent, and for an exec as root too."""
    for user in (None, "0"):
        code, out = _exec(
            sandbox, "touch /usr/evil; echo x >> /etc/claude-code/managed-settings.json", user
        )
        assert code != 0
        assert "Read-only file system" in out, out
    code, _ = _exec(sandbox, "touch /tmp/scratch && touch /workspace/f && touch ~/.ok")
    assert code == 0


def test_managed_settings_and_hook_are_root_owned(sandbox: Sandbox) -> None:
    """Hook, Claude Code and managed settings belong to root; the agent cannot chmod them."""
    code, out = _exec(
        sandbox,
        "stat -c '%U %a %n' /etc/claude-code/managed-settings.json /usr/local/bin/warden-hook "
        "/usr/local/bin/claude; chmod 777 /usr/local/bin/warden-hook",
    )
    assert code != 0
    assert "root 644 /etc/claude-code/managed-settings.json" in out
    assert "root 755 /usr/local/bin/warden-hook" in out
    assert "root 755 /usr/local/bin/claude" in out


def test_fork_bomb_is_stopped_by_the_pids_limit(
    make_sandbox: SandboxFactory,  # noqa: F811
    docker_client: docker.DockerClient,
) -> None:
    """A (time-bounded) fork bomb hits the pids limit; the host and the controller stay fine.

    The session itself may end (Claude Code cannot start threads at the limit); what
    must hold is the limit and the health of everything outside the container.
    """
    limit = 128
    sandbox = make_sandbox(pids_limit=limit)
    sandbox.wait_for_pane("for shortcuts")  # Claude Code is up: the sandbox is in use
    bomb = "f(){ if [ $SECONDS -lt 10 ]; then f & f & wait; fi; }; f 2>&1 | head -c 2000"
    argv = ["timeout", "-s", "KILL", "60", "bash", "-c", bomb]
    exec_id = docker_client.api.exec_create(sandbox.id, argv)
    stream = docker_client.api.exec_start(exec_id["Id"], stream=True)
    peak, started = 0, time.monotonic()
    while time.monotonic() - started < 6:
        stats = docker_client.api.stats(sandbox.id, stream=False, one_shot=True)
        peak = max(peak, int(stats.get("pids_stats", {}).get("current", 0)))
        # The controller side stays healthy while the bomb runs.
        assert docker_client.ping()
        assert subprocess.run(["true"], check=False).returncode == 0
    output = b"".join(stream).decode(errors="replace")
    assert limit * 0.9 <= peak <= limit, f"peak pids {peak}, limit {limit}"
    assert "fork: retry: Resource temporarily unavailable" in output
    # After the bomb, the controller still makes and drives sandboxes.
    fresh = make_sandbox()
    result = run(fresh.backend.exec(fresh.id, ["echo", "alive"]))
    assert (result.exit_code, result.stdout) == (0, "alive\n")


def test_list_remove_and_not_found(make_sandbox: SandboxFactory) -> None:  # noqa: F811
    """list finds sandboxes by label; remove is idempotent; a removed one is not found."""
    sandbox = make_sandbox()
    found = run(sandbox.backend.list({**TEST_LABELS, "warden.session": sandbox.spec.session_id}))
    assert [info.id for info in found] == [sandbox.id]
    assert found[0].is_running and found[0].session_id == sandbox.spec.session_id
    run(sandbox.backend.remove(sandbox.id))
    run(sandbox.backend.remove(sandbox.id))
    assert run(sandbox.backend.list({"warden.session": sandbox.spec.session_id})) == []
    with pytest.raises(SandboxNotFoundError):
        run(sandbox.backend.inspect(sandbox.id))
    with pytest.raises(SandboxNotFoundError):
        run(sandbox.backend.exec(sandbox.id, ["true"]))


def test_attach_streams_until_claude_exits(make_sandbox: SandboxFactory) -> None:  # noqa: F811
    """attach yields the TTY output; when Claude Code exits, the container and stream end."""
    sandbox = make_sandbox()
    sandbox.wait_for_pane("manual mode on")

    async def scenario() -> bytes:
        received = bytearray()

        stream = await sandbox.backend.attach(sandbox.id)

        async def read() -> None:
            async for chunk in stream:
                received.extend(chunk)

        reader = asyncio.create_task(read())
        await sandbox.backend.resize(sandbox.id, 100, 30)  # tmux redraws: output flows
        await asyncio.sleep(1.0)
        killed = await sandbox.backend.exec(sandbox.id, ["pkill", "-TERM", "-x", "claude"])
        assert killed.exit_code == 0, killed.output
        await asyncio.wait_for(reader, timeout=30)
        return bytes(received)

    received = run(scenario())
    assert b"manual mode on" in received
    info = run(sandbox.backend.inspect(sandbox.id))
    assert info.status == "exited" and info.exit_code is not None
