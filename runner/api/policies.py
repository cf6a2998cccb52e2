"""``/v1/policies``: the policies sessions may name, and what they decide."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import Field

from runner.api.deps import PoliciesDep, ViewerDep
from runner.api.schemas import Schema

router = APIRouter(prefix="/v1/policies", tags=["policies"])


class PolicySummary(Schema):
    name: str
    description: str
    extends: str | None


class PolicyList(Schema):
    policies: list[PolicySummary]


class ExplainRequest(Schema):
    tool: str = Field(min_length=1, max_length=200, examples=["Bash"])
    input: dict[str, Any] = Field(examples=[{"command": "npm test"}])
    workspace: str = Field(
        default="/workspace", description="Workspace root paths are judged against."
    )


class ExplainResult(Schema):
    decision: str
    rule: str
    reason: str
    trace: list[dict[str, Any]]


@router.get("", response_model=PolicyList)
async def list_policies(gate: PoliciesDep, actor: ViewerDep) -> PolicyList:
    """Every policy a session may name."""
    policies = [gate.policy(name) for name in gate.names()]
    return PolicyList(
        policies=[
            PolicySummary(
                name=p.name, description=p.description, extends=p.base.name if p.base else None
            )
            for p in policies
        ]
    )


@router.get("/{name}")
async def get_policy(name: str, gate: PoliciesDep, actor: ViewerDep) -> dict[str, Any]:
    """The policy as its file says it (before ``extends`` is applied)."""
    return gate.document(name)


@router.post("/{name}/explain", response_model=ExplainResult)
async def explain(
    name: str, body: ExplainRequest, gate: PoliciesDep, actor: ViewerDep
) -> ExplainResult:
    """What the policy decides for one tool call, the deciding rule, and the rules considered."""
    decision = await asyncio.to_thread(gate.explain, name, body.tool, body.input, body.workspace)
    return ExplainResult.model_validate(decision.to_json())
