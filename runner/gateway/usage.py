"""Token usage of one session, read from the Messages API replies as they pass by."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from runner.gateway.sse import SseEvent


@dataclass(frozen=True)
class Tokens:
    """Token counts of one reply (or a sum of replies)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    @property
    def total(self) -> int:
        """Every token billed: input (cached or not) and output."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )

    @classmethod
    def from_api(cls, usage: Any) -> Tokens:
        """Read an API ``usage`` object; missing or odd fields count as zero."""
        if not isinstance(usage, dict):
            return cls()
        return cls(**{name: _count(usage.get(name)) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Usage:
    """A session's usage so far: model requests answered, and tokens overall and per model."""

    requests: int = 0
    tokens: Tokens = field(default_factory=Tokens)
    by_model: Mapping[str, Tokens] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def input_tokens(self) -> int:
        return self.tokens.input_tokens

    @property
    def output_tokens(self) -> int:
        return self.tokens.output_tokens

    def add(self, model: str, tokens: Tokens) -> Usage:
        """This usage plus one request to ``model`` that used ``tokens``."""
        per_model = dict(self.by_model)
        per_model[model] = per_model.get(model, Tokens()) + tokens
        return replace(
            self,
            requests=self.requests + 1,
            tokens=self.tokens + tokens,
            by_model=MappingProxyType(per_model),
        )


class StreamUsage:
    """Follows one streamed reply: ``message_start`` gives input, ``message_delta`` output."""

    def __init__(self) -> None:
        self.tokens = Tokens()
        self.model: str | None = None
        self.stop_reason: str | None = None

    def see(self, event: SseEvent) -> None:
        """Account for one SSE event of the reply."""
        data = event.json()
        if data is None:
            return
        if data.get("type") == "message_start" and isinstance(data.get("message"), dict):
            message = data["message"]
            self.model = str(message.get("model")) if message.get("model") else None
            self.tokens = Tokens.from_api(message.get("usage"))
        elif data.get("type") == "message_delta":
            self._see_delta(data)

    def _see_delta(self, data: dict[str, Any]) -> None:
        delta = data.get("delta")
        if isinstance(delta, dict) and delta.get("stop_reason"):
            self.stop_reason = str(delta["stop_reason"])
        usage = data.get("usage")
        if not isinstance(usage, dict):
            return
        # message_delta usage is cumulative: the counts it carries replace the start's.
        self.tokens = Tokens(
            **{
                name: _count(usage[name]) if isinstance(usage.get(name), int) else old
                for name, old in vars(self.tokens).items()
            }
        )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
