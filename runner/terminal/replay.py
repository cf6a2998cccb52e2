"""Replay a recording (asciicast v2 or raw bytes) into a detector: the state it ends in."""

from __future__ import annotations

from pathlib import Path

from runner.terminal.detector import Detector
from runner.terminal.recorder import Output, Recording, open_recording
from runner.terminal.states import ScreenState


def replay(recording: Recording) -> Detector:
    """Feed every event of ``recording`` to a fresh detector and return it.

    Raises:
        InvalidInputError: the recording is malformed part-way through.
    """
    detector = Detector(recording.columns, recording.rows)
    for event in recording.events():
        if isinstance(event, Output):
            detector.feed(event.data)
        else:
            detector.resize(event.columns, event.rows)
    return detector


def replay_file(path: Path, size: tuple[int, int] | None = None) -> ScreenState:
    """The final state of the recording at ``path`` (raw streams need ``size``).

    Raises:
        InvalidInputError: the file is missing, unreadable or malformed.
    """
    return replay(open_recording(path, size)).state


def replay_pane(path: Path, size: tuple[int, int] | None = None) -> str:
    """The final screen text of the recording at ``path``, trailing blank rows trimmed.

    Raises:
        InvalidInputError: the file is missing, unreadable or malformed.
    """
    return replay(open_recording(path, size)).screen.text().rstrip("\n")
