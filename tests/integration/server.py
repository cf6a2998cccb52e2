"""A real ``warden serve`` process for end-to-end tests, and an HTTP client for it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import TEST_LABELS
from tests.mounts import unmount_under

__all__ = ["WardenApi", "WardenServer", "free_port", "unmount_under"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class WardenApi:
    """A client for a Warden under test, wherever it runs (a subprocess, or in-process)."""

    def __init__(self, data_dir: Path, url: str) -> None:
        self.data_dir = data_dir
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=60)

    def wait_healthy(self, timeout: float, died: Callable[[], str | None]) -> None:
        """Until ``/v1/health`` answers 200; ``died()`` names why it never will, if so."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (why := died()) is not None:
                raise RuntimeError(why)
            try:
                if self.client.get("/v1/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("warden did not come up")

    def create(self, work_dir: Path, prompt: str | None = None, **body: Any) -> dict[str, Any]:
        response = self.client.post(
            "/v1/sessions", json={"workDir": str(work_dir), "prompt": prompt, **body}
        )
        assert response.status_code in (200, 201), response.text
        created: dict[str, Any] = response.json()
        return created

    def session(self, session_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/sessions/{session_id}")
        assert response.status_code == 200, response.text
        got: dict[str, Any] = response.json()
        return got

    def wait_for(
        self, session_id: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 90
    ) -> dict[str, Any]:
        """Poll the session until ``predicate`` holds; fail with the screen if it never does."""
        deadline = time.monotonic() + timeout
        session = self.session(session_id)
        while time.monotonic() < deadline:
            if predicate(session):
                return session
            if session["state"] == "error":
                break  # it will not recover: fail now, with the reason
            time.sleep(0.3)
            session = self.session(session_id)
        pane = self.client.get(f"/v1/sessions/{session_id}/pane").text
        raise AssertionError(f"timed out; session {json.dumps(session)[:1500]}\nscreen:\n{pane}")

    def wait_state(self, session_id: str, *states: str, timeout: float = 90) -> dict[str, Any]:
        return self.wait_for(session_id, lambda s: s["state"] in states, timeout)

    def post(
        self, session_id: str, action: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return self.client.post(f"/v1/sessions/{session_id}/{action}", json=body)


class WardenServer(WardenApi):
    """``warden serve`` in a subprocess: scripted model upstream, test-labelled containers."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        *,
        port: int | None = None,
        extra_env: dict[str, str | None] | None = None,
        cwd: Path | None = None,
    ) -> None:
        """``extra_env`` adds settings; a value of None removes that variable instead."""
        self.port = port or free_port()
        super().__init__(data_dir, f"http://127.0.0.1:{self.port}")
        self.cwd = cwd
        self.log = data_dir / "server.log"
        env: dict[str, str | None] = {
            **os.environ,
            "WARDEN_DATA_DIR": str(data_dir),
            "WARDEN_DATABASE_URL": database_url,
            "WARDEN_MODEL_UPSTREAM": "scripted",
            "WARDEN_PORT": str(self.port),
            "WARDEN_CONTAINER_LABELS": json.dumps(TEST_LABELS),
            "WARDEN_STALL_SECONDS": "120",
            # The tests' projects live beside the data dir, in pytest's tmp dir.
            "WARDEN_WORKSPACE_ROOTS": str(data_dir.parent),
            **(extra_env or {}),
        }
        self.env = {name: value for name, value in env.items() if value is not None}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> WardenServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "runner.cli", "serve"],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = self.process

        def died() -> str | None:
            return None if process.poll() is None else "warden serve exited"

        try:
            self.wait_healthy(timeout, died)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {self.log.read_text()[-3000:]}") from None
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
