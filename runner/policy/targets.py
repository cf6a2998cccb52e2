"""What a non-Bash tool call touches: the paths of file tools, the host of a fetch."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runner.policy.paths import Place, locate
from runner.policy.rules import EDIT_TOOLS

# Tools that scan a directory recursively rather than open one file.
SCANNING_TOOLS = frozenset({"Grep", "Glob", "LS"})
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_IPV6 = re.compile(r"^[0-9a-f:.]+$")


class InputError(ValueError):
    """The tool input lacks what the tool needs (judged as an error: deny)."""


@dataclass(frozen=True)
class Target:
    place: Place
    is_scan: bool


def path_targets(
    tool_name: str, tool_input: dict[str, Any], *, workspace: str, home: str, fs_root: Path | None
) -> tuple[Target, ...]:
    """The paths a file tool would read or write, normalised (and symlink-resolved)."""

    def at(raw: object, *, scan: bool) -> Target:
        if not isinstance(raw, str):
            raise InputError(f"{tool_name}: path must be a string, got {type(raw).__name__}")
        return Target(locate(raw, workspace=workspace, home=home, fs_root=fs_root), scan)

    if tool_name in ("NotebookEdit", "NotebookRead"):
        return (at(_required(tool_input, "notebook_path", tool_name), scan=False),)
    if tool_name in SCANNING_TOOLS:
        base = tool_input.get("path") or workspace
        if tool_name == "Glob":
            base = posixpath.join(str(base), _glob_root(tool_input.get("pattern", "")))
        return (at(base, scan=True),)
    if tool_name in EDIT_TOOLS or tool_name == "Read":
        return (at(_required(tool_input, "file_path", tool_name), scan=False),)
    raise InputError(f"{tool_name} is not a file tool")


def _required(tool_input: dict[str, Any], key: str, tool_name: str) -> object:
    if key not in tool_input:
        raise InputError(f"{tool_name} input has no {key!r}")
    return tool_input[key]


def _glob_root(pattern: object) -> str:
    """The directory a Glob pattern starts from (``../../etc/*`` → ``../../etc``)."""
    if not isinstance(pattern, str):
        raise InputError("Glob: pattern must be a string")
    kept: list[str] = []
    for segment in pattern.split("/"):
        if any(ch in segment for ch in "*?[{"):
            break
        kept.append(segment)
    root = "/".join(kept)
    if pattern.startswith("/") and not root:
        return "/"
    return root or "."


def fetch_host(tool_input: dict[str, Any]) -> str | None:
    """The host a WebFetch would contact; None when the URL is ambiguous (fail closed)."""
    url = tool_input.get("url")
    if not isinstance(url, str):
        raise InputError("WebFetch input has no string 'url'")
    # Browsers and URL parsers disagree on backslashes, whitespace and control bytes;
    # a URL that two parsers could read differently has no trustworthy host.
    if any(ch in url for ch in "\\\t\r\n ") or any(ord(ch) < 0x20 for ch in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    host = host.rstrip(".").lower()
    if _HOST.match(host) or _IPV6.match(host):
        return host
    return None
