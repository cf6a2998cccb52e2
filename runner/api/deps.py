"""FastAPI dependencies: the services the lifespan built, and the calling actor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from runner.sessions.manager import SessionManager
from runner.sessions.ports import Actor
from runner.settings import Settings

#: With no authentication configured the server only listens on loopback (see
#: ``runner.commands.serve``), so the caller is the local user, with every role.
LOCAL_ACTOR = Actor(
    "local", "default", frozenset({"viewer", "operator", "approver", "auditor", "admin"})
)


def _services(request: Request) -> Any:
    return request.app.state.services


def get_manager(request: Request) -> SessionManager:
    manager: SessionManager = _services(request).manager
    return manager


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_actor(request: Request) -> Actor:
    actor: Actor = getattr(request.state, "actor", LOCAL_ACTOR)
    return actor


ManagerDep = Annotated[SessionManager, Depends(get_manager)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ActorDep = Annotated[Actor, Depends(get_actor)]
