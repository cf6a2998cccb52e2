"""``warden tokens …``: API tokens for CI and service accounts (admins only)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from runner.commands.client import ApiClient

app = typer.Typer(
    help="Create, list and revoke API tokens on a Warden server.", no_args_is_help=True
)
console = Console()

Server = Annotated[str | None, typer.Option("--server", help="Warden URL (env WARDEN_SERVER).")]
Token = Annotated[str | None, typer.Option("--token", help="API token (env WARDEN_TOKEN).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. ci-deploy.")],
    role: Annotated[
        list[str], typer.Option("--role", "-r", help="A role to grant (repeat for more).")
    ],
    expires_in_days: Annotated[int, typer.Option(help="Lifetime in days (1-366).")] = 30,
    tenant: Annotated[str | None, typer.Option(help="Default: your own tenant.")] = None,
    server: Server = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Create a token and print its secret (shown this once; only a hash is kept)."""
    body = {"name": name, "roles": role, "expiresInDays": expires_in_days, "tenant": tenant}
    created = ApiClient(server, token).call("POST", "/v1/tokens", json=body)
    if as_json:
        typer.echo(json.dumps(created, indent=2))
        return
    console.print(
        f"token [bold]{created['id']}[/bold] ({created['name']}) roles"
        f" {', '.join(created['roles'])}, tenant {created['tenant']},"
        f" expires {created['expiresAt']}"
    )
    console.print("secret (store it now, it is not shown again):", style="yellow")
    typer.echo(created["secret"])


@app.command("list")
def list_(server: Server = None, token: Token = None, as_json: AsJson = False) -> None:
    """List the tenant's tokens (never their secrets)."""
    tokens = ApiClient(server, token).call("GET", "/v1/tokens")["tokens"]
    if as_json:
        typer.echo(json.dumps(tokens, indent=2))
        return
    table = Table("name", "roles", "tenant", "expires", "last used", "revoked")
    table.add_column("id", no_wrap=True)
    for t in tokens:
        table.add_row(
            t["name"],
            ",".join(t["roles"]),
            t["tenant"],
            t["expiresAt"],
            t["lastUsedAt"] or "-",
            t["revokedAt"] or "-",
            t["id"],
        )
    console.print(table)


@app.command()
def revoke(token_id: str, server: Server = None, token: Token = None) -> None:
    """Revoke a token now: its next request is refused."""
    revoked = ApiClient(server, token).call("DELETE", f"/v1/tokens/{token_id}")
    console.print(f"revoked {revoked['id']} ({revoked['name']}) at {revoked['revokedAt']}")
