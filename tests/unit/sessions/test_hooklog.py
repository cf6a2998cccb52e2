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
