"""Git sources: which URLs a session may name, and the controller-side shallow clone.

The controller clones (never the sandbox, which has no network) with every way git
could run code or ask for input switched off: no hooks (``core.hooksPath=/dev/null``,
an empty template), no prompts (``GIT_TERMINAL_PROMPT=0``, a failing askpass), no
system or user config (an empty ``HOME``), no redirects to other hosts, only the URL's
own protocol, objects checked (``transfer.fsckObjects``), submodules only when the
policy allows them and each of their hosts is listed too. A token for a host comes
from the controller's settings as an HTTP header scoped to that host, passed in the
environment: it is in no argv, no URL and no ``.git/config``, so it never reaches the
sandbox.
"""

from __future__ import annotations

import base64
import os
import posixpath
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from runner.errors import InvalidInputError, PolicyDeniedError
from runner.workspace.gitrun import GitError, GitRunner, git_env

RULE_GIT_HOSTS = "workspace.git_hosts"
_SCHEMES = ("https", "http", "git", "file")
_DEFAULT_PORTS = {"https": 443, "http": 80, "git": 9418}
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class GitRemote:
    """A parsed git URL we are willing to fetch from."""

    url: str
    scheme: str  # https | http | git | file
    host: str  # "" for file://
    port: int | None
    path: str  # the local directory, for file://

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host


def parse_remote(url: str) -> GitRemote:
    """The remote for ``url``.

    Raises:
        InvalidInputError: not a URL git should fetch from here, with what to use instead.
    """
    if not url or url.startswith("-") or any(c in url for c in "\x00\n\r "):
        raise InvalidInputError(f"git url {url!r} is not a URL")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("ssh", "git+ssh") or ("://" not in url and ":" in url):
        raise InvalidInputError(
            f"git url {url!r}: ssh is not supported (the controller holds no ssh keys);"
            " use https, with a token for the host in WARDEN_GIT_TOKENS if it is private"
        )
    if scheme not in _SCHEMES:
        raise InvalidInputError(
            f"git url {url!r}: the scheme must be one of {', '.join(_SCHEMES)}",
            details={"url": url},
        )
    if parts.username or parts.password:
        raise InvalidInputError(
            f"git url for {parts.hostname}: credentials in the URL would end up in the"
            " sandbox's .git/config; give the token to the server (WARDEN_GIT_TOKENS) instead"
        )
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidInputError(f"git url {url!r}: a file:// URL names a local directory")
        return GitRemote(url, scheme, "", None, unquote(parts.path))
    if not parts.hostname:
        raise InvalidInputError(f"git url {url!r} names no host")
    try:
        port = parts.port
    except ValueError:
        raise InvalidInputError(f"git url {url!r} has a bad port") from None
    return GitRemote(url, scheme, parts.hostname.lower(), port, parts.path)


def check_host(remote: GitRemote, allowed: Sequence[str], policy: str) -> None:
    """Refuse a remote whose host is not in the policy's ``workspace.git_hosts``.

    Entries are host names or globs (``git.example.com``, ``*.example.com``), with an
    optional ``:port`` that must then match too.

    Raises:
        PolicyDeniedError: the host is not listed (rule ``workspace.git_hosts``).
    """
    port = remote.port or _DEFAULT_PORTS.get(remote.scheme)
    for pattern in allowed:
        host, _, want_port = pattern.lower().rpartition(":") if _has_port(pattern) else (
            pattern.lower(), "", "",
        )  # fmt: skip
        if fnmatchcase(remote.host, host) and (not want_port or want_port == str(port)):
            return
    listed = ", ".join(allowed) if allowed else "none"
    raise PolicyDeniedError(
        f"git host {remote.hostport} is not in policy {policy!r}'s workspace.git_hosts"
        f" ({listed}); ask for it to be listed, or upload the code as an archive",
        rule=RULE_GIT_HOSTS,
        details={"host": remote.hostport, "allowed": list(allowed)},
    )


def _has_port(pattern: str) -> bool:
    head, sep, tail = pattern.rpartition(":")
    return bool(sep and head and tail.isdigit())


def auth_header(remote: GitRemote, tokens: Mapping[str, str]) -> dict[str, str]:
    """Git config (key → value) sending the host's token, scoped to that host's URLs.

    A token goes only over https, or plain http to loopback (a local test host).
    A value ``user:token`` sets the user; a bare token is sent as ``x-access-token``.
    """
    token = tokens.get(remote.hostport) or tokens.get(remote.host)
    if not token or remote.scheme not in ("https", "http"):
        return {}
    if remote.scheme == "http" and remote.host not in _LOOPBACK:
        return {}
    user, sep, secret = token.partition(":")
    basic = f"{user}:{secret}" if sep else f"x-access-token:{token}"
    value = "Authorization: Basic " + base64.b64encode(basic.encode()).decode()
    netloc = remote.hostport if remote.port else remote.host
    return {f"http.{remote.scheme}://{netloc}/.extraHeader": value}


