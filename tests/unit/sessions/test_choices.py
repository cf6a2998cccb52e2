"""Choosing answers from parsed prompt options."""

from __future__ import annotations

import pytest

from runner.errors import ConflictError
from runner.sessions.choices import answer_option, approve_option, free_text_option, reject_option

BASH = {
    "options": [
        {"number": 1, "label": "Yes"},
        {"number": 2, "label": "Yes, and always allow access to tmp from this project"},
        {"number": 3, "label": "Yes, and switch to auto mode"},
        {"number": 4, "label": "No"},
    ]
}


def test_approve_picks_the_one_time_yes() -> None:
    """Approve never picks an option that widens future permissions."""
    assert approve_option(BASH) == 1


def test_approve_skips_widening_options_even_when_listed_first() -> None:
    """Order does not matter: the plain Yes wins."""
    options = {
        "options": [
            {"number": 1, "label": "Yes, and don't ask again"},
            {"number": 2, "label": "Yes"},
        ]
    }
    assert approve_option(options) == 2


def test_approve_refuses_when_only_widening_yes_exists() -> None:
    """No safe option → 409, rather than granting more than was approved."""
    with pytest.raises(ConflictError):
        approve_option(
            {
                "options": [
                    {"number": 1, "label": "Yes, and always allow"},
                    {"number": 2, "label": "No"},
                ]
            }
        )


def test_reject_picks_no_or_none() -> None:
    """Reject finds the No option; without one, None means press Esc."""
    assert reject_option(BASH) == 4
    assert reject_option({"options": [{"number": 1, "label": "Yes"}]}) is None


def test_answer_must_be_offered() -> None:
    """An option number the question does not show is refused."""
    question = {
        "options": [
            {"number": 1, "label": "Red"},
            {"number": 2, "label": "Blue"},
            {"number": 3, "label": "Type something."},
        ]
    }
    assert answer_option(question, 2) == 2
    assert free_text_option(question) == 3
    with pytest.raises(ConflictError):
        answer_option(question, 7)
