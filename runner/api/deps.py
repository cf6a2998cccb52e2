"""FastAPI dependencies: the services the lifespan built, and the calling actor.

Routers declare what they need with these ``Annotated`` aliases (``ManagerDep``,
``ViewsDep``, …) and never reach into the app or the request for it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from audit.ledger import Ledger
from runner.api.context import get_services
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
from runner.auth.tokens import ApiTokens
from runner.core import Actor, EventSink
from runner.events.feed import EventFeed
from runner.events.registry import WebhookService
from runner.pipelines.executor import PipelineService
from runner.services import Services
from runner.sessions.manager import SessionManager
from runner.sessions.memory import MemoryStore
from runner.sessions.policy_gate import PolicyGate
from runner.sessions.templates import TemplateStore
from runner.sessions.views import SessionViews
from runner.settings import Settings
from runner.workspace.uploads import Uploads

__all__ = [
    "LOCAL_ACTOR",
    "ActorDep",
    "AdminDep",
    "ApproverDep",
    "AuditorDep",
    "EventsDep",
    "FeedDep",
    "LedgerDep",
    "ManagerDep",
    "MemoryDep",
    "OperatorDep",
    "PipelinesDep",
    "PoliciesDep",
    "ServicesDep",
    "SettingsDep",
    "TemplatesDep",
    "TokensDep",
    "UploadsDep",
    "ViewerDep",
    "ViewsDep",
    "WebhooksDep",
    "require_roles",
]

ServicesDep = Annotated[Services, Depends(get_services)]


def _manager(services: ServicesDep) -> SessionManager:
    return services.manager


def _views(services: ServicesDep) -> SessionViews:
    return services.views


def _settings(services: ServicesDep) -> Settings:
    return services.settings


def _templates(services: ServicesDep) -> TemplateStore:
    return services.templates


def _memory(services: ServicesDep) -> MemoryStore:
    return services.memory


def _pipelines(services: ServicesDep) -> PipelineService:
    return services.pipelines


def _policies(services: ServicesDep) -> PolicyGate:
    return services.gate


def _tokens(services: ServicesDep) -> ApiTokens:
    return services.auth.tokens


def _ledger(services: ServicesDep) -> Ledger:
    return services.ledger


def _events(services: ServicesDep) -> EventSink:
    return services.recorder


def _uploads(services: ServicesDep) -> Uploads:
    return services.workspaces.uploads


def _feed(services: ServicesDep) -> EventFeed:
    return services.feed


def _webhooks(services: ServicesDep) -> WebhookService:
    return services.webhooks


async def get_actor(actor: Annotated[Actor, Depends(authenticate)]) -> Actor:
    """The authenticated caller (a route still needs a role: use ``ViewerDep`` etc.)."""
    return actor


ManagerDep = Annotated[SessionManager, Depends(_manager)]
ViewsDep = Annotated[SessionViews, Depends(_views)]
SettingsDep = Annotated[Settings, Depends(_settings)]
TemplatesDep = Annotated[TemplateStore, Depends(_templates)]
MemoryDep = Annotated[MemoryStore, Depends(_memory)]
PipelinesDep = Annotated[PipelineService, Depends(_pipelines)]
PoliciesDep = Annotated[PolicyGate, Depends(_policies)]
TokensDep = Annotated[ApiTokens, Depends(_tokens)]
LedgerDep = Annotated[Ledger, Depends(_ledger)]
EventsDep = Annotated[EventSink, Depends(_events)]
UploadsDep = Annotated[Uploads, Depends(_uploads)]
FeedDep = Annotated[EventFeed, Depends(_feed)]
WebhooksDep = Annotated[WebhookService, Depends(_webhooks)]
ActorDep = Annotated[Actor, Depends(get_actor)]
