"""Request and response bodies of the auth service (camelCase on the wire)."""

from __future__ import annotations

from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import Field, field_validator

from shared.schemas import CamelModel, PrintableId, UtcDateTime

PASSWORD_MIN_LENGTH = 8


class RegisterIn(CamelModel):
    email: str
    password: str = Field(max_length=1024)
    name: str = Field(default="", max_length=150)
    phone: str | None = Field(default=None, max_length=32)
    # No length limit: an unknown code is ignored whatever it holds (CONTRACT.md), and
    # auth.users never sends one that is not well-formed to the database.
    referral_code: str | None = None

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        try:
            return validate_email(value.strip(), check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise ValueError("Enter a valid email address.") from exc

    @field_validator("password")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if len(value) < PASSWORD_MIN_LENGTH:
            raise ValueError(
                f"Ensure this field has at least {PASSWORD_MIN_LENGTH} characters.")
        return value


class LoginIn(CamelModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    device_id: str | None = Field(default=None, max_length=200)


class RefreshIn(CamelModel):
    refresh_token: str


class ProfilePatch(CamelModel):
    """Only the fields sent are changed; ``phone: null`` clears the phone, a name cannot be null."""

    name: str | None = Field(default=None, max_length=150)
    phone: str | None = Field(default=None, max_length=32)

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("This field may not be null.")
        return value


class RoleIn(CamelModel):
    role: str


class MembershipIn(CamelModel):
    plan_id: Annotated[str, PrintableId]


class UserOut(CamelModel):
    id: str
    name: str
    email: str
    phone: str | None
    membership_id: str | None
    referral_code: str
    rewards_balance: int
    role: str
    created_at: UtcDateTime


class TokensOut(CamelModel):
    access_token: str
    refresh_token: str


class SessionOut(TokensOut):
    user: UserOut


class PlanOut(CamelModel):
    id: str
    name: str
    tier: str
    price_monthly: int
    features: list[str]


class MembershipOut(CamelModel):
    id: str
    plan_id: str
    tier: str
    status: str
    started_at: UtcDateTime
    next_billing_at: UtcDateTime | None
    cancelled_at: UtcDateTime | None


class JwksOut(CamelModel):
    keys: list[dict[str, Any]]
