"""Events the engagement service publishes."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.base import EventContract


class ReferralCreditedV1(EventContract):
    """A referral became due (the referred user activated a membership): the referrer
    earns ``reward`` free months. Published once per referral."""

    TYPE: ClassVar[str] = "referral.credited"
    referral_id: str
    referrer_user_id: str
    referred_user_id: str
    reward: int


CONTRACTS = (ReferralCreditedV1,)
