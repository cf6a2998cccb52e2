"""Schemathesis, with all its checks, against a real ``warden serve`` (auth on, real Docker,
the scripted model, a real session for the session routes): 0 failures in >= 1,000 cases.

It runs once, in this one test, over every operation but those listed in ``EXCLUDED``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import StartWarden

#: Operations left out of the run, each with the reason.
EXCLUDED = {
    # Revoking tokens would revoke the run's own credential half-way through.
    "revoke_token_v1_tokens__token_id__delete",
    # Not yet in the schema (issue 17, not done): a webhook URL must resolve to a public
    # address (a DNS answer no schema can state); a channel's config fields depend on its
    # kind; a stage needs a workDir unless its pipeline has one.
    "create_webhook_v1_webhooks_post",
    "create_channel_v1_notifications_channels_post",
    "create_pipeline_v1_pipelines_post",
    # Its body is a raw tar/zip archive, which schemathesis cannot generate (no serializer
    # for those media types); tests/unit/sessions/test_workspaces.py covers it.
    "upload_v1_workspaces_post",
    # Rules main gained after this contract was drawn, not yet in the schema (issue 17,
    # not done): the policy's env allowlist, the no-control-characters rule for typed
    # text, and the requestId in a batch item's error.
    "create_session_v1_sessions_post",
    "create_batch_v1_sessions_batch_post",
    "answer_v1_sessions__session_id__answer_post",
    "send_v1_sessions__session_id__send_post",
}
#: 413 and 431 are refusals too (schemathesis's default list predates them).
CONFIG = """
[parameters]
"path.session_id" = "{session_id}"

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                     "428", "429", "431", "5xx"]
"""
#: Paths left out: streams never end, so a generated case would wait for ever; the
#: dashboard's browser routes (redirects, HTML, cookies) are not in the contract yet.
EXCLUDED_PATHS = r"/terminal|/events|^/dashboard"


def _bootstrap(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "runner.cli", "tokens", "bootstrap"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


def test_schemathesis_finds_no_failure(start_warden: StartWarden, tmp_path: Path) -> None:
    """Every check of schemathesis passes on >= 1,000 generated cases (0 failures)."""
    st = shutil.which("st") or shutil.which("schemathesis")
    assert st is not None, "schemathesis is a test dependency (pip install -e '.[test]')"
    project = tmp_path / "project"
    project.mkdir()
    (project / "README").write_text("contract\n")
    extra = {
        "WARDEN_AUTH_ENABLED": "true",
        # The run sends thousands of changing requests with one token.
        "WARDEN_MUTATION_BURST": "100000",
        "WARDEN_MUTATIONS_PER_MINUTE": "1000000",
        "WARDEN_SESSION_STARTS_PER_MINUTE": "0",
    }
    data = tmp_path / "data"
    env = {**os.environ, "WARDEN_DATA_DIR": str(data),
           "WARDEN_DATABASE_URL": f"sqlite:///{tmp_path / 'warden.db'}"}  # fmt: skip
    token = _bootstrap(env)
    server = start_warden(data_dir=data, extra_env=extra)
    auth = {"Authorization": f"Bearer {token}"}
    created = server.client.post(
        "/v1/sessions", json={"workDir": str(project), "prompt": "hello"}, headers=auth
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.replace("{session_id}", session_id))
    argv = [
        st, "--config-file", str(config), "run", f"{server.url}/openapi.json",
        "--checks", "all", "--header", f"Authorization: Bearer {token}",
        "--phases", "examples,coverage,fuzzing", "--max-examples", "8", "--workers", "2",
        "--exclude-path-regex", EXCLUDED_PATHS, "--seed", "1",
        *[arg for op in sorted(EXCLUDED) for arg in ("--exclude-operation-id", op)],
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=1500, check=False)
    (tmp_path / "schemathesis.txt").write_text(result.stdout)
    summary = result.stdout[-3000:]
    failures = result.stdout.partition("=== FAILURES ===")[2].partition("=== SUMMARY ===")[0]
    print("\n".join(line[:300] for line in failures.splitlines()))
    print(summary)
    print(f"full report: {tmp_path / 'schemathesis.txt'}")
    cases = re.search(r"(\d+) generated", result.stdout)
    assert cases is not None, summary
    print(f"schemathesis: {cases.group(1)} cases")
    assert int(cases.group(1)) >= 1000, summary
    assert result.returncode == 0, summary
    server.client.delete(f"/v1/sessions/{session_id}", headers=auth)
