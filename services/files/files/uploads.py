"""A member's uploads: presign one, complete it once the bytes are in the bucket, read it.

Plain async functions taking a session and the :class:`~files.storage.ObjectStore`
(routes and tests call them alike). The bytes never pass through this service: the
client PUTs them to S3 with a presigned URL and GETs them back with another one; the
service keeps who owns what and whether it has arrived.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from files.content_types import allowed_content_type
from files.filenames import object_key, sanitise_filename
from files.models import PENDING, UPLOADED, StoredFile
from files.storage import ObjectStore
from shared.errors import REQUIRED_MESSAGE, BadRequest, Conflict, FieldErrors, NotFound
from shared.models import new_id, utcnow

FILE_NOT_FOUND = "File not found"
FILENAME_REQUIRED = "filename is required"
NOT_UPLOADED = "The file has not been uploaded yet: PUT it to the presigned URL first"
TOO_LARGE = "File too large"


@dataclass(frozen=True)
class PresignedUpload:
    """A new pending file and how the client uploads it."""

    file: StoredFile
    url: str
    headers: dict[str, str]
    """The headers the client must send with the PUT (the URL is signed for them)."""
    expires_at: datetime


async def start_upload(session: AsyncSession, store: ObjectStore, *, user_id: str,
                       filename: str | None, content_type: str | None, size: int | None,
                       max_bytes: int, expires_in: int) -> PresignedUpload:
    """Record a pending file for ``user_id`` and presign its upload.

    ``400`` for a missing or blank filename (checked first), a missing content type, one
    outside the allow-list, or a ``size`` above ``max_bytes``. A given ``size`` is signed
    into the URL as its ``Content-Length``: S3 refuses a PUT of any other length.
    The object key is ``uploads/<userId>/<fileId>/<sanitised filename>``.
    """
    if filename is None or not filename.strip():
        raise BadRequest(FILENAME_REQUIRED)
    if content_type is None:
        raise FieldErrors({"contentType": [REQUIRED_MESSAGE]})
    media_type = allowed_content_type(content_type)
    if size is not None and size > max_bytes:
        raise BadRequest(TOO_LARGE)
    file_id = new_id()
    name = sanitise_filename(filename)
    file = StoredFile(id=file_id, user_id=user_id, filename=name, content_type=media_type,
                      object_key=object_key(user_id, file_id, name))
    # Whole seconds: the URL's own clock (X-Amz-Date) has no finer grain, so the
    # announced expiry is never later than the real one.
    expires_at = utcnow().replace(microsecond=0) + timedelta(seconds=expires_in)
    url = await store.presign_put(file.object_key, media_type, expires_in, size)
    session.add(file)
    await session.commit()
    headers = {"Content-Type": media_type}
    if size is not None:
        headers["Content-Length"] = str(size)
    return PresignedUpload(file=file, url=url, headers=headers, expires_at=expires_at)


async def get_file(session: AsyncSession, user_id: str, file_id: str) -> StoredFile:
    """The caller's file ``file_id``; ``404`` when unknown, malformed or someone else's."""
    try:
        canonical_id = str(uuid.UUID(file_id))
    except ValueError:
        raise NotFound(FILE_NOT_FOUND) from None
    file = await session.get(StoredFile, canonical_id)
    if file is None or file.user_id != user_id:
        raise NotFound(FILE_NOT_FOUND)
    return file


async def complete_upload(session: AsyncSession, store: ObjectStore, user_id: str,
                          file_id: str, *, max_bytes: int) -> StoredFile:
    """Mark the caller's file ``uploaded`` with its size once the object is in the bucket.

    ``409`` while it is not; completing again re-reads the size (the presigned URL may
    have been used twice) and answers the file again. An object larger than
    ``max_bytes`` is deleted and the file is pending again (``400 File too large``): a
    presigned URL without a signed length lets any size through, so this is where the
    cap holds.
    """
    file = await get_file(session, user_id, file_id)
    # End the read transaction: no database connection is held while S3 answers.
    await session.commit()
    size = await store.object_size(file.object_key)
    if size is None:
        raise Conflict(NOT_UPLOADED)
    if size > max_bytes:
        await store.delete(file.object_key)
        file.size, file.status = None, PENDING
        session.add(file)
        await session.commit()
        raise BadRequest(TOO_LARGE)
    file.size = size
    file.status = UPLOADED
    session.add(file)
    await session.commit()
    return file

