"""``warden serve``: the REST API."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn

from runner.app import create_app
from runner.auth.config import is_loopback
from runner.settings import Settings

app = typer.Typer()
log = logging.getLogger("runner.serve")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 9100).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
) -> None:
    """Serve the Warden API (data under WARDEN_DATA_DIR, SQLite unless WARDEN_DATABASE_URL)."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.auth_enforced:
        issuers = ", ".join(i.issuer for i in settings.auth_issuers) or "none (API tokens only)"
        log.info("authentication enforced; trusted issuers: %s", issuers)
    elif not is_loopback(settings.host):
        # No authentication: anyone who can reach the port could drive the agents, so
        # only this machine may reach it.
        typer.echo(
            f"refusing to bind {settings.host}: no authentication is configured, so Warden only"
            " listens on loopback (127.0.0.1); configure auth_issuers or auth_enabled"
            " (docs/auth.md) to serve other hosts",
            err=True,
        )
        raise typer.Exit(2)
    else:
        log.warning("authentication is not configured: serving unauthenticated on loopback only")
    log.info(
        "data dir %s, database %s", settings.data_dir, settings.resolved_database_url.split("@")[-1]
    )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=log_level)
