"""Screen/hook disagreement: when the hook decided, yet the screen shows a prompt."""

from __future__ import annotations

from runner.sessions.hooklog import HookLog

PROMPT = {"tool": "bash", "command": "rm -rf build", "options": []}


def test_hook_allow_with_a_prompt_on_screen_is_a_disagreement() -> None:
    """An allowed Bash call that still shows Claude's prompt is reported, with both sides."""
    hooks = HookLog()
    hooks.record("s1", {"tool_name": "Bash", "decision": "allow", "rule": "tools.allow[2]"})
    found = hooks.disagreement("s1", PROMPT)
    assert found is not None
    assert found["hook"] == {"tool": "Bash", "decision": "allow", "rule": "tools.allow[2]"}
    assert found["screen"]["command"] == "rm -rf build"


def test_hook_ask_agrees_with_a_prompt() -> None:
    """A hook 'ask' is exactly what makes the prompt appear: no disagreement."""
    hooks = HookLog()
    hooks.record("s1", {"tool_name": "Bash", "decision": "ask", "rule": "tools.ask[0]"})
    assert hooks.disagreement("s1", PROMPT) is None


def test_other_tool_or_other_session_is_not_compared() -> None:
    """A decision about another tool kind, or another session, says nothing about this prompt."""
    hooks = HookLog()
    hooks.record("s1", {"tool_name": "Write", "decision": "allow", "rule": None})
    assert hooks.disagreement("s1", PROMPT) is None
    assert hooks.disagreement("s2", PROMPT) is None
    hooks.forget("s1")
    assert hooks.disagreement("s1", {"tool": "write"}) is None


def test_the_log_keeps_every_judged_tool_call_until_forgotten() -> None:
    """Each decided call's tool_use_id is kept (the transcript must show them), per session."""
    log = HookLog()
    log.record("s1", {"tool_name": "Bash", "decision": "deny", "tool_use_id": "toolu_a"})
    log.record("s1", {"tool_name": "Read", "decision": "allow", "tool_use_id": "toolu_b"})
    log.record("s2", {"tool_name": "Bash", "decision": "allow", "tool_use_id": None})
    assert log.tool_use_ids("s1") == {"toolu_a", "toolu_b"}
    assert log.tool_use_ids("s2") == frozenset()
    log.forget("s1")
    assert log.tool_use_ids("s1") == frozenset()
