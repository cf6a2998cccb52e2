"""The bounded copy: by descriptor, within the caps, cancellable, skipping special files."""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from runner.errors import PolicyDeniedError
from runner.workspace.copier import copy_tree, inode_of
from runner.workspace.fstree import PathChangedError, open_dir, opened_dir
from runner.workspace.limits import CancelledCopyError, Limits, Tally


def _copy(src: Path, dst: Path, tally: Tally, **kw: object) -> None:
    dst.mkdir(exist_ok=True)
    with opened_dir(src) as s, opened_dir(dst) as d:
        copy_tree(s, d, tally=tally, owner=None, **kw)  # type: ignore[arg-type]


def _size(top: Path) -> int:
    return sum(p.lstat().st_size for p in top.rglob("*") if p.is_file() and not p.is_symlink())


def test_files_dirs_and_links_are_copied_links_as_links(tmp_path: Path) -> None:
    """Contents and modes arrive; a link to /etc/passwd stays a link, never read."""
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "run.sh").write_text("echo hi\n")
    (src / "a" / "b" / "run.sh").chmod(0o755)
    (src / "passwd").symlink_to("/etc/passwd")
    tally = Tally(Limits(10**6, 100))
    _copy(src, tmp_path / "dst", tally)
    dst = tmp_path / "dst"
    assert (dst / "a" / "b" / "run.sh").read_text() == "echo hi\n"
    assert stat.S_IMODE((dst / "a" / "b" / "run.sh").stat().st_mode) == 0o755
    assert (dst / "passwd").is_symlink() and str((dst / "passwd").readlink()) == "/etc/passwd"
    assert tally.summary() == {"bytes": 8, "files": 4}


def test_special_files_are_skipped_and_listed(tmp_path: Path) -> None:
    """A FIFO and a socket are left out and named in the summary; the copy goes on."""
    src = tmp_path / "src"
    src.mkdir()
    os.mkfifo(src / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "sock"))
    (src / "keep.txt").write_text("k")
    tally = Tally(Limits(10**6, 100))
    _copy(src, tmp_path / "dst", tally)
    sock.close()
    assert (tmp_path / "dst" / "keep.txt").read_text() == "k"
    assert not (tmp_path / "dst" / "pipe").exists() and not (tmp_path / "dst" / "sock").exists()
    assert tally.summary()["skipped"] == [
        {"path": "pipe", "kind": "fifo"},
        {"path": "sock", "kind": "socket"},
    ]


def test_setuid_and_setgid_bits_are_cleared(tmp_path: Path) -> None:
    """A setuid file in the source arrives with its permission bits only."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "suid").write_text("x")
    (src / "suid").chmod(0o6755)
    _copy(src, tmp_path / "dst", Tally(Limits(10**6, 100)))
    assert stat.S_IMODE((tmp_path / "dst" / "suid").stat().st_mode) == 0o755


def test_a_tree_over_max_bytes_stops_at_the_cap(tmp_path: Path) -> None:
    """20 MiB against a 5 MiB cap: refused with the rule and the policy, ~5 MiB written."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(20):
        (src / f"f{i:02}").write_bytes(b"\1" * 1024**2)
    tally = Tally(Limits(5 * 1024**2, 1000, policy="small"))
    with pytest.raises(PolicyDeniedError, match=r"policy 'small'.*5\.0 MiB.*max_bytes") as e:
        _copy(src, tmp_path / "dst", tally)
    assert e.value.rule == "workspace.max_bytes"
    assert _size(tmp_path / "dst") <= 5 * 1024**2 + 1


def test_a_tree_over_max_files_stops_at_the_cap(tmp_path: Path) -> None:
    """50 files against a cap of 10: refused (workspace.max_files) after 10 entries."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(50):
        (src / f"f{i:02}").write_text("x")
    with pytest.raises(PolicyDeniedError) as e:
        _copy(src, tmp_path / "dst", Tally(Limits(10**6, 10)))
    assert e.value.rule == "workspace.max_files"
    assert len(list((tmp_path / "dst").iterdir())) == 10


def test_the_copy_never_descends_into_an_avoided_directory(tmp_path: Path) -> None:
    """A directory marked to avoid (Warden's data dir, the destination) is skipped, listed."""
    src = tmp_path / "src"
    (src / "data" / "keys").mkdir(parents=True)
    (src / "data" / "keys" / "signing.key").write_text("secret")
    (src / "code.py").write_text("x")
    with opened_dir(src / "data") as fd:
        avoided = inode_of(fd)
    tally = Tally(Limits(10**6, 100))
    _copy(src, tmp_path / "dst", tally, avoid=[avoided])
    assert (tmp_path / "dst" / "code.py").exists()
    assert not (tmp_path / "dst" / "data").exists()
    assert tally.summary()["skipped"] == [{"path": "data", "kind": "excluded"}]


def test_a_copy_into_its_own_source_does_not_copy_itself(tmp_path: Path) -> None:
    """The destination inside the source is never entered (no copy of a copy of a copy)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    tally = Tally(Limits(10**6, 100))
    _copy(src, src / "copy", tally)
    assert sorted(p.name for p in (src / "copy").iterdir()) == ["a.txt"]


def test_cancel_stops_the_copy_between_chunks(tmp_path: Path) -> None:
    """With the flag set, the copy raises before the next file and writes nothing more."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}").write_bytes(b"\0" * 1024)
    cancel = threading.Event()
    seen: list[int] = []

    def progress(t: Tally) -> None:
        seen.append(t.files)
        cancel.set()

    tally = Tally(Limits(10**6, 100), cancel=cancel, progress=progress, interval=0)
    with pytest.raises(CancelledCopyError):
        _copy(src, tmp_path / "dst", tally)
    assert seen == [1] and len(list((tmp_path / "dst").iterdir())) == 1


def test_a_symlink_swapped_in_after_the_check_fails_the_open(tmp_path: Path) -> None:
    """The checked dir replaced by a link to /etc: opening it as checked fails, /etc unread."""
    project = tmp_path / "project"
    project.mkdir()
    checked = project.resolve()
    project.rename(tmp_path / "moved")
    project.symlink_to("/etc")
    with pytest.raises(PathChangedError, match="symlink"):
        open_dir(checked)
