"""Workspace patch and archive."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest

from runner.sessions.artifacts import workspace_archive, workspace_patch
from runner.workspace.fstree import PathChangedError


def _trees(tmp_path: Path) -> tuple[Path, Path]:
    original, copy = tmp_path / "orig", tmp_path / "copy"
    for root in (original, copy):
        (root / "src").mkdir(parents=True)
        (root / "src" / "same.py").write_text("x = 1\n")
    (original / "src" / "app.py").write_text("print('old')\n")
    (copy / "src" / "app.py").write_text("print('new')\n")
    (copy / "hello.py").write_text("print('hi')")
    (original / "gone.txt").write_text("bye\n")
    (copy / ".git").mkdir()
    (copy / ".git" / "HEAD").write_text("ref\n")
    return original, copy


def test_patch_applies_to_the_original_and_reproduces_the_copy(tmp_path: Path) -> None:
    """git apply of the patch turns the original into the copy (edits, new and deleted files)."""
    original, copy = _trees(tmp_path)
    patch = workspace_patch(original, copy)
    assert "src/same.py" not in patch
    assert ".git" not in patch
    (tmp_path / "p.diff").write_text(patch)
    subprocess.run(["git", "apply", str(tmp_path / "p.diff")], cwd=original, check=True)
    assert (original / "src" / "app.py").read_text() == "print('new')\n"
    assert (original / "hello.py").read_text() == "print('hi')"
    assert not (original / "gone.txt").exists()


def test_no_changes_means_empty_patch(tmp_path: Path) -> None:
    """Identical trees give an empty patch."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_text("same\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "f").write_text("same\n")
    assert workspace_patch(tmp_path / "a", tmp_path / "b") == ""


def test_binary_changes_are_named(tmp_path: Path) -> None:
    """A changed binary file is reported, not garbled."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "blob").write_bytes(b"\0\1")
    (tmp_path / "b" / "blob").write_bytes(b"\0\2")
    assert "Binary files a/blob and b/blob differ" in workspace_patch(
        tmp_path / "a", tmp_path / "b"
    )


def test_archive_holds_the_workspace_without_vcs(tmp_path: Path) -> None:
    """The archive has the files, not .git."""
    _original, copy = _trees(tmp_path)
    out = workspace_archive(copy, tmp_path / "w.tar.gz")
    with tarfile.open(out) as tar:
        names = sorted(tar.getnames())
    assert names == ["hello.py", "src/app.py", "src/same.py"]


def test_links_the_agent_plants_are_never_followed(tmp_path: Path) -> None:
    """A link to a host file, or a linked directory, in the copy: not in the patch or archive."""
    (tmp_path / "a").mkdir()
    copy = tmp_path / "b"
    copy.mkdir()
    secret = tmp_path / "host-secret"
    secret.write_text("TOP SECRET\n")
    (tmp_path / "host-dir").mkdir()
    (tmp_path / "host-dir" / "key").write_text("PRIVATE KEY\n")
    (copy / "leak.txt").symlink_to(secret)
    (copy / "dir").symlink_to(tmp_path / "host-dir")
    (copy / "ok.txt").write_text("mine\n")
    patch = workspace_patch(tmp_path / "a", copy)
    assert "+mine" in patch
    assert "SECRET" not in patch and "PRIVATE" not in patch
    archive = workspace_archive(copy, tmp_path / "w.tar.gz")
    with tarfile.open(archive) as tar:
        assert tar.getnames() == ["ok.txt"]


def test_an_original_swapped_for_a_link_is_not_read(tmp_path: Path) -> None:
    """If the checked original becomes a link (to /etc) before the patch, the patch fails."""
    original = tmp_path / "orig"
    original.mkdir()
    (tmp_path / "copy").mkdir()
    original.rename(tmp_path / "moved")
    original.symlink_to("/etc")
    with pytest.raises(PathChangedError):
        workspace_patch(original, tmp_path / "copy")
