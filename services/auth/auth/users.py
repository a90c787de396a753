"""Users: registration, credentials, profile, roles, rewards."""

from __future__ import annotations

import logging
import re
import secrets
import string

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from auth.models import CreditedReferral, User
from auth.passwords import Passwords
from auth.tokens import revoke_sessions
from shared.contracts.auth import UserRegisteredV1
from shared.errors import BadRequest, NotFound, Unauthorized
from shared.events import Outbox

log = logging.getLogger("auth.users")

ROLES = ("member", "support", "admin")
_CODE_ALPHABET = string.ascii_uppercase + string.digits
_CODE_FORMAT = re.compile(r"REF-[A-Z0-9]{6}")


def new_referral_code() -> str:
    """``REF-`` followed by six upper-case letters or digits."""
    return "REF-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))


async def get_user(session: AsyncSession, user_id: str) -> User:
    """The user with this id, or 404."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("User not found")
    return user


async def find_by_email(session: AsyncSession, email: str) -> User | None:
    """The user with this e-mail (case-insensitive), if any."""
    return (await session.exec(select(User).where(
        func.lower(User.email) == email.lower()))).first()


async def register(session: AsyncSession, outbox: Outbox, passwords: Passwords, *,
                   email: str, password: str, name: str = "", phone: str | None = None,
                   referral_code: str | None = None, role: str = "member") -> User:
    """Create a user and stage ``user.registered`` (the caller commits).

    An unknown referral code is ignored, as the contract says.
    """
    email = email.strip().lower()
    if await find_by_email(session, email) is not None:
        raise BadRequest("User with this email already exists")
    referred_by = await _known_referral_code(session, referral_code)
    user = User(email=email, password_hash=await passwords.hash(password), name=name,
                phone=phone, role=role, referral_code=await _unused_code(session),
                referred_by_code=referred_by)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same e-mail
        await session.rollback()
        raise BadRequest("User with this email already exists") from exc
    await outbox.add(session, UserRegisteredV1(
        user_id=user.id, email=user.email, name=user.name,
        referral_code=user.referral_code, referred_by_code=referred_by))
    return user


async def _known_referral_code(session: AsyncSession, given: str | None) -> str | None:
    """``given``, normalised, when it is some user's code; None for anything else.

    Only a well-formed code is looked up: a value of any length or content (NUL, lone
    surrogates) is then an unknown code, ignored, and never a value the database rejects.
    """
    code = (given or "").strip().upper()
    if not _CODE_FORMAT.fullmatch(code):
        return None
    return (await session.exec(select(User.referral_code).where(
        User.referral_code == code))).first()


async def _unused_code(session: AsyncSession) -> str:
    while True:
        code = new_referral_code()
        taken = (await session.exec(select(User.id).where(User.referral_code == code))).first()
        if taken is None:
            return code


async def authenticate(session: AsyncSession, passwords: Passwords, email: str,
                       password: str) -> User:
    """The user these credentials belong to, or 401 with one message for every failure."""
    user = await find_by_email(session, email.strip())
    if not await passwords.verify(user.password_hash if user else None, password) or user is None:
        raise Unauthorized("Invalid credentials")
    return user


async def update_profile(session: AsyncSession, user: User, changes: dict[str, object]) -> User:
    """Apply the allowed profile changes (name, phone) and commit."""
    for field in ("name", "phone"):
        if field in changes:
            setattr(user, field, changes[field])
    session.add(user)
    await session.commit()
    return user


async def set_role(session: AsyncSession, user_id: str, role: str) -> User:
    """Give a user a new role; tokens already issued keep the old one until refreshed."""
    if role not in ROLES:
        raise BadRequest(f"Unknown role: {role}")
    user = await get_user(session, user_id)
    user.role = role
    session.add(user)
    await session.commit()
    return user


class AdminEmailTaken(RuntimeError):
    """``ADMIN_EMAIL`` is the e-mail of an account that is not an admin (start-up stops)."""


async def ensure_admin(session: AsyncSession, outbox: Outbox, passwords: Passwords,
                       email: str, password: str, *, promote_existing: bool = False) -> User:
    """Create the bootstrap administrator; an existing admin account is left as it is.

    An existing account that is not an admin belongs to whoever registered it, who knows
    its password: promoting it silently would hand them the admin role. So start-up
    stops, unless ``promote_existing`` says the operator means it; the account then
    becomes the admin with ``password``, and every session of its previous owner ends.
    """
    user = await find_by_email(session, email)
    if user is None:
        user = await register(session, outbox, passwords, email=email, password=password,
                              name="Administrator", role="admin")
    elif user.role != "admin":
        if not promote_existing:
            log.error("ADMIN_EMAIL belongs to an existing account that is not an admin",
                      extra={"event": "admin_email_taken", "userId": user.id,
                             "role": user.role})
            raise AdminEmailTaken(
                f"ADMIN_EMAIL {email} is the e-mail of an existing {user.role} account. "
                "Choose another ADMIN_EMAIL, or set ADMIN_PROMOTE_EXISTING=true to make that "
                "account the admin: its password becomes ADMIN_PASSWORD and its sessions "
                "are revoked.")
        user.role = "admin"
        user.password_hash = await passwords.hash(password)
        session.add(user)
        await revoke_sessions(session, user.id)
        log.warning("existing account promoted to admin, its password reset and its "
                    "sessions revoked", extra={"event": "admin_promoted", "userId": user.id})
    await session.commit()
    return user


async def credit_referral(session: AsyncSession, referral_id: str, referrer_id: str) -> bool:
    """Add one free month to the referrer, once per referral; returns whether it did."""
    if await session.get(CreditedReferral, referral_id) is not None:
        return False
    session.add(CreditedReferral(referral_id=referral_id, referrer_user_id=referrer_id))
    await session.exec(update(User).where(col(User.id) == referrer_id)
                          .values(rewards_balance=User.rewards_balance + 1))
    return True
