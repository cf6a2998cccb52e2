"""The image's C libraries: compiled on the host; statx-compat passes calls through on Linux."""

from __future__ import annotations

import ctypes
import errno
import shutil
from pathlib import Path

import pytest

from runner.errors import SandboxError
from runner.sandbox.image import content_hash, default_image_dir
from runner.sandbox.shims import build_shims

AT_FDCWD = -100
AT_NO_AUTOMOUNT = 0x800
STATX_BASIC_STATS = 0x7FF


def test_statx_compat_builds_and_passes_a_valid_call_through(tmp_path: Path) -> None:
    """On a kernel that accepts AT_NO_AUTOMOUNT the wrapper returns the real statx result."""
    (built,) = build_shims(default_image_dir(), tmp_path)
    assert built == tmp_path / "statx-compat.so"
    assert built.stat().st_mode & 0o777 == 0o644
    # RTLD_LOCAL: nothing else in this process uses it.
    library = ctypes.CDLL(str(built), use_errno=True)
    buf = ctypes.create_string_buffer(256)  # struct statx is 256 bytes
    assert library.statx(AT_FDCWD, b"/", AT_NO_AUTOMOUNT, STATX_BASIC_STATS, buf) == 0
    missing = library.statx(AT_FDCWD, b"/no/such/path", AT_NO_AUTOMOUNT, STATX_BASIC_STATS, buf)
    assert (missing, ctypes.get_errno()) == (-1, errno.ENOENT)


def test_no_compiler_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without cc on PATH the build stops, naming the library and the packages to install."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SandboxError) as info:
        build_shims(default_image_dir(), tmp_path)
    assert "statx-compat.c" in info.value.message and "gcc" in info.value.message


def test_a_broken_library_fails_with_the_compiler_output(tmp_path: Path) -> None:
    """A source that does not compile fails the build with the compiler's message."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "broken.c").write_text("int f(void) { return undeclared; }\n")
    with pytest.raises(SandboxError) as info:
        build_shims(source, tmp_path)
    assert "broken.c" in info.value.message
    assert "undeclared" in info.value.details["stderr"]


def test_the_library_source_is_part_of_the_image_hash(tmp_path: Path) -> None:
    """Editing statx-compat.c changes the image's content hash (it is rebuilt)."""
    copy = Path(shutil.copytree(default_image_dir(), tmp_path / "sandbox"))
    before = content_hash(copy, "1")
    (copy / "statx-compat.c").write_text((copy / "statx-compat.c").read_text() + "\n")
    assert content_hash(copy, "1") != before
