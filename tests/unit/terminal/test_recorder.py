"""Asciicast v2 writing and reading, and raw byte streams."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from runner.errors import InvalidInputError
from runner.terminal.recorder import CastWriter, Output, Resize, open_recording


def test_round_trip_keeps_bytes_times_and_size(tmp_path: Path) -> None:
    """What the writer records, the reader yields back: bytes, times and resizes."""
    path = tmp_path / "session.cast"
    chunks = [b"\x1b[2J\x1b[Hhello", "❯ café".encode(), b"\r\n\x1b[31mred\x1b[0m"]
    with path.open("w", encoding="utf-8") as sink:
        writer = CastWriter(sink, 100, 30, env={"TERM": "xterm-256color"}, title="t")
        for i, chunk in enumerate(chunks):
            writer.output(chunk, at=i * 0.5)
        writer.resize(80, 24, at=2.0)
        writer.close()
    recording = open_recording(path)
    assert (recording.columns, recording.rows) == (100, 30)
    events = list(recording.events())
    outputs = [e for e in events if isinstance(e, Output)]
    assert b"".join(e.data for e in outputs) == b"".join(chunks)
    assert [e.time for e in outputs] == [0.0, 0.5, 1.0]
    assert events[-1] == Resize(2.0, 80, 24)
    header = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert header["version"] == 2 and header["env"] == {"TERM": "xterm-256color"}


def test_writer_joins_utf8_split_across_chunks() -> None:
    """A character split over two chunks is written once, whole, in the later event."""
    sink = io.StringIO()
    writer = CastWriter(sink, 80, 24, clock=lambda: 0.0)
    data = "✻".encode()
    writer.output(data[:1], at=0.1)
    writer.output(data[1:], at=0.2)
    writer.close()
    events = [json.loads(line) for line in sink.getvalue().splitlines()[1:]]
    assert events == [[0.2, "o", "✻"]]


def test_writer_uses_its_clock() -> None:
    """Without an explicit time, events are stamped relative to the writer's start."""
    ticks = iter([10.0, 11.25])
    sink = io.StringIO()
    writer = CastWriter(sink, 80, 24, clock=lambda: next(ticks))
    writer.output(b"x")
    assert json.loads(sink.getvalue().splitlines()[1]) == [1.25, "o", "x"]


def test_raw_stream_needs_a_size(tmp_path: Path) -> None:
    """A raw byte file is read as-is at the size given, and refused without one."""
    path = tmp_path / "raw.bin"
    path.write_bytes(b"\x1b[Hplain bytes \xe2\x9c")
    with pytest.raises(InvalidInputError):
        open_recording(path)
    recording = open_recording(path, (90, 20))
    assert (recording.columns, recording.rows) == (90, 20)
    assert b"".join(e.data for e in recording.events() if isinstance(e, Output)) == (
        path.read_bytes()
    )


@pytest.mark.parametrize(
    "content",
    [
        '{"version": 2, "width": 80, "height": 24}\n[1.0, "o"\n',
        '{"version": 2, "width": 80, "height": 24}\n[1.0, "r", "wide"]\n',
        '{"version": 2, "width": 80, "height": 24}\n{"not": "an event"}\n',
        '{"version": 2, "width": "eighty", "height": 24}\n',
    ],
)
def test_garbled_cast_is_an_input_error(tmp_path: Path, content: str) -> None:
    """A cast with a bad header or event raises InvalidInputError naming the problem."""
    path = tmp_path / "bad.cast"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInputError):
        recording = open_recording(path)
        list(recording.events())


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    """A path that does not exist is reported, not a traceback."""
    with pytest.raises(InvalidInputError, match="cannot read"):
        open_recording(tmp_path / "nope.cast")
