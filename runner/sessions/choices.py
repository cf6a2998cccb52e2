"""Which numbered option answers a permission prompt, read from the parsed screen.

Approving picks the least-privileged "Yes": a plain one-time yes, never an option that
widens future permissions ("always allow", "don't ask again", "switch to … mode"),
because a human approved this one call, not a class of calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from runner.errors import ConflictError

_WIDENING = re.compile(
    r"always|don't ask|do not ask|switch to|auto mode|accept edits|bypass|from this project|"
    r"for this session|all ",
    re.IGNORECASE,
)


def _options(details: Mapping[str, Any]) -> list[tuple[int, str]]:
    raw: Sequence[Mapping[str, Any]] = details.get("options") or []
    return [(int(o["number"]), str(o.get("label", ""))) for o in raw if "number" in o]


def approve_option(details: Mapping[str, Any]) -> int:
    """The number of the narrowest "Yes" option.

    Raises:
        ConflictError: the prompt shows no plain "Yes" (nothing safe to pick).
    """
    yes = [(n, label) for n, label in _options(details) if label.strip().lower().startswith("yes")]
    narrow = [n for n, label in yes if not _WIDENING.search(label)]
    if not narrow:
        raise ConflictError(
            "the prompt has no one-time 'Yes' option to approve with",
            details={"options": details.get("options")},
        )
    return narrow[0]


def reject_option(details: Mapping[str, Any]) -> int | None:
    """The number of the "No" option, or None (then Esc rejects)."""
    for number, label in _options(details):
        if label.strip().lower().startswith("no"):
            return number
    return None


def answer_option(details: Mapping[str, Any], option: int) -> int:
    """Check that ``option`` (1-based) is one the question offers.

    Raises:
        ConflictError: no such option on screen.
    """
    numbers = [n for n, _ in _options(details)]
    if option not in numbers:
        raise ConflictError(
            f"option {option} is not offered; the question shows options {numbers}",
            details={"options": details.get("options")},
        )
    return option


def free_text_option(details: Mapping[str, Any]) -> int | None:
    """The number of the "Type something." option of a question, if it has one."""
    for number, label in _options(details):
        if label.strip().lower().startswith("type something"):
            return number
    return None