def clone(
    remote: GitRemote,
    ref: str | None,
    dest: Path,
    *,
    runner: GitRunner,
    fetch_url: str | None = None,
    auth: Mapping[str, str] | None = None,
) -> str:
    """Shallow-clone ``ref`` (default HEAD) of ``remote`` into the new directory ``dest``.

    Args:
        fetch_url: where to fetch from when it is not ``remote.url`` (a local copy).
        auth: git config from :func:`auth_header`.

    Returns:
        The commit checked out.

    Raises:
        GitError: git failed (its message included), timed out, or was cancelled.
    """
    with tempfile.TemporaryDirectory(prefix="warden-git-home-") as home:
        env = git_env(Path(home), remote.scheme, dict(auth or {}))
        runner.run(["init", "-q", "--template=", str(dest)], env=env)
        repo = ["-C", str(dest)]
        runner.run([*repo, "remote", "add", "origin", fetch_url or remote.url], env=env)
        fetch = [*repo, "fetch", "-q", "--depth", "1", "--no-tags", "--no-recurse-submodules"]
        runner.run([*fetch, "origin", ref or "HEAD"], env=env, watch=dest)
        runner.run([*repo, "checkout", "-q", "--detach", "FETCH_HEAD"], env=env, watch=dest)
        if fetch_url is not None:
            runner.run([*repo, "remote", "set-url", "origin", remote.url], env=env)
        return runner.run([*repo, "rev-parse", "HEAD"], env=env).strip()


def local_git_dir(repo: Path) -> Path:
    """The git directory of a local repository: ``repo/.git``, or ``repo`` if it is bare."""
    dotgit = repo / ".git"
    if dotgit.is_dir() and not dotgit.is_symlink():
        return dotgit
    if (repo / "HEAD").is_file() and (repo / "objects").is_dir():
        return repo
    raise InvalidInputError(
        f"{repo} is not a git repository with its own .git directory (worktrees and"
        " gitfiles are not supported)"
    )


def check_local_copy(git_dir: Path) -> None:
    """Refuse a copied git dir that would make git read other host paths.

    Raises:
        InvalidInputError: it uses alternates or a common dir (both name host paths).
    """
    for rel in ("objects/info/alternates", "objects/info/http-alternates", "commondir"):
        if (git_dir / rel).exists():
            raise InvalidInputError(
                f"the repository uses {rel}, which points at other directories on the host;"
                " clone it without alternates (git clone --no-shared) and try again"
            )


def file_url(path: Path) -> str:
    return "file://" + os.fspath(path)


def submodule_remotes(
    dest: Path, origin: GitRemote, runner: GitRunner, env: Mapping[str, str]
) -> list[GitRemote]:
    """The remotes of the checkout's submodules, relative URLs resolved against ``origin``.

    Raises:
        InvalidInputError: a submodule URL git must not fetch (file://, ssh, credentials).
    """
    gitmodules = dest / ".gitmodules"
    if not gitmodules.is_file() or gitmodules.is_symlink():
        return []
    argv = ["config", "-f", str(gitmodules), "--get-regexp", r"^submodule\..*\.url$"]
    try:
        listed = runner.run(argv, env=env)
    except GitError:
        return []  # git config exits 1 when nothing matches
    remotes = []
    for line in listed.splitlines():
        key, _, url = line.partition(" ")
        url = url.strip()
        if url.startswith(("./", "../")):
            base = urlsplit(origin.url)
            path = posixpath.normpath(posixpath.join(base.path, url))
            url = urlunsplit(base._replace(path=path))
        remote = parse_remote(url)
        if remote.scheme == "file":
            raise InvalidInputError(f"{key}: a file:// submodule would read the controller's disk")
        remotes.append(remote)
    return remotes


def update_submodules(
    dest: Path,
    origin: GitRemote,
    *,
    allowed: Sequence[str],
    policy: str,
    runner: GitRunner,
    tokens: Mapping[str, str],
) -> None:
    """Fetch the checkout's submodules (one level, shallow) once each host is allowed.

    Raises:
        PolicyDeniedError: a submodule's host is not in ``workspace.git_hosts``.
        GitError: git failed.
    """
    with tempfile.TemporaryDirectory(prefix="warden-git-home-") as home:
        remotes = submodule_remotes(dest, origin, runner, git_env(Path(home), origin.scheme, {}))
        if not remotes:
            return
        for remote in remotes:
            check_host(remote, allowed, policy)
        config: dict[str, str] = {}
        for remote in remotes:
            config[f"protocol.{remote.scheme}.allow"] = "always"
            config.update(auth_header(remote, tokens))
        env = git_env(Path(home), origin.scheme, config)
        argv = ["-C", str(dest), "submodule", "update", "--init", "--depth", "1"]
        runner.run(argv, env=env, watch=dest)
