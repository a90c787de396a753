"""Routes under ``/api/files/``: presign an upload, complete it, read a file.

Thin: parse the body, call :mod:`files.uploads`, shape the response. Every route needs a
bearer token; another user's file is a 404.
"""

from __future__ import annotations

from fastapi import APIRouter

from files import uploads
from files.api.deps import SettingsDep, StoreDep
from files.schemas import FileOut, FileWithDownloadOut, PresignIn, PresignOut
from shared.auth import CurrentPrincipal
from shared.deps import DbSession

router = APIRouter(prefix="/api/files", tags=["files"])


@router.post("/presign/", response_model=PresignOut)
async def presign_upload(body: PresignIn, principal: CurrentPrincipal, session: DbSession,
                         store: StoreDep, settings: SettingsDep) -> PresignOut:
    """A presigned PUT URL for a new pending file; send ``headers`` with the PUT."""
    upload = await uploads.start_upload(
        session, store, user_id=principal.user_id, filename=body.filename,
        content_type=body.content_type, size=body.size,
        max_bytes=settings.max_upload_bytes, expires_in=settings.presign_expires_seconds)
    return PresignOut(url=upload.url, public_url=store.public_url(upload.file.object_key),
                      file_id=upload.file.id, headers=upload.headers,
                      expires_at=upload.expires_at)


@router.post("/{file_id}/complete/", response_model=FileOut)
async def complete_upload(file_id: str, principal: CurrentPrincipal, session: DbSession,
                          store: StoreDep, settings: SettingsDep) -> FileOut:
    """Mark the file uploaded once its object is in the bucket (``409`` before, ``400``
    and deleted when larger than ``MAX_UPLOAD_BYTES``)."""
    file = await uploads.complete_upload(session, store, principal.user_id, file_id,
                                         max_bytes=settings.max_upload_bytes)
    return FileOut.of(file, store.public_url(file.object_key))


@router.get("/{file_id}/", response_model=FileWithDownloadOut)
async def get_file(file_id: str, principal: CurrentPrincipal, session: DbSession,
                   store: StoreDep, settings: SettingsDep) -> FileWithDownloadOut:
    """The caller's file with a presigned GET ``downloadUrl``."""
    file = await uploads.get_file(session, principal.user_id, file_id)
    download_url = await store.presign_get(file.object_key, settings.presign_expires_seconds)
    return FileWithDownloadOut.with_download(file, store.public_url(file.object_key),
                                             download_url)
