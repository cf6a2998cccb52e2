"""File tools: paths normalised against the workspace, `..` escapes, symlinks judged by target."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runner.policy import Policy, evaluate
from runner.policy.paths import (
    PathError,
    anchor_pattern,
    expand_tilde,
    locate,
    normalise,
    pattern_covers,
)

PATHS_POLICY = """
version: 1
name: paths
tools:
  deny:
    - {id: no-env, rule: "Read(./.env)"}
    - {id: no-secrets, rule: "Read(./secrets/**)"}
    - {id: no-etc, rule: "Read(//etc/**)"}
    - {id: no-ssh, rule: "Read(~/.ssh/**)"}
    - {id: no-generated, rule: "Edit(/src/gen/**)"}
  ask:
    - {id: ask-config, rule: "Write(config/*.yaml)"}
  allow:
    - {id: read-all, rule: Read}
    - {id: edit-src, rule: "Edit(src/**)"}
    - {id: edit-docs, rule: "Edit(docs)"}
    - {id: edit-config, rule: "Edit(config/**)"}
"""


@pytest.fixture
def paths_policy(policy_from: Callable[..., Policy]) -> Policy:
    """Deny secrets (four pattern forms), ask for config writes, allow src/docs edits."""
    return policy_from(PATHS_POLICY)


def decide(
    policy: Policy, tool: str, tool_input: dict[str, object], **kwargs: object
) -> tuple[str, str]:
    decision = evaluate(policy, tool, tool_input, **kwargs)  # type: ignore[arg-type]
    return decision.decision, decision.rule


def test_normalise_collapses_dots_against_the_workspace() -> None:
    """Relative paths join the workspace; `..` collapses; `~` is the agent's home."""
    assert normalise("src/../a.py", workspace="/workspace", home="/home/w") == "/workspace/a.py"
    assert normalise("../../etc/passwd", workspace="/workspace", home="/home/w") == "/etc/passwd"
    assert normalise("//etc//x", workspace="/workspace", home="/home/w") == "/etc/x"
    assert normalise("~/.ssh/id", workspace="/workspace", home="/home/w") == "/home/w/.ssh/id"
    with pytest.raises(PathError):
        normalise("a\x00b", workspace="/workspace", home="/home/w")


def test_tilde_user_forms_expand_like_the_shell() -> None:
    """`~`, `~warden` (the home's owner) and `~root` expand; other users cannot be named."""
    home = "/home/warden"
    assert expand_tilde("~", home=home) == home
    assert expand_tilde("~/a", home=home) == "/home/warden/a"
    assert expand_tilde("~warden/.claude/x", home=home) == "/home/warden/.claude/x"
    assert expand_tilde("~root/.bashrc", home=home) == "/root/.bashrc"
    assert expand_tilde("a/~", home=home) == "a/~"
    for unknown in ("~bob/x", "~+/x", "~-", "~1"):
        assert expand_tilde(unknown, home=home) is None
    assert normalise("~warden/x", workspace="/workspace", home=home) == "/home/warden/x"
    with pytest.raises(PathError):
        normalise("~bob/x", workspace="/workspace", home=home)


def test_the_four_pattern_forms_anchor_like_claude_code() -> None:
    """`//abs`, `~/x`, `/x` (workspace root), `x` or `./x` (workspace); no slash = any depth."""
    kw = {"workspace": "/ws", "home": "/home/w"}
    assert anchor_pattern("//etc/**", **kw) == "/etc/**"
    assert anchor_pattern("~/.ssh/**", **kw) == "/home/w/.ssh/**"
    assert anchor_pattern("/src/**", **kw) == "/ws/src/**"
    assert anchor_pattern("./src/**", **kw) == "/ws/src/**"
    assert anchor_pattern("*.env", **kw) == "/ws/**/*.env"
    assert pattern_covers("/ws/**/*.env", "/ws/a/b/.env")
    assert pattern_covers("/ws/src", "/ws/src/deep/file.py")  # a directory covers its contents
    assert not pattern_covers("/ws/src/*.py", "/ws/src.py")


@pytest.mark.parametrize(
    ("tool", "tool_input", "expected"),
    [
        ("Read", {"file_path": ".env"}, ("deny", "no-env")),
        ("Read", {"file_path": "app/.env"}, ("allow", "read-all")),
        ("Read", {"file_path": "/workspace/secrets/key.pem"}, ("deny", "no-secrets")),
        ("Read", {"file_path": "src/../secrets/key.pem"}, ("deny", "no-secrets")),
        ("Read", {"file_path": "../../etc/shadow"}, ("deny", "no-etc")),
        ("Read", {"file_path": "~/.ssh/id_ed25519"}, ("deny", "no-ssh")),
        ("Grep", {"pattern": "x", "path": "secrets"}, ("deny", "no-secrets")),
        ("Grep", {"pattern": "x", "path": "/"}, ("deny", "no-env")),
        ("Grep", {"pattern": "x"}, ("deny", "no-env")),
        ("Glob", {"pattern": "../../etc/*"}, ("deny", "no-etc")),
        ("LS", {"path": "/etc"}, ("deny", "no-etc")),
        ("Read", {"file_path": "src/app.py"}, ("allow", "read-all")),
        ("Grep", {"pattern": "x", "path": "src"}, ("allow", "read-all")),
        ("Edit", {"file_path": "src/app.py"}, ("allow", "edit-src")),
        ("MultiEdit", {"file_path": "/workspace/src/a/b.py"}, ("allow", "edit-src")),
        ("Edit", {"file_path": "docs/guide/intro.md"}, ("allow", "edit-docs")),
        ("Edit", {"file_path": "src/gen/api.py"}, ("deny", "no-generated")),
        ("Write", {"file_path": "config/app.yaml"}, ("ask", "ask-config")),
        ("Edit", {"file_path": "config/app.yaml"}, ("allow", "edit-config")),
        ("Edit", {"file_path": "src/../../etc/passwd"}, ("deny", "default")),
        ("Edit", {"file_path": "/tmp/x"}, ("deny", "default")),
        ("Edit", {"file_path": "srcfoo/x.py"}, ("deny", "default")),
        ("NotebookEdit", {"notebook_path": "src/n.ipynb"}, ("allow", "edit-src")),
    ],
)
def test_path_rules(
    paths_policy: Policy, tool: str, tool_input: dict[str, object], expected: tuple[str, str]
) -> None:
    """Each file-tool call is judged on its normalised path by the matching rule family."""
    assert decide(paths_policy, tool, tool_input) == expected


