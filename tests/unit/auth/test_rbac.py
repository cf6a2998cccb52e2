"""RBAC: every route names its role, and each role can do exactly what the table says."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runner.app import create_app
from runner.settings import Settings
from tests.oidc_provider import OidcProvider
from tests.rbac_table import BODIES, PUBLIC, REQUIRED, allowed, roles, url
from tests.unit.auth.harness import running_app


def test_every_route_is_in_the_role_table(tmp_path: Path) -> None:
    """The RBAC table covers every /v1 operation the API publishes, and ``/metrics``, and
    nothing else (the dashboard's login routes authenticate themselves)."""
    spec = create_app(Settings(data_dir=tmp_path)).openapi()
    published = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if path.startswith("/v1") or path == "/metrics"
    }
    missing = published - set(REQUIRED) - PUBLIC
    assert not missing, f"add these to tests/rbac_table.py: {sorted(missing)}"
    assert set(REQUIRED) | PUBLIC == published


def test_role_matrix_over_every_endpoint(provider: OidcProvider, tmp_path: Path) -> None:
    """Each role is refused (403 missing_role) exactly where the table says, else passes."""
    groups = {role: f"warden-{role}s" for role in roles()}

    async def scenario() -> None:
        # Every role is alice: hundreds of changing requests, past the mutation limit.
        async with running_app(provider, tmp_path, mutation_burst=100_000) as h:
            for (method, path), required in REQUIRED.items():
                for role in roles():
                    response = await h.client.request(
                        method, url(path), json=BODIES.get((method, path)),
                        headers=h.as_group(groups[role]),
                    )  # fmt: skip
                    denied = response.status_code == 403 and (
                        response.json()["error"]["code"] == "forbidden"
                    )
                    assert denied != allowed(role, required), (method, path, role, response.text)
                    # Allowed calls reach the handler, which answers sensibly for a
                    # placeholder target (404, 409, 422...), never a crash.
                    assert response.status_code not in (401, 500), (path, role, response.text)

    asyncio.run(scenario())


def test_unguarded_route_is_closed_when_auth_is_on(provider: OidcProvider, tmp_path: Path) -> None:
    """A route added without a role requirement refuses even an admin (deny by default)."""

    async def scenario() -> None:
        async with running_app(provider, tmp_path) as h:
            app = h.client._transport.app  # type: ignore[attr-defined]

            @app.get("/v1/forgotten")
            async def forgotten() -> dict[str, str]:
                return {"open": "yes"}

            response = await h.client.get("/v1/forgotten", headers=h.as_group("warden-admins"))
            assert response.status_code == 403
            assert response.json()["error"]["details"]["reason"] == "route_without_role"
            assert h.events("auth.denied")[0].data["path"] == "/v1/forgotten"

    asyncio.run(scenario())
