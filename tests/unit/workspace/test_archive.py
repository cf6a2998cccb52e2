"""Hostile archives: refused when uploaded and when extracted; bombs stop at the cap."""

from __future__ import annotations

import io
import stat
import tarfile
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.errors import InvalidInputError, PolicyDeniedError
from runner.workspace.archive import ArchiveKind, extract_archive, scan_archive
from runner.workspace.fstree import opened_dir
from runner.workspace.limits import Limits, Tally

Member = Callable[[tarfile.TarFile], None]


def _file(name: str, data: bytes = b"x", mode: int = 0o644) -> Member:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))

    return add


def _special(name: str, kind: bytes, target: str = "") -> Member:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        tar.addfile(info)

    return add


def _tar(path: Path, *members: Member, gz: bool = False) -> Path:
    with tarfile.open(path, "w:gz" if gz else "w") as tar:
        for add in members:
            add(tar)
    return path


def _extract(archive: Path, kind: ArchiveKind, out: Path, limits: Limits) -> None:
    out.mkdir()
    with opened_dir(out) as fd:
        extract_archive(archive, kind, fd, tally=Tally(limits), owner=None)


LIMITS = Limits(10 * 1024**2, 1000, policy="test")
#: A name that must never appear outside the extraction directory.
ESCAPE = f"warden-escape-{uuid.uuid4().hex[:8]}"

HOSTILE: dict[str, tuple[list[Member], str]] = {
    "dot-dot": ([_file(f"../{ESCAPE}")], "'..' in the name"),
    "absolute": ([_file(f"/tmp/{ESCAPE}")], "absolute name"),
    "link to /etc/passwd, then a file through it": (
        [_special("passwd", tarfile.SYMTYPE, "/etc/passwd"), _file("passwd", b"root::0:0::/:")],
        "a link to /etc/passwd, outside the archive",
    ),
    "relative link out": (
        [_special("up", tarfile.SYMTYPE, "../../etc")],
        "outside the archive",
    ),
    "in-archive link, then a file through it": (
        [_file("real/keep"), _special("alias", tarfile.SYMTYPE, "real"), _file("alias/x")],
        "written through symlink alias",
    ),
    "hard link": ([_file("a"), _special("b", tarfile.LNKTYPE, "a")], "a hard link"),
    "device node": ([_special("null", tarfile.CHRTYPE)], "a device"),
    "fifo": ([_special("pipe", tarfile.FIFOTYPE)], "a fifo"),
    "duplicate": ([_file("same"), _file("same")], "a duplicate entry"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_tar_is_refused_at_upload_naming_the_entry(tmp_path: Path, case: str) -> None:
    """Each hostile archive is refused by the upload check, which names what is wrong."""
    members, reason = HOSTILE[case]
    archive = _tar(tmp_path / "a.tar", *members)
    with pytest.raises(InvalidInputError, match="the archive is refused") as e:
        scan_archive(archive, ArchiveKind.TAR)
    assert reason in e.value.message


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_tar_is_refused_at_extraction_with_nothing_outside(
    tmp_path: Path, case: str
) -> None:
    """Extraction refuses the same entries itself; nothing lands outside its directory."""
    members, _reason = HOSTILE[case]
    archive = _tar(tmp_path / "a.tar", *members)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InvalidInputError, match="the archive is refused"):
        _extract(archive, ArchiveKind.TAR, tmp_path / "out", LIMITS)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "out"])
    assert not Path("/tmp", ESCAPE).exists() and not Path("/etc/passwd").read_text().startswith(
        "root::0"
    )


def test_a_good_tar_gz_extracts_with_setuid_cleared(tmp_path: Path) -> None:
    """Files, dirs and inside links arrive; a setuid mode keeps only its permission bits."""
    archive = _tar(
        tmp_path / "a.tgz",
        _file("src/app.py", b"print('hi')\n"),
        _file("bin/tool", b"#!/bin/sh\n", mode=0o4755),
        _special("src/link", tarfile.SYMTYPE, "app.py"),
        gz=True,
    )
    summary = scan_archive(archive, ArchiveKind.TGZ)
    assert (summary.entries, summary.declared_bytes) == (3, 22)
    _extract(archive, ArchiveKind.TGZ, tmp_path / "out", LIMITS)
    out = tmp_path / "out"
    assert (out / "src" / "app.py").read_text() == "print('hi')\n"
    assert stat.S_IMODE((out / "bin" / "tool").stat().st_mode) == 0o755
    assert (out / "src" / "link").is_symlink()


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 MiB zip that expands to 1 GiB of zeros."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf,
        zf.open("zeros", "w", force_zip64=True) as f,
    ):
        chunk = b"\0" * 1024**2
        for _ in range(1024):
            f.write(chunk)
    return path


def test_a_zip_bomb_stops_at_the_cap(tmp_path: Path, zip_bomb: Path) -> None:
    """1 GiB of zeros against a 10 MiB cap: refused at the cap, at most 10 MiB on disk."""
    assert zip_bomb.stat().st_size < 2 * 1024**2
    assert scan_archive(zip_bomb, ArchiveKind.ZIP).declared_bytes == 1024**3
    with pytest.raises(PolicyDeniedError, match="policy 'test'") as e:
        _extract(zip_bomb, ArchiveKind.ZIP, tmp_path / "out", LIMITS)
    assert e.value.rule == "workspace.max_bytes"
    assert (tmp_path / "out" / "zeros").stat().st_size <= LIMITS.max_bytes + 1


def test_zip_links_and_devices_are_judged_by_their_unix_mode(tmp_path: Path) -> None:
    """A zip 'file' whose mode says symlink to /etc, or character device, is refused."""
    path = tmp_path / "modes.zip"
    with zipfile.ZipFile(path, "w") as zf:
        link = zipfile.ZipInfo("etc")
        link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc")
        dev = zipfile.ZipInfo("tty")
        dev.create_system, dev.external_attr = 3, (stat.S_IFCHR | 0o666) << 16
        zf.writestr(dev, "")
        zf.writestr("../escape", "x")
    with pytest.raises(InvalidInputError) as e:
        scan_archive(path, ArchiveKind.ZIP)
    assert e.value.details["refused_count"] == 3


def test_something_that_is_not_an_archive_is_a_clear_422(tmp_path: Path) -> None:
    """Random bytes sent as a tar.gz: 'not a readable tar.gz archive'."""
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(InvalidInputError, match=r"readable tar\.gz archive|damaged"):
        scan_archive(junk, ArchiveKind.TGZ)
