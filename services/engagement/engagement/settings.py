"""Engagement service settings (environment variables, embedded-mode defaults)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class EngagementSettings(ServiceSettings):
    """Everything the engagement service reads from its environment."""

    service_name: str = "engagement"
    auth_url: str = Field(
        default="http://127.0.0.1:8001",
        description="The auth service, asked once for a caller's referral code that the "
                    "user.registered projection has not seen yet")
    vehicles_url: str = Field(
        default="http://127.0.0.1:8002",
        description="The vehicles service, asked once about a vehicle the projection lacks")
    peer_timeout_seconds: float = Field(
        default=2.0, description="Timeout of those calls to auth and vehicles")
    referral_newcomer_wait_seconds: float = Field(
        default=2.0, ge=0,
        description="How long a code's owner attaching a user waits for that user's "
                    "user.registered when it has not arrived yet (then 403)")
    referral_link_base: str = Field(
        default="https://membershipauto.com/r",
        description="A referral link is <REFERRAL_LINK_BASE>/<code>")
