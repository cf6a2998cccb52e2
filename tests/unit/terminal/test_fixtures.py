"""The classifier against screens recorded from the real Claude Code CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from runner.terminal.detector import Detector
from runner.terminal.recorder import Output, open_recording
from runner.terminal.replay import replay_file
from runner.terminal.states import State

from .casts import CASTS, cast_id

PROMPT_TARGET = {"bash": "command", "write": "path", "edit": "path", "fetch": "url"}


def expected(cast: Path) -> dict[str, Any]:
    return json.loads(cast.with_suffix(".json").read_text(encoding="utf-8"))


def test_fixtures_cover_both_sizes_and_every_screen() -> None:
    """There are fixtures at 120x40 and 80x24 for every required kind of screen."""
    names = {cast_id(cast) for cast in CASTS}
    for size in ("120x40", "80x24"):
        for screen in (
            "starting", "idle", "idle-draft", "streaming", "bash-running",
            "permission-bash-opt1", "permission-bash-opt2", "permission-write-opt1",
            "permission-edit-opt2", "asking", "interrupted", "api-retry", "exited",
        ):  # fmt: skip
            assert f"{size}-{screen}" in names


@pytest.mark.parametrize("cast", CASTS, ids=cast_id)
def test_fixture_state_and_details(cast: Path) -> None:
    """The final screen of each recording classifies to its hand-written expectation."""
    want = expected(cast)
    got = replay_file(cast).to_json()
    assert got["state"] == want["state"]
    for key, value in want["details"].items():
        assert got["details"].get(key) == value, key


@pytest.mark.parametrize("cast", CASTS, ids=cast_id)
def test_prompt_expectations_are_complete(cast: Path) -> None:
    """Every prompt expectation pins the tool, its target, the options and the selection."""
    want = expected(cast)
    details = want["details"]
    if want["state"] == State.PERMISSION_PROMPT:
        target = PROMPT_TARGET.get(details["tool"])
        assert target is None or details[target]
        assert details["options"] and details["selected"]
    if want["state"] == State.ASKING:
        assert details["question"] and details["options"] and details["selected"]


@pytest.mark.parametrize("cast", CASTS, ids=cast_id)
def test_chunking_does_not_change_the_result(cast: Path) -> None:
    """Feeding the stream in random tiny chunks (splitting UTF-8 and escapes) gives the same."""
    recording = open_recording(cast)
    data = b"".join(e.data for e in recording.events() if isinstance(e, Output))
    detector = Detector(recording.columns, recording.rows)
    rng = random.Random(cast.name)
    offset = 0
    while offset < len(data):
        step = rng.randint(1, 7)
        detector.feed(data[offset : offset + step])
        offset += step
    assert detector.state == replay_file(cast)


SIZES = ("120x40", "100x30", "80x24", "60x20")
HOSTILE = (
    "hostile-write-prompt", "hostile-write-box", "hostile-edit-diff", "hostile-bash-heredoc",
    "hostile-bash-box", "hostile-working", "hostile-idle-reply", "hostile-idle-tail",
    "hostile-asking",
)  # fmt: skip


def test_every_screen_is_recorded_at_all_four_sizes() -> None:
    """Each recorded screen, ordinary or hostile, exists at 120x40, 100x30, 80x24 and 60x20."""
    names = {cast_id(cast) for cast in CASTS}
    screens = {name.split("-", 1)[1] for name in names}
    assert set(HOSTILE) <= screens
    for screen in screens:
        assert {f"{size}-{screen}" for size in SIZES} <= names, screen


@pytest.mark.parametrize("cast", [c for c in CASTS if "-hostile-" in c.name], ids=cast_id)
def test_hostile_screen_is_read_from_its_frame(cast: Path) -> None:
    """Lookalike content changes neither the state nor the details; null: never reported."""
    want = expected(cast)
    got = replay_file(cast).to_json()
    assert got["state"] == want["state"]
    for key, value in want["details"].items():
        if value is None:  # what a lookalike would have supplied (a quoted spinner, ...)
            assert key not in got["details"], key
        else:
            assert got["details"][key] == value, key
