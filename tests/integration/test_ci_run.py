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

import docker
import pytest

from runner.sandbox.image import BuildResult
from tests.conftest import TEST_LABELS
from tests.integration.ci_support import calc_project, ci_policies_dir
from tests.integration.conftest import StartWarden
from tests.integration.sandbox_support import sandbox_image  # noqa: F401 (fixture)
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
    env: dict[str, str], *args: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
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
