"""``warden events tail``: follow the event stream of every session you may see."""

from __future__ import annotations

from typing import Annotated

import typer

from runner.commands.client import api_command, connect
from runner.commands.stream import drop_notice, print_until

app = typer.Typer(help="Live session events (SSE), resumable after drops.", no_args_is_help=True)

Server = Annotated[str | None, typer.Option("--server", help="Warden URL (env WARDEN_SERVER).")]
Token = Annotated[str | None, typer.Option("--token", help="API token (env WARDEN_TOKEN).")]


@app.command()
@api_command
def tail(
    session: Annotated[str | None, typer.Option(help="Only this session's events.")] = None,
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="Only these event types (repeatable).")
    ] = None,
    after: Annotated[
        int | None, typer.Option(help="Start after this event id (-1: from the beginning).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    server: Server = None,
    token: Token = None,
) -> None:
    """Print events as they happen (Ctrl-C to stop)."""
    stream = connect(server, token).events(
        session=session, types=type_, last_event_id=after, retry_seconds=1.0, on_drop=drop_notice
    )
    print_until(stream, as_json, lambda _e: False, typer.echo)
