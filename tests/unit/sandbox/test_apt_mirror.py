"""Reading the Debian mirror from apt sources (deb822 and one-line formats)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import SandboxError
from runner.sandbox.apt_mirror import (
    host_debian_mirror,
    mirror_from_deb822,
    mirror_from_sources_list,
)

DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_deb822_picks_the_stanza_listing_the_exact_suite() -> None:
    """The main stanza is chosen, its trailing slash dropped; bookworm-security is not bookworm."""
    assert mirror_from_deb822(DEB822, "bookworm") == "http://mirror.example/debian"
    assert (
        mirror_from_deb822(DEB822, "bookworm-security") == "http://security.example/debian-security"
    )


def test_deb822_ignores_deb_src_and_missing_suites() -> None:
    """Source-only stanzas and unknown suites yield nothing."""
    text = "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n"
    assert mirror_from_deb822(text, "bookworm") is None
    assert mirror_from_deb822(DEB822, "trixie") is None


def test_sources_list_handles_options_and_comments() -> None:
    """One-line entries with [options] are parsed; commented and deb-src lines are skipped."""
    text = (
        "# deb http://old.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian/ bookworm main\n"
    )
    assert mirror_from_sources_list(text, "bookworm") == "http://one.example/debian"


def test_host_mirror_prefers_deb822_then_falls_back(tmp_path: Path) -> None:
    """A .sources file wins; without one, sources.list is read; with neither it is an error."""
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb http://list.example/debian bookworm main\n")
    assert host_debian_mirror("bookworm", tmp_path) == "http://list.example/debian"
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    assert host_debian_mirror("bookworm", tmp_path) == "http://mirror.example/debian"
    with pytest.raises(SandboxError):
        host_debian_mirror("trixie", tmp_path)
