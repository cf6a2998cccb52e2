"""Git sources: which URLs are fetched, from which hosts, with which credentials."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from runner.commands.packing import split_git
from runner.errors import InvalidInputError, PolicyDeniedError
from runner.workspace.git import auth_header, check_host, parse_remote
from runner.workspace.gitrun import git_env
from runner.workspace.source import check_ref


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("git@github.com:org/repo.git", "ssh is not supported"),
        ("ssh://git@host/repo", "ssh is not supported"),
        ("https://user:secret@host/repo", "credentials in the URL"),
        ("ext::sh -c touch% /tmp/pwned", "not a URL"),
        ("ftp://host/repo", "scheme must be one of"),
        ("--upload-pack=touch /tmp/x", "not a URL"),
        ("file://otherhost/srv/repo", "names a local directory"),
        ("https:///repo", "names no host"),
    ],
)
def test_urls_git_must_not_fetch_are_refused_with_a_way_out(url: str, message: str) -> None:
    """ssh, credentials in URLs, odd transports and option-like URLs are 422s."""
    with pytest.raises(InvalidInputError, match=message):
        parse_remote(url)


@pytest.mark.parametrize("ref", ["-oops", "a..b", "main.lock", "x y", "refs/heads/"])
def test_refs_that_could_be_options_or_odd_are_refused(ref: str) -> None:
    """A ref is a plain branch, tag or commit name: never an option, never '..'."""
    with pytest.raises(InvalidInputError, match="not a branch, tag or commit"):
        check_ref(ref)
    assert check_ref("feature/x-1.2") == "feature/x-1.2"


def test_only_listed_hosts_may_be_cloned_from() -> None:
    """Exact names, globs and host:port entries match; anything else is 403 with the rule."""
    allowed = ["git.example.com", "*.corp.example", "127.0.0.1:9418"]
    for url in (
        "https://git.example.com/a/b.git",
        "https://src.corp.example/x",
        "git://127.0.0.1/repo",  # git's default port is 9418
    ):
        check_host(parse_remote(url), allowed, "p")
    for url in ("https://github.com/a/b", "git://127.0.0.1:9419/repo", "https://corp.example/x"):
        with pytest.raises(PolicyDeniedError, match="not in policy 'p'") as e:
            check_host(parse_remote(url), allowed, "p")
        assert e.value.rule == "workspace.git_hosts"


def test_a_token_is_sent_only_to_its_host_over_https_or_loopback() -> None:
    """The header is scoped to the host's URL; plain http elsewhere gets no token at all."""
    tokens = {"git.example.com": "s3cret", "127.0.0.1:8080": "bob:t0k"}
    header = auth_header(parse_remote("https://git.example.com/a.git"), tokens)
    ((key, value),) = header.items()
    assert key == "http.https://git.example.com/.extraHeader"
    assert base64.b64decode(value.split()[-1]) == b"x-access-token:s3cret"
    local = auth_header(parse_remote("http://127.0.0.1:8080/r.git"), tokens)
    assert base64.b64decode(next(iter(local.values())).split()[-1]) == b"bob:t0k"
    assert auth_header(parse_remote("http://git.example.com/a.git"), tokens) == {}
    assert auth_header(parse_remote("https://other.example/a.git"), tokens) == {}


def test_git_runs_without_hooks_prompts_user_config_or_other_transports(
    tmp_path: Path,
) -> None:
    """The environment switches off hooks, prompts, redirects and every other protocol."""
    env = git_env(tmp_path, "https", {"http.https://h/.extraHeader": "Authorization: x"})
    config = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    assert config["core.hooksPath"] == "/dev/null"
    assert config["protocol.allow"] == "never" and config["protocol.https.allow"] == "always"
    assert config["http.followRedirects"] == "false" and config["credential.helper"] == ""
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["HOME"] == str(tmp_path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://host/repo.git@v1.2", ("https://host/repo.git", "v1.2")),
        ("https://host/repo.git@feature/x", ("https://host/repo.git", "feature/x")),
        ("https://host/repo.git", ("https://host/repo.git", None)),
        ("file:///srv/repo@main", ("file:///srv/repo", "main")),
    ],
)
def test_the_cli_splits_url_at_ref(value: str, expected: tuple[str, str | None]) -> None:
    """--git URL@REF: the last '@' splits off the ref; no '@' means HEAD."""
    assert split_git(value) == expected
