"""Unit tests build their settings explicitly: none of them reads this process's
``WARDEN_*`` environment (the integration fixtures set ``WARDEN_IMAGE`` for the servers
they start, and one pytest process runs both suites), nor ``OTEL_*`` (a developer's
collector endpoint would turn tracing on in every test's services)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _no_warden_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        # WARDEN_TEST_* name the test services (PostgreSQL), not Warden's settings.
        is_setting = name.startswith("WARDEN_") and not name.startswith("WARDEN_TEST_")
        if is_setting or name.startswith("OTEL_"):
            monkeypatch.delenv(name)
