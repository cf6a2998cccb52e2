"""Session ids on the command line: a full id, or any prefix that names one session."""

from __future__ import annotations

import re

import typer

from runner.client import WardenClient

_FULL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def resolve_session(client: WardenClient, ref: str) -> str:
    """The full id of the session ``ref`` names (itself, or the one id it starts).

    Exits 1 with a message when no session, or more than one, matches.
    """
    if _FULL_ID.fullmatch(ref):
        return ref
    ids = [s.id for s in client.list_sessions().sessions]
    matches = [sid for sid in ids if sid.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        typer.echo(f"error 404: not_found: no session id starts with {ref!r}", err=True)
    else:
        shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        typer.echo(
            f"error: {ref!r} matches {len(matches)} sessions ({shown}); give more of the id",
            err=True,
        )
    raise typer.Exit(1)
