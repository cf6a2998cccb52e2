"""``/v1/sessions``: create, list, inspect, drive and delete sessions."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import FileResponse, PlainTextResponse

from runner.api.deps import (
    ApproverDep,
    ManagerDep,
    OperatorDep,
    TemplatesDep,
    ViewerDep,
    ViewsDep,
)
from runner.api.schemas import (
    MAX_INT,
    ActionResult,
    Answer,
    Approve,
    ArchiveWorkspace,
    ArtifactOut,
    Artifacts,
    BatchCreate,
    BatchItem,
    BatchResult,
    CreateSession,
    EndedSession,
    ErrorBody,
    ErrorResponse,
    GitWorkspace,
    Pane,
    PathWorkspace,
    SendInput,
    SessionList,
    SessionOut,
    Transcript,
    TranscriptPage,
    TurnOut,
)
from runner.api.templates import templated
from runner.core import SessionState
from runner.errors import WardenError
from runner.sessions.liveness import STATUS_FILTERS, aegis_status, select
from runner.sessions.model import SessionRecord
from runner.sessions.requests import SessionRequest
from runner.workspace.source import ArchiveSource, GitSource, PathSource, WorkspaceSource

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

#: Aegis's default page size, when a page is asked for without one.
_DEFAULT_PAGE_SIZE = 20


def _delivery(record: SessionRecord) -> dict[str, Any] | None:
    """Aegis's ``promptDelivery``: the first prompt is typed once Claude is ready, so it
    is delivered when the startup breakdown has its ``briefed`` step."""
    if not record.prompt:
        return None
    startup = record.details.get("startup")
    steps = startup.get("steps", {}) if isinstance(startup, dict) else {}
    delivered = "briefed" in steps
    return {"delivered": delivered, "attempts": 1 if delivered else 0}


def session_out(record: SessionRecord, *, reused: bool = False) -> SessionOut:
    """The API's view of ``record``."""
    return SessionOut(
        id=record.id,
        state=record.state,
        details=dict(record.details),
        work_dir=record.work_dir,
        workspace=dict(record.workspace) or {"path": record.work_dir},
        workspace_mode=record.workspace_mode,
        policy=record.policy,
        image=record.image,
        model=record.model,
        permission_mode=record.permission_mode,
        tenant=record.tenant,
        owner=record.owner,
        container=record.container_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
        ended_at=record.ended_at,
        error=record.error,
        usage=dict(record.usage),
        unattended=record.unattended,
        reused=reused,
        replica=record.replica,
        lease_expires_at=record.lease_expires_at,
        name=record.name,
        status=aegis_status(record.state),
        prompt_delivery=_delivery(record),
    )


def ended_out(record: SessionRecord) -> EndedSession:
    """The ended session, with Aegis's ``ok``."""
    return EndedSession(**session_out(record).model_dump())


def _source(spec: PathWorkspace | ArchiveWorkspace | GitWorkspace | None) -> WorkspaceSource | None:
    if isinstance(spec, PathWorkspace):
        return PathSource(spec.path)
    if isinstance(spec, ArchiveWorkspace):
        return ArchiveSource(spec.archive)
    if isinstance(spec, GitWorkspace):
        return GitSource(spec.git.url, spec.git.ref)
    return None


def _request(body: CreateSession) -> SessionRequest:
    return SessionRequest(
        work_dir=body.work_dir or "",
        workspace=_source(body.workspace),
        prompt=body.prompt,
        policy=body.policy,
        image=body.image,
        permission_mode=body.permission_mode,
        model=body.model,
        env=body.env,
        workspace_mode=body.workspace_mode,
        unattended=body.unattended,
        reuse=body.reuse,
        name=body.name,
        queue=body.queue,
    )


