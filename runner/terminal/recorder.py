"""Asciicast recordings of a terminal stream: a v2 writer, readers for v2, v3 and raw bytes.

A cast is one JSON header line then one ``[time, "o", text]`` line per chunk of output
(``"r"`` lines carry resizes as ``"COLSxROWS"``). In v2 the header has ``width`` and
``height`` and times count from the start; in v3 (asciinema 3's default) the header has
``term: {cols, rows}``, each time is the interval since the previous event, and lines
starting with ``#`` are comments. Bytes are decoded as UTF-8 incrementally, so a
character split across two chunks is written whole, once.
"""

from __future__ import annotations

import codecs
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from runner.errors import InvalidInputError


@dataclass(frozen=True)
class Output:
    """Terminal output received ``time`` seconds after the recording began."""

    time: float
    data: bytes


@dataclass(frozen=True)
class Resize:
    """The terminal became ``columns`` x ``rows`` at ``time``."""

    time: float
    columns: int
    rows: int


Event = Output | Resize


@dataclass(frozen=True)
class Recording:
    """A recording's initial size and a way to replay its events (re-readable)."""

    columns: int
    rows: int
    events: Callable[[], Iterator[Event]]


class CastWriter:
    """Write an asciicast v2 file as output arrives (flushes each event)."""

    def __init__(
        self,
        sink: IO[str],
        columns: int,
        rows: int,
        *,
        env: Mapping[str, str] | None = None,
        title: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._start = clock()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        header: dict[str, Any] = {
            "version": 2,
            "width": columns,
            "height": rows,
            "timestamp": int(time.time()),
            "env": dict(env or {"TERM": "tmux-256color", "SHELL": "/bin/sh"}),
        }
        if title:
            header["title"] = title
        self._line(header)

    def output(self, data: bytes, at: float | None = None) -> None:
        """Record ``data`` (raw bytes) received at ``at`` seconds (default: now)."""
        text = self._decoder.decode(data)
        if text:
            self._line([self._elapsed(at), "o", text])

    def resize(self, columns: int, rows: int, at: float | None = None) -> None:
        """Record that the terminal became ``columns`` x ``rows``."""
        self._line([self._elapsed(at), "r", f"{columns}x{rows}"])

    def close(self) -> None:
        """Write any undecodable tail (as U+FFFD) and flush."""
        tail = self._decoder.decode(b"", final=True)
        if tail:
            self._line([self._elapsed(None), "o", tail])
        self._sink.flush()

    def _elapsed(self, at: float | None) -> float:
        return round(self._clock() - self._start if at is None else at, 6)

    def _line(self, value: object) -> None:
        self._sink.write(json.dumps(value, ensure_ascii=False) + "\n")
        self._sink.flush()


def open_recording(path: Path, size: tuple[int, int] | None = None) -> Recording:
    """Open an asciicast v2 or v3 file, or raw bytes played at ``size`` (columns, rows).

    Raises:
        InvalidInputError: the file is missing or unreadable, a cast is malformed, or a
            raw stream comes without a size.
    """
    try:
        with path.open("rb") as handle:
            first = handle.readline(65536)
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    header = _cast_header(first)
    if header is not None:
        columns, rows = _header_size(path, header)
        relative = header["version"] == 3
        return Recording(columns, rows, lambda: _cast_events(path, relative=relative))
    if size is None:
        raise InvalidInputError(
            f"{path} is not an asciicast v2 or v3 file; give the size of its raw stream"
        )
    return Recording(size[0], size[1], lambda: _raw_events(path))


def _cast_header(first: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(first)
    except ValueError:
        return None
    return value if isinstance(value, dict) and value.get("version") in (2, 3) else None


def _header_size(path: Path, header: Mapping[str, Any]) -> tuple[int, int]:
    if header["version"] == 3:
        term = header.get("term")
        columns, rows = (term.get("cols"), term.get("rows")) if isinstance(term, dict) else (0, 0)
    else:
        columns, rows = header.get("width"), header.get("height")
    if not (isinstance(columns, int) and isinstance(rows, int) and columns > 0 and rows > 0):
        size = "term.cols/term.rows" if header["version"] == 3 else "width/height"
        raise InvalidInputError(f"{path}: the asciicast header has no valid {size}")
    return columns, rows


def _cast_events(path: Path, *, relative: bool = False) -> Iterator[Event]:
    """The events in order; with ``relative`` (v3) each time adds to the one before."""
    elapsed = 0.0
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        handle.readline()
        for number, line in enumerate(handle, start=2):
            if not line.strip() or (relative and line.startswith("#")):
                continue
            event = _cast_event(path, number, line, elapsed if relative else 0.0)
            elapsed = event.time
            yield event


def _cast_event(path: Path, number: int, line: str, offset: float) -> Event:
    try:
        at, kind, data = json.loads(line)
        at = offset + float(at)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"{path}:{number}: not an asciicast event") from exc
    if kind == "r":
        columns, _, rows = str(data).partition("x")
        try:
            return Resize(at, int(columns), int(rows))
        except ValueError as exc:
            raise InvalidInputError(f"{path}:{number}: bad resize {data!r}") from exc
    if not isinstance(data, str):
        raise InvalidInputError(f"{path}:{number}: event data must be a string")
    # Input ("i"), marker ("m") and exit ("x", v3) events do not reach the screen.
    return Output(at, data.encode("utf-8") if kind == "o" else b"")


def _raw_events(path: Path, chunk: int = 4096) -> Iterator[Event]:
    try:
        with path.open("rb") as handle:
            offset = 0
            while block := handle.read(chunk):
                yield Output(float(offset), block)  # raw streams carry no timing
                offset += 1
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
