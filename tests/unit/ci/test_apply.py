"""``--apply``: a run's patch goes back into the working directory only if nothing moved."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner.ci.apply import apply_patch, fingerprint
from runner.errors import ConflictError
from runner.sessions.artifacts import workspace_patch


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    """An original directory and the agent's edited copy of it."""
    original = tmp_path / "repo"
    (original / "src").mkdir(parents=True)
    (original / "src" / "app.py").write_text("x = 1\n")
    (original / "old.txt").write_text("bye\n")
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    (copy / "src" / "app.py").write_text("x = 2\n")
    (copy / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (copy / "old.txt").unlink()
    return original, copy


def test_patch_applies_when_the_directory_is_unchanged(dirs: tuple[Path, Path]) -> None:
    """Edits, new and deleted files land exactly as the agent left them."""
    original, copy = dirs
    before = fingerprint(original)
    assert apply_patch(original, workspace_patch(original, copy), before) == 3
    assert (original / "src" / "app.py").read_text() == "x = 2\n"
    assert (original / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert not (original / "old.txt").exists()
    assert fingerprint(original) == fingerprint(copy)


def test_refuses_when_the_directory_changed_meanwhile(dirs: tuple[Path, Path]) -> None:
    """A file changed during the run: nothing is applied, the change is kept."""
    original, copy = dirs
    before = fingerprint(original)
    patch = workspace_patch(original, copy)
    (original / "README.md").write_text("written by another step\n")
    with pytest.raises(ConflictError, match="changed while the agent worked"):
        apply_patch(original, patch, before)
    assert (original / "src" / "app.py").read_text() == "x = 1\n"


def test_refuses_a_patch_that_does_not_fit(dirs: tuple[Path, Path]) -> None:
    """git apply --check refuses hunks whose context is not there; nothing changes."""
    original, copy = dirs
    patch = workspace_patch(original, copy).replace("-x = 1", "-x = 7")
    with pytest.raises(ConflictError, match="does not apply"):
        apply_patch(original, patch, fingerprint(original))
    assert (original / "src" / "app.py").read_text() == "x = 1\n"
    assert not (original / "calc.py").exists()


def test_inside_a_git_repository_paths_stay_relative_to_the_workdir(
    dirs: tuple[Path, Path],
) -> None:
    """A workdir below a repository root gets the patch at its own paths, not the root's."""
    original, copy = dirs
    (original.parent / ".git").mkdir()  # an enclosing "repository" git must not use
    assert apply_patch(original, workspace_patch(original, copy), fingerprint(original)) == 3
    assert (original / "calc.py").is_file()
    assert not (original.parent / "calc.py").exists()


def test_fingerprint_ignores_vcs_internals(tmp_path: Path) -> None:
    """.git and caches are not in the patch, so they do not count as changes either."""
    (tmp_path / "a.py").write_text("1\n")
    before = fingerprint(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "index").write_text("x")
    assert fingerprint(tmp_path) == before
    (tmp_path / "a.py").write_text("2\n")
    assert fingerprint(tmp_path) != before
