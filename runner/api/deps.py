"""FastAPI dependencies: the services the lifespan built, and the calling actor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from runner.api.security import (
    LOCAL_ACTOR,
    AdminDep,
    ApproverDep,
    AuditorDep,
    OperatorDep,
    ViewerDep,
    authenticate,
    require_roles,
)
from runner.sessions.manager import SessionManager
from runner.sessions.ports import Actor
from runner.settings import Settings

__all__ = [
    "LOCAL_ACTOR",
    "ActorDep",
    "AdminDep",
    "ApproverDep",
    "AuditorDep",
    "ManagerDep",
    "OperatorDep",
    "SettingsDep",
    "ViewerDep",
    "require_roles",
]


def _services(request: Request) -> Any:
    return request.app.state.services


def get_manager(request: Request) -> SessionManager:
    manager: SessionManager = _services(request).manager
    return manager


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_actor(actor: Annotated[Actor, Depends(authenticate)]) -> Actor:
    """The authenticated caller (a route still needs a role: use ``ViewerDep`` etc.)."""
    return actor


ManagerDep = Annotated[SessionManager, Depends(get_manager)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ActorDep = Annotated[Actor, Depends(get_actor)]
