"""The caller's own referral code: from the ``user.registered`` projection, else from auth.

A user who registered a moment ago may not be in the projection yet (the event is on
its way), and users who registered before this service existed never will be through
events. Then auth is asked once, ``GET /api/auth/me/`` with the caller's own
``Authorization``, and the answer is remembered like the event would have been (the
user's ``createdAt`` standing for the event's ``occurredAt``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from engagement.referrals import code_of, learn_code
from shared.errors import ServiceUnavailable
from shared.events import Outbox

log = logging.getLogger("engagement.own_code")

AUTH_UNAVAILABLE = "Service unavailable: auth"


async def ask_auth_for_code(auth: httpx.AsyncClient, authorization: str,
                            timeout_s: float) -> tuple[str, datetime | None]:
    """The caller's referral code according to auth, and when they registered (its
    ``createdAt``, if readable); 503 when auth cannot say."""
    try:
        response = await auth.get("/api/auth/me/", headers={"Authorization": authorization},
                                  timeout=timeout_s)
    except httpx.HTTPError as exc:
        log.warning("auth service unreachable", extra={
            "event": "auth_unreachable", "error": type(exc).__name__})
        raise ServiceUnavailable(AUTH_UNAVAILABLE) from exc
    user: dict[str, Any] = {}
    if response.status_code == 200:
        try:
            body = response.json()
        except ValueError:
            body = None
        user = body if isinstance(body, dict) else {}
    code = user.get("referralCode")
    if not isinstance(code, str) or not code:
        log.warning("auth service gave no referral code", extra={
            "event": "auth_unavailable", "status": response.status_code})
        raise ServiceUnavailable(AUTH_UNAVAILABLE)
    return code, _timestamp(user.get("createdAt"))


def _timestamp(value: object) -> datetime | None:
    """An ISO-8601 UTC timestamp from auth, or None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


async def own_referral_code(session: AsyncSession, outbox: Outbox, user_id: str, *,
                            auth: httpx.AsyncClient, authorization: str,
                            timeout_s: float) -> str:
    """The user's referral code; asks auth (and commits what it learnt) on a miss."""
    code = await code_of(session, user_id)
    if code is not None:
        return code
    await session.rollback()  # no transaction is held open across the HTTP call
    code, registered_at = await ask_auth_for_code(auth, authorization, timeout_s)
    await learn_code(session, outbox, user_id, code, registered_at=registered_at)
    await session.commit()
    return await code_of(session, user_id) or code
