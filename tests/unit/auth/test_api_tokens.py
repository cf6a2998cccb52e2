"""API tokens: created by admins, shown once, stored hashed, scoped, expiring, revocable."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from runner.auth.roles import GRANTABLE_ROLES
from runner.core import utcnow
from tests.oidc_provider import OidcProvider
from tests.unit.auth.harness import Harness, running_app


def run(provider: OidcProvider, tmp_path: Path, scenario: Any) -> None:
    async def main() -> None:
        async with running_app(provider, tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


async def create(h: Harness, group: str = "warden-admins", **body: Any) -> Any:
    payload = {"name": "ci-deploy", "roles": ["operator"], "expiresInDays": 7, **body}
    return await h.client.post("/v1/tokens", json=payload, headers=h.as_group(group))


def test_token_lifecycle(provider: OidcProvider, tmp_path: Path) -> None:
    """An admin's token works for its roles, is listed without its secret, and stops
    working the moment it is revoked; each change is audited with the admin's name."""

    async def scenario(h: Harness) -> None:
        created = await create(h)
        assert created.status_code == 201, created.text
        body = created.json()
        secret = body["secret"]
        assert secret.startswith("wdn_tok_")
        assert (body["tenant"], body["roles"], body["createdBy"]) == ("acme", ["operator"], "alice")
        stored = h.tokens.get(body["id"])
        assert stored is not None
        assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in repr(stored)

        bearer = h.bearer(secret)
        who = (await h.client.get("/v1/whoami", headers=bearer)).json()
        assert who == {
            "subject": f"token:ci-deploy/{body['id']}",
            "tenant": "acme",
            "roles": ["operator", "viewer"],
        }
        assert (await h.client.get("/v1/tokens", headers=bearer)).status_code == 403
        listed = (await h.client.get("/v1/tokens", headers=h.as_group("warden-admins"))).json()
        assert [t["id"] for t in listed["tokens"]] == [body["id"]]
        assert "secret" not in listed["tokens"][0]
        assert listed["tokens"][0]["lastUsedAt"] is not None

        revoked = await h.client.delete(
            f"/v1/tokens/{body['id']}", headers=h.as_group("warden-admins")
        )
        assert revoked.status_code == 200
        assert revoked.json()["revokedBy"] == "alice"
        refused = await h.client.get("/v1/whoami", headers=bearer)
        assert refused.status_code == 401
        assert refused.json()["error"]["details"]["reason"] == "revoked"
        assert [e.actor for e in h.events("token.created")] == ["alice"]
        assert [e.data["token"] for e in h.events("token.revoked")] == [body["id"]]

    run(provider, tmp_path, scenario)


def test_expired_and_forged_tokens(provider: OidcProvider, tmp_path: Path) -> None:
    """An expired token, a guessed secret for a real id, and garbage are all 401."""

    async def scenario(h: Harness) -> None:
        body = (await create(h)).json()
        token = h.tokens.get(body["id"])
        assert token is not None
        forged = f"wdn_tok_{body['id']}_{'A' * 43}"
        forged_reply = await h.client.get("/v1/whoami", headers=h.bearer(forged))
        assert forged_reply.json()["error"]["details"]["reason"] == "unknown_token"
        garbage = await h.client.get("/v1/whoami", headers=h.bearer("wdn_tok_nope"))
        assert garbage.status_code == 401
        h.tokens.update(replace(token, expires_at=utcnow() - timedelta(seconds=1)))
        expired = await h.client.get("/v1/whoami", headers=h.bearer(body["secret"]))
        assert expired.status_code == 401
        assert expired.json()["error"]["details"]["reason"] == "expired"
        assert len(h.events("auth.failed")) == 3

    run(provider, tmp_path, scenario)


def test_only_admins_manage_tokens_and_cannot_escalate(
    provider: OidcProvider, tmp_path: Path
) -> None:
    """Non-admins are 403; an admin cannot mint global admin or another tenant's token;
    only a global admin can."""

    async def scenario(h: Harness) -> None:
        assert (await create(h, "warden-operators")).status_code == 403
        escalate = await create(h, roles=["global_admin"])
        assert escalate.status_code == 403
        assert escalate.json()["error"]["details"]["reason"] == "token_escalation"
        other_tenant = await create(h, tenant="globex")
        assert other_tenant.status_code == 403
        root = await create(h, "warden-root", roles=sorted(GRANTABLE_ROLES), tenant="globex")
        assert root.status_code == 201, root.text
        assert (await create(h, roles=["superuser"])).status_code == 422
        assert (await create(h, expiresInDays=0)).status_code == 422
        assert (await create(h, name="bad name!")).status_code == 422

    run(provider, tmp_path, scenario)


def test_tokens_are_tenant_scoped(provider: OidcProvider, tmp_path: Path) -> None:
    """An admin lists only their tenant's tokens and cannot revoke another's (404)."""

    async def scenario(h: Harness) -> None:
        theirs = (await create(h, "warden-root", tenant="globex")).json()
        ours = (await create(h)).json()
        admin = h.as_group("warden-admins")
        listed = (await h.client.get("/v1/tokens", headers=admin)).json()["tokens"]
        assert [t["id"] for t in listed] == [ours["id"]]
        revoke = await h.client.delete(f"/v1/tokens/{theirs['id']}", headers=admin)
        assert revoke.status_code == 404
        still = await h.client.get("/v1/whoami", headers=h.bearer(theirs["secret"]))
        assert still.json()["tenant"] == "globex"

    run(provider, tmp_path, scenario)
