"""The answer the evaluator gives, with the rule that made it and how it got there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.policy.rules import Effect

DEFAULT_RULE = "default"  # nothing matched: deny by default
ERROR_RULE = "error"  # evaluation failed: deny (fail closed)

_SEVERITY = {"allow": 0, "ask": 1, "deny": 2}


@dataclass(frozen=True)
class TraceEntry:
    """One rule the evaluator considered, and whether it matched."""

    rule: str
    effect: Effect
    pattern: str
    matched: bool
    part: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "effect": self.effect,
            "pattern": self.pattern,
            "matched": self.matched,
        }
        if self.part is not None:
            out["part"] = self.part
        if self.note is not None:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Decision:
    """``allow`` / ``ask`` / ``deny``, the deciding rule id, a reason a person can read."""

    decision: Effect
    rule: str
    reason: str
    trace: tuple[TraceEntry, ...] = ()
    rules: tuple[str, ...] = ()  # every rule that took part in the outcome (coverage)

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "rule": self.rule,
            "reason": self.reason,
            "trace": [entry.to_json() for entry in self.trace],
        }


def stricter(first: Decision, second: Decision) -> Decision:
    """The more restrictive of two decisions (deny > ask > allow); ``first`` on a tie."""
    if _SEVERITY[second.decision] > _SEVERITY[first.decision]:
        return second
    return first


def deny(rule: str, reason: str, trace: tuple[TraceEntry, ...] = ()) -> Decision:
    return Decision("deny", rule, reason, trace, (rule,))
