"""Fixtures for the auth tests: a real local OIDC provider (HTTP, in a thread)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oidc_provider import OidcProvider


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    """A running identity provider with one published signing key."""
    idp = OidcProvider().start()
    yield idp
    idp.stop()
