"""Operations on what sessions are made from and share: templates, pipelines, memory,
policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.api.memory import MemoryList, MemoryOut, SetMemoryOut
from runner.api.pipelines import CreatePipeline, PipelineList, PipelineOut
from runner.api.policies import ExplainResult, PolicyList
from runner.api.templates import CreateTemplate, TemplateFields, TemplateList, TemplateOut
from runner.client.calls import Call, body_of, endpoint, json_object, model, nothing, query


class LibraryOperations:
    """``/v1/templates``, ``/v1/pipelines``, ``/v1/memory`` and ``/v1/policies``."""

    @endpoint("GET", "/v1/templates")
    def list_templates(self) -> Call[TemplateList]:
        """The tenant's session templates."""
        return Call(model(TemplateList))

    @endpoint("POST", "/v1/templates")
    def create_template(self, body: CreateTemplate | Mapping[str, Any]) -> Call[TemplateOut]:
        """Save a new template (409 if the name is taken: ``put_template`` replaces)."""
        return Call(model(TemplateOut), json=body_of(body))

    @endpoint("GET", "/v1/templates/{name}")
    def get_template(self, name: str) -> Call[TemplateOut]:
        """One template."""
        return Call(model(TemplateOut), path={"name": name})

    @endpoint("PUT", "/v1/templates/{name}")
    def put_template(
        self, name: str, body: TemplateFields | Mapping[str, Any]
    ) -> Call[TemplateOut]:
        """Create or replace the template ``name``."""
        return Call(model(TemplateOut), path={"name": name}, json=body_of(body))

    @endpoint("DELETE", "/v1/templates/{name}")
    def delete_template(self, name: str) -> Call[None]:
        """Delete a template."""
        return Call(nothing, path={"name": name})

    @endpoint("GET", "/v1/pipelines")
    def list_pipelines(self) -> Call[PipelineList]:
        """The tenant's pipelines, newest first."""
        return Call(model(PipelineList))

    @endpoint("POST", "/v1/pipelines")
    def create_pipeline(self, body: CreatePipeline | Mapping[str, Any]) -> Call[PipelineOut]:
        """Start a pipeline: stages run in dependency order, each a CI run."""
        return Call(model(PipelineOut), json=body_of(body))

    @endpoint("GET", "/v1/pipelines/{pipeline_id}")
    def get_pipeline(self, pipeline_id: str) -> Call[PipelineOut]:
        """One pipeline and its stages."""
        return Call(model(PipelineOut), path={"pipeline_id": pipeline_id})

    @endpoint("GET", "/v1/memory")
    def list_memory(self, prefix: str = "") -> Call[MemoryList]:
        """The tenant's shared memory entries (those whose key starts with ``prefix``)."""
        return Call(model(MemoryList), params=query(prefix=prefix or None))

    @endpoint("POST", "/v1/memory")
    def set_memory(
        self, key: str, value: Any, *, ttl_seconds: int | None = None
    ) -> Call[SetMemoryOut]:
        """Aegis's write: ``{key, value, ttlSeconds?}``; the entry in Aegis's shape."""
        body: dict[str, Any] = {"key": key, "value": value}
        if ttl_seconds is not None:
            body["ttlSeconds"] = ttl_seconds
        return Call(model(SetMemoryOut), json=body)

    @endpoint("GET", "/v1/memory/{key}")
    def get_memory(self, key: str) -> Call[MemoryOut]:
        """One memory entry."""
        return Call(model(MemoryOut), path={"key": key})

    @endpoint("PUT", "/v1/memory/{key}")
    def put_memory(self, key: str, value: Any, *, if_version: int | None = None) -> Call[MemoryOut]:
        """Write an entry; with ``if_version``, 409 unless it is still at that version
        (0: only if absent)."""
        body: dict[str, Any] = {"value": value}
        if if_version is not None:
            body["ifVersion"] = if_version
        return Call(model(MemoryOut), path={"key": key}, json=body)

    @endpoint("DELETE", "/v1/memory/{key}")
    def delete_memory(self, key: str) -> Call[None]:
        """Delete an entry."""
        return Call(nothing, path={"key": key})

    @endpoint("GET", "/v1/policies")
    def list_policies(self) -> Call[PolicyList]:
        """Every policy a session may name."""
        return Call(model(PolicyList))

    @endpoint("GET", "/v1/policies/{name}")
    def get_policy(self, name: str) -> Call[dict[str, Any]]:
        """The policy as its file says it (before ``extends`` is applied)."""
        return Call(json_object, path={"name": name})

    @endpoint("POST", "/v1/policies/{name}/explain")
    def explain_policy(
        self, name: str, tool: str, tool_input: Mapping[str, Any], *, workspace: str | None = None
    ) -> Call[ExplainResult]:
        """What the policy decides for one tool call, and the deciding rule."""
        body: dict[str, Any] = {"tool": tool, "input": dict(tool_input)}
        if workspace is not None:
            body["workspace"] = workspace
        return Call(model(ExplainResult), path={"name": name}, json=body)
