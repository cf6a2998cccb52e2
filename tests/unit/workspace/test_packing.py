"""``warden sessions create --archive DIR``: the directory is packed as the server accepts."""

from __future__ import annotations

import os
from pathlib import Path

from runner.commands.packing import packed
from runner.workspace.archive import ArchiveKind, scan_archive


def test_a_directory_packs_into_an_archive_the_server_accepts(tmp_path: Path) -> None:
    """Links out, FIFOs are left out and named; hard links become files; the scan passes."""
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text("print(1)\n")
    os.link(project / "src" / "app.py", project / "src" / "same.py")
    (project / "src" / "here").symlink_to("app.py")
    (project / "out").symlink_to("/etc/passwd")
    os.mkfifo(project / "pipe")
    skipped: list[str] = []
    archive = tmp_path / "up.tar.gz"
    with packed(project, skipped) as (data, media):
        archive.write_bytes(data.read())
    assert media == "application/gzip"
    assert sorted(skipped) == [
        "out (a link to /etc/passwd, outside the directory)",
        "pipe (not a file, directory or link)",
    ]
    summary = scan_archive(archive, ArchiveKind.TGZ)
    assert summary.entries == 4  # src, src/app.py, src/here, src/same.py
    assert summary.declared_bytes == 2 * len("print(1)\n")
