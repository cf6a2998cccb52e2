"""What an operator's text is to Claude Code: a prompt, a shell escape or a slash command.

Input is text, never keys. Claude Code reads its input from a terminal, where an escape
byte starts a key sequence: ``ESC [ 201 ~`` ends a bracketed paste early and what
follows is typed as keys (``ESC [ Z`` is Shift+Tab, which changes the permission mode;
``\\r`` is Enter, which answers whatever dialog is open). So text that reaches the
terminal holds printable characters and newlines only; anything else is refused,
naming the character and where it is, before a byte is sent.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from runner.errors import InvalidInputError

InputKind = Literal["prompt", "shell", "slash"]


@dataclass(frozen=True)
class ParsedInput:
    """The text and what Claude Code would do with it."""

    kind: InputKind
    text: str
    #: For ``shell``: the command Claude Code's bash mode would run; for ``slash``: the
    #: command's name (``/config``).
    target: str = ""


def check_text(text: str, *, field: str = "text") -> None:
    """Refuse text holding anything but printable characters and newlines.

    Raises:
        InvalidInputError: naming the first offending character and its offset.
    """
    for offset, char in enumerate(text):
        if char == "\n" or not _is_control(char):
            continue
        code = ord(char)
        raise InvalidInputError(
            f"{field} holds the control character U+{code:04X} at offset {offset}: input is"
            " text (printable characters and newlines), never keys; remove it",
            details={"field": field, "offset": offset, "char": f"U+{code:04X}"},
        )


def parse_input(text: str) -> ParsedInput:
    """What Claude Code's input box makes of ``text`` once it is submitted."""
    # Claude Code looks at the first character typed; leading whitespace does not keep a
    # "!" from switching to bash mode, so it does not keep it from being judged either.
    stripped = text.lstrip()
    if stripped.startswith("!"):
        return ParsedInput("shell", text, stripped[1:].strip())
    if stripped.startswith("/"):
        name = stripped.split(maxsplit=1)[0] if stripped.split() else "/"
        return ParsedInput("slash", text, name)
    return ParsedInput("prompt", text)


def _is_control(char: str) -> bool:
    # Cc: C0 controls, DEL and the C1 controls (0x9B is a one-byte CSI for some
    # terminals); Cs: lone surrogates (not text, and not encodable for tmux).
    return unicodedata.category(char) in ("Cc", "Cs")
