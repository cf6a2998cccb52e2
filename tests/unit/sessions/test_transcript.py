"""The transcript reader: partial lines, turn parsing, stable cursor paging."""

from __future__ import annotations

import json
from pathlib import Path

from runner.sessions.transcript import TranscriptReader, transcript_path


def _line(entry: dict[str, object]) -> bytes:
    return json.dumps(entry).encode() + b"\n"


def _user(text: str) -> dict[str, object]:
    return {"type": "user", "message": {"role": "user", "content": text}, "uuid": text}


def _assistant(text: str) -> dict[str, object]:
    return {
        "type": "assistant",
        "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
    }


def test_path_follows_claude_code_layout(tmp_path: Path) -> None:
    """The transcript lives under .claude/projects/<cwd with / as ->/<uuid>.jsonl."""
    path = transcript_path(tmp_path, "/workspace", "abc")
    assert path == tmp_path / ".claude" / "projects" / "-workspace" / "abc.jsonl"


def test_partial_line_is_kept_until_complete(tmp_path: Path) -> None:
    """A half-written last line is not parsed until its newline arrives."""
    path = tmp_path / "t.jsonl"
    whole = _line(_user("hello"))
    path.write_bytes(_line(_user("first")) + whole[:10])
    reader = TranscriptReader(path)
    assert [t.text for t in reader.turns()] == ["first"]
    with path.open("ab") as fh:
        fh.write(whole[10:])
    assert [t.text for t in reader.turns()] == ["first", "hello"]


def test_bookkeeping_and_corrupt_lines_are_skipped_but_ids_stay_line_numbers(
    tmp_path: Path,
) -> None:
    """Non-turn lines are skipped; a turn's id is its line number, so ids are stable."""
    path = tmp_path / "t.jsonl"
    path.write_bytes(
        _line({"type": "permission-mode", "mode": "default"})
        + b"{not json\n"
        + _line(_user("q"))
        + _line(_assistant("a"))
    )
    turns = TranscriptReader(path).turns()
    assert [(t.id, t.role, t.text) for t in turns] == [(3, "user", "q"), (4, "assistant", "a")]


def test_tool_use_and_result_blocks_are_parsed(tmp_path: Path) -> None:
    """tool_use and tool_result blocks come out as structured lists."""
    path = tmp_path / "t.jsonl"
    use = {"type": "tool_use", "id": "tu1", "name": "Bash", "input": {"command": "ls"}}
    result = {
        "type": "tool_result",
        "tool_use_id": "tu1",
        "content": [{"type": "text", "text": "a.txt"}],
    }
    path.write_bytes(
        _line({"type": "assistant", "message": {"role": "assistant", "content": [use]}})
        + _line({"type": "user", "message": {"role": "user", "content": [result]}})
    )
    first, second = TranscriptReader(path).turns()
    assert first.tool_uses == [{"id": "tu1", "name": "Bash", "input": {"command": "ls"}}]
    assert second.tool_results == [{"toolUseId": "tu1", "content": "a.txt"}]


def test_cursor_pages_cover_everything_once_in_order(tmp_path: Path) -> None:
    """Paging back with next_before_id visits every turn exactly once."""
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(_line(_user(f"m{i}")) for i in range(23)))
    reader = TranscriptReader(path)
    seen: list[int] = []
    before = None
    while True:
        page = reader.page(before_id=before, limit=5)
        assert [t.id for t in page.turns] == sorted(t.id for t in page.turns)
        seen = [t.id for t in page.turns] + seen
        if page.next_before_id is None:
            break
        before = page.next_before_id
    assert seen == list(range(1, 24))


def test_cursor_filters_by_role(tmp_path: Path) -> None:
    """role= keeps only that role's turns."""
    path = tmp_path / "t.jsonl"
    path.write_bytes(_line(_user("u1")) + _line(_assistant("a1")) + _line(_user("u2")))
    page = TranscriptReader(path).page(before_id=None, limit=10, role="user")
    assert [t.text for t in page.turns] == ["u1", "u2"]
    assert page.next_before_id is None


def test_missing_file_reads_as_empty(tmp_path: Path) -> None:
    """Before Claude writes the transcript, it reads as no turns."""
    assert TranscriptReader(tmp_path / "nope.jsonl").turns() == []
