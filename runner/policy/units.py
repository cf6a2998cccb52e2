"""Sizes (``"2g"``) and durations (``"30m"``) as written in policy files."""

from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_size(value: int | str) -> int:
    """Bytes for ``value``; units are binary like Docker's (``1g`` = 1024³ bytes).

    Raises:
        ValueError: not a size.
    """
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"negative size: {value}")
        return value
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"not a size: {value!r} (use bytes or e.g. 512m, 2g)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** _POWERS[unit])


def parse_duration(value: int | str) -> int:
    """Seconds for ``value`` (``90``, ``"90s"``, ``"30m"``, ``"4h"``, ``"1d"``).

    Raises:
        ValueError: not a duration.
    """
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"duration must be positive: {value}")
        return value
    match = _DURATION.match(value)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {value!r} (use seconds or e.g. 90s, 30m, 4h)")
    return int(match.group(1)) * _SECONDS[match.group(2)]
