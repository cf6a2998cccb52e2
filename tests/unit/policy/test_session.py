"""Session-level checks: container profile, workspace mode, model and budgets."""

from __future__ import annotations

import pytest

from runner.policy import SessionRequest, check_model, check_session, container_profile, load_policy


@pytest.mark.parametrize(
    ("request_", "rule"),
    [
        (SessionRequest(image="ubuntu:22.04"), "container.images"),
        (
            SessionRequest(image="warden-sandbox:latest", workspace_mode="rw"),
            "workspace.allowed_modes",
        ),
        (SessionRequest(image="warden-sandbox:latest", cpus=8), "container.cpus"),
        (
            SessionRequest(image="warden-sandbox:latest", memory_bytes=64 * 1024**3),
            "container.memory",
        ),
        (SessionRequest(image="warden-sandbox:latest", pids=100_000), "container.pids"),
        (SessionRequest(image="warden-sandbox:latest", model="gpt-4o"), "model.allowed"),
    ],
)
def test_requests_outside_the_policy_are_denied_with_the_rule(
    request_: SessionRequest, rule: str
) -> None:
    """Each out-of-policy request is denied, naming the container/workspace/model rule it breaks."""
    decision = check_session(load_policy("ci"), request_)
    assert (decision.decision, decision.rule) == ("deny", rule)


def test_runtime_may_only_get_stricter() -> None:
    """A runsc request is fine under a runc policy; runc under a runsc policy is denied."""
    policy = load_policy("default")
    assert check_session(policy, SessionRequest(image="warden-sandbox:1", runtime="runsc")).allowed
    from dataclasses import replace

    gvisor = replace(policy, container=replace(policy.container, runtime="runsc"))
    decision = check_session(gvisor, SessionRequest(image="warden-sandbox:1", runtime="runc"))
    assert decision.rule == "container.runtime"


def test_allowed_request_gets_a_profile_capped_by_policy() -> None:
    """An allowed request's profile takes its own values or the policy's limits."""
    policy = load_policy("ci")
    request = SessionRequest(image="warden-sandbox:latest", cpus=1, model="claude-sonnet-4")
    assert check_session(policy, request).decision == "allow"
    profile = container_profile(policy, request)
    assert profile.cpus == 1
    assert profile.memory_bytes == 4 * 1024**3
    assert profile.pids == 1024
    assert profile.workspace_mode == "copy"
    assert profile.runtime == "runc"
    assert profile.max_duration_seconds == 7200


def test_model_checks_models_tokens_and_budget() -> None:
    """check_model refuses other models, exhausted token allowances and spent budgets."""
    policy = load_policy("ci")
    assert check_model(policy, "claude-opus-4", tokens_used=10).decision == "allow"
    assert check_model(policy, "gpt-4o").rule == "model.allowed"
    assert check_model(policy, "claude-opus-4", tokens_used=3_000_000).rule == "model.max_tokens"
    assert check_model(policy, "claude-opus-4", cost_usd=10.0).rule == "model.budget_usd"
