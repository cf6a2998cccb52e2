"""Deciding the scripted model's next reply from a request and the script.

Stateless where it can be: the position in a multi-step prompt is read back from the
conversation (one step per assistant ``tool_use`` since the prompt), so Claude Code's
retries and restarts replay the same step. Only limited errors (``[[error: 500 | 2]]``)
need a counter, kept by the caller in ``error_counts``.
"""

from __future__ import annotations

import json
import re
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import PurePosixPath
from typing import Any

from runner.scripted.conversation import Turn, read_turn, system_text
from runner.scripted.reply import Reply, ToolUse, estimate_tokens, new_tool_use_id
from runner.scripted.script import ErrorStep, Script, Step, TextStep, ToolStep, parse_directives

ErrorCounts = MutableMapping[tuple[int, str, int], int]

_PATH_TOOLS = frozenset({"Write", "Edit", "Read", "NotebookEdit"})
_SESSION = re.compile(r"<session>(.*?)</session>.*", re.DOTALL)


@dataclass(frozen=True)
class Failure:
    """Answer with this HTTP error instead of a message."""

    status: int
    message: str


def plan_reply(body: dict[str, Any], script: Script, error_counts: ErrorCounts) -> Reply | Failure:
    """The reply to the ``POST /v1/messages`` request ``body``.

    Raises:
        InvalidInputError: the prompt holds a malformed directive.
    """
    model = str(body.get("model", "claude-scripted"))
    input_tokens = estimate_tokens(_request_size_text(body))
    side = _side_reply(body)
    if side is not None:
        return Reply(model=model, text=side, tool=None, input_tokens=input_tokens)
    turn = read_turn(body)
    steps = parse_directives(turn.prompt) or _script_turn(script, turn.prompt_index)
    position = _position_after_tools(steps, turn.steps_done)
    while position < len(steps) and isinstance(error := steps[position], ErrorStep):
        failure = _failure(error, turn, position, error_counts)
        if failure is not None:
            return failure
        position += 1
    texts: list[TextStep] = []
    tool: ToolStep | None = None
    for step in steps[position:]:
        if isinstance(step, ToolStep):
            tool = step
            break
        if isinstance(step, ErrorStep):
            break  # an error after text never fires: the text already ended the turn
        texts.append(step)
    text = " ".join(t.text for t in texts) or (_closing_text(turn) if tool is None else "")
    seconds = sum(t.seconds for t in texts)
    return Reply(model, text, _tool_use(tool, turn.cwd), input_tokens, seconds)


def _script_turn(script: Script, index: int) -> tuple[Step, ...]:
    return script.turns[index] if index < len(script.turns) else ()


def _position_after_tools(steps: Sequence[Step], tools_done: int) -> int:
    if tools_done == 0:
        return 0
    seen = 0
    for i, step in enumerate(steps):
        if isinstance(step, ToolStep):
            seen += 1
            if seen == tools_done:
                return i + 1
    return len(steps)


def _failure(step: ErrorStep, turn: Turn, position: int, counts: ErrorCounts) -> Failure | None:
    key = (turn.prompt_index, turn.prompt, position)
    if step.times and counts.get(key, 0) >= step.times:
        return None
    counts[key] = counts.get(key, 0) + 1
    return Failure(step.status, _status_phrase(step.status))


def _status_phrase(status: int) -> str:
    if status == 529:
        return "Overloaded"
    try:
        return HTTPStatus(status).phrase.capitalize()
    except ValueError:
        return f"Scripted error {status}"


def _tool_use(step: ToolStep | None, cwd: str | None) -> ToolUse | None:
    if step is None:
        return None
    tool_input = dict(step.input)
    path = tool_input.get("file_path")
    # Claude Code's file tools want absolute paths; scripts say them relative to the cwd.
    if step.name in _PATH_TOOLS and isinstance(path, str) and cwd and not path.startswith("/"):
        tool_input["file_path"] = str(PurePosixPath(cwd) / path)
    return ToolUse(step.name, tool_input, new_tool_use_id())


def _closing_text(turn: Turn) -> str:
    if turn.tool_results:
        result = turn.tool_results[0]
        try:  # a JSON result (an MCP tool's) is quoted whole, on one line
            return f"The tool said: {json.dumps(json.loads(result), ensure_ascii=False)[:1000]}"
        except ValueError:
            pass
        first = next((line for line in result.splitlines() if line.strip()), "")
        return f"The tool said: {first.strip() or '(nothing)'}"
    prompt = " ".join(turn.prompt.split())
    if not prompt:
        return "Hello from the scripted model."
    return f"Scripted reply to: {prompt[:200]}"


def _side_reply(body: dict[str, Any]) -> str | None:
    """An answer for Claude Code's helper calls (session title...), which play no step.

    They come without tools; the title call asks for JSON by ``output_config.format``.
    A tool-less request without a system prompt is a plain API caller: it gets the script.
    """
    if body.get("tools"):
        return None
    schema = _output_schema(body)
    if schema is not None:
        title = (
            " ".join(_SESSION.sub(r"\1", read_turn(body).prompt).split()[:4]) or "Scripted session"
        )
        return json.dumps(_fill(schema, title.capitalize()))
    return "OK" if system_text(body).strip() else None


def _output_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    schema = fmt.get("schema") if isinstance(fmt, dict) else None
    return schema if isinstance(schema, dict) else None


def _fill(schema: dict[str, Any], text: str) -> dict[str, Any]:
    samples = {
        "string": text,
        "boolean": False,
        "integer": 0,
        "number": 0,
        "array": [],
        "object": {},
    }
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {
        name: samples.get(str(spec.get("type")) if isinstance(spec, dict) else "")
        for name, spec in properties.items()
    }


def _request_size_text(body: dict[str, Any]) -> str:
    parts = [system_text(body), str(body.get("messages", "")), str(body.get("tools", ""))]
    return "".join(parts)
