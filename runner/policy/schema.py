"""The JSON schema of policy files, generated from the pydantic model (``warden policy schema``)."""

from __future__ import annotations

import json
from typing import Any

from runner.policy.model import PolicyFile


def policy_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) that ``policies/schema.json`` must equal."""
    schema = PolicyFile.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def policy_schema_text() -> str:
    """The schema as the committed file holds it: sorted keys, two-space indent, newline."""
    return json.dumps(policy_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
