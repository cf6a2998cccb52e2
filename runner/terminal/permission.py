"""Details of a permission prompt: which tool, on what command / file / URL, with what choices."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from runner.terminal.prompts import Dialog, dialog_body, options_json

_DASHED = "╌┄┈"
_BAR = "│┃|"

# Dialog titles as Claude Code 2.1.x draws them, lower-cased, mapped to a tool kind.
_TITLES: tuple[tuple[str, str], ...] = (
    ("bash command", "bash"),
    ("create file", "write"),
    ("write file", "write"),
    ("overwrite file", "write"),
    ("edit file", "edit"),
    ("fetch", "fetch"),
    ("exit plan mode", "plan"),
    ("plan", "plan"),
)
_QUESTION_HINTS: tuple[tuple[str, str], ...] = (
    ("do you want to create", "write"),
    ("make this edit", "edit"),
    ("fetch this content", "fetch"),
    ("exit plan mode", "plan"),
)
_FETCH_URL = re.compile(r"^url:\s*(\S+)")


def permission_details(lines: Sequence[str], dialog: Dialog) -> dict[str, Any]:
    """``tool``, ``title``, ``question``, the target (``command``/``path``/``url``), options."""
    body = [line.strip() for line in dialog_body(lines, dialog)]
    text = [line for line in body if line]
    title = text[0] if text else ""
    question = next((line for line in reversed(text) if line.endswith("?")), "")
    tool = _tool_kind(title, question)
    details: dict[str, Any] = {"tool": tool, "title": title, "question": question}
    details.update(_target(tool, body))
    details["options"] = options_json(dialog)
    details["selected"] = dialog.selected
    return details


def _tool_kind(title: str, question: str) -> str:
    lowered = title.lower()
    for prefix, kind in _TITLES:
        if lowered.startswith(prefix):
            return kind
    asked = question.lower()
    return next((kind for hint, kind in _QUESTION_HINTS if hint in asked), "other")


def _target(tool: str, body: list[str]) -> dict[str, str]:
    blocks = _dashed_blocks(body)
    if tool == "bash":
        # The command is the first paragraph of the dashed box; a warning may follow it.
        return {"command": " ".join(_first_paragraph(blocks[0]) if blocks else [])}
    if tool in ("write", "edit"):
        # The path sits under the title; a long path wraps without spaces, so rejoin tightly.
        return {"path": "".join(_before_block(body)[1:])}
    if tool == "fetch":
        fields = blocks[0] if blocks else []
        url = next((m.group(1) for line in fields if (m := _FETCH_URL.match(line))), "")
        return {"url": url}
    return {}


def _before_block(body: list[str]) -> list[str]:
    head: list[str] = []
    for line in body:
        if _is_dashed(line):
            break
        if line:
            head.append(line)
    return head


def _dashed_blocks(body: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in body:
        if _is_dashed(line):
            if current is not None:
                blocks.append(current)
            current = [] if current is None else None
        elif current is not None:
            current.append(line)
    return blocks


def _first_paragraph(block: list[str]) -> list[str]:
    paragraph: list[str] = []
    for line in block:
        cleaned = line.lstrip(_BAR).strip()
        if not cleaned:
            if paragraph:
                break
            continue
        paragraph.append(cleaned)
    return paragraph


def _is_dashed(line: str) -> bool:
    return len(line) >= 10 and line[0] in _DASHED and not line.strip(_DASHED)
