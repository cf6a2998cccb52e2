"""``/v1/policies``: the policies sessions may name, and what they decide."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field

from runner.api.deps import ViewerDep
from runner.api.schemas import Schema
from runner.sessions.policy_gate import PolicyGate

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


def _gate(request: Request) -> PolicyGate:
    gate: PolicyGate = request.app.state.services.gate
    return gate


@router.get("", response_model=PolicyList)
async def list_policies(request: Request, actor: ViewerDep) -> PolicyList:
    """Every policy a session may name."""
    gate = _gate(request)
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
async def get_policy(name: str, request: Request, actor: ViewerDep) -> dict[str, Any]:
    """The policy as its file says it (before ``extends`` is applied)."""
    return _gate(request).document(name)


@router.post("/{name}/explain", response_model=ExplainResult)
async def explain(
    name: str, body: ExplainRequest, request: Request, actor: ViewerDep
) -> ExplainResult:
    """What the policy decides for one tool call, the deciding rule, and the rules considered."""
    gate = _gate(request)
    decision = await asyncio.to_thread(gate.explain, name, body.tool, body.input, body.workspace)
    return ExplainResult.model_validate(decision.to_json())
