"""``Operations``: every route of the REST API, written once for both clients."""

from __future__ import annotations

from runner.client.ops_admin import AdminOperations
from runner.client.ops_library import LibraryOperations
from runner.client.ops_sessions import SessionOperations


class Operations(SessionOperations, LibraryOperations, AdminOperations):
    """The API's operations; ``WardenClient`` and ``AsyncWardenClient`` run them."""
