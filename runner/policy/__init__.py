"""Policy files: what a session may be, and what each tool call may do. Pure domain code.

The public surface::

    load_policy(ref, *, policies_dir=None) -> Policy        # shipped name ("ci") or a path
    evaluate(policy, tool_name, tool_input, *, workspace="/workspace", fs_root=None) -> Decision
    check_session(policy, SessionRequest(...)) -> Decision
    container_profile(policy, SessionRequest(...)) -> ContainerProfile
    check_model(policy, model, tokens_used=0, cost_usd=0.0) -> Decision
    judge_egress(policy.network, host, port, method=None, path=None) -> EgressDecision
    run_tests(policy) -> TestReport;  lint_policy(policy) -> tuple[Finding, ...]
"""

from runner.policy.compiled import Policy
from runner.policy.decision import DEFAULT_RULE, ERROR_RULE, Decision, TraceEntry
from runner.policy.evaluator import DEFAULT_HOME, DEFAULT_WORKSPACE, evaluate
from runner.policy.lint import Finding, lint_policy
from runner.policy.loader import list_policies, load_policy, shipped_policies_dir
from runner.policy.network import (
    EgressDecision,
    NetworkRules,
    address_refused,
    judge_egress,
    parse_address,
)
from runner.policy.session import (
    ContainerProfile,
    SessionRequest,
    check_model,
    check_session,
    container_profile,
)
from runner.policy.testing import TestReport, run_tests

__all__ = [
    "DEFAULT_HOME",
    "DEFAULT_RULE",
    "DEFAULT_WORKSPACE",
    "ERROR_RULE",
    "ContainerProfile",
    "Decision",
    "EgressDecision",
    "Finding",
    "NetworkRules",
    "Policy",
    "SessionRequest",
    "TestReport",
    "TraceEntry",
    "address_refused",
    "check_model",
    "check_session",
    "container_profile",
    "evaluate",
    "judge_egress",
    "lint_policy",
    "list_policies",
    "load_policy",
    "parse_address",
    "run_tests",
    "shipped_policies_dir",
]