_START_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {"model": SessionOut, "description": "An idle session of the same workDir, reused"},
    424: {"model": ErrorResponse, "description": "The image or the policy's runtime is missing"},
    502: {"model": ErrorResponse, "description": "The container runtime failed"},
}


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=SessionOut, responses=_START_ERRORS
)
async def create_session(
    body: CreateSession,
    manager: ManagerDep,
    actor: OperatorDep,
    response: Response,
    templates: TemplatesDep,
) -> SessionOut:
    """Start a session (asynchronous: answers at once with state ``starting``)."""
    body = await templated(body, templates, actor)
    record, reused = await manager.create(_request(body), actor)
    if reused:
        response.status_code = status.HTTP_200_OK
    return session_out(record, reused=reused)


@router.post("/batch", response_model=BatchResult)
async def create_batch(
    body: BatchCreate, manager: ManagerDep, actor: OperatorDep, templates: TemplatesDep
) -> BatchResult:
    """Start several sessions; each item succeeds or fails on its own."""
    results: list[BatchItem] = []
    for item in body.sessions:
        try:
            item = await templated(item, templates, actor)
            record, reused = await manager.create(_request(item), actor)
            results.append(BatchItem(session=session_out(record, reused=reused)))
        except WardenError as exc:
            results.append(
                BatchItem(error=ErrorBody(code=exc.code, message=exc.message, details=exc.details))
            )
    return BatchResult(results=results)


#: Aegis's list filter vocabulary and Warden's state names (``all`` matches any).
StatusFilter = Enum("StatusFilter", {s: s for s in STATUS_FILTERS}, type=str)  # type: ignore[misc]


