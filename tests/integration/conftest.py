"""Fixtures shared by the integration tests (the built sandbox image, above all)."""

from tests.integration.sandbox_support import sandbox_image

__all__ = ["sandbox_image"]