def test_workspace_option_moves_the_root(paths_policy: Policy) -> None:
    """Relative rules follow the workspace root given to the evaluator."""
    assert decide(paths_policy, "Edit", {"file_path": "/repo/src/a.py"}, workspace="/repo") == (
        "allow",
        "edit-src",
    )
    assert (
        decide(paths_policy, "Edit", {"file_path": "/workspace/src/a.py"}, workspace="/repo")[0]
        == "deny"
    )


def test_symlink_pointing_outside_is_judged_by_its_target(
    paths_policy: Policy, tmp_path: Path
) -> None:
    """With the host copy given, src/link -> /etc/passwd is an edit of /etc/passwd (denied)."""
    host = tmp_path / "ws"
    (host / "src").mkdir(parents=True)
    (host / "src" / "real.py").write_text("x")
    (host / "src" / "link").symlink_to("/etc/passwd")
    (host / "src" / "sec").symlink_to("../secrets")
    (host / "src" / "alias.py").symlink_to("real.py")
    kw = {"fs_root": host}
    assert decide(paths_policy, "Edit", {"file_path": "src/link"}, **kw) == ("deny", "default")
    assert decide(paths_policy, "Edit", {"file_path": "src/link"}) == (
        "allow",
        "edit-src",
    )  # no host copy
    assert decide(paths_policy, "Read", {"file_path": "src/sec/key.pem"}, **kw) == (
        "deny",
        "no-secrets",
    )
    assert decide(paths_policy, "Edit", {"file_path": "src/alias.py"}, **kw) == (
        "allow",
        "edit-src",
    )


def test_symlinked_directory_escape_and_loops(tmp_path: Path) -> None:
    """A symlinked directory that leaves the workspace is followed; a loop is an error."""
    host = tmp_path / "ws"
    host.mkdir()
    (host / "up").symlink_to("../../../etc")
    (host / "loop1").symlink_to("loop2")
    (host / "loop2").symlink_to("loop1")
    place = locate("up/passwd", workspace="/workspace", home="/home/w", fs_root=host)
    assert (place.path, place.target) == ("/workspace/up/passwd", "/etc/passwd")
    with pytest.raises(PathError):
        locate("loop1/x", workspace="/workspace", home="/home/w", fs_root=host)


def test_symlink_loop_denies_with_error_rule(paths_policy: Policy, tmp_path: Path) -> None:
    """A path the evaluator cannot resolve is denied with rule `error` (fail closed)."""
    host = tmp_path / "ws"
    host.mkdir()
    (host / "a").symlink_to("b")
    (host / "b").symlink_to("a")
    assert decide(paths_policy, "Read", {"file_path": "a"}, fs_root=host) == ("deny", "error")


@pytest.mark.parametrize(
    "tool_input",
    [{}, {"file_path": 3}, {"file_path": ""}, {"file_path": "a\x00b"}],
)
def test_bad_path_inputs_fail_closed(paths_policy: Policy, tool_input: dict[str, object]) -> None:
    """Missing, non-string, empty or NUL-bearing paths are denied with rule `error`."""
    assert decide(paths_policy, "Edit", tool_input) == ("deny", "error")


def test_a_scan_is_denied_when_it_could_reach_a_denied_file(
    policy_from: Callable[..., Policy],
) -> None:
    """Grep/Glob/LS read whole trees: a deny rule that matches anything beneath them applies."""
    policy = policy_from(
        """
        version: 1
        name: scans
        tools:
          deny: [{id: no-env, rule: "Read(*.env)"}]
          allow: [Read]
        """
    )
    assert decide(policy, "Read", {"file_path": "app/.env"}) == ("deny", "no-env")
    assert decide(policy, "Read", {"file_path": "app/main.py"}) == ("allow", "tools.allow[0]")
    assert decide(policy, "Grep", {"pattern": "x", "path": "src"}) == ("deny", "no-env")
    assert decide(policy, "Read", {"file_path": "/etc/hosts"}) == ("allow", "tools.allow[0]")
    assert decide(policy, "LS", {"path": "/etc"}) == ("allow", "tools.allow[0]")
