"""The Docker backend connects on first use: no daemon is a failed call, not a failed start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runner.errors import SandboxError
from runner.sandbox.docker import DockerBackend


def test_no_daemon_fails_each_call_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built with no daemon at DOCKER_HOST; each call then raises a SandboxError, not a crash."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'absent.sock'}")
    backend = DockerBackend.from_env()

    async def calls() -> list[str]:
        messages = []
        for _ in range(2):
            with pytest.raises(SandboxError) as raised:
                await backend.list({})
            messages.append(raised.value.message)
        await backend.close()
        return messages

    messages = asyncio.run(calls())
    assert all(m.startswith("cannot reach the Docker daemon:") for m in messages)
    assert all("absent.sock" in m or "No such file" in m for m in messages), messages
