"""Which Debian mirror the host's apt uses, read at build time (never written in the repo).

The sandbox base is built offline with ``debootstrap`` from the same mirror the host
already trusts, so a machine with no container registry can still build the image.
"""

from __future__ import annotations

from pathlib import Path

from runner.errors import SandboxError


def mirror_from_deb822(text: str, suite: str) -> str | None:
    """The first ``URIs:`` of a ``Types: deb`` stanza that lists ``suite`` exactly."""
    for stanza in text.split("\n\n"):
        fields = _deb822_fields(stanza)
        if "deb" in fields.get("types", "").split() and suite in fields.get("suites", "").split():
            uris = fields.get("uris", "").split()
            if uris:
                return uris[0].rstrip("/")
    return None


def mirror_from_sources_list(text: str, suite: str) -> str | None:
    """The URL of the first one-line ``deb [options] URL SUITE ...`` entry for ``suite``."""
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2 and words[1] == suite:
            return words[0].rstrip("/")
    return None


def host_debian_mirror(suite: str, apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror for ``suite`` configured in this machine's apt sources.

    Raises:
        SandboxError: no apt source names that suite.
    """
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        found = mirror_from_deb822(path.read_text(encoding="utf-8"), suite)
        if found:
            return found
    candidates = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in candidates:
        if path.is_file():
            found = mirror_from_sources_list(path.read_text(encoding="utf-8"), suite)
            if found:
                return found
    raise SandboxError(
        f"no apt source for Debian {suite!r} in {apt_dir}; pass --mirror URL",
        details={"apt_dir": str(apt_dir)},
    )


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = ""
    for line in stanza.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and key:  # continuation line
            fields[key] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            fields[key] = value.strip()
    return fields
