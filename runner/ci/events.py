"""Reading a run's audit events: the policy checks, model calls and prompt delivery."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.ci.outcome import ModelCall, ToolCheck

#: The tool input field that says what a call acts on, by tool.
_TARGET_FIELDS = ("command", "file_path", "path", "notebook_path", "url", "query", "pattern")


@dataclass(frozen=True)
class EventView:
    """One audit event of the run's session, as either adapter reads it."""

    seq: int
    type: str
    actor: str
    data: Mapping[str, Any]


def describe_target(tool_input: Any) -> str:
    """The command, path or URL a tool call acts on (``""`` when there is none)."""
    if not isinstance(tool_input, Mapping):
        return ""
    for name in _TARGET_FIELDS:
        value = tool_input.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


@dataclass
class EventLog:
    """Accumulates what the events of one session say, in seq order."""

    checks: list[ToolCheck] = field(default_factory=list)
    model_calls: list[ModelCall] = field(default_factory=list)
    prompt_delivered: bool = False
    last_seq: int | None = None

    def add(self, event: EventView) -> ToolCheck | None:
        """Take one event; returns the policy check it records, if any."""
        self.last_seq = event.seq
        data = event.data
        if event.type == "input.sent":
            self.prompt_delivered = True
        elif event.type == "model.request":
            self.model_calls.append(
                ModelCall(
                    path=str(data.get("path") or ""),
                    status=_int(data.get("status")),
                    model=data.get("model") if isinstance(data.get("model"), str) else None,
                    input_tokens=_int(data.get("input_tokens")),
                    output_tokens=_int(data.get("output_tokens")),
                    error=data.get("error") if isinstance(data.get("error"), str) else None,
                )
            )
        elif event.type == "tool.decision":
            return self._check(
                str(data.get("tool_name") or "?"),
                describe_target(data.get("tool_input")),
                str(data.get("decision") or "deny"),
                data,
            )
        elif event.type == "permission.decided" and event.actor == "system":
            # A prompt the policy's fallback answered (nobody watches a CI run).
            raw = data.get("prompt")
            prompt: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
            tool = str(prompt.get("tool") or "permission prompt")
            target = describe_target(prompt) or str(prompt.get("file") or "")
            return self._check(tool, target, str(data.get("decision") or "reject"), data)
        return None

    def _check(self, tool: str, target: str, decision: str, data: Mapping[str, Any]) -> ToolCheck:
        rule = data.get("rule")
        check = ToolCheck(
            tool=tool,
            target=target,
            decision=decision,
            rule=str(rule) if rule is not None else None,
            reason=str(data.get("reason") or ""),
        )
        self.checks.append(check)
        return check
