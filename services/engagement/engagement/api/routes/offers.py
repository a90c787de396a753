"""Routes under ``/api/offers/``: the offers a member sees, and the admin's catalogue.

Thin: parse, check, call :mod:`engagement.offers`, shape the response. Listing needs a
bearer token; creating, changing and deleting offers need the ``admin`` role (403).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from engagement import offers
from engagement.api.deps import SettingsDep
from engagement.geo import point_from_query
from engagement.memberships import effective_tier
from engagement.models import vehicle_owners
from engagement.schemas import OfferIn, OfferOut, OfferPatch
from shared.auth import CurrentPrincipal, require_role
from shared.deps import AuthorizationDep, DbSession, PeersDep

router = APIRouter(prefix="/api/offers", tags=["offers"])

ADMIN_ONLY = [require_role("admin")]


@router.get("/", response_model=list[OfferOut])
async def list_offers(principal: CurrentPrincipal, session: DbSession, settings: SettingsDep,
                      authorization: AuthorizationDep, peers: PeersDep,
                      vehicle_id: Annotated[str | None, Query(alias="vehicleId")] = None,
                      lat: str | None = None, lng: str | None = None) -> list[OfferOut]:
    """Offers not expired and open to the caller's tier; nearest first with lat/lng.

    ``vehicleId`` does not change the list; it must be the caller's vehicle (else 404).
    """
    near = point_from_query(lat, lng)
    if vehicle_id:
        await vehicle_owners.require_own_vehicle(
            session, vehicle_id, principal.user_id, vehicles=peers["vehicles"],
            authorization=authorization, timeout_s=settings.peer_timeout_seconds)
    tier = await effective_tier(session, principal.user_id, principal.tier)
    return [OfferOut.of(offer) for offer in
            await offers.visible_offers(session, tier=tier, near=near)]


@router.post("/", status_code=201, response_model=OfferOut, dependencies=ADMIN_ONLY)
async def create_offer(body: OfferIn, session: DbSession) -> OfferOut:
    """Add an offer to the catalogue."""
    return OfferOut.of(await offers.create_offer(session, body.fields()))


@router.patch("/{offer_id}/", response_model=OfferOut, dependencies=ADMIN_ONLY)
async def update_offer(offer_id: str, body: OfferPatch, session: DbSession) -> OfferOut:
    """Change the fields sent."""
    offer = await offers.get_offer(session, offer_id)
    return OfferOut.of(await offers.update_offer(session, offer, body.changes()))


@router.delete("/{offer_id}/", status_code=204, response_class=Response,
               dependencies=ADMIN_ONLY)
async def delete_offer(offer_id: str, session: DbSession) -> Response:
    """Remove an offer."""
    await offers.delete_offer(session, await offers.get_offer(session, offer_id))
    return Response(status_code=204)
