"""``warden doctor``: independent checks, each cause named once, no side effects."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest


def _doctor(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    full = {
        **base,
        "WARDEN_DATA_DIR": str(tmp_path / "fresh" / "data"),
        "DOCKER_HOST": f"unix://{tmp_path / 'no-docker.sock'}",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", "doctor"],
        env=full, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _line(output: str, check: str) -> str:
    return next(line for line in output.splitlines() if line[5:].startswith(f"{check} "))


def test_an_unreachable_engine_is_the_one_cause_named(tmp_path: Path) -> None:
    """No Docker: docker fails once; image and claude are skipped, never "not built"."""
    result = _doctor(tmp_path, WARDEN_MODEL_UPSTREAM="scripted")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert _line(out, "docker").startswith("FAIL docker    no Docker engine: unix://")
    assert _line(out, "image") == "skip image     not checked: no Docker engine (see docker)"
    assert _line(out, "claude") == "skip claude    not checked: no Docker engine (see docker)"
    assert "not built" not in out and "warden image build" not in out
    assert out.count("fix:") == 1  # only the engine's fix
    assert _line(out, "model").startswith("ok   model")
    assert "Traceback" not in out + result.stderr


def test_a_fresh_data_dir_is_left_untouched(tmp_path: Path) -> None:
    """On a data dir that does not exist yet, doctor creates nothing (no warden.db)."""
    result = _doctor(tmp_path, WARDEN_MODEL_UPSTREAM="scripted")
    assert "not created yet" in _line(result.stdout, "database")
    assert _line(result.stdout, "disk").startswith("ok   disk")
    assert not (tmp_path / "fresh").exists()


def test_no_key_and_no_scripted_model_is_not_ok(tmp_path: Path) -> None:
    """A real upstream without a key fails the model check, with how to fix it."""
    out = _doctor(tmp_path).stdout
    assert _line(out, "model") == (
        "FAIL model     no model key: sessions cannot use https://api.anthropic.com"
    )
    assert "fix: set WARDEN_UPSTREAM_API_KEY (or WARDEN_UPSTREAM_API_KEY_FILE), or" in out


@pytest.fixture
def upstream() -> Iterator[str]:
    """A local HTTP server standing in for the model API (a process boundary)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_keyed_upstream_must_be_reachable(tmp_path: Path, upstream: str) -> None:
    """With a key, an answering upstream is ok and a closed port fails with the error."""
    ok = _doctor(tmp_path, WARDEN_MODEL_UPSTREAM=upstream, WARDEN_UPSTREAM_API_KEY="k")
    assert _line(ok.stdout, "model") == f"ok   model     model upstream {upstream} (key set)"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    down = _doctor(tmp_path, WARDEN_MODEL_UPSTREAM=closed, WARDEN_UPSTREAM_API_KEY="k")
    assert _line(down.stdout, "model").startswith(f"FAIL model     cannot reach {closed}: ")


def test_a_broken_database_url_shows_the_drivers_message(tmp_path: Path) -> None:
    """A database that cannot be opened names the driver's reason, not an exception class."""
    (tmp_path / "x.db").write_text("not a database at all, just text " * 20)
    out = _doctor(tmp_path, WARDEN_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}").stdout
    line = _line(out, "database")
    assert line.startswith(f"FAIL database  sqlite:///{tmp_path / 'x.db'}: ")
    assert "file is not a database" in line
    assert "OperationalError" not in line and "DatabaseError" not in line
    assert "unreachable" not in line


def test_the_effective_limits_are_printed_with_their_settings(tmp_path: Path) -> None:
    """Quotas, rate limits and size limits are listed as configured, each with its knob."""
    out = _doctor(
        tmp_path,
        WARDEN_MODEL_UPSTREAM="scripted",
        WARDEN_MAX_SESSIONS_PER_TENANT="3",
        WARDEN_MAX_SESSIONS="0",
        WARDEN_MAX_BODY_BYTES=str(2 * 1024**2),
        WARDEN_MUTATIONS_PER_MINUTE="120",
    ).stdout
    assert "limits (the setting that changes each):" in out
    lines = out.split("limits (the setting that changes each):")[1]
    assert "running sessions per tenant: 3 sessions  (WARDEN_MAX_SESSIONS_PER_TENANT)" in lines
    assert "running sessions in all: no limit  (WARDEN_MAX_SESSIONS)" in lines
    assert "request body: 2 MiB  (WARDEN_MAX_BODY_BYTES)" in lines
    assert "then 120 a minute  (WARDEN_MUTATION_BURST, WARDEN_MUTATIONS_PER_MINUTE)" in lines
    assert "failed authentications per address/token: burst 20" in lines
    assert "prompt: 100000 characters" in lines
