"""The fast JCS encoder writes exactly what the reference rfc8785 writes, or refuses alike."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import pytest
import rfc8785
from hypothesis import given, settings

from audit import jcs

# Characters where the encoders could part ways: controls, quotes, DEL, U+2028, private use
# and specials (UTF-16 sorts them after surrogate pairs), non-BMP, and lone surrogates.
_TRICKY = st.sampled_from(
    ["\x00", "\x08", "\x1f", '"', "\\", "/", "\x7f", "\u2028", "\ue000", "\uffff", "\ud800"]
) | st.sampled_from(["\U0001f600", "\U00010000", "é", "a", "Z"])
_TEXT = st.text(st.characters() | _TRICKY, max_size=6)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.sampled_from([2**53 - 1, -(2**53 - 1), 2**53, -(2**53)])
    | st.floats(allow_nan=True, allow_infinity=True)
    | _TEXT
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_TEXT, inner, max_size=5)
    ),
    max_leaves=20,
)


def _reference(value: Any) -> bytes | type[BaseException]:
    try:
        return rfc8785.dumps(value)
    except Exception as exc:  # the kind of refusal is what must match
        return type(exc)


def _fast(value: Any) -> bytes | type[BaseException]:
    try:
        return jcs.dumps(value)
    except Exception as exc:
        return type(exc)


@settings(max_examples=1500, deadline=None)
@given(value=_VALUES)
def test_fast_encoder_matches_the_reference(value: Any) -> None:
    """For any JSON-like value the bytes (or the refusal) equal rfc8785's."""
    assert _fast(value) == _reference(value)


@given(data=st.dictionaries(_TEXT, _TEXT | st.integers(-(2**53 - 1), 2**53 - 1), max_size=8))
def test_event_shaped_objects_take_the_same_bytes(data: dict[str, Any]) -> None:
    """Event bodies (strings, safe integers, nested objects) encode identically."""
    body = {"v": 1, "id": "0" * 32, "actor": "user:a", "tenant": None, "data": {"d": data}}
    assert _fast(body) == _reference(body)


@pytest.mark.parametrize(
    "value",
    [
        {"\ue000": 1, "\U0001f600": 2},  # UTF-16 order differs from code point order
        {"a": 1.0, "b": 1e21, "c": -0.0, "d": 5e-7},  # ECMAScript number forms
        {"x": 2**53},  # beyond JCS integers
        {"s": "\ud800"},  # lone surrogate
        {1: "non-string key"},
        [float("nan")],
        {"t": ("tuple", True, None)},
    ],
)
def test_values_json_would_get_wrong_go_to_the_reference(value: Any) -> None:
    """Non-BMP key order, floats, big integers, surrogates and odd keys match the reference."""
    assert _fast(value) == _reference(value)
