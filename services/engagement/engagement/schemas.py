"""Request and response bodies of the engagement service (camelCase on the wire).

Every rule of CONTRACT.md's engagement section on input lives here; a ``ValueError``
raised by a validator becomes the message in the 400 field map.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, field_validator
from sqlalchemy import Row

from engagement.models import TIERS, Offer
from shared.schemas import (
    CamelModel,
    NotNull,
    PrintableId,
    UtcDateTime,
    not_null,
    printable_id,
    required_text,
    utc_in_range,
)

TITLE_MAX_LENGTH = 200
TEXT_MAX_LENGTH = 5000
LOCATION_ID_MAX_LENGTH = 64
MAX_LOCATIONS = 100
CODE_MAX_LENGTH = 32
USER_ID_MAX_LENGTH = 64


def _free_text(value: str | None) -> str:
    """Optional text: ``null`` is the same as empty."""
    value = (value or "").strip()
    if len(value) > TEXT_MAX_LENGTH:
        raise ValueError(f"Ensure this field has no more than {TEXT_MAX_LENGTH} characters.")
    return value


def _timestamp(value: Any) -> Any:
    """ISO-8601 strings only (no epoch numbers); naive means UTC; stored in UTC."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("Datetime has wrong format. Use ISO 8601, e.g. 2030-03-31T23:59:59Z.")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            "Datetime has wrong format. Use ISO 8601, e.g. 2030-03-31T23:59:59Z.") from None
    return utc_in_range(parsed)


def _tiers(values: list[str]) -> list[str]:
    unknown = [value for value in values if value not in TIERS]
    if unknown:
        raise ValueError(f'"{unknown[0]}" is not a valid choice: use one of {", ".join(TIERS)}.')
    return list(dict.fromkeys(values))


def _location_ids(values: list[str]) -> list[str]:
    ids = list(dict.fromkeys(value.strip() for value in values))
    if any(not value or len(value) > LOCATION_ID_MAX_LENGTH for value in ids):
        raise ValueError(f"Every location id is a non-blank string of at most "
                         f"{LOCATION_ID_MAX_LENGTH} characters.")
    for value in ids:
        printable_id(value)
    if len(ids) > MAX_LOCATIONS:
        raise ValueError(f"Ensure this field has no more than {MAX_LOCATIONS} items.")
    return ids


Title = Annotated[str, NotNull, AfterValidator(required_text(TITLE_MAX_LENGTH))]
FreeText = Annotated[str | None, AfterValidator(_free_text)]
Expiry = Annotated[datetime | None, BeforeValidator(_timestamp)]
Tiers = Annotated[list[str], NotNull, AfterValidator(_tiers)]
LocationIds = Annotated[list[str], NotNull, AfterValidator(_location_ids)]


class OfferIn(CamelModel):
    """``POST /api/offers/``: ``title`` required; ``expiry`` null = never expires."""

    title: Title
    description: FreeText = ""
    terms: FreeText = ""
    expiry: Expiry = None
    eligible_memberships: Tiers = []
    locations: LocationIds = []

    def fields(self) -> dict[str, Any]:
        """The offer's fields by attribute name."""
        return self.model_dump(by_alias=False)


class OfferPatch(CamelModel):
    """``PATCH /api/offers/{id}/``: only the fields sent change, validated as on create."""

    title: Title | None = None
    description: FreeText = None
    terms: FreeText = None
    expiry: Expiry = None
    eligible_memberships: Tiers | None = None
    locations: LocationIds | None = None

    @field_validator("title", "eligible_memberships", "locations", mode="before")
    @classmethod
    def _not_nullable(cls, value: Any) -> Any:
        return not_null(value)

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, by attribute name."""
        return self.model_dump(exclude_unset=True, by_alias=False)


class OfferOut(CamelModel):
    """The contract's ``offer``."""

    id: str
    title: str
    description: str
    terms: str
    expiry: UtcDateTime | None
    eligible_memberships: list[str]
    locations: list[str]
    created_at: UtcDateTime

    @classmethod
    def of(cls, offer: Offer) -> OfferOut:
        """The response body for ``offer``."""
        return cls(id=offer.id, title=offer.title, description=offer.description,
                   terms=offer.terms, expiry=offer.expiry,
                   eligible_memberships=offer.eligible_memberships,
                   locations=offer.locations, created_at=offer.created_at)


class ReferralOut(CamelModel):
    """The contract's ``referral``; ``referrerUser``/``referredUser`` are user ids."""

    id: str
    referrer_user: str | None
    referred_user: str
    code: str
    status: Literal["invited", "signed_up", "credited"]
    rewards_applied: dict[str, int]
    created_at: UtcDateTime

    @classmethod
    def of(cls, row: Row[Any]) -> ReferralOut:
        """The response body for a ``referrals`` row."""
        return cls(id=row.id, referrer_user=row.referrer_user_id,
                   referred_user=row.referred_user_id, code=row.code, status=row.status,
                   rewards_applied=row.rewards_applied, created_at=row.created_at)


class ReferralInfoOut(CamelModel):
    """``GET /api/referrals/me/``."""

    code: str
    link: str
    referrals: list[ReferralOut]


def _optional_user_id(value: str | None) -> str | None:
    return None if value is None else printable_id(required_text(USER_ID_MAX_LENGTH)(value))


ReferralCode = Annotated[str, NotNull, AfterValidator(required_text(CODE_MAX_LENGTH)),
                         PrintableId]
UserId = Annotated[str | None, AfterValidator(_optional_user_id)]


class ApplyIn(CamelModel):
    """``POST /api/referrals/apply/``: ``code`` required, ``newUserId`` optional."""

    code: ReferralCode
    new_user_id: UserId = None


class CodeValidOut(CamelModel):
    """``POST /api/referrals/apply/`` without ``newUserId``: the code exists."""

    message: str = "Referral code is valid"
    code: str
