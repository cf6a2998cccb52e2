"""``warden run`` failures that need no container: they still exit with the right code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from runner.client.errors import error_from
from runner.commands.run_remote import warden_error
from runner.errors import (
    AuthenticationError,
    ImageNotFoundError,
    InvalidInputError,
    PolicyDeniedError,
    WardenError,
)


def test_unreachable_docker_exits_5_and_still_reports(tmp_path: Path) -> None:
    """No Docker daemon: exit 5, and summary.md/junit.xml say why (for the CI job)."""
    (tmp_path / "work").mkdir()
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{tmp_path / 'no-docker.sock'}",
        "WARDEN_DATA_DIR": str(tmp_path / "data"),
        "WARDEN_MODEL_UPSTREAM": "scripted",
    }
    result = subprocess.run(
        [sys.executable, "-m", "runner.cli", "run", "--prompt", "hi",
         "--workdir", str(tmp_path / "work"), "--out", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 5, result.stdout + result.stderr
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert summary.startswith("# Warden run: infrastructure error (exit 5)")
    assert "Docker" in summary
    assert 'type="exit.5"' in (tmp_path / "out" / "junit.xml").read_text()


def _response(status: int, code: str, **details: object) -> httpx.Response:
    body = {"error": {"code": code, "message": "m", "details": details}}
    return httpx.Response(status, json=body)


def api_error(response: httpx.Response) -> WardenError:
    return warden_error(error_from(response))


def test_api_errors_map_back_to_warden_errors() -> None:
    """A server's error bodies become the errors (and so the exit codes) they stand for."""
    denied = api_error(_response(403, "policy_denied", rule="image"))
    assert isinstance(denied, PolicyDeniedError) and denied.rule == "image"
    assert isinstance(api_error(_response(422, "invalid_input")), InvalidInputError)
    assert isinstance(api_error(_response(401, "unauthenticated")), AuthenticationError)
    assert isinstance(api_error(_response(424, "image_not_found")), ImageNotFoundError)
    unknown = api_error(httpx.Response(502, text="bad gateway"))
    assert type(unknown) is WardenError and "HTTP 502" in unknown.message


def _run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WARDEN_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", "run", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_bad_workdir_is_a_configuration_error_exit_1(tmp_path: Path) -> None:
    """A missing --workdir exits 1 (configuration, as docs/ci.md says), with one clear line."""
    result = _run_cli(tmp_path, "--prompt", "hi", "--workdir", str(tmp_path / "nope"),
                      "--out", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"exit 1 (configuration): --workdir {tmp_path / 'nope'} is not a directory" in (
        result.stdout
    )
    assert "Traceback" not in result.stdout + result.stderr
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert summary.startswith("# Warden run: configuration error (exit 1)")


def test_an_unreadable_prompt_file_is_a_configuration_error_exit_1(tmp_path: Path) -> None:
    """A --prompt-file that is not there exits 1, not the parser's 2."""
    (tmp_path / "work").mkdir()
    result = _run_cli(tmp_path, "--prompt-file", str(tmp_path / "task.md"),
                      "--workdir", str(tmp_path / "work"))  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"--prompt-file {tmp_path / 'task.md'} cannot be read" in result.stdout
