"""The negative suite: every bad token is refused with 401 (or 403 when valid but
unauthorised), in the API's JSON error format, and every refusal is audited."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from runner.core import utcnow
from runner.sessions.model import SessionRecord
from tests.oidc_provider import OidcProvider, new_key
from tests.unit.auth.harness import Harness, b64, b64json, claims, running_app


def run(provider: OidcProvider, tmp_path: Path, scenario: Any) -> None:
    async def main() -> None:
        async with running_app(provider, tmp_path) as h:
            await scenario(h)

    asyncio.run(main())


def assert_refused(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == ("unauthenticated" if status == 401 else "forbidden")
    assert error["details"]["reason"] == reason, error
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def assert_audited(h: Harness, kind: str, reason: str, subject: str = "anonymous") -> None:
    events = [e for e in h.events(kind) if e.data["reason"] == reason]
    assert events, h.events()
    for event in events:
        assert event.actor == subject
        assert event.data["path"] == "/v1/sessions"
        assert event.data["method"] == "GET"


async def get_sessions(h: Harness, token: str) -> httpx.Response:
    return await h.client.get("/v1/sessions", headers=h.bearer(token))


def test_valid_token_is_accepted(provider: OidcProvider, tmp_path: Path) -> None:
    """A good access token from the trusted issuer reaches the endpoint."""

    async def scenario(h: Harness) -> None:
        response = await get_sessions(h, provider.mint(claims()))
        assert response.status_code == 200, response.text
        who = await h.client.get("/v1/whoami", headers=h.as_group("warden-operators"))
        assert who.json() == {"subject": "alice", "tenant": "acme", "roles": ["operator", "viewer"]}
        assert h.events("auth.failed") == []

    run(provider, tmp_path, scenario)


def test_missing_and_malformed_credentials(provider: OidcProvider, tmp_path: Path) -> None:
    """No header, a non-Bearer scheme and garbage are each 401 and audited."""

    async def scenario(h: Harness) -> None:
        assert_refused(await h.client.get("/v1/sessions"), 401, "missing_token")
        basic = await h.client.get("/v1/sessions", headers={"Authorization": "Basic YTpi"})
        assert_refused(basic, 401, "malformed")
        assert_refused(await get_sessions(h, "not.a-jwt"), 401, "malformed")
        assert_audited(h, "auth.failed", "missing_token")
        assert len(h.events("auth.failed")) == 3

    run(provider, tmp_path, scenario)


def test_expired(provider: OidcProvider, tmp_path: Path) -> None:
    """A token past ``exp`` (beyond the 60 s leeway) is 401."""

    async def scenario(h: Harness) -> None:
        now = int(time.time())
        token = provider.mint(claims(iat=now - 7200, exp=now - 3600))
        assert_refused(await get_sessions(h, token), 401, "expired")
        # The signature held, so the audit names whose token it was, in its tenant.
        assert_audited(h, "auth.failed", "expired", subject="alice")
        assert h.events("auth.failed")[0].tenant == "acme"

    run(provider, tmp_path, scenario)


def test_within_leeway_is_accepted(provider: OidcProvider, tmp_path: Path) -> None:
    """Clock skew under the leeway is tolerated (exp 30 s ago, nbf 30 s ahead)."""

    async def scenario(h: Harness) -> None:
        now = int(time.time())
        assert (await get_sessions(h, provider.mint(claims(exp=now - 30)))).status_code == 200
        assert (await get_sessions(h, provider.mint(claims(nbf=now + 30)))).status_code == 200

    run(provider, tmp_path, scenario)


def test_missing_exp(provider: OidcProvider, tmp_path: Path) -> None:
    """``exp`` is required: a token without one is 401."""

    async def scenario(h: Harness) -> None:
        token = provider.mint(claims(exp=None))
        assert_refused(await get_sessions(h, token), 401, "malformed")

    run(provider, tmp_path, scenario)


def test_not_yet_valid(provider: OidcProvider, tmp_path: Path) -> None:
    """A token whose ``nbf`` (or ``iat``) is an hour ahead is 401."""

    async def scenario(h: Harness) -> None:
        now = int(time.time())
        assert_refused(
            await get_sessions(h, provider.mint(claims(nbf=now + 3600))), 401, "not_yet_valid"
        )
        assert_refused(
            await get_sessions(h, provider.mint(claims(iat=now + 3600))), 401, "not_yet_valid"
        )

    run(provider, tmp_path, scenario)


def test_wrong_issuer(provider: OidcProvider, tmp_path: Path) -> None:
    """Tokens from an untrusted issuer are 401, even when they claim the trusted ``iss``."""
    stranger = OidcProvider().start()
    try:

        async def scenario(h: Harness) -> None:
            own_iss = stranger.mint(claims())
            assert_refused(await get_sessions(h, own_iss), 401, "wrong_issuer")
            # Claiming our issuer does not help: its key is not in our issuer's JWKS.
            forged = stranger.mint(claims(iss=provider.issuer))
            assert_refused(await get_sessions(h, forged), 401, "unknown_kid")
            assert stranger.jwks_fetches == 0  # the token's iss never chose where to look

        run(provider, tmp_path, scenario)
    finally:
        stranger.stop()


def test_wrong_audience(provider: OidcProvider, tmp_path: Path) -> None:
    """A token for another API is 401; one listing ours among several is accepted."""

    async def scenario(h: Harness) -> None:
        other = provider.mint(claims(aud="some-other-api"))
        assert_refused(await get_sessions(h, other), 401, "wrong_audience")
        several = provider.mint(claims(aud=["some-other-api", "warden-api"]))
        assert (await get_sessions(h, several)).status_code == 200

    run(provider, tmp_path, scenario)


def test_alg_none(provider: OidcProvider, tmp_path: Path) -> None:
    """An unsigned token (``alg: none``) is 401."""

    async def scenario(h: Harness) -> None:
        body = {"iss": provider.issuer, "exp": int(time.time()) + 300, **claims("warden-admins")}
        token = f"{b64json({'alg': 'none', 'typ': 'JWT'})}.{b64json(body)}."
        assert_refused(await get_sessions(h, token), 401, "algorithm_not_allowed")

    run(provider, tmp_path, scenario)


def test_hs256_signed_with_the_rsa_public_key(provider: OidcProvider, tmp_path: Path) -> None:
    """The RS256→HS256 confusion (public key used as an HMAC secret) is 401."""

    async def scenario(h: Harness) -> None:
        key = provider.signing_key
        header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
        body = {"iss": provider.issuer, "exp": int(time.time()) + 300, **claims("warden-admins")}
        signing_input = f"{b64json(header)}.{b64json(body)}"
        secret = key.as_pem(private=False)
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{b64(signature)}"
        assert_refused(await get_sessions(h, token), 401, "algorithm_not_allowed")

    run(provider, tmp_path, scenario)


def test_unknown_kid_then_accepted_after_rotation(provider: OidcProvider, tmp_path: Path) -> None:
    """A key the IdP has not published is 401; once it rotates, the same token passes
    (after the one-minute refresh pacing)."""

    async def scenario(h: Harness) -> None:
        upcoming = new_key()
        token = provider.mint(claims(), key=upcoming)
        assert_refused(await get_sessions(h, token), 401, "unknown_kid")
        provider.rotate(key=upcoming)
        # Within the minute the keys are not refetched for an unknown kid...
        assert_refused(await get_sessions(h, token), 401, "unknown_kid")
        assert provider.jwks_fetches == 1
        h.clock.advance(61)
        # ...after it, one refetch finds the rotated key.
        assert (await get_sessions(h, token)).status_code == 200
        assert provider.jwks_fetches == 2

    run(provider, tmp_path, scenario)


def test_tampered_payload(provider: OidcProvider, tmp_path: Path) -> None:
    """Changing the claims after signing (viewer → admin) breaks the signature: 401."""

    async def scenario(h: Harness) -> None:
        header, _, signature = provider.mint(claims("warden-viewers")).split(".")
        body = {"iss": provider.issuer, "exp": int(time.time()) + 300, **claims("warden-admins")}
        token = f"{header}.{b64json(body)}.{signature}"
        assert_refused(await get_sessions(h, token), 401, "bad_signature")

    run(provider, tmp_path, scenario)


def test_id_token_used_as_access_token(provider: OidcProvider, tmp_path: Path) -> None:
    """ID tokens are refused even with our audience: by ``typ`` header, by Keycloak's
    ``typ: ID`` claim, or by being login-bound (``nonce``/``at_hash``) with no scope."""

    async def scenario(h: Harness) -> None:
        id_claims = claims(nonce="n-0S6_WzA2Mj", at_hash="77QmUPtjPfzWtF2AnpK9RQ")
        del id_claims["scope"]
        login_bound = provider.mint(id_claims, header={"typ": "JWT"})
        assert_refused(await get_sessions(h, login_bound), 401, "not_an_access_token")
        typed = provider.mint(claims(), header={"typ": "id+jwt"})
        assert_refused(await get_sessions(h, typed), 401, "not_an_access_token")
        keycloak = provider.mint(claims(typ="ID"), header={"typ": "JWT"})
        assert_refused(await get_sessions(h, keycloak), 401, "not_an_access_token")
        assert len(h.events("auth.failed")) == 3

    run(provider, tmp_path, scenario)


def test_missing_role(provider: OidcProvider, tmp_path: Path) -> None:
    """A valid token whose groups map to no role is 403, audited with the subject."""

    async def scenario(h: Harness) -> None:
        response = await h.client.get("/v1/sessions", headers=h.as_group("marketing"))
        assert_refused(response, 403, "no_role")
        assert_audited(h, "auth.denied", "no_role", subject="alice")

    run(provider, tmp_path, scenario)


def test_role_too_weak_for_the_endpoint(provider: OidcProvider, tmp_path: Path) -> None:
    """A viewer may read sessions but not create one (403 naming the role needed)."""

    async def scenario(h: Harness) -> None:
        viewer = h.as_group("warden-viewers")
        response = await h.client.post("/v1/sessions", json={"workDir": "/"}, headers=viewer)
        assert_refused(response, 403, "missing_role")
        assert "operator" in response.json()["error"]["message"]
        [event] = h.events("auth.denied")
        assert (event.actor, event.tenant, event.data["path"]) == ("alice", "acme", "/v1/sessions")

    run(provider, tmp_path, scenario)


def _session(tenant: str) -> SessionRecord:
    now = utcnow()
    return SessionRecord(
        id=str(uuid.uuid4()), tenant=tenant, owner="bob", state="exited", details={},
        work_dir="/src", workspace_mode="copy", policy="default", image="warden-sandbox:latest",
        model=None, permission_mode="default", prompt=None, env={}, container_id=None,
        created_at=now, updated_at=now, ended_at=now,
    )  # fmt: skip


def test_other_tenants_session_is_not_found(provider: OidcProvider, tmp_path: Path) -> None:
    """Another tenant's session is 404 (not 403) and absent from lists, even for that
    tenant's admin; a global admin sees both."""

    async def scenario(h: Harness) -> None:
        ours, theirs = _session("acme"), _session("globex")
        h.sessions.add(ours)
        h.sessions.add(theirs)
        for group in ("warden-viewers", "warden-admins"):
            headers = h.as_group(group)
            assert (
                await h.client.get(f"/v1/sessions/{ours.id}", headers=headers)
            ).status_code == 200
            hidden = await h.client.get(f"/v1/sessions/{theirs.id}", headers=headers)
            assert hidden.status_code == 404, hidden.text
            assert hidden.json()["error"]["message"] == f"no session {theirs.id}"
            listed = (await h.client.get("/v1/sessions", headers=headers)).json()["sessions"]
            assert [s["id"] for s in listed] == [ours.id]
        root = h.as_group("warden-root")
        listed = (await h.client.get("/v1/sessions", headers=root)).json()["sessions"]
        assert {s["id"] for s in listed} == {ours.id, theirs.id}

    run(provider, tmp_path, scenario)


