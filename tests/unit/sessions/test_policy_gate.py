"""The session layer's policy gate: names, admission, prompt re-judging, approver roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.core import Actor, utcnow
from runner.errors import AuthorizationError, NotFoundError, PolicyDeniedError
from runner.gateway.hooks import HookDecision, hook_output
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
        with pytest.raises(NotFoundError):
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


def test_a_refusal_says_each_thing_once() -> None:
    """The refusal is the policy's reason as is, not wrapped in a second "policy 'ci' …"."""
    with pytest.raises(PolicyDeniedError) as refused:
        PolicyGate().admit(_record("ci", image="debian:bookworm"))
    message = refused.value.message
    assert message == "policy 'ci' does not allow image 'debian:bookworm' (container.images)"
    assert "refuses this session" not in message and message.count("policy 'ci'") == 1


def test_a_request_without_a_workspace_mode_gets_the_policys() -> None:
    """No mode asked for → the policy's workspace.mode (strict: ro), which it then admits."""
    gate = PolicyGate()
    assert gate.workspace_mode("strict", None) == "ro"
    assert gate.workspace_mode("ci", None) == "copy"
    assert gate.workspace_mode("default", "rw") == "rw"
    assert gate.admit(_record("strict", mode=gate.workspace_mode("strict", None))).pids > 0
    with pytest.raises(NotFoundError):
        gate.workspace_mode("nope", None)


def test_admission_checks_digest_pins_against_the_resolved_image(tmp_path: Path) -> None:
    """A policy pinning an image id admits the image that has it, and refuses another."""
    pinned = "sha256:" + "d" * 64
    (tmp_path / "pinned.yaml").write_text(
        "version: 1\nname: pinned\n"
        f"container: {{images: ['{pinned}']}}\n"
        "workspace: {mode: copy, allowed_modes: [copy]}\n"
    )
    gate = PolicyGate(tmp_path)
    record = _record("pinned", image="acme/sandbox:1")
    assert gate.admit(record, [pinned]).pids > 0
    with pytest.raises(PolicyDeniedError) as refused:
        gate.admit(record, ["sha256:" + "e" * 64])
    assert refused.value.rule == "container.images"


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


def test_the_hook_reason_names_the_rule_once() -> None:
    """What the agent is told: "warden: tools.ask[0]: `Bash` asks for …", the id said once."""
    decision = PolicyGate().judge_tool("default", "Bash", {"command": "make build"}, None)
    assert (decision.decision, decision.rule) == ("ask", "tools.ask[0]")
    output = hook_output(HookDecision(decision.decision, decision.reason, decision.rule))
    reason = output["hookSpecificOutput"]["permissionDecisionReason"]
    assert reason == "warden: tools.ask[0]: `Bash` asks for `make build`"
    assert reason.count("tools.ask[0]") == 1
