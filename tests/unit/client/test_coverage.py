"""Every operation of the app's OpenAPI document has a client method, and every client
method names an operation the app has: a new route without a method fails here."""

from __future__ import annotations

from pathlib import Path

from runner.app import create_app
from runner.client import AsyncWardenClient, WardenClient
from runner.client.calls import routes
from runner.settings import Settings

#: Operations the client leaves out on purpose, and why. Keep this short.
NOT_FOR_THE_CLIENT = {
    # The dashboard's browser login: redirects, sealed cookies and CSRF for a browser;
    # a program authenticates with a bearer token instead.
    ("GET", "/dashboard/auth/config"),
    ("GET", "/dashboard/auth/oidc/start"),
    ("GET", "/dashboard/auth/oidc/callback"),
    ("POST", "/dashboard/auth/token"),
    ("POST", "/dashboard/auth/logout"),
    ("GET", "/dashboard/auth/me"),
}
# Not in the OpenAPI document at all, so not listed: /mcp (an MCP client speaks it),
# the dashboard's static pages, and the terminal WebSocket (terminal_ticket gives its
# URL; a WebSocket library opens it).


def _operations(tmp_path: Path) -> set[tuple[str, str]]:
    document = create_app(Settings(data_dir=tmp_path / "data")).openapi()
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_operation_has_a_client_method(tmp_path: Path) -> None:
    """The OpenAPI operations minus the listed exclusions are exactly the client's."""
    served = _operations(tmp_path)
    covered = {(r.method, r.template) for r in routes(WardenClient).values()}
    missing = served - covered - NOT_FOR_THE_CLIENT
    assert not missing, f"routes without a client method: {sorted(missing)}"
    stale = covered - served
    assert not stale, f"client methods for routes the app does not have: {sorted(stale)}"
    assert served >= NOT_FOR_THE_CLIENT, "an exclusion names a route that is gone"


def test_both_clients_have_the_same_operations() -> None:
    """The sync and async clients share one table of operations."""
    assert routes(WardenClient) == routes(AsyncWardenClient)
    assert len(routes(WardenClient)) >= 60
