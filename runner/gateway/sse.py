"""Incremental server-sent-events parsing: feed bytes as they arrive, get whole events out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SseEvent:
    """One event: its ``event:`` name and its ``data:`` text (lines joined by newlines)."""

    name: str
    data: str

    def json(self) -> dict[str, Any] | None:
        """``data`` as a JSON object, or None when it is not one."""
        try:
            value = json.loads(self.data)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


class SseParser:
    """Splits a byte stream into events without holding more than one partial event."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Add ``chunk``; return the events it completed."""
        self._buffer = (self._buffer + chunk).replace(b"\r\n", b"\n")
        events: list[SseEvent] = []
        while b"\n\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n\n", 1)
            event = _parse(raw.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events


def _parse(block: str) -> SseEvent | None:
    name = "message"
    data: list[str] = []
    for line in block.split("\n"):
        if line.startswith(":"):
            continue  # a comment / keep-alive
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    if not data:
        return None
    return SseEvent(name, "\n".join(data))
