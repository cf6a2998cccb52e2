"""``--apply``: a run's patch goes back into the working directory only if nothing moved."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner.ci.apply import apply_patch, snapshot
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
    before = snapshot(original)
    assert apply_patch(original, workspace_patch(original, copy), before) == 3
    assert (original / "src" / "app.py").read_text() == "x = 2\n"
    assert (original / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert not (original / "old.txt").exists()
    assert snapshot(original) == snapshot(copy)


def test_refuses_when_the_directory_changed_meanwhile(dirs: tuple[Path, Path]) -> None:
    """A file changed during the run: nothing is applied, the change is kept."""
    original, copy = dirs
    before = snapshot(original)
    patch = workspace_patch(original, copy)
    (original / "README.md").write_text("written by another step\n")
    with pytest.raises(ConflictError) as refused:
        apply_patch(original, patch, before)
    assert refused.value.message == (
        f"{original} changed while the agent worked (added: README.md);"
        " not applying its patch over it"
    )
    assert (original / "src" / "app.py").read_text() == "x = 1\n"


def test_the_runs_own_out_dir_inside_the_workdir_does_not_count(dirs: tuple[Path, Path]) -> None:
    """--out inside --workdir is written by the run: the patch still applies; others count."""
    original, copy = dirs
    out = original / "warden-out"
    before = snapshot(original, [out])
    patch = workspace_patch(original, copy)
    out.mkdir()
    (out / "summary.md").write_text("# Warden run: done (exit 0)\n")
    assert apply_patch(original, patch, before, ignore=[out]) == 3
    assert (original / "calc.py").is_file()
    before = snapshot(original, [out])
    (original / "calc.py").write_text("changed by someone\n")
    (original / "old.txt").write_text("back\n")
    with pytest.raises(ConflictError, match=r"\(modified: calc.py; added: old.txt\)"):
        apply_patch(original, patch, before, ignore=[out])


def test_refuses_a_patch_that_does_not_fit(dirs: tuple[Path, Path]) -> None:
    """git apply --check refuses hunks whose context is not there; nothing changes."""
    original, copy = dirs
    patch = workspace_patch(original, copy).replace("-x = 1", "-x = 7")
    with pytest.raises(ConflictError, match="does not apply"):
        apply_patch(original, patch, snapshot(original))
    assert (original / "src" / "app.py").read_text() == "x = 1\n"
    assert not (original / "calc.py").exists()


def test_inside_a_git_repository_paths_stay_relative_to_the_workdir(
    dirs: tuple[Path, Path],
) -> None:
    """A workdir below a repository root gets the patch at its own paths, not the root's."""
    original, copy = dirs
    (original.parent / ".git").mkdir()  # an enclosing "repository" git must not use
    assert apply_patch(original, workspace_patch(original, copy), snapshot(original)) == 3
    assert (original / "calc.py").is_file()
    assert not (original.parent / "calc.py").exists()


def test_snapshot_ignores_vcs_internals(tmp_path: Path) -> None:
    """.git and caches are not in the patch, so they do not count as changes either."""
    (tmp_path / "a.py").write_text("1\n")
    before = snapshot(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "index").write_text("x")
    assert snapshot(tmp_path) == before
    (tmp_path / "a.py").write_text("2\n")
    assert snapshot(tmp_path) != before
