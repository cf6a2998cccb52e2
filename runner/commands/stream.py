"""Following a Warden SSE stream from the CLI, resuming after drops with Last-Event-ID."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import typer
from httpx_sse import SSEError, connect_sse

from runner.commands.client import ApiClient


def events(
    client: ApiClient,
    path: str,
    params: dict[str, Any],
    *,
    retry_seconds: float = 1.0,
    after: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Each event of the stream, forever; a dropped connection is resumed where it broke."""
    last = after
    while True:
        headers = {"Last-Event-ID": str(last)} if last is not None else {}
        try:
            with connect_sse(
                client.http, "GET", path, params=params, headers=headers, timeout=None
            ) as source:
                if source.response.status_code >= 400:
                    source.response.read()
                    client.fail(source.response)
                for sse in source.iter_sse():
                    if not sse.data:
                        continue  # a keep-alive comment (httpx-sse reports it as an event)
                    event: dict[str, Any] = json.loads(sse.data)
                    last = int(sse.id) if sse.id else last
                    yield event
        except (httpx.TransportError, SSEError) as exc:
            typer.echo(f"stream interrupted ({exc}); resuming after {last}", err=True)
        time.sleep(retry_seconds)


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
    stream: Iterator[dict[str, Any]],
    as_json: bool,
    done: Callable[[dict[str, Any]], bool],
    echo: Callable[[str], None],
) -> None:
    for event in stream:
        echo(json.dumps(event, ensure_ascii=False) if as_json else line(event))
        if done(event):
            return
