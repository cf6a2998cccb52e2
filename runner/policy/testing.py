"""Run a policy's embedded tests and measure which of its rules they exercise."""

from __future__ import annotations

from dataclasses import dataclass

from runner.policy.compiled import Policy, PolicyTest
from runner.policy.decision import Decision
from runner.policy.evaluator import evaluate

TEST_WORKSPACE = "/workspace"


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest class

    test: PolicyTest
    decision: Decision

    @property
    def passed(self) -> bool:
        expected_rule = self.test.rule is None or self.test.rule == self.decision.rule
        return self.decision.decision == self.test.expect and expected_rule


@dataclass(frozen=True)
class TestReport:
    __test__ = False  # not a pytest class

    policy: str
    results: tuple[TestResult, ...]
    rules: tuple[str, ...]  # the policy's own rule ids
    covered: tuple[str, ...]

    @property
    def failures(self) -> tuple[TestResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def uncovered(self) -> tuple[str, ...]:
        hit = set(self.covered)
        return tuple(rule for rule in self.rules if rule not in hit)

    @property
    def coverage(self) -> float:
        """Share of the policy's own tool rules that decided at least one test (1.0 if none)."""
        return 1.0 if not self.rules else len(self.covered) / len(self.rules)


def run_tests(policy: Policy) -> TestReport:
    """Evaluate every embedded test; a rule is covered when it took part in a test's decision."""
    results = tuple(
        TestResult(test, evaluate(policy, test.tool, test.input, workspace=TEST_WORKSPACE))
        for test in policy.tests
    )
    own = policy.own_rule_ids
    used = {rule for result in results for rule in result.decision.rules}
    return TestReport(policy.name, results, own, tuple(rule for rule in own if rule in used))
