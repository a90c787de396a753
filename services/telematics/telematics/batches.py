"""Telemetry upload bodies: decode and validate a batch (the hot path's first half).

Validation is a plain loop over the decoded JSON (no Pydantic per sample); every bad
field is named (at most ``MAX_FIELD_ERRORS`` of them).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import json_body
from shared.errors import REQUIRED_MESSAGE, BadRequest, FieldErrors
from shared.schemas import EARLIEST, LATEST
from telematics.models import KNOWN_FIELDS

MAX_SAMPLES = 10_000
MAX_FIELD_ERRORS = 50  # a 10,000-sample batch of garbage needs no 10,000-line answer
BIGINT = 2**63
_KNOWN_INDEX = {name: index for index, name in enumerate(KNOWN_FIELDS)}

INTEGER_MESSAGE = "A valid integer is required."
# Epoch milliseconds of the instants every store and time zone can hold (shared.schemas): a
# sample outside them could be stored, but never read back as a date.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_MS = (EARLIEST - _EPOCH) // timedelta(milliseconds=1)
LATEST_MS = (LATEST - _EPOCH) // timedelta(milliseconds=1)
TIME_RANGE_MESSAGE = (f"Ensure this value is epoch milliseconds from {EARLIEST_MS} to "
                      f"{LATEST_MS} (0001-01-02 to 9999-12-30 UTC).")
NUMBER_MESSAGE = "A valid number is required."


@dataclass(frozen=True, slots=True)
class Batch:
    """A validated upload. ``rows`` are ``[t, speed, fuelRate, odometer, rpm,
    coolantTemp, extra]`` in the order sent (``extra``: dict of unknown keys or None)."""

    vehicle_id: str
    start_timestamp: int
    end_timestamp: int
    rows: list[list[Any]]
    dtc_list: list[str] | None
    max_odometer: float | None


def is_bigint(value: object) -> bool:
    """An ``int`` (not a bool) that a BIGINT column can hold."""
    return type(value) is int and -BIGINT <= value < BIGINT  # type: ignore[operator]


def _is_epoch_ms(value: object) -> bool:
    return type(value) is int and EARLIEST_MS <= value <= LATEST_MS  # type: ignore[operator]


def _time_error(value: object) -> list[str]:
    return [TIME_RANGE_MESSAGE if type(value) is int else INTEGER_MESSAGE]


def parse_batch(body: bytes, vehicle_id: str, *, max_samples: int = MAX_SAMPLES) -> Batch:
    """Decode and validate an upload body, or raise ``FieldErrors`` naming each bad field
    (``vehicleId``, ``startTimestamp``, ``endTimestamp``, ``samples``,
    ``samples.<index>.<field>``, ``dtcList``), or ``BadRequest`` when it is not JSON.
    Bodies that ``json.loads`` cannot take (nested too deep) never get here: the service's
    request guard refuses them."""
    if not body.strip():
        raise FieldErrors({"nonFieldErrors": ["A JSON body is required."]})
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(json_body.MALFORMED) from exc
    if type(data) is not dict:
        raise FieldErrors({"nonFieldErrors": ["Expected a JSON object."]})

    errors: dict[str, list[str]] = {}
    body_vehicle = data.get("vehicleId")
    if body_vehicle is None:
        errors["vehicleId"] = [REQUIRED_MESSAGE]
    elif body_vehicle != vehicle_id:
        errors["vehicleId"] = ["Must match the vehicle id in the URL."]
    start, end = data.get("startTimestamp"), data.get("endTimestamp")
    for name, value in (("startTimestamp", start), ("endTimestamp", end)):
        if value is None:
            errors[name] = [REQUIRED_MESSAGE]
        elif not _is_epoch_ms(value):
            errors[name] = _time_error(value)
    if "startTimestamp" not in errors and "endTimestamp" not in errors and start > end:
        errors["startTimestamp"] = ["Must not be after endTimestamp."]
        errors["endTimestamp"] = ["Must not be before startTimestamp."]

    dtc_list = _parse_dtcs(data.get("dtcList"), errors)
    raw_samples = data.get("samples")
    rows: list[list[Any]] = []
    max_odometer: float | None = None
    if raw_samples is None:
        errors["samples"] = [REQUIRED_MESSAGE]
    elif type(raw_samples) is not list:
        kind = type(raw_samples).__name__
        errors["samples"] = [f'Expected a list of items but got type "{kind}".']
    elif len(raw_samples) > max_samples:
        errors["samples"] = [f"Ensure this field has no more than {max_samples} elements."]
    else:
        rows, max_odometer = _parse_samples(raw_samples, errors)
    if errors:
        raise FieldErrors(errors)
    return Batch(vehicle_id=vehicle_id, start_timestamp=start, end_timestamp=end, rows=rows,
                 dtc_list=dtc_list, max_odometer=max_odometer)


def _parse_samples(raw_samples: list[Any], errors: dict[str, list[str]]
                   ) -> tuple[list[list[Any]], float | None]:
    rows: list[list[Any]] = []
    max_odometer: float | None = None
    known = _KNOWN_INDEX
    isfinite = math.isfinite
    for index, sample in enumerate(raw_samples):
        if len(errors) >= MAX_FIELD_ERRORS:
            break
        if type(sample) is not dict:
            errors[f"samples.{index}"] = ["Expected an object."]
            continue
        row: list[Any] = [None, None, None, None, None, None, None]
        extra: dict[str, Any] | None = None
        for key, value in sample.items():
            if key == "t":
                if _is_epoch_ms(value):
                    row[0] = value
                else:
                    errors[f"samples.{index}.t"] = _time_error(value)
                continue
            position = known.get(key)
            if position is None:
                if extra is None:
                    extra = {}
                extra[key] = value
            elif value is None:
                continue
            elif (type(value) is float and isfinite(value)) or type(value) is int:
                row[position + 1] = value
            else:
                errors[f"samples.{index}.{key}"] = [NUMBER_MESSAGE]
        if row[0] is None and f"samples.{index}.t" not in errors:
            errors[f"samples.{index}.t"] = [REQUIRED_MESSAGE]
        row[6] = extra
        odometer = row[3]
        if odometer is not None and (max_odometer is None or odometer > max_odometer):
            max_odometer = odometer
        rows.append(row)
    return rows, max_odometer


def _parse_dtcs(value: Any, errors: dict[str, list[str]]) -> list[str] | None:
    if value is None:
        return None
    if type(value) is not list or not all(type(c) is str and c.strip() for c in value):
        errors["dtcList"] = ["Expected a list of DTC codes (non-empty strings)."]
        return None
    return list(dict.fromkeys(code.strip().upper() for code in value))
