"""The per-session host directory: seeded home, run dir, workspace copy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runner.errors import InvalidInputError
from runner.sandbox.statedir import new_session_token, prepare_session_dir


def _work_dir(tmp_path: Path) -> Path:
    work = tmp_path / "project"
    (work / "src").mkdir(parents=True)
    (work / "src" / "app.py").write_text("print('hi')\n")
    return work


def test_home_is_seeded_against_every_first_run_dialog(tmp_path: Path) -> None:
    """.claude.json pre-answers onboarding, theme, the API-key prompt and folder trust."""
    token = new_session_token()
    me = (os.geteuid(), os.getegid())
    made = prepare_session_dir(
        tmp_path / "s1", work_dir=_work_dir(tmp_path), workspace_mode="copy", token=token, owner=me
    )
    seeded = json.loads((made.home / ".claude.json").read_text())
    assert seeded["hasCompletedOnboarding"] is True
    assert seeded["theme"] == "dark"
    assert seeded["customApiKeyResponses"]["approved"] == [token[-20:]]
    assert seeded["projects"]["/workspace"]["hasTrustDialogAccepted"] is True
    assert made.socket == tmp_path / "s1" / "run" / "gateway.sock"
    assert (tmp_path / "s1").stat().st_mode & 0o077 == 0


def test_copy_mode_copies_and_leaves_the_original_alone(tmp_path: Path) -> None:
    """In copy mode the agent edits a copy; a second prepare keeps the copy's edits."""
    work = _work_dir(tmp_path)
    me = (os.geteuid(), os.getegid())
    made = prepare_session_dir(
        tmp_path / "s2", work_dir=work, workspace_mode="copy", token="t", owner=me
    )
    assert made.workspace == tmp_path / "s2" / "workspace"
    (made.workspace / "src" / "app.py").write_text("changed\n")
    assert (work / "src" / "app.py").read_text() == "print('hi')\n"
    again = prepare_session_dir(
        tmp_path / "s2", work_dir=work, workspace_mode="copy", token="t", owner=me
    )
    assert (again.workspace / "src" / "app.py").read_text() == "changed\n"


def test_bind_modes_mount_the_original(tmp_path: Path) -> None:
    """ro/rw mount the user's own directory; no copy is made."""
    work = _work_dir(tmp_path)
    made = prepare_session_dir(tmp_path / "s3", work_dir=work, workspace_mode="ro", token="t")
    assert made.workspace == work.resolve()
    assert not (tmp_path / "s3" / "workspace").exists()


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    """An unknown mode or a missing workDir is the caller's error."""
    with pytest.raises(InvalidInputError):
        prepare_session_dir(tmp_path / "x", work_dir=tmp_path, workspace_mode="rwx", token="t")
    with pytest.raises(InvalidInputError):
        prepare_session_dir(
            tmp_path / "x", work_dir=tmp_path / "nope", workspace_mode="copy", token="t"
        )


def test_tokens_are_fresh_and_opaque() -> None:
    """Each session gets its own unguessable token."""
    tokens = {new_session_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(t.startswith("wdn_") and len(t) > 40 for t in tokens)
