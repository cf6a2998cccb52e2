"""``warden serve``: the REST API, saying where it listens, with what, and each request."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Annotated

import typer
import uvicorn

from runner import __version__
from runner.access_log import AccessLog
from runner.app import create_app
from runner.auth.config import is_loopback
from runner.services.upstream import SCRIPTED
from runner.settings import Settings
from runner.store.controller_lock import ControllerLockedError, claim_controller
from runner.telemetry import logs

app = typer.Typer()
log = logging.getLogger("runner.serve")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 9100).")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error.")] = "info",
    quiet: Annotated[bool, typer.Option("--quiet", help="No access log line per request.")] = False,
) -> None:
    """Serve the Warden API (data under WARDEN_DATA_DIR, SQLite unless WARDEN_DATABASE_URL)."""
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    logs.configure(log_level, settings.log_format)
    # uvicorn's own loggers are shared by every session's gateway server in this
    # process: keep them to warnings; the lines below and the access log say the rest.
    logging.getLogger("uvicorn").setLevel(max(logging.WARNING, logging.root.level))
    if quiet:
        logging.getLogger("runner.access").setLevel(logging.WARNING)
    _check_binding(settings)
    log.info("Warden %s: data dir %s, database %s", __version__, settings.data_dir,
             settings.resolved_database_url.split("@")[-1])  # fmt: skip
    _log_upstream(settings)
    try:
        # Held until this process exits: a second controller on one SQLite file would
        # drive the same sessions and interleave the audit chain.
        lock = claim_controller(settings.resolved_database_url)
    except ControllerLockedError as exc:
        typer.echo(f"refusing to start: {exc.message}", err=True)
        raise typer.Exit(2) from None
    api = create_app(settings)
    config = uvicorn.Config(
        AccessLog(api), host=settings.host, port=settings.port,
        log_config=None, access_log=False, lifespan="on",
        # Room above our own header cap, so runner.api.body_limit answers with a clear 431.
        h11_max_incomplete_event_size=settings.max_header_bytes + 4096,
    )  # fmt: skip
    try:
        _Server(config, before_shutdown=api.state.mcp.drain).run()
    finally:
        if lock is not None:
            lock.release()


def _check_binding(settings: Settings) -> None:
    """Say the auth mode; refuse a non-loopback bind without authentication."""
    if settings.auth_enforced:
        issuers = ", ".join(i.issuer for i in settings.auth_issuers) or "none (API tokens only)"
        log.info("auth: enforced; trusted OIDC issuers: %s", issuers)
        return
    if not is_loopback(settings.host):
        # No authentication: anyone who can reach the port could drive the agents, so
        # only this machine may reach it.
        typer.echo(
            f"refusing to bind {settings.host}: no authentication is configured, so Warden only"
            " listens on loopback (127.0.0.1); configure auth_issuers or auth_enabled"
            " (docs/auth.md) to serve other hosts",
            err=True,
        )
        raise typer.Exit(2)
    log.warning("auth: not configured; serving unauthenticated on loopback only")


def _log_upstream(settings: Settings) -> None:
    if settings.model_upstream == SCRIPTED:
        log.info("model upstream: the scripted model, in-process (offline; no key)")
        return
    source = (
        "WARDEN_UPSTREAM_API_KEY" if settings.upstream_api_key is not None
        else f"key file {settings.upstream_api_key_file}" if settings.upstream_api_key_file
        else None
    )  # fmt: skip
    if source is None:
        log.warning("model upstream: %s with NO key: model calls will be refused; set "
                    "WARDEN_UPSTREAM_API_KEY", settings.model_upstream)  # fmt: skip
    else:
        log.info("model upstream: %s (key from %s)", settings.model_upstream, source)


class _Server(uvicorn.Server):
    """uvicorn's server, saying once it listens (services built, socket bound)."""

    def __init__(self, config: uvicorn.Config, *, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        for listener in self.servers:
            for sock in listener.sockets:
                host, port = sock.getsockname()[:2]
                log.info("ready: listening on http://%s:%s (API /v1, OpenAPI /openapi.json)",
                         host, port)  # fmt: skip

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        log.info("shutting down: sessions keep running and are re-adopted at the next start")
        # uvicorn waits for every open response to end, and an MCP listen stream never
        # ends by itself: end those first (SSE streams end on uvicorn's exit flag).
        self._before_shutdown()
        await super().shutdown(sockets=sockets)
