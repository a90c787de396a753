"""Routes under ``/api/chat/``: parse, call the domain, shape the response."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request

from chat import posting, threads
from chat.api.deps import Runtime
from chat.schemas import MessageIn, MessageOut, ThreadIn, ThreadOut, parse_draft
from chat.threads import Participant
from shared import json_body
from shared.auth import CurrentPrincipal
from shared.deps import DbSession
from shared.errors import BadRequest, FieldErrors
from shared.schemas import utc_in_range

router = APIRouter(prefix="/api/chat", tags=["chat"])


def parse_since(raw: str | None) -> datetime | None:
    """``?since=`` as a datetime (naive means UTC); 400 field map when it is not ISO-8601.

    An unescaped ``+`` of a UTC offset arrives as a space; it is read as the ``+`` it was.
    """
    if raw is None or raw == "":
        return None
    head, space, tail = raw.rpartition(" ")
    for candidate in (raw, f"{head}+{tail}" if space else raw):
        try:
            since = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        try:
            return utc_in_range(since)
        except ValueError as exc:
            raise FieldErrors({"since": [str(exc)]}) from None
    raise FieldErrors({"since": ["Enter a valid ISO-8601 date/time, e.g. 2024-01-01T00:00:00Z."]})


async def read_json(request: Request) -> Any:
    """The decoded JSON body; an empty body is ``{}``. The request guard has refused what
    ``json.loads`` cannot take (nested too deep), so only malformed JSON is left to 400."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise BadRequest(json_body.MALFORMED) from exc


@router.get("/threads/", response_model=list[ThreadOut])
async def list_threads(principal: CurrentPrincipal, session: DbSession) -> list[ThreadOut]:
    """The caller's threads (support staff: every thread), newest activity first."""
    rows = await threads.list_threads(session, Participant.of(principal))
    return [ThreadOut.of(thread, last) for thread, last in rows]


@router.post("/threads/", status_code=201, response_model=ThreadOut)
async def create_thread(principal: CurrentPrincipal, session: DbSession,
                        payload: ThreadIn | None = None) -> ThreadOut:
    """Open a thread owned by the caller (the body and its ``subject`` are optional)."""
    subject = payload.subject if payload is not None else None
    thread = await threads.create_thread(session, Participant.of(principal), subject)
    return ThreadOut.of(thread, None)


@router.get("/threads/{thread_id}/messages/", response_model=list[MessageOut])
async def list_messages(thread_id: str, principal: CurrentPrincipal, session: DbSession,
                        since: str | None = None) -> list[MessageOut]:
    """The thread's messages, oldest first; with ``since``, only those created after it."""
    after = parse_since(since)
    thread = await threads.get_thread(session, thread_id, Participant.of(principal))
    return [MessageOut.of(m) for m in await threads.list_messages(session, thread, after)]


@router.post("/threads/{thread_id}/messages/", status_code=201, response_model=MessageOut,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": MessageIn.model_json_schema(
                     by_alias=True, ref_template="#/components/schemas/{model}")}}}})
async def post_message(thread_id: str, request: Request, principal: CurrentPrincipal,
                       session: DbSession, chat: Runtime) -> MessageOut:
    """Post in the thread; the message is also pushed to the sockets that follow it."""
    draft = parse_draft(await read_json(request), max_body_length=chat.settings.max_body_length,
                        max_attachments=chat.settings.max_attachments)
    message, event = await posting.post(
        session, chat.outbox, files=chat.files, author=Participant.of(principal),
        thread_id=thread_id, draft=draft,
        authorization=request.headers.get("authorization", ""),
        timeout_s=chat.settings.peer_timeout_seconds, origin=chat.fanout.replica_id)
    chat.fanout.deliver_message(event)
    return MessageOut.of(message)
