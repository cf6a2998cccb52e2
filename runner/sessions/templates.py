"""Session templates: a saved prompt, policy, image and model that a session can start from."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from runner.core import PermissionMode, WorkspaceMode
from runner.errors import InvalidInputError

#: A template name (part of URLs; the API states it as a pattern).
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_NAME = re.compile(NAME_PATTERN[1:-1])

#: The session fields a template can fill in (request field name → template attribute).
TEMPLATE_FIELDS = (
    "prompt",
    "policy",
    "image",
    "model",
    "permission_mode",
    "workspace_mode",
    "env",
    "work_dir",
)


@dataclass(frozen=True)
class SessionTemplate:
    """Defaults for new sessions, kept per tenant under a name."""

    tenant: str
    name: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    description: str = ""
    prompt: str | None = None
    policy: str | None = None
    image: str | None = None
    model: str | None = None
    permission_mode: PermissionMode | None = None
    workspace_mode: WorkspaceMode | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    #: A host directory (Aegis's template ``workDir``): the workspace of a session that
    #: names none, confined to the workspace roots when that session is created.
    work_dir: str | None = None

    def defaults(self) -> dict[str, Any]:
        """The fields this template sets (unset ones leave the request's own defaults)."""
        values = {name: getattr(self, name) for name in TEMPLATE_FIELDS}
        return {k: v for k, v in values.items() if v is not None and v != {}}


def check_template_name(name: str) -> str:
    """Raises InvalidInputError unless ``name`` is a lowercase slug (it is part of URLs)."""
    if not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"template name {name!r} must be 1-64 characters: a-z, 0-9, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return name


def merge_template(template: SessionTemplate, given: Mapping[str, Any]) -> dict[str, Any]:
    """The request fields: what the client gave explicitly wins over the template, and a
    request that names its workspace in any form keeps it (never the template's too)."""
    defaults = template.defaults()
    if "work_dir" in given or "workspace" in given:
        defaults.pop("work_dir", None)
    return {**defaults, **given}


class TemplateStore(Protocol):
    """Where templates are kept (``runner.store.templates``)."""

    def get(self, tenant: str, name: str) -> SessionTemplate | None: ...

    def find(self, tenant: str) -> list[SessionTemplate]: ...

    def put(self, template: SessionTemplate) -> tuple[SessionTemplate, bool]:
        """Create or replace; returns the stored template and whether it was created."""
        ...

    def delete(self, tenant: str, name: str) -> bool: ...
