"""``/v1/workspaces``: upload an archive, then start sessions from it by its id."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from runner.api.deps import OperatorDep, UploadsDep
from runner.api.schemas import ErrorResponse, UploadOut
from runner.workspace.uploads import Upload

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])

_BODY = {
    "requestBody": {
        "required": True,
        "description": "The archive itself as the raw body (streamed to disk, size-capped).",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("application/x-tar", "application/gzip", "application/zip")
        },
    }
}


def _out(upload: Upload) -> UploadOut:
    return UploadOut(
        id=upload.id,
        kind=upload.kind.value,  # type: ignore[arg-type]
        size=upload.size,
        entries=upload.entries,
        declared_bytes=upload.declared_bytes,
        expires_at=upload.expires_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadOut,
    openapi_extra=_BODY,
    responses={
        413: {"model": ErrorResponse, "description": "Over the upload cap"},
        415: {"model": ErrorResponse, "description": "Not a tar, tar.gz or zip body"},
    },
)
async def upload(request: Request, uploads: UploadsDep, actor: OperatorDep) -> UploadOut:
    """Upload a tar, tar.gz or zip; every entry is checked (422 names the refused ones).

    Use the id within ``WARDEN_UPLOAD_TTL_SECONDS`` in ``POST /v1/sessions``; it works once.
    """
    length = request.headers.get("content-length")
    received = await uploads.receive(
        request.stream(),
        content_type=request.headers.get("content-type"),
        length=int(length) if length and length.isdigit() else None,
        actor=actor,
    )
    return _out(received)


@router.get("/{upload_id}", response_model=UploadOut)
async def get_upload(upload_id: str, uploads: UploadsDep, actor: OperatorDep) -> UploadOut:
    """An upload of your tenant that has not been used or expired yet."""
    return _out(await uploads.get(upload_id, actor))


@router.delete("/{upload_id}", status_code=status.HTTP_204_NO_CONTENT)
async def discard_upload(upload_id: str, uploads: UploadsDep, actor: OperatorDep) -> Response:
    """Delete an upload you no longer need (it would expire anyway)."""
    await uploads.discard(upload_id, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
