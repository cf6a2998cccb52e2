"""``warden detect``: replay a recording and print its final state."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from runner.commands.detect import app
from runner.terminal.recorder import Output, open_recording

from .casts import FIXTURES

runner = CliRunner()
BASH_PROMPT = FIXTURES / "claude-2.1.330-120x40-permission-bash-opt1.cast"
EDIT_PROMPT_80 = FIXTURES / "claude-2.1.330-80x24-permission-edit-opt2.cast"


def test_cast_prints_the_state_name() -> None:
    """A cast replays at its header's size and prints just the state."""
    result = runner.invoke(app, [str(BASH_PROMPT)])
    assert result.exit_code == 0
    assert result.stdout.strip() == "permission_prompt"


def test_json_has_state_and_prompt_details() -> None:
    """--json prints one object with the tool, command, options and selection."""
    result = runner.invoke(app, [str(BASH_PROMPT), "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["state"] == "permission_prompt"
    details = payload["details"]
    assert details["tool"] == "bash"
    assert details["command"] == "ls -la /tmp"
    assert [o["number"] for o in details["options"]] == [1, 2, 3, 4]
    assert details["selected"] == 1


def test_raw_stream_with_size(tmp_path: Path) -> None:
    """Raw bytes replay at --size; an 80x24 edit prompt read raw gives its path."""
    raw = tmp_path / "stream.bin"
    recording = open_recording(EDIT_PROMPT_80)
    raw.write_bytes(b"".join(e.data for e in recording.events() if isinstance(e, Output)))
    result = runner.invoke(app, [str(raw), "--size", "80x24", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["state"] == "permission_prompt"
    assert payload["details"]["path"] == "app.py"
    assert payload["details"]["selected"] == 2


def test_raw_stream_defaults_to_120x40(tmp_path: Path) -> None:
    """Without --size a raw stream plays at 120x40."""
    raw = tmp_path / "stream.bin"
    recording = open_recording(BASH_PROMPT)
    raw.write_bytes(b"".join(e.data for e in recording.events() if isinstance(e, Output)))
    result = runner.invoke(app, [str(raw)])
    assert result.exit_code == 0
    assert result.stdout.strip() == "permission_prompt"


def test_missing_file_exits_2_with_a_message(tmp_path: Path) -> None:
    """A missing file is exit code 2 and a message, never a traceback."""
    result = runner.invoke(app, [str(tmp_path / "nope.cast")])
    assert result.exit_code == 2
    assert "cannot read" in result.output
    assert "Traceback" not in result.output


def test_garbled_cast_exits_2(tmp_path: Path) -> None:
    """A cast with a broken event line is exit code 2 naming the line."""
    bad = tmp_path / "bad.cast"
    bad.write_text('{"version": 2, "width": 80, "height": 24}\n[0.1, "o", \n', encoding="utf-8")
    result = runner.invoke(app, [str(bad)])
    assert result.exit_code == 2
    assert "bad.cast:2" in result.output


def test_bad_size_exits_2(tmp_path: Path) -> None:
    """--size that is not COLSxROWS is refused with exit code 2."""
    raw = tmp_path / "stream.bin"
    raw.write_bytes(b"hello")
    result = runner.invoke(app, [str(raw), "--size", "wide"])
    assert result.exit_code == 2
    assert "--size" in result.output
