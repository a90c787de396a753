"""Events the auth service publishes."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.base import EventContract


class UserRegisteredV1(EventContract):
    """A user signed up; ``referredByCode`` is the known referral code they gave, if any."""

    TYPE: ClassVar[str] = "user.registered"
    user_id: str
    email: str
    name: str
    referral_code: str
    referred_by_code: str | None


class MembershipContract(EventContract):
    """What every ``membership.*`` event carries (not an event type itself)."""

    user_id: str
    membership_id: str
    tier: str


class MembershipActivatedV1(MembershipContract):
    """The user started a membership on a plan of ``tier``."""

    TYPE: ClassVar[str] = "membership.activated"


class MembershipCancelledV1(MembershipContract):
    """The user's active membership (of ``tier``) was cancelled."""

    TYPE: ClassVar[str] = "membership.cancelled"


CONTRACTS = (UserRegisteredV1, MembershipActivatedV1, MembershipCancelledV1)
