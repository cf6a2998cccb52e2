"""Embedded policy tests: pass/fail, expected rule ids, rule coverage."""

from __future__ import annotations

from collections.abc import Callable

from runner.policy import Policy, run_tests


def test_report_counts_failures_and_coverage(policy_from: Callable[..., Policy]) -> None:
    """Failures are reported with the actual decision; uncovered rules are listed."""
    policy = policy_from(
        """
        version: 1
        name: t
        tools:
          deny: [{id: no-curl, rule: "Bash(curl:*)"}]
          allow:
            - {id: ls, rule: "Bash(ls:*)"}
            - {id: cat, rule: "Bash(cat:*)"}
            - {id: read, rule: Read}
        tests:
          - {name: ls ok, tool: Bash, input: {command: ls -la}, expect: allow, rule: ls}
          - {name: curl denied, tool: Bash, input: {command: curl x}, expect: deny}
          - {name: wrong expectation, tool: Bash, input: {command: make}, expect: allow}
          - {name: wrong rule, tool: Bash, input: {command: ls}, expect: allow, rule: cat}
        """
    )
    report = run_tests(policy)
    assert [r.passed for r in report.results] == [True, True, False, False]
    assert report.failures[0].decision.rule == "default"
    assert report.covered == ("no-curl", "ls")
    assert report.uncovered == ("cat", "read")
    assert report.coverage == 0.5


def test_every_part_of_an_allowed_compound_counts(policy_from: Callable[..., Policy]) -> None:
    """All allow rules that covered parts of an allowed command count as covered."""
    policy = policy_from(
        """
        version: 1
        name: t
        tools:
          allow: [{id: ls, rule: "Bash(ls:*)"}, {id: cat, rule: "Bash(cat:*)"}]
        tests:
          - {tool: Bash, input: {command: "ls | cat"}, expect: allow}
        """
    )
    report = run_tests(policy)
    assert report.coverage == 1.0
    assert report.results[0].test.name == "tests[0]"


def test_child_coverage_counts_only_its_own_rules(policy_from: Callable[..., Policy]) -> None:
    """A child policy's coverage is over the rules it declares, not the inherited ones."""
    policy_from("version: 1\nname: base\ntools: {allow: [Read, 'Bash(ls:*)']}\n", "base")
    child = policy_from(
        """
        version: 1
        name: child
        extends: ./base.yaml
        tools: {deny: ["Read(./secrets/**)"]}
        tests:
          - {tool: Read, input: {file_path: secrets/k}, expect: deny, rule: "tools.deny[0]"}
          - {tool: Read, input: {file_path: src/a}, expect: allow, rule: "base:tools.allow[0]"}
        """,
        "child",
    )
    report = run_tests(child)
    assert not report.failures
    assert report.rules == ("tools.deny[0]",)
    assert report.coverage == 1.0
