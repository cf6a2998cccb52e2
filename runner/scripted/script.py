"""What the scripted model plays: steps parsed from ``[[directive: ...]]`` text or a YAML file.

Directives (in the latest user prompt)::

    [[bash: CMD]]                      a Bash tool_use running CMD
    [[write: PATH | CONTENT]]          a Write tool_use
    [[edit: PATH | OLD => NEW]]        an Edit tool_use
    [[ask: QUESTION | OPT 1 | OPT 2]]  an AskUserQuestion tool_use
    [[slow: SECONDS]]                  a text reply streamed over SECONDS
    [[error: STATUS]]                  that HTTP error (``[[error: STATUS | N]]``: only N times)
    [[say: TEXT]]                      exactly TEXT as the reply
    [[tool: NAME {JSON}]]              a tool_use of any tool NAME (an MCP tool such as
                                       mcp__warden__create_session) with that JSON input

A YAML script is a list of turns; each turn is a directive string or a list of them
(or mappings such as ``{bash: ls}``). A prompt without directives plays the next turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner.errors import InvalidInputError

_DIRECTIVE = re.compile(r"\[\[\s*([a-zA-Z_]+)\s*:(.*?)\]\]", re.DOTALL)


@dataclass(frozen=True)
class TextStep:
    """Reply with ``text``, streamed over ``seconds`` (0 = at once)."""

    text: str
    seconds: float = 0.0


@dataclass(frozen=True)
class ToolStep:
    """Ask Claude Code to run tool ``name`` with ``input``."""

    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class ErrorStep:
    """Answer HTTP ``status``; ``times`` > 0 limits how often before the script moves on."""

    status: int
    times: int = 0


Step = TextStep | ToolStep | ErrorStep


@dataclass(frozen=True)
class Script:
    """Turns played in order by prompts that carry no directive of their own."""

    turns: tuple[tuple[Step, ...], ...] = field(default_factory=tuple)


def parse_directives(text: str) -> tuple[Step, ...]:
    """The steps named by ``[[...]]`` directives in ``text``, in order.

    Raises:
        InvalidInputError: a directive is unknown or malformed.
    """
    return tuple(_step(kind.lower(), arg.strip()) for kind, arg in _DIRECTIVE.findall(text))


def load_script(path: Path) -> Script:
    """Read a YAML script file (see the module docstring).

    Raises:
        InvalidInputError: the file is not a list of turns of valid directives.
    """
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot read script {path}: {exc}") from exc
    if isinstance(loaded, dict):
        loaded = loaded.get("turns")
    if not isinstance(loaded, list):
        raise InvalidInputError(f"{path}: a script is a list of turns (or a mapping with 'turns')")
    return Script(turns=tuple(_turn(entry) for entry in loaded))


def _turn(entry: Any) -> tuple[Step, ...]:
    items: Iterable[Any] = entry if isinstance(entry, list) else [entry]
    steps: list[Step] = []
    for item in items:
        if isinstance(item, str):
            steps.extend(parse_directives(item) or (TextStep(item),))
        elif isinstance(item, dict) and len(item) == 1:
            ((kind, arg),) = item.items()
            steps.append(_step(str(kind).lower(), str(arg)))
        else:
            raise InvalidInputError(
                f"script turn entries are strings or one-key mappings: {item!r}"
            )
    return tuple(steps)


def _step(kind: str, arg: str) -> Step:
    parts = [part.strip() for part in arg.split("|")]
    if kind == "bash":
        return ToolStep("Bash", {"command": arg, "description": f"Run {_shorten(arg)}"})
    if kind == "write":
        path, _, content = arg.partition("|")
        return ToolStep("Write", {"file_path": path.strip(), "content": _unescape(content.strip())})
    if kind == "edit":
        path, _, change = arg.partition("|")
        old, sep, new = change.partition("=>")
        if not sep:
            raise InvalidInputError(f"[[edit: {arg}]]: expected PATH | OLD => NEW")
        return ToolStep(
            "Edit",
            {
                "file_path": path.strip(),
                "old_string": _unescape(old.strip()),
                "new_string": _unescape(new.strip()),
            },
        )
    if kind == "ask":
        return ToolStep("AskUserQuestion", _question(parts[0], parts[1:]))
    if kind == "slow":
        seconds = _number(kind, parts[0])
        return TextStep(_slow_text(seconds), seconds=seconds)
    if kind == "error":
        times = int(_number(kind, parts[1])) if len(parts) > 1 else 0
        return ErrorStep(int(_number(kind, parts[0])), times=times)
    if kind in ("say", "text"):
        return TextStep(_unescape(arg))
    if kind == "tool":
        return _tool(arg)
    raise InvalidInputError(f"unknown scripted-model directive [[{kind}: ...]]")


def _tool(arg: str) -> ToolStep:
    name, _, raw = arg.partition(" ")
    if not name:
        raise InvalidInputError("[[tool: NAME {JSON}]] needs a tool name")
    try:
        tool_input = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise InvalidInputError(f"[[tool: {name} ...]]: the input is not JSON: {exc}") from exc
    if not isinstance(tool_input, dict):
        raise InvalidInputError(f"[[tool: {name} ...]]: the input must be a JSON object")
    return ToolStep(name, tool_input)


def _question(question: str, labels: Sequence[str]) -> dict[str, Any]:
    if len(labels) < 2:
        raise InvalidInputError("[[ask: QUESTION | OPTION 1 | OPTION 2 ...]] needs two options")
    return {
        "questions": [
            {
                "question": question,
                "header": "Question",  # a chip label; Claude Code allows 12 characters
                "options": [{"label": label, "description": f"Choose {label}"} for label in labels],
                "multiSelect": False,
            }
        ]
    }


def _number(kind: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise InvalidInputError(f"[[{kind}: {text}]]: expected a number") from exc
    if value < 0:
        raise InvalidInputError(f"[[{kind}: {text}]]: must not be negative")
    return value


def _slow_text(seconds: float) -> str:
    words = max(8, int(seconds * 4))
    return " ".join(f"tick{i}" for i in range(1, words + 1)) + f" (streamed over {seconds:g}s)"


def _unescape(text: str) -> str:
    # Prompts are typed on one line, so "\n" in a directive stands for a newline.
    return text.replace("\\n", "\n")


def _shorten(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
