"""``warden run`` end to end: real Claude Code in Docker, the scripted model, real exit codes.

Each test runs the real CLI in a subprocess, embedded (SQLite, local Docker) unless it
says it goes through a ``warden serve``; the model's replies are scripted by the
``[[directive]]`` prompts (docs/gateway.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import docker
import pytest

from runner.sandbox.image import BuildResult
from tests.conftest import TEST_LABELS
from tests.integration.ci_support import calc_project, ci_policies_dir, python_project
from tests.integration.conftest import StartWarden
from tests.integration.sandbox_support import (  # noqa: F401 (fixtures)
    python_image,
    sandbox_image,
)
from tests.integration.server import WardenServer


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    return ci_policies_dir(tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return calc_project(tmp_path)


@pytest.fixture
def env(
    tmp_path: Path,
    policies: Path,
    sandbox_image: BuildResult,  # noqa: F811
    docker_client: docker.DockerClient,
) -> dict[str, str]:
    """The environment of an embedded run: its own data dir, scripted model, test labels."""
    return {
        **os.environ,
        "WARDEN_DATA_DIR": str(tmp_path / "data"),
        "WARDEN_MODEL_UPSTREAM": "scripted",
        "WARDEN_POLICIES_DIR": str(policies),
        "WARDEN_CONTAINER_LABELS": json.dumps(TEST_LABELS),
    }


def warden(
    env: dict[str, str], *args: str, timeout: float = 240, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


def run(
    env: dict[str, str], project: Path, out: Path, prompt: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    result = warden(
        env, "run", "--prompt", prompt, "--workdir", str(project), "--out", str(out), *extra
    )
    print(result.stdout, result.stderr, sep="\n")  # shown when a test fails
    return result


def session_of(out: Path) -> str:
    junit = ET.parse(out / "junit.xml")  # noqa: S314 (written by the run under test)
    text = junit.findtext(".//testsuite[@name='warden.run']/testcase/system-out") or ""
    return text.split()[1]


def containers_of(docker_client: docker.DockerClient, session_id: str) -> list[object]:
    found: list[object] = docker_client.containers.list(
        all=True, filters={"label": f"warden.session={session_id}"}
    )
    return found


def test_edit_and_tests_exit_0_with_patch_and_verifying_audit(
    env: dict[str, str], project: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """The agent fixes add() and the tests pass: exit 0, right patch, --apply, verified bundle."""
    out = tmp_path / "out"
    result = run(
        env, project, out,
        "[[edit: calc.py | a - b => a + b]] [[bash: sh run_tests.sh]]",
        "--policy", "ci-tests", "--apply",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    patch = (out / "changes.patch").read_text()
    assert "-    return a - b\n+    return a + b\n" in patch
    assert (project / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"  # --apply
    assert "applied the patch" in result.stdout
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# Warden run: done (exit 0)")
    assert "**Bash** `sh run_tests.sh` → 1 passed" in summary
    assert "## Denied actions (0)" in summary
    assert "| `calc.py` | modified | 1 | 1 |" in summary
    junit = ET.parse(out / "junit.xml")  # noqa: S314 (written by the run under test)
    assert junit.findall(".//failure") == []
    assert len(junit.findall(".//testsuite[@name='warden.policy.ci-tests']/testcase")) == 2
    assert (out / "transcript.jsonl").stat().st_size > 0
    assert json.loads((out / "recording.cast").read_text().splitlines()[0])["version"] == 2
    verified = warden(env, "audit", "verify", str(out / "audit"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    events = [
        json.loads(line) for line in (out / "audit" / "events.jsonl").read_text().splitlines()
    ]
    kinds = {json.loads(e["canonical"])["type"] for e in events}
    assert {"session.created", "tool.decision", "container.removed"} <= kinds
    assert containers_of(docker_client, session_of(out)) == []


def test_curl_under_ci_exits_2_with_the_denial_reported(
    env: dict[str, str], project: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """A scripted curl under ci.yaml: exit 2, rule net-curl in summary.md and junit.xml."""
    out = tmp_path / "out"
    result = run(env, project, out, "[[bash: curl -s http://example.com -o page.html]]")
    assert result.returncode == 2, result.stdout
    assert "policy DENIED: Bash curl -s http://example.com -o page.html [net-curl]" in result.stdout
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# Warden run: policy violation (exit 2)")
    assert "| Bash | `curl -s http://example.com -o page.html` | `net-curl` |" in summary
    junit = ET.parse(out / "junit.xml")  # noqa: S314 (written by the run under test)
    failures = junit.findall(".//testsuite[@name='warden.policy.ci']/testcase/failure")
    assert [f.get("message") for f in failures] == ["denied by rule net-curl"]
    assert junit.find(".//testsuite[@name='warden.run']/testcase/failure").get("type") == "exit.2"  # type: ignore[union-attr]
    assert "page.html" not in (out / "changes.patch").read_text()
    # The run ends the moment the first call is denied; the transcript is still collected.
    assert "curl -s http://example.com -o page.html" in (out / "transcript.jsonl").read_text()
    assert "1. **Bash** `curl -s http://example.com -o page.html` →" in summary
    assert "The agent made no tool calls." not in summary
    assert containers_of(docker_client, session_of(out)) == []


# The probe's end-to-end attack: plant `core.fsmonitor` in .git/config with an allowed
# program's write option, then let an allowed `git status` run it.
PLANT_FSMONITOR = (
    "find . -maxdepth 0 -fprintf .git/config '[core]\\n\\tfsmonitor = touch /workspace/pwned\\n'"
)


def _commit_all(path: Path) -> None:
    """Make ``path`` a git repository with one commit (git status then has a .git/config)."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(path)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "start"]):
        subprocess.run([*git, *args], check=True, capture_output=True)


