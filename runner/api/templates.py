"""``/v1/templates``: saved session settings (prompt, policy, image, model) per tenant."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response, status
from fastapi import Path as PathParam
from pydantic import ConfigDict, Field, StrictBool

from runner.api.deps import EventsDep, ManagerDep, OperatorDep, TemplatesDep, ViewerDep
from runner.api.schemas import CreateSession, Env, Schema, auto_approve_rule
from runner.core import Actor, EventSink, PermissionMode, WorkspaceMode, utcnow
from runner.errors import ConflictError, InvalidInputError, NotFoundError
from runner.sessions.manager import SessionManager
from runner.sessions.templates import (
    NAME_PATTERN,
    SessionTemplate,
    TemplateStore,
    check_template_name,
    merge_template,
)

router = APIRouter(prefix="/v1/templates", tags=["templates"])


class TemplateFields(Schema):
    description: str = Field(default="", max_length=2000)
    work_dir: str | None = Field(
        default=None,
        pattern="^/[^\x00]*$",
        max_length=4096,
        description="Workspace of sessions that name none (checked against the roots when"
        " a session starts from it).",
    )
    prompt: str | None = Field(default=None, max_length=100_000)
    policy: str | None = None
    image: str | None = None
    model: str | None = None
    permission_mode: PermissionMode | None = None
    workspace_mode: WorkspaceMode | None = None
    env: Env = Field(default_factory=dict)


class CreateTemplate(TemplateFields):
    model_config = ConfigDict(json_schema_extra=auto_approve_rule("bypassPermissions", None))

    name: str = Field(
        pattern=NAME_PATTERN, description="a-z, 0-9, '.', '_', '-'; unique in the tenant."
    )
    session_id: str | None = Field(
        default=None,
        max_length=64,
        description="Aegis's: copy workDir, policy, image, model and permission mode from"
        " this session of yours where the body sets none.",
    )
    auto_approve: StrictBool | None = Field(
        default=None, description="Aegis's shorthand for permissionMode bypassPermissions."
    )


class TemplateOut(TemplateFields):
    id: str = Field(description="Aegis's template id: the name.")
    name: str
    created_by: str
    created_at: datetime
    updated_at: datetime


class TemplateList(Schema):
    templates: list[TemplateOut]


def _out(template: SessionTemplate) -> TemplateOut:
    return TemplateOut(
        id=template.name,
        name=template.name,
        work_dir=template.work_dir,
        description=template.description,
        prompt=template.prompt,
        policy=template.policy,
        image=template.image,
        model=template.model,
        permission_mode=template.permission_mode,
        workspace_mode=template.workspace_mode,
        env=dict(template.env),
        created_by=template.created_by,
        created_at=template.created_at,
        updated_at=template.updated_at,
    )


def _template(name: str, body: TemplateFields, actor: Actor) -> SessionTemplate:
    now = utcnow()
    return SessionTemplate(
        tenant=actor.tenant,
        name=check_template_name(name),
        created_by=actor.subject,
        created_at=now,
        updated_at=now,
        description=body.description,
        prompt=body.prompt,
        policy=body.policy,
        image=body.image,
        model=body.model,
        permission_mode=body.permission_mode,
        workspace_mode=body.workspace_mode,
        env=dict(body.env),
        work_dir=body.work_dir,
    )


async def _from_session(
    body: CreateTemplate, manager: SessionManager, actor: Actor
) -> TemplateFields:
    """The body with Aegis's ``sessionId`` and ``autoApprove`` folded into its own fields."""
    fields = body.model_dump(exclude={"name", "session_id", "auto_approve"})
    if body.auto_approve:
        if body.permission_mode not in (None, PermissionMode.BYPASS_PERMISSIONS):
            raise InvalidInputError("autoApprove means permissionMode bypassPermissions; drop one")
        fields["permission_mode"] = PermissionMode.BYPASS_PERMISSIONS
    if body.session_id is not None:
        # Tenant-checked like any read: another tenant's session is 404.
        source = await manager.get(body.session_id, actor)
        copied = {
            "work_dir": source.work_dir if source.workspace.get("path") else None,
            "policy": source.policy,
            "image": source.image,
            "model": source.model,
            "permission_mode": source.permission_mode,
        }
        for key, value in copied.items():
            if fields.get(key) is None:
                fields[key] = value
    return TemplateFields.model_validate(fields)


async def templated(body: CreateSession, store: TemplateStore, actor: Actor) -> CreateSession:
    """``body`` with its ``template``'s settings filled in where the client gave none."""
    if body.template is None:
        return body
    template = await asyncio.to_thread(store.get, actor.tenant, body.template)
    if template is None:
        raise NotFoundError(
            f"no template {body.template!r} in tenant {actor.tenant}",
            details={"template": body.template},
        )
    given = body.model_dump(exclude_unset=True, exclude={"template"})
    return CreateSession.model_validate(merge_template(template, given))


async def _put(
    store: TemplateStore, events: EventSink, template: SessionTemplate, actor: Actor
) -> tuple[SessionTemplate, bool]:
    # Recorded first: if the ledger cannot record the change, it is not made.
    await events.emit(
        "template.saved",
        actor=actor,
        session=None,
        # Field names, not env values (they may be credentials the sandbox needs).
        data={
            "template": template.name,
            "fields": sorted(template.defaults()),
            "policy": template.policy,
            "image": template.image,
        },
    )
    return await asyncio.to_thread(store.put, template)


@router.post("", response_model=TemplateOut, status_code=status.HTTP_201_CREATED)
async def create_template(
    body: CreateTemplate,
    store: TemplatesDep,
    events: EventsDep,
    manager: ManagerDep,
    actor: OperatorDep,
) -> TemplateOut:
    """Save a new template (409 if the name is taken: use PUT to replace). Aegis's body
    (``{name, prompt, workDir, permissionMode, sessionId, autoApprove…}``) works too."""
    name = check_template_name(body.name)
    if await asyncio.to_thread(store.get, actor.tenant, name) is not None:
        raise ConflictError(f"template {name!r} exists; PUT /v1/templates/{name} replaces it")
    fields = await _from_session(body, manager, actor)
    stored, _ = await _put(store, events, _template(name, fields, actor), actor)
    return _out(stored)


@router.get("", response_model=TemplateList)
async def list_templates(store: TemplatesDep, actor: ViewerDep) -> TemplateList:
    found = await asyncio.to_thread(store.find, actor.tenant)
    return TemplateList(templates=[_out(t) for t in found])


@router.get("/{name}", response_model=TemplateOut)
async def get_template(name: str, store: TemplatesDep, actor: ViewerDep) -> TemplateOut:
    template = await asyncio.to_thread(store.get, actor.tenant, name)
    if template is None:
        raise NotFoundError(f"no template {name!r}")
    return _out(template)


@router.put(
    "/{name}",
    response_model=TemplateOut,
    responses={201: {"model": TemplateOut, "description": "Created"}},
)
async def put_template(
    name: Annotated[str, PathParam(pattern=NAME_PATTERN)],
    body: TemplateFields,
    response: Response,
    store: TemplatesDep,
    events: EventsDep,
    actor: OperatorDep,
) -> TemplateOut:
    """Create or replace the template ``name`` (201 when created)."""
    stored, created = await _put(store, events, _template(name, body, actor), actor)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return _out(stored)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_template(
    name: str, store: TemplatesDep, events: EventsDep, actor: OperatorDep
) -> Response:
    await events.emit("template.delete", actor=actor, session=None, data={"template": name})
    if not await asyncio.to_thread(store.delete, actor.tenant, name):
        raise NotFoundError(f"no template {name!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
