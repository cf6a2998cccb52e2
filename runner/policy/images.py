"""Which sandbox images a policy allows: name patterns, and digest pins.

``container.images`` entries are globs over the requested reference
(``warden-sandbox:*``), or pins of one exact image: ``sha256:<64 hex>`` (the image id
``warden image list`` shows) or ``NAME@sha256:<64 hex>`` (a registry digest). A pin is
checked against the digests of the image the reference resolves to right now, so a tag
moved to another image no longer matches it; a name pattern trusts whoever can tag
images on the engine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

_DIGEST = r"sha256:[0-9a-f]{64}"
_PIN = re.compile(rf"(?:[^\s@]+@)?{_DIGEST}")


def is_digest_pin(entry: str) -> bool:
    """Whether an ``images`` entry pins a digest (rather than matching names)."""
    return "sha256:" in entry


def check_image_entry(entry: str) -> str:
    """``entry`` if it is a valid pattern or pin.

    Raises:
        ValueError: it mentions a digest but is not ``[NAME@]sha256:<64 lowercase hex>``.
    """
    if is_digest_pin(entry) and not _PIN.fullmatch(entry):
        raise ValueError(f"{entry!r}: a digest pin is sha256:<64 hex> or NAME@sha256:<64 hex>")
    return entry


def image_allowed(entries: Sequence[str], reference: str, digests: Sequence[str] = ()) -> bool:
    """Whether ``reference`` (resolving to an image with ``digests``) is allowed by ``entries``."""
    for entry in entries:
        if is_digest_pin(entry):
            if entry == reference or entry in digests:
                return True
        elif fnmatchcase(reference, entry):
            return True
    return False
