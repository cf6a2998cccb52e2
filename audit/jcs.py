"""RFC 8785 (JCS) encoding: the C ``json`` encoder where it provably agrees, else ``rfc8785``.

The reference implementation (``rfc8785``) is pure Python and was the largest single cost
of recording an event. For values built only from ``dict`` (``str`` keys with no character
above U+FFFF), ``list``, ``tuple``, ``str``, ``bool``, ``None`` and ``int`` within
±(2**53 - 1), all of exactly those types, JCS writes precisely what
``json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)`` writes,
UTF-8 encoded:

* strings: both escape ``"``, ``\\`` and U+0000..U+001F only (``\\b \\t \\n \\f \\r``, else
  ``\\u00xx`` in lowercase hex) and write every other character as itself; a lone
  surrogate cannot be encoded as UTF-8 by either, so both refuse it;
* member order: JCS sorts keys by UTF-16 code units, Python by code points, and the two
  orders agree unless a key has a character above U+FFFF;
* integers: both write plain decimal digits (JCS refuses those beyond ±(2**53 - 1)).

Anything else, floats above all (ECMAScript number form is not Python's ``repr``), goes to
``rfc8785`` unchanged, errors included. ``tests/unit/audit/test_jcs.py`` holds the two
equal on generated values, so the stored bytes cannot drift from the standard.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

_INT_MAX = 2**53 - 1
_ENCODE = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
).encode


def dumps(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value``; raises as ``rfc8785.dumps`` does for bad values."""
    if _is_plain(value):
        try:
            return _ENCODE(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let the reference raise its own error
    return rfc8785.dumps(value)


def _is_plain(value: Any) -> bool:
    """True when ``value`` only holds the types on which ``json`` and JCS agree exactly."""
    # Every event is checked on its producer's thread before it is queued: strings, the
    # common case, are passed over inline instead of by a recursive call each.
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_INT_MAX <= value <= _INT_MAX)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or _is_bmp(key)):
                return False
            if type(item) is not str and not _is_plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        return all(type(item) is str or _is_plain(item) for item in value)
    return False


def _is_bmp(text: str) -> bool:
    return max(text) <= "\uffff"
