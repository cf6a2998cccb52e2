"""``warden tokens …``: API tokens for CI and service accounts (admins only)."""

from __future__ import annotations

import asyncio
import getpass
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from runner.auth.roles import ADMIN, GLOBAL_ADMIN, effective_roles
from runner.auth.tokens import ApiToken, ApiTokens
from runner.commands.client import api_command, connect
from runner.commands.output import stamp
from runner.core import Actor
from runner.events.bus import EventBus
from runner.events.ledger import LedgerAppender, open_ledger
from runner.events.sink import EventRecorder
from runner.settings import Settings
from runner.store.database import create_database_engine, migrate
from runner.store.tokens import SqlTokenStore

app = typer.Typer(
    help="Create, list and revoke API tokens on a Warden server.", no_args_is_help=True
)
console = Console()

Server = Annotated[str | None, typer.Option("--server", help="Warden URL (env WARDEN_SERVER).")]
Token = Annotated[str | None, typer.Option("--token", help="API token (env WARDEN_TOKEN).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
@api_command
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
    client = connect(server, token)
    created = client.create_token(name, role, expires_in_days=expires_in_days, tenant=tenant)
    if as_json:
        typer.echo(json.dumps(created.model_dump(mode="json", by_alias=True), indent=2))
        return
    console.print(
        f"token [bold]{created.id}[/bold] ({created.name}) roles"
        f" {', '.join(created.roles)}, tenant {created.tenant},"
        f" expires {stamp(created.expires_at)}"
    )
    console.print("secret (store it now, it is not shown again):", style="yellow")
    typer.echo(created.secret)


@app.command("list")
@api_command
def list_(server: Server = None, token: Token = None, as_json: AsJson = False) -> None:
    """List the tenant's tokens (never their secrets)."""
    tokens = connect(server, token).list_tokens().tokens
    if as_json:
        typer.echo(json.dumps([t.model_dump(mode="json", by_alias=True) for t in tokens], indent=2))
        return
    table = Table("name", "roles", "tenant", "expires", "last used", "revoked")
    table.add_column("id", no_wrap=True)
    for t in tokens:
        table.add_row(
            t.name,
            ",".join(t.roles),
            t.tenant,
            stamp(t.expires_at),
            stamp(t.last_used_at),
            stamp(t.revoked_at),
            t.id,
        )
    console.print(table)


@app.command()
@api_command
def revoke(token_id: str, server: Server = None, token: Token = None) -> None:
    """Revoke a token now: its next request is refused."""
    revoked = connect(server, token).revoke_token(token_id)
    console.print(f"revoked {revoked.id} ({revoked.name}) at {stamp(revoked.revoked_at)}")


@app.command()
def bootstrap(
    name: Annotated[str, typer.Option(help="Token name.")] = "bootstrap-admin",
    tenant: Annotated[str, typer.Option(help="The tenant the admin token is for.")] = "default",
    expires_in_days: Annotated[int, typer.Option(help="Lifetime in days (1-366).")] = 1,
    global_admin: Annotated[
        bool, typer.Option("--global-admin", help="Admin of every tenant.")
    ] = False,
) -> None:
    """Create the first admin token directly in the database (controller host only).

    For API-token-only deployments (``auth_enabled`` with no issuer), where no admin can
    log in yet. Whoever can run this already holds the database; it is audited all the
    same. Run it while the server is stopped.
    """
    role = GLOBAL_ADMIN if global_admin else ADMIN
    token, secret = asyncio.run(_bootstrap(Settings(), name, tenant, expires_in_days, role))
    console.print(f"token {token.id} ({token.name}) role {role}, tenant {token.tenant}")
    console.print("secret (store it now, it is not shown again):", style="yellow")
    typer.echo(secret)


async def _bootstrap(
    settings: Settings, name: str, tenant: str, days: int, role: str
) -> tuple[ApiToken, str]:
    engine = create_database_engine(settings.resolved_database_url)
    ledger = None
    try:
        await asyncio.to_thread(migrate, engine)
        ledger = open_ledger(settings.resolved_database_url, settings.data_dir / "keys")
        recorder = EventRecorder(EventBus(), LedgerAppender(ledger))
        actor = Actor(f"bootstrap:{getpass.getuser()}", tenant, effective_roles([role]))
        tokens = ApiTokens(SqlTokenStore(engine), recorder)
        return await tokens.create(actor, name=name, roles=[role], expires_in_days=days)
    finally:
        if ledger is not None:
            ledger.close()
        engine.dispose()