def test_fsmonitor_planted_through_find_fprintf_is_denied(
    env: dict[str, str], project: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """ci denies `find -fprintf .git/config` (git-internals): a later `git status` runs nothing."""
    _commit_all(project)
    out = tmp_path / "out"
    # --no-fail-on-deny: the agent goes on after the denial and runs `git status`.
    prompt = f"[[bash: {PLANT_FSMONITOR}]] [[bash: git status]]"
    result = run(env, project, out, prompt, "--no-fail-on-deny")
    assert result.returncode == 0, result.stdout
    assert "policy DENIED: Bash find . -maxdepth 0 -fprintf .git/config" in result.stdout
    patch = (out / "changes.patch").read_text()
    assert "pwned" not in patch  # the fsmonitor command never ran in the agent's copy
    events = [
        json.loads(json.loads(line)["canonical"])
        for line in (out / "audit" / "events.jsonl").read_text().splitlines()
    ]
    decisions = {
        e["data"]["tool_input"]["command"]: e["data"]
        for e in events
        if e["type"] == "tool.decision" and e["data"].get("tool_name") == "Bash"
    }
    planted = next(data for command, data in decisions.items() if command.startswith("find "))
    assert (planted["decision"], planted["rule"]) == ("deny", "git-internals")
    assert "find -fprintf writes /workspace/.git/config" in planted["reason"]
    assert decisions["git status"]["decision"] == "allow"  # it ran, with git's own config
    summary = (out / "summary.md").read_text()
    assert "## Denied actions (1)" in summary
    assert "| Bash | `find . -maxdepth 0 -fprintf .git/config" in summary
    assert containers_of(docker_client, session_of(out)) == []


def test_script_that_never_finishes_times_out_with_exit_3(
    env: dict[str, str], project: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """[[slow: 600]] with --timeout 20s: exit 3 at the limit, and no container left behind."""
    out = tmp_path / "out"
    started = time.monotonic()
    result = run(env, project, out, "[[slow: 600]]", "--timeout", "20s")
    elapsed = time.monotonic() - started
    assert result.returncode == 3, result.stdout
    assert 20 <= elapsed < 90
    assert "# Warden run: timeout (exit 3)" in (out / "summary.md").read_text()
    # The gateway closes mid-stream: no uvicorn CancelledError traceback, only the result.
    for bad in ("Traceback", "CancelledError", "Exception in ASGI application"):
        assert bad not in result.stdout + result.stderr
    assert result.stderr.strip() == ""
    assert containers_of(docker_client, session_of(out)) == []


def test_model_errors_exit_4(
    env: dict[str, str], project: Path, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """The model answers HTTP 400: Claude Code ends the turn on an API error; exit 4."""
    out = tmp_path / "out"
    result = run(env, project, out, "[[error: 400]]")
    assert result.returncode == 4, result.stdout
    summary = (out / "summary.md").read_text()
    assert "the turn ended on a model API error: 400" in summary
    events = [
        json.loads(json.loads(line)["canonical"])
        for line in (out / "audit" / "events.jsonl").read_text().splitlines()
    ]
    statuses = [e["data"]["status"] for e in events if e["type"] == "model.request"]
    assert 400 in statuses  # the gateway saw the failed call the screen reported
    assert containers_of(docker_client, session_of(out)) == []


def test_a_model_that_keeps_failing_shows_retries_and_exits_4(
    env: dict[str, str], project: Path, tmp_path: Path
) -> None:
    """HTTP 500 on every call: each retry is printed; at the limit the exit is 4, not 3."""
    out = tmp_path / "out"
    result = run(env, project, out, "[[error: 500]]", "--timeout", "15s")
    assert result.returncode == 4, result.stdout
    assert "(model API error: 500 Internal server error (retrying: attempt " in result.stdout
    assert "exit 4 (agent_error): the model API kept failing until the time limit (15s): " in (
        result.stdout
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_refusals_before_a_session_are_one_clear_line(
    env: dict[str, str], project: Path, tmp_path: Path
) -> None:
    """Unknown policy (1), refused image (2), missing image (5): one line each, no class
    name, no repetition, no traceback."""
    unknown = run(env, project, tmp_path / "o1", "hi", "--policy", "nope")
    assert unknown.returncode == 1, unknown.stdout
    assert "exit 1 (configuration): unknown policy 'nope'; known policies: " in unknown.stdout
    refused = run(env, project, tmp_path / "o2", "hi", "--image", "debian:bookworm")
    assert refused.returncode == 2, refused.stdout
    assert (
        "exit 2 (policy_violation): policy 'ci' does not allow image 'debian:bookworm'"
        " (container.images)\n" in refused.stdout
    )
    missing = run(env, project, tmp_path / "o3", "hi", "--image", "warden-sandbox:nope")
    assert missing.returncode == 5, missing.stdout
    assert (
        "exit 5 (infrastructure): sandbox image warden-sandbox:nope is not on this Docker"
        " engine; run: warden image build\n" in missing.stdout
    )
    for result in (unknown, refused, missing):
        text = result.stdout + result.stderr
        assert "Error:" not in text and "Error " not in text and "Traceback" not in text
        assert "refuses this session" not in text
        assert text.count("policy 'ci'") <= 1


@pytest.fixture
def server(tmp_path: Path, policies: Path, start_warden: StartWarden) -> WardenServer:
    return start_warden(
        f"sqlite:///{tmp_path / 'server.db'}",
        data_dir=tmp_path / "server",
        extra_env={"WARDEN_POLICIES_DIR": str(policies)},
    )


def test_run_through_a_server_downloads_artifacts_and_audit(
    env: dict[str, str], project: Path, tmp_path: Path, server: WardenServer
) -> None:
    """--server: the same run over the REST API; the bundle comes back and verifies."""
    out = tmp_path / "out"
    result = run(env, project, out, "[[bash: curl -s http://example.com]]", "--server", server.url)
    assert result.returncode == 2, result.stdout
    assert "`net-curl`" in (out / "summary.md").read_text()
    assert {p.name for p in out.iterdir()} >= {
        "changes.patch", "transcript.jsonl", "recording.cast", "summary.md", "junit.xml", "audit",
    }  # fmt: skip
    verified = warden(env, "audit", "verify", str(out / "audit"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    session = server.session(session_of(out))
    assert session["unattended"] is True and session["state"] in ("idle", "exited")
    assert session["details"].get("deleted") is True


def _events(out: Path) -> list[dict[str, Any]]:
    lines = (out / "audit" / "events.jsonl").read_text().splitlines()
    return [json.loads(json.loads(line)["canonical"]) for line in lines]


def test_python_profile_runs_the_failing_test_fixes_it_and_applies(
    env: dict[str, str],
    tmp_path: Path,
    python_image: BuildResult,  # noqa: F811
    docker_client: docker.DockerClient,
) -> None:
    """warden-sandbox:python under ci: pytest fails, the edit lands, pytest passes; exit 0,
    and --apply works with --out inside the work dir (the docs' own layout)."""
    project = python_project(tmp_path)
    prompt = (
        "Fix the failing test. [[bash: python3 -m pytest -q]]"
        " [[edit: calc.py | a - b => a + b]] [[bash: python3 -m pytest -q]]"
    )
    result = warden(
        env, "run", "--prompt", prompt, "--policy", "ci", "--image", "warden-sandbox:python",
        "--workdir", ".", "--out", "warden-out", "--apply", cwd=project,
    )  # fmt: skip
    print(result.stdout, result.stderr, sep="\n")
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("policy allow: Bash python3 -m pytest -q [tools.allow[4]]") == 2
    assert "--apply refused" not in result.stdout
    assert "applied the patch to" in result.stdout and "(1 file)" in result.stdout
    assert (project / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    out = project / "warden-out"
    transcript = (out / "transcript.jsonl").read_text()
    failed, passed = transcript.find("1 failed"), transcript.find("1 passed")
    assert 0 <= failed < passed, "pytest must fail first, then pass"
    patch = (out / "changes.patch").read_text()
    assert patch.count("diff --git ") == 1 and "a/calc.py" in patch
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# Warden run: done (exit 0)")
    assert "Policy checks: 3 tool calls judged, 0 denied." in summary
    assert "1. **Bash** `python3 -m pytest -q` → Exit code 1 … 1 failed in " in summary
    assert "3. **Bash** `python3 -m pytest -q` → . [100%] … 1 passed in " in summary
    started = next(e for e in _events(out) if e["type"] == "container.started")
    assert started["data"]["image"] == "warden-sandbox:python"
    assert started["data"]["imageId"] == python_image.image_id
    assert containers_of(docker_client, session_of(out)) == []
