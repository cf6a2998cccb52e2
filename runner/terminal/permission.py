"""Details of a permission prompt: which tool, on what command / file / URL, with what choices.

Everything is read from the prompt's frame (``frame.Dialog``): the title is the row
under the top rule, the question the paragraph right above the options, the target
the first ``╌╌╌`` box. Rows inside that box are content and are never taken for
anything else. When the dialog is taller than the screen its top is cut off; then
the tool and the file come from the question, the command is what remains visible,
and ``partial`` says so.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from runner.terminal.command import command_text
from runner.terminal.frame import Dialog

_DASHED = "╌┄┈"

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
# Used only when the title is above the screen.
_QUESTION_HINTS: tuple[tuple[str, str], ...] = (
    ("do you want to create", "write"),
    ("do you want to overwrite", "write"),
    ("make this edit", "edit"),
    ("fetch this content", "fetch"),
    ("exit plan mode", "plan"),
    ("do you want to proceed", "bash"),
)
#: The parts of a prompt that decide what approving it does (not the cursor position).
PROMPT_KEYS = ("tool", "command", "path", "title", "question", "options")
_QUESTION_FILE = re.compile(r"(?:create|overwrite|edit to) (.+)\?$")
_FETCH_URL = re.compile(r"url:\s*(\S+)")


def permission_details(lines: Sequence[str], dialog: Dialog) -> dict[str, Any]:
    """``tool``, ``title``, ``question``, the target (``command``/``path``/``url``), options.

    ``partial`` is True when the dialog's top is above the screen: the target is then
    only what is visible (a command's last lines; a file's name from the question).
    """
    head = list(lines[dialog.head_start : dialog.first_option])
    title_row = dialog.title_row
    title = lines[title_row].strip() if title_row is not None else ""
    question = _question(head)
    tool = _tool_kind(title, question)
    details: dict[str, Any] = {"tool": tool, "title": title, "question": question}
    # The title is the dialog's second row: without it, the top of the content is gone too.
    partial = title_row is None
    details.update(_target(tool, head, not partial, question))
    details["options"] = [
        {"number": o.number, "label": " ".join([o.label, *o.extra]).strip()} for o in dialog.options
    ]
    details["selected"] = dialog.selected
    details["partial"] = partial
    return details


def _tool_kind(title: str, question: str) -> str:
    lowered = title.lower()
    for prefix, kind in _TITLES:
        if lowered.startswith(prefix):
            return kind
    if title:
        return "other"
    asked = question.lower()
    return next((kind for hint, kind in _QUESTION_HINTS if hint in asked), "other")


def _question(head: list[str]) -> str:
    """The bottom-most paragraph that ends with ``?``, below the content box."""
    paragraph: list[str] = []
    for row in reversed(head):
        if is_dashed(row):
            break
        text = row.strip()
        if text:
            paragraph.insert(0, text)
            continue
        if paragraph and paragraph[-1].endswith("?"):
            return " ".join(paragraph)
        paragraph = []
    return " ".join(paragraph) if paragraph and paragraph[-1].endswith("?") else ""


def _target(tool: str, head: list[str], has_title: bool, question: str) -> dict[str, str]:
    dashed = [y for y, row in enumerate(head) if is_dashed(row)]
    if tool == "bash":
        return {"command": command_text(head, dashed, has_title)}
    if tool in ("write", "edit"):
        if has_title and dashed:
            # The path sits under the title; a long path wraps without spaces: rejoin tightly.
            return {"path": "".join(row.strip() for row in head[1 : dashed[0]])}
        named = _QUESTION_FILE.search(question)
        return {"path": named.group(1) if named else ""}
    if tool == "fetch" and len(dashed) >= 2:
        fields = head[dashed[0] + 1 : dashed[1]]
        url = next((m.group(1) for row in fields if (m := _FETCH_URL.match(row.strip()))), "")
        return {"url": url}
    return {}


def is_dashed(row: str) -> bool:
    """A ``╌╌╌`` rule of the dialog's own: it starts at column 0 (content never does)."""
    return len(row) >= 10 and row[0] in _DASHED and not row.strip(_DASHED)


def prompt_hash(details: Mapping[str, Any]) -> str:
    """What identifies a prompt: its tool, target and options, hashed (not the cursor)."""
    chosen = {k: details.get(k) for k in PROMPT_KEYS}
    canonical = json.dumps(chosen, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
