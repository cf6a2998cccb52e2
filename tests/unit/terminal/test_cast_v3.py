"""asciicast v3 (asciinema 3's default): ``warden detect`` and the replay code read it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from runner.commands.detect import app
from runner.terminal.recorder import Output, Resize, open_recording

from .casts import FIXTURES

runner = CliRunner()


def _converter() -> ModuleType:
    spec = importlib.util.spec_from_file_location("to_v3", FIXTURES / "to_v3.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TO_V3 = _converter()
SOURCES: tuple[str, ...] = TO_V3.SOURCES


@pytest.mark.parametrize("name", SOURCES)
def test_v3_fixtures_are_the_converted_v2_recordings(name: str) -> None:
    """Each committed v3 file is exactly what to_v3.py makes of its v2 recording."""
    source = (FIXTURES / name).read_text(encoding="utf-8")
    v3_path: Path = TO_V3.target(name)
    assert v3_path.read_text(encoding="utf-8") == TO_V3.convert(source, name)
    header = json.loads(v3_path.read_text(encoding="utf-8").splitlines()[0])
    assert header["version"] == 3 and set(header["term"]) >= {"cols", "rows"}


@pytest.mark.parametrize("name", SOURCES)
def test_detect_reads_v3_like_its_v2_source(name: str) -> None:
    """warden detect on the v3 file prints the state (and details) of the v2 recording."""
    expected = json.loads((FIXTURES / name).with_suffix(".json").read_text(encoding="utf-8"))
    v3 = str(TO_V3.target(name))
    plain = runner.invoke(app, [v3])
    assert plain.exit_code == 0, plain.output
    assert plain.stdout.strip() == expected["state"]
    assert plain.stdout.strip() != "unknown"
    got = json.loads(runner.invoke(app, [v3, "--json"]).stdout)
    for key, value in expected["details"].items():
        assert got["details"].get(key) == value, key


def test_v3_intervals_add_up_to_the_v2_times() -> None:
    """v3 times are intervals since the previous event; replayed, they are the v2 times."""
    name = SOURCES[0]
    v2 = list(open_recording(FIXTURES / name).events())
    v3 = list(open_recording(TO_V3.target(name)).events())
    assert [e.data for e in v3 if isinstance(e, Output)] == [
        e.data for e in v2 if isinstance(e, Output)
    ]
    assert [round(e.time, 5) for e in v3] == [round(e.time, 5) for e in v2]
    assert v3[-1].time > v3[0].time


def test_v3_comments_resizes_and_exit_events(tmp_path: Path) -> None:
    """Comment lines are skipped, "r" resizes at the summed time, "x" has no screen effect."""
    cast = tmp_path / "small.cast"
    cast.write_text(
        '{"version": 3, "term": {"cols": 80, "rows": 24}}\n'
        "# a comment\n"
        '[0.5, "o", "hello"]\n'
        '[0.25, "r", "100x30"]\n'
        "# another\n"
        '[1.0, "x", "0"]\n',
        encoding="utf-8",
    )
    recording = open_recording(cast)
    assert (recording.columns, recording.rows) == (80, 24)
    events = list(recording.events())
    assert events[0] == Output(0.5, b"hello")
    assert events[1] == Resize(0.75, 100, 30)
    assert events[2] == Output(1.75, b"")


def test_v3_header_without_a_size_exits_2(tmp_path: Path) -> None:
    """A v3 header with no term size is refused with exit 2 and a message."""
    cast = tmp_path / "nosize.cast"
    cast.write_text('{"version": 3, "term": {"type": "xterm"}}\n[0.1, "o", "x"]\n')
    result = runner.invoke(app, [str(cast)])
    assert result.exit_code == 2
    assert "no valid term.cols/term.rows" in result.output
