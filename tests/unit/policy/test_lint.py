"""`warden policy check` lint: unreachable, redundant and duplicate rules, unknown names."""

from __future__ import annotations

from collections.abc import Callable

from runner.policy import Policy, lint_policy, load_policy, shipped_policies_dir


def findings(policy: Policy) -> set[tuple[str, str, str]]:
    return {(f.severity, f.rule, f.kind) for f in lint_policy(policy)}


def test_lint_finds_hidden_redundant_duplicate_and_unknown(
    policy_from: Callable[..., Policy],
) -> None:
    """Each lint kind is reported against the rule it concerns."""
    policy = policy_from(
        """
        version: 1
        name: messy
        tools:
          deny: ["Bash(git push:*)", "Edit(//etc/**)"]
          ask: ["Bash(rm:*)", "WebFetch(domain:*.example.com)"]
          allow:
            - Bash(git push origin main)
            - Bash(rm -rf build)
            - Edit(//etc/hosts)
            - Bash(npm:*)
            - Bash(npm test:*)
            - Bash(ls)
            - Bash(ls)
            - WebFetch(domain:api.example.com)
            - Frobnicate
        tests:
          - {tool: Bash, input: {command: ls}, expect: allow, rule: no-such-rule}
        """
    )
    assert findings(policy) == {
        ("error", "tools.allow[0]", "unreachable"),
        ("error", "tools.allow[1]", "unreachable"),
        ("error", "tools.allow[2]", "unreachable"),
        ("warning", "tools.allow[4]", "redundant"),
        ("warning", "tools.allow[6]", "duplicate"),
        ("error", "tools.allow[7]", "unreachable"),
        ("warning", "tools.allow[8]", "unknown-tool"),
        ("error", "tests[0]", "unknown-rule"),
    }


def test_partial_overlap_is_not_reported(policy_from: Callable[..., Policy]) -> None:
    """A broad allow narrowed by a deny is normal policy, not a finding."""
    policy = policy_from(
        """
        version: 1
        name: fine
        tools:
          deny: ["Bash(git push:*)"]
          allow: ["Bash(git:*)", Read, "Edit(src/**)"]
        """
    )
    assert lint_policy(policy) == ()


def test_shipped_policies_lint_clean() -> None:
    """The shipped policies have no lint findings at all."""
    for path in sorted(shipped_policies_dir().glob("*.yaml")):
        assert lint_policy(load_policy(path)) == (), path.name


def test_a_bash_rule_is_not_redundant_next_to_an_edit_rule(
    policy_from: Callable[..., Policy],
) -> None:
    """`Edit(~/**)` also denies `rm -rf ~` (its write), but the Bash rule keeps its own reason."""
    policy = policy_from(
        """
        version: 1
        name: both
        tools:
          deny: ["Bash(rm -rf ~:*)", "Edit(~/**)"]
          allow: [Bash]
        """
    )
    assert lint_policy(policy) == ()
