"""The session layer's policy gate: names, admission, prompt re-judging, approver roles."""

from __future__ import annotations

import pytest

from runner.core import Actor, utcnow
from runner.errors import AuthorizationError, InvalidInputError, NotFoundError, PolicyDeniedError
from runner.sessions.model import SessionRecord
from runner.sessions.policy_gate import PolicyGate


def _record(policy: str, image: str = "warden-sandbox:latest", mode: str = "copy") -> SessionRecord:
    now = utcnow()
    return SessionRecord(
        id="s1", tenant="t", owner="o", state="starting", details={}, work_dir="/w",
        workspace_mode=mode, policy=policy, image=image, model=None,
        permission_mode="default", prompt=None, env={}, container_id=None,
        created_at=now, updated_at=now,
    )  # fmt: skip


def test_only_known_policy_names_are_accepted() -> None:
    """A path or an unknown name is refused: clients never make us read arbitrary files."""
    gate = PolicyGate()
    assert {"default", "ci", "strict", "permissive-dev"} <= set(gate.names())
    for name in ("../../etc/passwd", "/etc/hosts", "nope"):
        with pytest.raises(InvalidInputError):
            gate.policy(name)
    with pytest.raises(NotFoundError):
        gate.document("nope")


def test_admission_refuses_outside_the_policy_with_the_rule() -> None:
    """An image or workspace mode the policy does not allow → PolicyDeniedError with its rule."""
    gate = PolicyGate()
    with pytest.raises(PolicyDeniedError) as image:
        gate.admit(_record("ci", image="debian:bookworm"))
    assert image.value.rule == "container.images"
    with pytest.raises(PolicyDeniedError) as mode:
        gate.admit(_record("ci", mode="rw"))
    assert mode.value.rule == "workspace.allowed_modes"
    profile = gate.admit(_record("ci"))
    assert profile.pids > 0 and profile.memory_bytes > 0


def test_prompt_on_screen_is_judged_like_the_tool_call() -> None:
    """The parsed prompt's command is judged by the policy, so an approval can be refused."""
    gate = PolicyGate()
    curl = {"tool": "bash", "command": "curl -s http://example.com", "options": []}
    denied = gate.judge_prompt("ci", curl, None)
    assert denied is not None and (denied.decision, denied.rule) == ("deny", "net-curl")
    asked = gate.judge_prompt("default", {"tool": "bash", "command": "make build"}, None)
    assert asked is not None and asked.decision == "ask"
    assert gate.judge_prompt("default", {"tool": "other", "command": "x"}, None) is None


def test_only_the_policys_approver_roles_may_approve() -> None:
    """A viewer or operator cannot answer a prompt; an approver can."""
    gate = PolicyGate()
    with pytest.raises(AuthorizationError):
        gate.check_approver("default", Actor("bob", roles=frozenset({"viewer", "operator"})))
    gate.check_approver("default", Actor("ann", roles=frozenset({"approver"})))
