"""Rendering an assistant reply as the Messages API does: one JSON body or an SSE stream."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolUse:
    """A ``tool_use`` content block."""

    name: str
    input: dict[str, Any]
    id: str


@dataclass(frozen=True)
class Reply:
    """One assistant message: optional text, then optionally one tool call."""

    model: str
    text: str
    tool: ToolUse | None
    input_tokens: int
    seconds: float = 0.0  # how long streaming the text should take

    @property
    def stop_reason(self) -> str:
        return "tool_use" if self.tool is not None else "end_turn"

    @property
    def output_tokens(self) -> int:
        tool_json = json.dumps(self.tool.input) if self.tool else ""
        return estimate_tokens(self.text + tool_json)


def estimate_tokens(text: str) -> int:
    """Roughly what a tokenizer would count: about four characters a token."""
    return max(1, (len(text) + 3) // 4)


def new_tool_use_id() -> str:
    return f"toolu_{uuid.uuid4().hex[:24]}"


def message_json(reply: Reply) -> dict[str, Any]:
    """The non-streaming response body."""
    content: list[dict[str, Any]] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    if reply.tool is not None:
        content.append(_tool_block(reply.tool, reply.tool.input))
    return {
        **_message_head(reply),
        "content": content,
        "stop_reason": reply.stop_reason,
        "usage": _usage(reply.input_tokens, reply.output_tokens),
    }


async def sse_events(reply: Reply) -> AsyncIterator[bytes]:
    """The streaming response, as encoded server-sent events."""
    head = {**_message_head(reply), "content": [], "stop_reason": None}
    head["usage"] = _usage(reply.input_tokens, 1)
    yield _event("message_start", {"type": "message_start", "message": head})
    index = 0
    if reply.text:
        async for chunk in _text_block(index, reply.text, reply.seconds):
            yield chunk
        index += 1
    if reply.tool is not None:
        for chunk in _tool_events(index, reply.tool):
            yield chunk
    delta = {"stop_reason": reply.stop_reason, "stop_sequence": None}
    usage = {"output_tokens": reply.output_tokens}
    yield _event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage})
    yield _event("message_stop", {"type": "message_stop"})


async def _text_block(index: int, text: str, seconds: float) -> AsyncIterator[bytes]:
    start = {"type": "content_block_start", "index": index}
    yield _event("content_block_start", {**start, "content_block": {"type": "text", "text": ""}})
    pieces = _pieces(text)
    pause = seconds / len(pieces) if seconds > 0 else 0.0
    for piece in pieces:
        if pause:
            await asyncio.sleep(pause)
        delta = {"type": "text_delta", "text": piece}
        yield _event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        )
    yield _event("content_block_stop", {"type": "content_block_stop", "index": index})


def _tool_events(index: int, tool: ToolUse) -> list[bytes]:
    start = {"type": "content_block_start", "index": index, "content_block": _tool_block(tool, {})}
    raw = json.dumps(tool.input)
    # Split the JSON the way the API does: arbitrary fragments the client must join.
    fragments = [raw[i : i + 24] for i in range(0, len(raw), 24)] or ["{}"]
    events = [_event("content_block_start", start)]
    for fragment in fragments:
        delta = {"type": "input_json_delta", "partial_json": fragment}
        events.append(
            _event(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        )
    events.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]


def _tool_block(tool: ToolUse, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool.id, "name": tool.name, "input": tool_input}


def _message_head(reply: Reply) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "stop_sequence": None,
    }


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
