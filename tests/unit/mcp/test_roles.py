"""The role each MCP operation checks is the role its REST route declares."""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from runner.api import audit, events, memory, pipelines, policies, sessions, templates
from runner.api.security import RoleRequirement
from runner.mcp.local import ROLES

S = "/v1/sessions/{session_id}"
ROUTES = {
    "create_session": ("POST", "/v1/sessions"),
    "list_sessions": ("GET", "/v1/sessions"),
    "get_session": ("GET", S),
    "wait_for_state": ("GET", S),
    "send": ("POST", f"{S}/send"),
    "transcript_page": ("GET", f"{S}/transcript/cursor"),
    "pane": ("GET", f"{S}/pane"),
    "approve": ("POST", f"{S}/approve"),
    "reject": ("POST", f"{S}/reject"),
    "answer": ("POST", f"{S}/answer"),
    "interrupt": ("POST", f"{S}/interrupt"),
    "escape": ("POST", f"{S}/escape"),
    "delete_session": ("DELETE", S),
    "patch": ("GET", f"{S}/patch"),
    "list_templates": ("GET", "/v1/templates"),
    "explain_policy": ("POST", "/v1/policies/{name}/explain"),
    "policy": ("GET", "/v1/policies/{name}"),
    "create_batch": ("POST", "/v1/sessions/batch"),
    "create_pipeline": ("POST", "/v1/pipelines"),
    "get_pipeline": ("GET", "/v1/pipelines/{pipeline_id}"),
    "list_pipelines": ("GET", "/v1/pipelines"),
    "memory_list": ("GET", "/v1/memory"),
    "memory_get": ("GET", "/v1/memory/{key}"),
    "memory_set": ("PUT", "/v1/memory/{key}"),
    "memory_delete": ("DELETE", "/v1/memory/{key}"),
    "verify_audit": ("GET", "/v1/audit/exports/{export_id}/verification"),
    "subscribe": ("GET", "/v1/events"),
}


def _roles(dependant: Dependant) -> set[str]:
    found: set[str] = set()
    for dep in dependant.dependencies:
        if isinstance(dep.call, RoleRequirement):
            found |= dep.call.roles
        found |= _roles(dep)
    return found


def test_every_operation_checks_the_role_of_its_rest_route() -> None:
    """A role changed on a REST route without the MCP table (or the reverse) fails here."""
    routes = {
        # path_format: the path without converters ({key:path} is {key}), as OpenAPI has it.
        (method, route.path_format): route
        for module in (sessions, templates, policies, pipelines, memory, audit, events)
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert set(ROUTES) == set(ROLES)
    for operation, key in ROUTES.items():
        assert _roles(routes[key].dependant) == {ROLES[operation]}, operation
