"""``warden serve`` says where it listens, with which upstream and auth, and logs requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.integration.server import free_port


def _serve(tmp_path: Path, *args: str, **extra_env: str) -> tuple[str, str]:
    """Start ``warden serve``, make two requests, stop it; returns (its log, its URL)."""
    port = free_port()
    env = {**os.environ, "WARDEN_DATA_DIR": str(tmp_path / "data"),
           "WARDEN_MODEL_UPSTREAM": "scripted", "WARDEN_PORT": str(port), **extra_env}  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "runner.cli", "serve", *args],
            env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while "ready: listening" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        assert httpx.get(f"{url}/v1/health").status_code == 200
        assert httpx.get(f"{url}/v1/sessions", params={"token": "s3cret"}).status_code == 200
        missing = httpx.get(f"{url}/v1/sessions/nope", headers={"x-request-id": "req-42"})
        assert missing.status_code == 404 and missing.json()["error"]["requestId"] == "req-42"
    finally:
        process.terminate()
        process.wait(30)
    return log.read_text(), url


def test_serve_logs_where_it_listens_and_each_request(tmp_path: Path) -> None:
    """Listen address, readiness, upstream and auth mode, then one access line per request."""
    text, url = _serve(tmp_path)
    assert f"ready: listening on {url} (API /v1, OpenAPI /openapi.json)" in text
    assert "model upstream: the scripted model, in-process (offline; no key)" in text
    assert "auth: not configured; serving unauthenticated on loopback only" in text
    assert "runner.access: 127.0.0.1 GET /v1/health 200 " in text
    assert "runner.access: 127.0.0.1 GET /v1/sessions 200 " in text
    assert "s3cret" not in text  # query strings (tokens) are never logged
    assert "shutting down" in text
    assert "Traceback" not in text


def test_quiet_serve_has_no_access_log(tmp_path: Path) -> None:
    """--quiet keeps the start-up lines and drops the per-request lines."""
    text, url = _serve(tmp_path, "--quiet")
    assert f"ready: listening on {url}" in text
    assert "runner.access" not in text


def test_json_logs_are_one_object_a_line_with_the_request_id(tmp_path: Path) -> None:
    """``WARDEN_LOG_FORMAT=json``: every line is a JSON object; a request's access line
    carries the id its response and error body named."""
    text, _url = _serve(tmp_path, WARDEN_LOG_FORMAT="json")
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert {"ts", "level", "logger", "message"} <= set(lines[0])
    (access,) = [
        line
        for line in lines
        if line["logger"] == "runner.access" and "/v1/sessions/nope" in line["message"]
    ]
    assert access["requestId"] == "req-42"
    assert any("ready: listening" in line["message"] for line in lines)


def test_second_serve_on_one_sqlite_database_refuses_to_start(tmp_path: Path) -> None:
    """A second controller on the same SQLite file exits 2 with a message, no traceback."""
    port = free_port()
    env = {**os.environ, "WARDEN_DATA_DIR": str(tmp_path / "data"),
           "WARDEN_MODEL_UPSTREAM": "scripted", "WARDEN_PORT": str(port)}  # fmt: skip
    env.pop("WARDEN_DATABASE_URL", None)
    log = tmp_path / "first.log"
    with log.open("wb") as sink:
        first = subprocess.Popen(
            [sys.executable, "-m", "runner.cli", "serve"],
            env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "ready: listening" not in log.read_text() and time.monotonic() < deadline:
            assert first.poll() is None, log.read_text()
            time.sleep(0.2)
        second = subprocess.run(
            [sys.executable, "-m", "runner.cli", "serve"],
            env={**env, "WARDEN_PORT": str(free_port())}, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
    finally:
        first.terminate()
        first.wait(30)
    assert second.returncode == 2, second.stderr
    assert "refusing to start: another Warden controller" in second.stderr
    assert f"(pid {first.pid})" in second.stderr
    assert "Traceback" not in second.stderr
