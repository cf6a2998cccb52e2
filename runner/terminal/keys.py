"""Key names for ``tmux send-keys`` and the bytes the same keys are on a raw terminal."""

from __future__ import annotations

from enum import StrEnum

from runner.errors import InvalidInputError


class Key(StrEnum):
    """A key as ``tmux send-keys`` names it."""

    ENTER = "Enter"
    ESCAPE = "Escape"
    UP = "Up"
    DOWN = "Down"
    LEFT = "Left"
    RIGHT = "Right"
    TAB = "Tab"
    BACKSPACE = "BSpace"
    CTRL_C = "C-c"
    CTRL_D = "C-d"


#: What each key sends down a terminal in normal (not application) cursor mode.
KEY_BYTES: dict[Key, bytes] = {
    Key.ENTER: b"\r",
    Key.ESCAPE: b"\x1b",
    Key.UP: b"\x1b[A",
    Key.DOWN: b"\x1b[B",
    Key.RIGHT: b"\x1b[C",
    Key.LEFT: b"\x1b[D",
    Key.TAB: b"\t",
    Key.BACKSPACE: b"\x7f",
    Key.CTRL_C: b"\x03",
    Key.CTRL_D: b"\x04",
}


def digit_key(number: int) -> str:
    """The key that picks option ``number`` (1-9) of a numbered prompt.

    Raises:
        InvalidInputError: the number is not a single digit 1-9.
    """
    if not 1 <= number <= 9:
        raise InvalidInputError(f"option {number} cannot be picked with one digit key (1-9)")
    return str(number)


def send_keys_argv(target: str, *keys: str, literal: bool = False) -> list[str]:
    """The ``tmux send-keys`` argv sending ``keys`` to pane ``target``.

    With ``literal`` the keys are typed as text (``-l --``): key names are not looked up
    and a leading "-" is not an option, so user text is typed, never interpreted.
    """
    return ["tmux", "send-keys", "-t", target, *(["-l", "--"] if literal else []), *keys]
