"""The evaluator's contract: precedence, deny by default, tool families, domains, fail closed."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from runner.policy import Policy, evaluate

POLICY = """
version: 1
name: eval
tools:
  deny:
    - {id: no-aws, rule: "Bash(aws:*)", reason: Cloud access is not allowed here.}
    - {id: no-evil, rule: "WebFetch(domain:evil.example)"}
    - {id: no-db-drop, rule: mcp__db__drop}
  ask:
    - {id: ask-s3, rule: "Bash(aws s3 ls)"}
    - {id: ask-git-any-main, rule: "Bash(git * main)"}
    - {id: ask-github, rule: "WebFetch(domain:*.github.com)"}
  allow:
    - {id: allow-s3, rule: "Bash(aws s3 ls)"}
    - {id: allow-git, rule: "Bash(git:*)"}
    - {id: ls-glob, rule: "Bash(ls*)"}
    - {id: docs, rule: "WebFetch(domain:docs.python.org)"}
    - {id: github, rule: "WebFetch(domain:github.com)"}
    - {id: db, rule: mcp__db}
    - {id: grep-only, rule: "Grep(src/**)"}
"""


@pytest.fixture
def policy(policy_from: Callable[..., Policy]) -> Policy:
    """A policy exercising precedence, wildcards, domains and MCP rules."""
    return policy_from(POLICY)


def decide(policy: Policy, tool: str, tool_input: object) -> tuple[str, str]:
    decision = evaluate(policy, tool, tool_input)  # type: ignore[arg-type]
    return decision.decision, decision.rule


def test_deny_beats_ask_beats_allow(policy: Policy) -> None:
    """A broad deny wins over a narrower allow; an ask wins over an allow for the same call."""
    assert decide(policy, "Bash", {"command": "aws s3 ls"}) == ("deny", "no-aws")
    assert decide(policy, "Bash", {"command": "git push origin main"}) == (
        "ask",
        "ask-git-any-main",
    )
    assert decide(policy, "Bash", {"command": "git push origin dev"}) == ("allow", "allow-git")


def test_nothing_matched_is_denied_by_default(policy: Policy) -> None:
    """A call no rule speaks about is denied with rule `default`."""
    assert decide(policy, "Bash", {"command": "make"}) == ("deny", "default")
    assert decide(policy, "Write", {"file_path": "a"}) == ("deny", "default")
    assert decide(policy, "SomeNewTool", {}) == ("deny", "default")


def test_word_wildcards(policy: Policy) -> None:
    """`ls*` globs inside the first word and takes the rest; `*` alone spans words."""
    assert decide(policy, "Bash", {"command": "lsof -i"}) == ("allow", "ls-glob")
    assert decide(policy, "Bash", {"command": "ls"}) == ("allow", "ls-glob")
    assert decide(policy, "Bash", {"command": "git checkout -b main"}) == (
        "ask",
        "ask-git-any-main",
    )
    assert decide(policy, "Bash", {"command": "git main"}) == ("ask", "ask-git-any-main")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://docs.python.org/3/library/", ("allow", "docs")),
        ("https://DOCS.python.org./x", ("allow", "docs")),
        ("https://sub.docs.python.org/", ("deny", "default")),
        ("https://github.com/x", ("allow", "github")),
        ("https://api.github.com/x", ("ask", "ask-github")),
        ("https://evil.example/", ("deny", "no-evil")),
        ("https://docs.python.org@evil.example/", ("deny", "no-evil")),
        ("https://evil.example\\@docs.python.org/", ("deny", "no-evil")),
        ("https://docs.python.org .evil.example/", ("deny", "no-evil")),
        ("file:///etc/passwd", ("deny", "no-evil")),
        ("not a url", ("deny", "no-evil")),
    ],
)
def test_webfetch_domains(policy: Policy, url: str, expected: tuple[str, str]) -> None:
    """Hosts match exactly (any case); `*.host` means subdomains; odd URLs are the worst case."""
    assert decide(policy, "WebFetch", {"url": url, "prompt": "x"}) == expected


def test_mcp_rules(policy: Policy) -> None:
    """`mcp__db` covers every tool of that server; a named tool can be denied."""
    assert decide(policy, "mcp__db__query", {"sql": "select 1"}) == ("allow", "db")
    assert decide(policy, "mcp__db__drop", {}) == ("deny", "no-db-drop")
    assert decide(policy, "mcp__dbx__query", {}) == ("deny", "default")


def test_tool_specific_path_rule_covers_only_that_tool(policy: Policy) -> None:
    """`Grep(src/**)` allows Grep in src, not Read of the same files."""
    assert decide(policy, "Grep", {"pattern": "x", "path": "src"}) == ("allow", "grep-only")
    assert decide(policy, "Read", {"file_path": "src/a.py"}) == ("deny", "default")


@pytest.mark.parametrize(
    ("tool", "tool_input"),
    [
        ("Bash", {}),
        ("Bash", {"command": ["ls"]}),
        ("Bash", "ls"),
        ("Read", {"file_path": None}),
        ("WebFetch", {}),
        ("Glob", {"pattern": 7}),
    ],
)
def test_malformed_input_is_denied_with_rule_error(
    policy: Policy, tool: str, tool_input: object
) -> None:
    """Anything the evaluator cannot judge is a deny with rule `error` (fail closed)."""
    assert decide(policy, tool, tool_input) == ("deny", "error")


def test_explicit_reason_is_the_reason(policy: Policy) -> None:
    """A rule's `reason` is what the agent (and the audit log) is told."""
    assert (
        evaluate(policy, "Bash", {"command": "aws s3 rm x"}).reason
        == "Cloud access is not allowed here."
    )


def test_trace_lists_rules_considered_and_serialises(policy: Policy) -> None:
    """The trace names each rule considered with whether it matched; to_json is plain JSON."""
    decision = evaluate(policy, "Bash", {"command": "git status && aws s3 ls"})
    payload = json.loads(json.dumps(decision.to_json()))
    assert payload["decision"] == "deny" and payload["rule"] == "no-aws"
    matched = [(e["rule"], e["part"]) for e in payload["trace"] if e["matched"]]
    assert matched == [("allow-git", "git status"), ("no-aws", "aws s3 ls")]
    assert {"rule", "effect", "pattern", "matched"} <= set(payload["trace"][0])


def test_compound_allow_reports_every_rule_used(policy: Policy) -> None:
    """An allowed compound command names each allow rule that covered a part."""
    decision = evaluate(policy, "Bash", {"command": "git status; ls -la"})
    assert decision.decision == "allow"
    assert decision.rules == ("allow-git", "ls-glob")


def test_rule_parse_errors_name_the_field(write_policy: Callable[..., object]) -> None:
    """A rule with an unsupported specifier is a load error naming tools.allow[i]."""
    from runner.errors import InvalidInputError
    from runner.policy import load_policy

    path = write_policy(
        """
        version: 1
        name: bad
        tools:
          allow: [Read, "TodoWrite(x)"]
        """
    )
    with pytest.raises(InvalidInputError, match=r"tools\.allow\[1\].*TodoWrite"):
        load_policy(path)  # type: ignore[arg-type]
