"""Posting a message: the one path the REST route and the ``SEND`` frame share."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from chat import threads
from chat.attachments import check_attachments
from chat.models import ChatMessage
from chat.schemas import Draft
from chat.threads import Participant
from shared.events import Outbox


async def post(session: AsyncSession, outbox: Outbox, *, files: httpx.AsyncClient,
               author: Participant, thread_id: str, draft: Draft, authorization: str,
               timeout_s: float, origin: str) -> tuple[ChatMessage, dict[str, Any]]:
    """Check the attachments with the files service, then store the message.

    Returns the stored message and its ``chat.message.created`` data; the caller pushes
    it to sockets. Someone else's thread is a 404 before the files service is asked.
    """
    if draft.attachments:
        await threads.get_thread(session, thread_id, author)
        await session.rollback()  # no transaction is held across the HTTP calls
        await check_attachments(files, draft.attachments, authorization=authorization,
                                timeout_s=timeout_s)
    return await threads.post_message(session, outbox, thread_id, author, draft, origin=origin)
