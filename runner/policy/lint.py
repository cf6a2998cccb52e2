"""Findings a reviewer should see before a policy ships: hidden, redundant, odd rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from runner.policy.compiled import Policy
from runner.policy.decision import DEFAULT_RULE, ERROR_RULE
from runner.policy.evaluator import decide_with_rules
from runner.policy.probes import PROBE_HOME, PROBE_WORKSPACE, probe_call
from runner.policy.rules import KNOWN_TOOLS, Rule

Severity = Literal["error", "warning"]
_STRENGTH = {"allow": 0, "ask": 1, "deny": 2}


@dataclass(frozen=True)
class Finding:
    severity: Severity
    rule: str  # the rule id (or ``tests[i]``) the finding is about
    kind: str  # duplicate | unreachable | redundant | unknown-tool | unknown-rule |
    #          open-egress | cleartext-credential
    message: str


def lint_policy(policy: Policy) -> tuple[Finding, ...]:
    """Every finding for the policy's own rules and tests, in file order."""
    own = policy.own_rules
    findings: list[Finding] = []
    for rule in own:
        findings.extend(_unknown_tool(rule))
        findings.extend(_shadowing(rule, policy.rules))
    findings.extend(_test_references(policy))
    findings.extend(_network(policy))
    return tuple(findings)


def _network(policy: Policy) -> list[Finding]:
    """Egress rules a reviewer should look at twice: any host, or a credential sent in clear."""
    out: list[Finding] = []
    for rule in policy.network.allow:
        if ":" in rule.id:
            continue  # the base's own findings
        if rule.host == "*":
            message = f"`{rule.id}` lets the session reach any host on {list(rule.ports)}"
            out.append(Finding("warning", rule.id, "open-egress", message))
        if rule.inject is not None:
            message = (f"`{rule.id}` injects {rule.inject.header} into plain HTTP: the"
                       " credential crosses the network unencrypted")  # fmt: skip
            out.append(Finding("warning", rule.id, "cleartext-credential", message))
    return out


def _unknown_tool(rule: Rule) -> list[Finding]:
    if rule.kind == "mcp" or rule.tool in KNOWN_TOOLS:
        return []
    return [
        Finding(
            "warning",
            rule.id,
            "unknown-tool",
            f"`{rule.text}`: {rule.tool!r} is not a tool Warden knows",
        )
    ]


def _matches(other: Rule, rule: Rule) -> bool:
    """Whether ``other`` decides the sample call of ``rule``."""
    tool, tool_input = probe_call(rule)
    verdict = decide_with_rules(
        (other,), tool, tool_input, workspace=PROBE_WORKSPACE, home=PROBE_HOME
    )
    return verdict.rule == other.id


def _shadowing(rule: Rule, rules: tuple[Rule, ...]) -> list[Finding]:
    for other in rules:
        if other.id == rule.id or not _matches(other, rule):
            continue
        if _STRENGTH[other.effect] > _STRENGTH[rule.effect]:
            return [
                Finding(
                    "error",
                    rule.id,
                    "unreachable",
                    f"`{rule.text}` ({rule.effect}) never decides: {other.id} `{other.text}` "
                    f"({other.effect}) matches the same calls and wins",
                )
            ]
        # A Bash rule is not redundant because an Edit rule judges the paths it writes
        # (`Bash(rm -rf /:*)` next to `Edit(~/.claude/**)`): it names the command, with
        # its own id and reason, and decides first.
        if other.effect != rule.effect or other.tool != rule.tool:
            continue
        if other.text == rule.text:
            if rules.index(other) < rules.index(rule):
                return [
                    Finding("warning", rule.id, "duplicate", f"`{rule.text}` repeats {other.id}")
                ]
            continue
        if not _matches(rule, other) or rules.index(other) < rules.index(rule):
            return [
                Finding(
                    "warning",
                    rule.id,
                    "redundant",
                    f"`{rule.text}` is already covered by {other.id} `{other.text}`",
                )
            ]
    return []


def _test_references(policy: Policy) -> list[Finding]:
    known = {rule.id for rule in policy.rules} | {DEFAULT_RULE, ERROR_RULE}
    return [
        Finding(
            "error",
            test.name,
            "unknown-rule",
            f"test expects rule {test.rule!r}, which does not exist",
        )
        for test in policy.tests
        if test.rule is not None and test.rule not in known
    ]
