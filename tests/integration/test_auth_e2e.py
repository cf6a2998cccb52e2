"""Authentication end to end: a real ``warden serve`` trusting a real OIDC provider that
runs as its own process (discovery + JWKS over HTTP, key rotation), API tokens made
with the CLI, and the endpoint × role matrix over every operation the server publishes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from typer.testing import CliRunner

from runner.cli import app as cli
from tests.integration.server import WardenServer
from tests.rbac_table import BODIES, PUBLIC, REQUIRED, allowed, roles, url

AUDIENCE = "warden-api"
GROUPS = {role: f"warden-{role}s" for role in roles()}


class Idp:
    """``python -m tests.oidc_provider`` in a subprocess."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.oidc_provider"], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.issuer = self.process.stdout.readline().strip()
        self.http = httpx.Client(base_url=self.issuer, timeout=10)

    def token(self, role: str | None = None, **claims: Any) -> str:
        body = {"aud": AUDIENCE, "sub": f"{role}-user", "tenant": "acme", "scope": "warden"}
        body["groups"] = [GROUPS[role]] if role else []
        response = self.http.post("/mint", json={"claims": {**body, **claims}})
        token: str = response.json()["access_token"]
        return token

    def rotate(self) -> None:
        self.http.post("/rotate", json={"keepOld": False}).raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def auth_env(idp: Idp) -> dict[str, str]:
    issuer = {
        "issuer": idp.issuer,
        "audience": AUDIENCE,
        "role_claims": ["groups"],
        "role_map": {
            **{group: role for role, group in GROUPS.items()},
            "warden-root": "global_admin",
        },
        "tenant_claim": "tenant",
        # The test cannot wait a minute for a rotation to be picked up.
        "refresh_interval_seconds": 1,
    }
    return {"WARDEN_AUTH_ISSUERS": json.dumps([issuer])}


@pytest.fixture
def idp() -> Iterator[Idp]:
    provider = Idp()
    yield provider
    provider.stop()


def start_server(tmp_path: Path, database_url: str, idp: Idp) -> WardenServer:
    return WardenServer(tmp_path / "data", database_url, extra_env=auth_env(idp)).start()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cli_ok(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_oidc_rotation_and_api_tokens(
    database_url: str, tmp_path: Path, idp: Idp, docker_client: docker.DockerClient
) -> None:
    """Provider tokens are accepted, a key rotation is followed, and an admin's API token
    works for CI until it is revoked; every refusal lands in the audit log."""
    warden = start_server(tmp_path, database_url, idp)
    try:
        http = warden.client
        assert http.get("/v1/health").status_code == 200
        assert http.get("/v1/sessions").status_code == 401
        admin = idp.token("admin")
        who = http.get("/v1/whoami", headers=bearer(admin)).json()
        assert (who["subject"], who["tenant"]) == ("admin-user", "acme")

        idp.rotate()
        time.sleep(1.1)  # the configured refresh pacing
        rotated = idp.token("viewer")
        assert http.get("/v1/sessions", headers=bearer(rotated)).status_code == 200
        stale = http.get("/v1/sessions", headers=bearer(admin))
        assert stale.status_code == 401
        assert stale.json()["error"]["details"]["reason"] == "unknown_kid"

        admin = idp.token("admin")
        server = ["--server", warden.url, "--token", admin]
        created = cli_ok("tokens", "create", "ci", "--role", "operator", *server, "--json")
        secret = json.loads(created)["secret"]
        token_id = json.loads(created)["id"]
        assert http.get("/v1/sessions", headers=bearer(secret)).status_code == 200
        assert http.get("/v1/tokens", headers=bearer(secret)).status_code == 403
        listed = json.loads(cli_ok("tokens", "list", *server, "--json"))
        assert [(t["id"], t["roles"]) for t in listed] == [(token_id, ["operator"])]
        assert "revoked" in cli_ok("tokens", "revoke", token_id, *server)
        revoked = http.get("/v1/sessions", headers=bearer(secret))
        assert revoked.status_code == 401
        assert revoked.json()["error"]["details"]["reason"] == "revoked"

        # The tenant's auditor sees the refusals it can be told about: its own token's.
        auditor = bearer(idp.token("auditor"))
        failed = http.get("/v1/audit", params={"type": "auth.failed"}, headers=auditor).json()
        assert [(e["actor"], e["data"]["reason"]) for e in failed["events"]] == [
            (f"token:ci/{token_id}", "revoked")
        ]
        denied = http.get("/v1/audit", params={"type": "auth.denied"}, headers=auditor).json()
        assert [e["actor"] for e in denied["events"]] == [f"token:ci/{token_id}"]
        # A global admin also sees the anonymous ones (no tenant could be proven).
        root = bearer(idp.token(groups=["warden-root"]))
        failed = http.get("/v1/audit", params={"type": "auth.failed"}, headers=root).json()
        reasons = [e["data"]["reason"] for e in failed["events"]]
        assert reasons == ["missing_token", "unknown_kid", "revoked"], failed
    finally:
        warden.stop()


def test_every_endpoint_by_every_role(
    tmp_path: Path, idp: Idp, docker_client: docker.DockerClient
) -> None:
    """Against the real server, over every operation in its OpenAPI: each role is
    refused exactly where the RBAC table says and let through everywhere else."""
    warden = start_server(tmp_path, f"sqlite:///{tmp_path / 'warden.db'}", idp)
    try:
        spec = warden.client.get("/openapi.json").json()
        operations = [
            (method.upper(), path)
            for path, ops in spec["paths"].items()
            for method in ops
            if path.startswith("/v1")
        ]
        tokens = {role: idp.token(role) for role in roles()}
        checked = 0
        for method, path in operations:
            if (method, path) in PUBLIC:
                continue
            required = REQUIRED[(method, path)]
            for role in roles():
                response = warden.client.request(
                    method, url(path), json=BODIES.get((method, path)),
                    headers=bearer(tokens[role]),
                )  # fmt: skip
                denied = response.status_code == 403 and (
                    response.json()["error"]["code"] == "forbidden"
                )
                assert denied != allowed(role, required), (method, path, role, response.text)
                assert response.status_code not in (401, 500), (path, role, response.text)
                checked += 1
        # Every /v1 row of the table was checked (GET /metrics sits outside /v1).
        assert checked == len([k for k in REQUIRED if k[1].startswith("/v1")]) * len(roles())
    finally:
        warden.stop()
