"""Request and response bodies of the chat service (camelCase on the wire).

A message's input (REST body or WebSocket ``SEND`` frame) is checked by
:func:`parse_draft` rather than a Pydantic model, because the contract wants a
missing or empty ``body`` reported as ``{"error": "body is required"}``, not as a
field map; every other mistake is the usual 400 field map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator

from chat.models import ChatMessage, ChatThread
from shared.errors import BadRequest, FieldErrors
from shared.schemas import CamelModel, UtcDateTime

SUBJECT_MAX_LENGTH = 200
BODY_REQUIRED = "body is required"


def _subject(value: str | None) -> str | None:
    """Trimmed; blank means no subject."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > SUBJECT_MAX_LENGTH:
        raise ValueError(f"Ensure this field has no more than {SUBJECT_MAX_LENGTH} characters.")
    return value or None


class ThreadIn(CamelModel):
    """``POST /api/chat/threads/``: an optional subject."""

    subject: Annotated[str | None, AfterValidator(_subject)] = None


@dataclass(frozen=True)
class Draft:
    """A message as a client sent it, validated: what is to be stored."""

    body: str
    attachments: list[str]


def parse_draft(payload: Any, *, max_body_length: int, max_attachments: int) -> Draft:
    """``payload`` (a decoded JSON body or frame) as a :class:`Draft`.

    Raises ``BadRequest("body is required")`` for a missing, null or blank ``body``
    and ``FieldErrors`` for anything else malformed. Unknown keys are ignored (a
    ``SEND`` frame also carries ``type``, ``threadId`` and ``clientId``).
    """
    if not isinstance(payload, dict):
        raise FieldErrors({"nonFieldErrors": ["Expected a JSON object."]})
    body = payload.get("body")
    if body is None or (isinstance(body, str) and not body.strip()):
        raise BadRequest(BODY_REQUIRED)
    errors: dict[str, list[str]] = {}
    if not isinstance(body, str):
        errors["body"] = ["Not a valid string."]
    elif len(body) > max_body_length:
        errors["body"] = [f"Ensure this field has no more than {max_body_length} characters."]
    attachments = payload.get("attachments")
    if attachments is None:
        attachments = []
    elif not isinstance(attachments, list):
        errors["attachments"] = ["Expected a list of file ids."]
    else:
        for index, item in enumerate(attachments):
            if not isinstance(item, str):
                errors[f"attachments.{index}"] = ["Not a valid string."]
        if len(attachments) > max_attachments:
            errors["attachments"] = [
                f"Ensure this field has no more than {max_attachments} elements."]
    if errors:
        raise FieldErrors(errors)
    return Draft(body=body, attachments=list(attachments))


class MessageIn(CamelModel):
    """``POST /api/chat/threads/{id}/messages/`` (documentation only: see parse_draft)."""

    body: str
    attachments: list[str] = []


class MessageOut(CamelModel):
    """The contract's ``message``."""

    id: str
    thread_id: str
    sender: str
    sender_id: str
    body: str
    attachments: list[str]
    created_at: UtcDateTime

    @classmethod
    def of(cls, message: ChatMessage) -> MessageOut:
        """The response body for ``message``."""
        return cls(id=message.id, thread_id=message.thread_id, sender=message.sender,
                   sender_id=message.sender_id, body=message.body,
                   attachments=list(message.attachments), created_at=message.created_at)


class ThreadOut(CamelModel):
    """The contract's ``thread``; ``user`` is the owner's id."""

    id: str
    user: str
    subject: str | None
    last_message: MessageOut | None
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @classmethod
    def of(cls, thread: ChatThread, last_message: ChatMessage | None) -> ThreadOut:
        """The response body for ``thread`` whose newest message is ``last_message``."""
        return cls(id=thread.id, user=thread.user_id, subject=thread.subject,
                   last_message=MessageOut.of(last_message) if last_message else None,
                   created_at=thread.created_at, updated_at=thread.updated_at)
