"""Following a Warden SSE stream from the CLI (the client resumes after drops with
Last-Event-ID), one readable line per event."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import typer

from runner.client import Event


def drop_notice(exc: Exception, last: int | None) -> None:
    """Say on stderr that the stream broke and where it resumes."""
    typer.echo(f"stream interrupted ({exc}); resuming after {last}", err=True)


def line(event: dict[str, Any]) -> str:
    """One readable line for an event."""
    data = event.get("data") or {}
    what = {
        "session.state": lambda: f"{data.get('state')} {_short(data.get('details'))}",
        "permission.asked": lambda: (
            f"{data.get('tool')}: {data.get('command') or data.get('path')}"
        ),
        "permission.decided": lambda: (
            f"{data.get('decision')} by {data.get('actor')} (rule {data.get('rule')})"
        ),
        "message": lambda: f"{data.get('role')}: {_short(data.get('text'), 120)}",
        "usage": lambda: f"{data.get('inputTokens')} in / {data.get('outputTokens')} out",
        "session.ended": lambda: f"{data.get('reason')} ({data.get('state')})",
    }.get(str(event.get("type")), lambda: "")()
    stamp = str(event.get("timestamp", ""))[11:19]
    session = str(event.get("session") or "")[:8]
    return f"{stamp} #{event.get('id')} {session} {event.get('type')} {what}".rstrip()


def _short(value: object, limit: int = 200) -> str:
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value or {}, sort_keys=True, ensure_ascii=False)  # keeps Unicode
    )
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_until(
    stream: Iterator[Event],
    as_json: bool,
    done: Callable[[Event], bool],
    echo: Callable[[str], None],
) -> None:
    for event in stream:
        echo(json.dumps(event.body, ensure_ascii=False) if as_json else line(event.body))
        if done(event):
            return
