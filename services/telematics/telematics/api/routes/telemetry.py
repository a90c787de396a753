"""Routes under ``/api/telematics/``: parse, check ownership, call the domain, shape."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from shared.auth import CurrentPrincipal
from shared.deps import DbSession, OutboxDep, ReadSession
from shared.errors import ApiError, FieldErrors
from telematics import batches, ingest, queries, summary
from telematics.api.deps import OwnVehicle, SettingsDep, own_vehicle
from telematics.schemas import BatchAccepted, BatchIn, SamplesPage, SummaryOut, TripOut

router = APIRouter(prefix="/api/telematics", tags=["telematics"])

async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or ``413`` once it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError("Request body too large", status_code=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError("Request body too large", status_code=413)
        chunks.append(chunk)
    return b"".join(chunks)


def _optional_int(name: str, raw: str | None, errors: dict[str, list[str]]) -> int | None:
    """``raw`` as an integer a BIGINT column can be compared with, else a field error."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not batches.is_bigint(value):
        errors[name] = [batches.INTEGER_MESSAGE]
        return None
    return value


@router.post("/{vehicle_id}/", status_code=202, response_model=BatchAccepted,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": BatchIn.model_json_schema(by_alias=True,
                                                     ref_template="#/components/schemas/{model}"
                                                     )}}}})
async def upload_batch(vehicle_id: str, request: Request, principal: CurrentPrincipal,
                       session: DbSession, outbox: OutboxDep,
                       settings: SettingsDep) -> BatchAccepted:
    """Store a telemetry batch (idempotent by window and by ``Idempotency-Key``).

    Ownership is checked inside ``ingest.store_batch`` (with the claim, one round trip),
    and here first only when the body is rejected, so 404 still wins over 400.
    """

    async def check_owner() -> None:
        await own_vehicle(vehicle_id, request, principal, session, settings)

    body = await read_body(request, settings.max_body_bytes_telemetry)
    key = request.headers.get("idempotency-key") or None
    try:
        if key is not None and len(key) > 200:
            raise FieldErrors({"Idempotency-Key": ["Ensure this value has at most 200 "
                                                   "characters."]})
        batch = batches.parse_batch(body, vehicle_id, max_samples=settings.max_samples_per_batch)
    except FieldErrors:
        await check_owner()
        raise
    result = await ingest.store_batch(session, outbox, batch, user_id=principal.user_id,
                                      idempotency_key=key, check_owner=check_owner)
    return BatchAccepted(batch_id=result.batch_id, accepted=result.accepted)


@router.get("/{vehicle_id}/samples/", response_model=SamplesPage)
async def list_samples(vehicle_id: OwnVehicle, session: ReadSession, settings: SettingsDep,
                       start: Annotated[str | None, Query(alias="from")] = None,
                       end: Annotated[str | None, Query(alias="to")] = None,
                       limit: str | None = None, cursor: str | None = None) -> Any:
    """Samples in time order, ``from``/``to`` inclusive (epoch ms), keyset-paged."""
    errors: dict[str, list[str]] = {}
    start_ms = _optional_int("from", start, errors)
    end_ms = _optional_int("to", end, errors)
    page_size = _optional_int("limit", limit, errors)
    if page_size is not None and page_size < 1:
        errors["limit"] = ["Ensure this value is greater than or equal to 1."]
    if errors:
        raise FieldErrors(errors)
    after = queries.decode_cursor(cursor) if cursor else None
    page_size = min(page_size or settings.samples_page_default, settings.samples_page_max)
    rows, next_cursor = await queries.page_samples(session, vehicle_id, start=start_ms,
                                                   end=end_ms, limit=page_size, after=after)
    return JSONResponse({"samples": rows, "next": next_cursor})


@router.get("/{vehicle_id}/summary/", response_model=SummaryOut)
async def get_summary(vehicle_id: OwnVehicle, session: DbSession) -> SummaryOut:
    """Totals over the vehicle's samples (formulas in ``telematics.summary``)."""
    return SummaryOut.model_validate(await summary.vehicle_summary(session, vehicle_id))


@router.get("/{vehicle_id}/trips/", response_model=list[TripOut])
async def list_trips(vehicle_id: OwnVehicle, session: DbSession) -> list[TripOut]:
    """The vehicle's trips, oldest first."""
    return [TripOut.model_validate(trip) for trip in
            await summary.vehicle_trips(session, vehicle_id)]
