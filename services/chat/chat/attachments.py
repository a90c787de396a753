"""Attachments are file ids of the files service; a message may attach only its sender's.

Checked with the files service itself (the one synchronous call chat makes, and only
for messages that have attachments): ``GET /api/files/{id}/`` with the sender's own
``Authorization``, so the files service applies its own ownership rule. ``200`` means
the file is the sender's; ``404`` means it is unknown or someone else's (a ``400``
naming the id); no answer, or any other answer, is ``503 Service unavailable: files``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence

import httpx

from shared.errors import BadRequest, ServiceUnavailable

log = logging.getLogger("chat.attachments")

FILES_UNAVAILABLE = "Service unavailable: files"
# What a file id may look like before it goes into a URL path: no "/", "..", "?" or "%".
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def not_found(file_id: str) -> BadRequest:
    """The error for an attachment that is not one of the sender's files."""
    return BadRequest(f"Attachment not found: {file_id}")


async def check_attachments(files: httpx.AsyncClient, file_ids: Sequence[str], *,
                            authorization: str, timeout_s: float) -> None:
    """Return when every id in ``file_ids`` is a file of the caller's; raise otherwise.

    The files are asked concurrently; the first id in ``file_ids`` that fails is the
    one named in the error.
    """
    unique = list(dict.fromkeys(file_ids))
    for file_id in unique:
        if not _FILE_ID.fullmatch(file_id):
            raise not_found(file_id)
    answers = await asyncio.gather(
        *(_is_senders(files, file_id, authorization, timeout_s) for file_id in unique),
        return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    for file_id, owned in zip(unique, answers, strict=True):
        if not owned:
            raise not_found(file_id)


async def _is_senders(files: httpx.AsyncClient, file_id: str, authorization: str,
                      timeout_s: float) -> bool:
    try:
        response = await files.get(f"/api/files/{file_id}/",
                                   headers={"Authorization": authorization}, timeout=timeout_s)
    except httpx.HTTPError as exc:
        log.warning("files service unreachable", extra={
            "event": "files_unreachable", "error": type(exc).__name__})
        raise ServiceUnavailable(FILES_UNAVAILABLE) from exc
    if response.status_code == 200:
        return True
    if response.status_code == 404:
        return False
    log.warning("files service answered %s", response.status_code, extra={
        "event": "files_unavailable", "status": response.status_code})
    raise ServiceUnavailable(FILES_UNAVAILABLE)
