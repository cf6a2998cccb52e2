"""Reading a Messages API request the way Claude Code shapes it.

The last element of ``messages`` may have role ``system`` (an environment block), so
the turn is read from the last ``user`` message; a ``tool_result`` block in it means a
tool ran. Claude Code also wraps context in ``<system-reminder>`` text blocks, which are
not what the person typed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.DOTALL)
_CWD = re.compile(r"Primary working directory:\s*(\S[^\n]*)")

Message = dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """Where the conversation stands for the scripted model."""

    prompt: str  # the latest text the person typed (reminders removed)
    prompt_index: int  # how many prompts came before it
    tool_results: tuple[str, ...]  # text of tool_result blocks in the last user message
    steps_done: int  # assistant tool_use replies since the prompt
    cwd: str | None


def read_turn(body: dict[str, Any]) -> Turn:
    """Summarise the request ``body`` of a ``POST /v1/messages``."""
    messages: Sequence[Message] = [m for m in body.get("messages", []) if isinstance(m, dict)]
    prompts = [i for i, m in enumerate(messages) if _is_prompt(m)]
    last_prompt = prompts[-1] if prompts else -1
    last_user = _last_user(messages)
    after = messages[last_prompt + 1 :]
    # A prompt typed after a rejected tool call arrives in the same message as that
    # call's tool_result: the new prompt is what to answer, not the old result.
    answered = last_user is not None and (not prompts or last_user is not messages[last_prompt])
    return Turn(
        prompt=_typed_text(messages[last_prompt]) if prompts else "",
        prompt_index=max(0, len(prompts) - 1),
        tool_results=_tool_results(last_user) if answered and last_user is not None else (),
        steps_done=sum(1 for m in after if m.get("role") == "assistant" and _has_tool_use(m)),
        cwd=_find_cwd(body),
    )


def system_text(body: dict[str, Any]) -> str:
    """The system prompt as one string (it may be a string or a list of text blocks)."""
    return _text_of(body.get("system", ""))


def _last_user(messages: Sequence[Message]) -> Message | None:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message
    return None


def _is_prompt(message: Message) -> bool:
    if message.get("role") != "user":
        return False
    return bool(_typed_text(message).strip())


def _has_tool_use(message: Message) -> bool:
    return bool(_blocks(message, "tool_use"))


def _blocks(message: Message, kind: str) -> list[dict[str, Any]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == kind]


def _typed_text(message: Message) -> str:
    return _REMINDER.sub("", _text_of(message.get("content", ""))).strip()


def _tool_results(message: Message) -> tuple[str, ...]:
    return tuple(_text_of(block.get("content", "")) for block in _blocks(message, "tool_result"))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        ]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


def _find_cwd(body: dict[str, Any]) -> str | None:
    texts = [system_text(body)]
    texts += [
        _text_of(m.get("content", "")) for m in body.get("messages", []) if isinstance(m, dict)
    ]
    for text in reversed(texts):
        match = _CWD.search(text)
        if match:
            return match.group(1).strip()
    return None
