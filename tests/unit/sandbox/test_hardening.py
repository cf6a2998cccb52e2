"""The hardened container profile built from a SandboxSpec (no Docker needed)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from runner.errors import InvalidInputError, SandboxError
from runner.sandbox.backend import SandboxSpec
from runner.sandbox.hardening import container_config, refuse_docker_socket


def _spec(tmp_path: Path, **overrides: object) -> SandboxSpec:
    for name in ("ws", "home", "run"):
        (tmp_path / name).mkdir(exist_ok=True)
    values: dict[str, object] = {
        "session_id": "s-1",
        "image": "warden-sandbox:latest",
        "workspace": tmp_path / "ws",
        "workspace_mode": "copy",
        "home_dir": tmp_path / "home",
        "run_dir": tmp_path / "run",
        "token": "wdn_token-abc",
        "claude_session": str(uuid.uuid4()),
        **overrides,
    }
    return SandboxSpec(**values)  # type: ignore[arg-type]


def test_default_profile_is_hardened(tmp_path: Path) -> None:
    """No network, read-only root, no capabilities, no-new-privileges, limits, non-root."""
    config = container_config(_spec(tmp_path, pids_limit=99, memory_bytes=2**30, cpus=1.5))
    assert config["network_mode"] == "none"
    assert config["read_only"] is True
    assert config["cap_drop"] == ["ALL"]
    assert config["security_opt"] == ["no-new-privileges"]
    assert config["pids_limit"] == 99
    assert config["mem_limit"] == config["memswap_limit"] == 2**30
    assert config["nano_cpus"] == 1_500_000_000
    assert not config["user"].startswith("0:")
    assert "mode=1777" in config["tmpfs"]["/tmp"]
    assert config["labels"]["warden.session"] == "s-1"
    assert "runtime" not in config


def test_mounts_follow_the_workspace_mode(tmp_path: Path) -> None:
    """ro binds the workspace read-only; the run dir (gateway socket) is always read-only."""
    ro = container_config(_spec(tmp_path, workspace_mode="ro"))["volumes"]
    assert ro[str((tmp_path / "ws").resolve())] == {"bind": "/workspace", "mode": "ro"}
    assert ro[str((tmp_path / "run").resolve())] == {"bind": "/run/warden", "mode": "ro"}
    rw = container_config(_spec(tmp_path, workspace_mode="rw"))["volumes"]
    assert rw[str((tmp_path / "ws").resolve())]["mode"] == "rw"
    assert rw[str((tmp_path / "home").resolve())] == {"bind": "/home/warden", "mode": "rw"}


def test_our_environment_wins_over_the_callers(tmp_path: Path) -> None:
    """A caller's ANTHROPIC_BASE_URL or key cannot redirect Claude Code; extras pass."""
    env = {"ANTHROPIC_BASE_URL": "http://evil", "ANTHROPIC_API_KEY": "x", "FOO": "bar"}
    config = container_config(_spec(tmp_path, env=env, model="m-1"), port=9999)
    got = config["environment"]
    assert got["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9999"
    assert got["ANTHROPIC_API_KEY"] == "wdn_token-abc"
    assert got["FOO"] == "bar"
    assert got["WARDEN_MODEL"] == "m-1"


def test_claude_session_must_be_a_uuid(tmp_path: Path) -> None:
    """Claude Code's --session-id takes a UUID; anything else is refused up front."""
    with pytest.raises(InvalidInputError):
        container_config(_spec(tmp_path, claude_session="not-a-uuid"))


def test_docker_socket_and_its_parents_are_refused(tmp_path: Path) -> None:
    """The socket itself, /var/run, /run and / are refused; an ordinary dir is fine."""
    for source in ("/var/run/docker.sock", "/var/run", "/run", "/"):
        with pytest.raises(SandboxError):
            refuse_docker_socket([source])
    fake = tmp_path / "d" / "docker.sock"
    with pytest.raises(SandboxError):
        refuse_docker_socket([str(tmp_path)], extra=[str(fake)])
    refuse_docker_socket([str(tmp_path / "elsewhere")])


def test_gvisor_runtime_is_passed_through(tmp_path: Path) -> None:
    """runtime="runsc" selects gVisor."""
    assert container_config(_spec(tmp_path, runtime="runsc"))["runtime"] == "runsc"


def test_gvisor_scales_the_host_pids_limit_to_its_own_threads(tmp_path: Path) -> None:
    """Under runsc the policy's 100 processes become 256 + 8 x 100 host threads; other
    runtimes get the policy's number as it is."""
    assert container_config(_spec(tmp_path, runtime="runsc", pids_limit=100))["pids_limit"] == 1056
    assert container_config(_spec(tmp_path, runtime="kata", pids_limit=100))["pids_limit"] == 100


def test_proxy_variables_only_with_egress(tmp_path: Path) -> None:
    """Egress adds the proxy variables (the gateway port, the token as the password, loopback
    direct) and keeps network none; without it, none, even if the client sent its own."""
    client = {"HTTPS_PROXY": "http://evil:1", "https_proxy": "http://evil:1", "KEEP": "1"}
    env = container_config(_spec(tmp_path, env=client, egress=True))["environment"]
    assert env["HTTPS_PROXY"] == env["http_proxy"] == "http://warden:wdn_token-abc@127.0.0.1:8787"
    assert "127.0.0.1" in env["NO_PROXY"].split(",") and env["KEEP"] == "1"
    config = container_config(_spec(tmp_path, env=client))
    assert config["network_mode"] == "none"
    assert not {k for k in config["environment"] if k.lower().endswith("_proxy")}
