"""The terminal screen: incremental bytes, UTF-8 across chunks, resize, change tracking."""

from __future__ import annotations

from pathlib import Path

import pyte
import pytest

from runner.errors import InvalidInputError
from runner.terminal.recorder import open_recording
from runner.terminal.screen import TerminalScreen

from .casts import CASTS, cast_id


def test_utf8_split_across_chunks_is_drawn_once() -> None:
    """A multi-byte character cut between two chunks appears whole, not as U+FFFD."""
    screen = TerminalScreen(20, 3)
    data = "❯ café ✻".encode()
    for byte in data:
        screen.feed(bytes([byte]))
    assert screen.lines()[0] == "❯ café ✻"


def test_escape_sequence_split_across_chunks() -> None:
    """A cursor move cut in the middle still moves the cursor once the rest arrives."""
    screen = TerminalScreen(20, 5)
    screen.feed(b"\x1b[3")
    screen.feed(b";5Hx")
    assert screen.lines()[2] == "    x"
    assert screen.cursor == (5, 2)


def test_colours_are_ignored_but_text_kept() -> None:
    """SGR sequences, even cut between chunks, leave only the text."""
    screen = TerminalScreen(20, 2)
    screen.feed(b"\x1b[38;5;2")
    screen.feed(b"46mgreen\x1b[0m plain")
    assert screen.lines()[0] == "green plain"


def test_wide_characters_take_two_cells() -> None:
    """A double-width character occupies two cells and the cursor moves by two."""
    screen = TerminalScreen(10, 2)
    screen.feed("界x".encode())
    assert screen.lines()[0] == "界x"
    assert screen.cursor == (3, 0)


def test_version_counts_only_real_changes() -> None:
    """Redrawing identical text does not bump the version; new text does."""
    screen = TerminalScreen(20, 3)
    assert screen.feed(b"hello")
    version = screen.version
    assert not screen.feed(b"\rhello")
    assert screen.version == version
    assert screen.feed(b"\r\nworld")
    assert screen.version == version + 1


def test_resize_keeps_text_and_changes_size() -> None:
    """Resizing clips rows at the top and columns at the right, as pyte, and bumps the version."""
    screen = TerminalScreen(20, 5)
    screen.feed(b"first line here\r\nsecond\r\nthird row, long\r\nfourth\r\nfifth")
    version = screen.version
    screen.resize(10, 3)
    assert (screen.columns, screen.rows) == (10, 3)
    assert screen.lines() == ("third row,", "fourth", "fifth")
    assert screen.version > version
    screen.resize(30, 6)
    assert len(screen.lines()) == 6


def test_size_out_of_range_is_refused() -> None:
    """A nonsensical terminal size is an input error."""
    with pytest.raises(InvalidInputError):
        TerminalScreen(0, 40)


@pytest.mark.parametrize("cast", CASTS, ids=cast_id)
def test_same_screen_as_plain_pyte(cast: Path) -> None:
    """After every event of every real recording, text and cursor equal plain pyte's."""
    recording = open_recording(cast)
    ours = TerminalScreen(recording.columns, recording.rows)
    reference = pyte.Screen(recording.columns, recording.rows)
    stream = pyte.ByteStream(reference)
    for event in recording.events():
        data = getattr(event, "data", b"")
        ours.feed(data)
        stream.feed(data)
        assert ours.lines() == tuple(line.rstrip() for line in reference.display)
        assert ours.cursor == (reference.cursor.x, reference.cursor.y)