def test_group_overage(provider: OidcProvider, tmp_path: Path) -> None:
    """An Entra group-overage token (``_claim_names.groups`` or ``hasgroups``) is a clear 403."""

    async def scenario(h: Harness) -> None:
        overage = claims(
            None,
            _claim_names={"groups": "src1"},
            _claim_sources={
                "src1": {"endpoint": "https://graph.microsoft.com/v1.0/me/getMemberObjects"}
            },
        )
        response = await get_sessions(h, provider.mint(overage))
        assert_refused(response, 403, "group_overage")
        assert "overage" in response.json()["error"]["message"]
        assert_refused(
            await get_sessions(h, provider.mint(claims(None, hasgroups=True))), 403, "group_overage"
        )
        assert_audited(h, "auth.denied", "group_overage", subject="alice")
        assert len(h.events("auth.denied")) == 2

    run(provider, tmp_path, scenario)


def test_missing_tenant_claim(provider: OidcProvider, tmp_path: Path) -> None:
    """With a tenant claim configured, a token without it is 403 (it could not be scoped)."""

    async def scenario(h: Harness) -> None:
        token = claims()
        del token["tenant"]
        assert_refused(await get_sessions(h, provider.mint(token)), 403, "no_tenant")

    run(provider, tmp_path, scenario)


def test_public_endpoints_need_no_token(provider: OidcProvider, tmp_path: Path) -> None:
    """Handshake stays reachable without credentials; nothing else does."""

    async def scenario(h: Harness) -> None:
        response = await h.client.post("/v1/handshake", json={"protocolVersion": 1})
        assert response.status_code == 200, response.text
        assert (await h.client.get("/v1/whoami")).status_code == 401

    run(provider, tmp_path, scenario)