@router.get("", response_model=SessionList)
async def list_sessions(
    manager: ManagerDep,
    actor: ViewerDep,
    state: Annotated[list[SessionState] | None, Query()] = None,
    status_: Annotated[StatusFilter | None, Query(alias="status")] = None,
    work_dir: Annotated[
        str | None, Query(alias="workDir", pattern="^/[^\x00]*$", max_length=4096)
    ] = None,
    project: Annotated[str | None, Query(min_length=1, max_length=4096)] = None,
    page: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
    page_size: Annotated[int | None, Query(alias="pageSize", ge=1, le=100)] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=100, description="Aegis's pageSize (pageSize wins).")
    ] = None,
) -> SessionList:
    """The tenant's sessions, oldest first; with ``page``/``pageSize`` (or Aegis's
    ``limit``) one page of them and ``pagination``."""
    found = select(
        await manager.list_sessions(actor, state),
        status=status_.value if status_ is not None else None,
        work_dir=work_dir,
        project=project,
    )
    size = page_size or limit
    if page is None and size is None:
        return SessionList(sessions=[session_out(r) for r in found])
    number, size = page or 1, size or _DEFAULT_PAGE_SIZE
    shown = found[(number - 1) * size : number * size]
    pagination = {
        "page": number,
        "limit": size,
        "pageSize": size,
        "total": len(found),
        "totalPages": -(-len(found) // size),
    }
    return SessionList(sessions=[session_out(r) for r in shown], pagination=pagination)


@router.get("/{session_id}", response_model=SessionOut)
async def get_session(session_id: str, manager: ManagerDep, actor: ViewerDep) -> SessionOut:
    return session_out(await manager.get(session_id, actor))


@router.delete("/{session_id}", response_model=EndedSession)
async def delete_session(session_id: str, manager: ManagerDep, actor: OperatorDep) -> EndedSession:
    """Collect artifacts, remove the container, keep the record and artifacts."""
    return ended_out(await manager.delete(session_id, actor))


@router.post("/{session_id}/send", response_model=ActionResult)
async def send(
    session_id: str, body: SendInput, manager: ManagerDep, actor: OperatorDep
) -> ActionResult:
    """Send a prompt; 409 unless the session is idle."""
    await manager.send(session_id, body.text, actor)
    return ActionResult(state=manager.live_state(session_id))


@router.post("/{session_id}/approve", response_model=ActionResult)
async def approve(
    session_id: str, manager: ManagerDep, actor: ApproverDep, body: Approve | None = None
) -> ActionResult:
    """Approve the pending tool call once (the narrowest "Yes"); 409 when the prompt on
    screen is not the call the hook is waiting on."""
    option = await manager.approve(session_id, actor, request=body.request if body else None)
    return ActionResult(state=manager.live_state(session_id), option=option)


@router.post("/{session_id}/reject", response_model=ActionResult)
async def reject(session_id: str, manager: ManagerDep, actor: ApproverDep) -> ActionResult:
    option = await manager.reject(session_id, actor)
    return ActionResult(state=manager.live_state(session_id), option=option)


@router.post("/{session_id}/answer", response_model=ActionResult)
async def answer(
    session_id: str, body: Answer, manager: ManagerDep, actor: ApproverDep
) -> ActionResult:
    """Answer a question: ``{"option": N}`` (1-based) or ``{"text": "…"}``."""
    await manager.answer(session_id, actor, option=body.option, text=body.text)
    return ActionResult(state=manager.live_state(session_id), option=body.option)


@router.post("/{session_id}/interrupt", response_model=ActionResult)
async def interrupt(session_id: str, manager: ManagerDep, actor: OperatorDep) -> ActionResult:
    await manager.escape(session_id, actor, interrupt=True)
    return ActionResult(state=manager.live_state(session_id))


@router.post("/{session_id}/escape", response_model=ActionResult)
async def escape(session_id: str, manager: ManagerDep, actor: OperatorDep) -> ActionResult:
    await manager.escape(session_id, actor, interrupt=False)
    return ActionResult(state=manager.live_state(session_id))


@router.get("/{session_id}/pane", response_model=Pane)
async def pane(session_id: str, views: ViewsDep, actor: ViewerDep) -> Pane:
    """The screen as text right now."""
    state, text = await views.pane(session_id, actor)
    return Pane(state=state, text=text)


@router.get("/{session_id}/read", response_model=Transcript)
async def read(session_id: str, views: ViewsDep, actor: ViewerDep) -> Transcript:
    """The parsed transcript, oldest turn first."""
    turns = await views.transcript(session_id, actor)
    return Transcript(turns=[TurnOut.model_validate(t, from_attributes=True) for t in turns])


@router.get("/{session_id}/transcript/cursor", response_model=TranscriptPage)
async def transcript_page(
    session_id: str,
    views: ViewsDep,
    actor: ViewerDep,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    role: Annotated[str | None, Query(pattern="^(user|assistant|system)$")] = None,
) -> TranscriptPage:
    """A page of turns older than ``before_id`` (newest page first, turns oldest first)."""
    page = await views.transcript_page(
        session_id, actor, before_id=before_id, limit=limit, role=role
    )
    return TranscriptPage(
        turns=[TurnOut.model_validate(t, from_attributes=True) for t in page.turns],
        next_before_id=page.next_before_id,
    )


@router.get("/{session_id}/recording", response_class=FileResponse)
async def recording(session_id: str, views: ViewsDep, actor: ViewerDep) -> FileResponse:
    """The asciicast v2 recording of the session's terminal."""
    path = await views.recording(session_id, actor)
    return FileResponse(path, media_type="application/x-asciicast", filename=f"{session_id}.cast")


@router.get("/{session_id}/artifacts", response_model=Artifacts)
async def artifacts(session_id: str, views: ViewsDep, actor: ViewerDep) -> Artifacts:
    """The workspace patch (live or as collected) and the stored artifact files."""
    patch, stored = await views.artifacts(session_id, actor)
    return Artifacts(
        patch=patch,
        artifacts=[
            ArtifactOut(
                name=a.name, size=a.size, url=f"/v1/sessions/{session_id}/artifacts/{a.name}"
            )
            for a in stored
        ],
    )


@router.get("/{session_id}/artifacts/{name}", response_class=FileResponse)
async def artifact_file(
    session_id: str, name: str, views: ViewsDep, actor: ViewerDep
) -> FileResponse:
    path = await views.artifact_path(session_id, name, actor)
    return FileResponse(path, filename=name)


@router.get("/{session_id}/patch", response_class=PlainTextResponse)
async def patch(session_id: str, views: ViewsDep, actor: ViewerDep) -> str:
    """The workspace changes as a unified diff (``git apply``-able)."""
    text, _ = await views.artifacts(session_id, actor)
    return text or ""
