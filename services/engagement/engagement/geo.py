"""Points on the Earth and the distance between them (pure functions)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.errors import FieldErrors

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG): the great-circle distance is within 0.5 % of the ellipsoid's."""


@dataclass(frozen=True)
class Point:
    """A position in decimal degrees."""

    lat: float
    lng: float


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance by the haversine formula."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlng = math.radians(b.lng - a.lng)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _coordinate(name: str, raw: str, limit: float, errors: dict[str, list[str]]) -> float:
    try:
        value = float(raw)
    except ValueError:
        errors[name] = ["A valid number is required."]
        return math.nan
    if not math.isfinite(value):
        errors[name] = ["A valid number is required."]
    elif not -limit <= value <= limit:
        errors[name] = [f"Ensure this value is between {-limit:g} and {limit:g}."]
    return value


def point_from_query(lat: str | None, lng: str | None) -> Point | None:
    """The point given as ``lat``/``lng`` query parameters, or None when neither is.

    An empty parameter counts as absent (``?lat=&lng=``). Bad numbers, values out of
    range, or only one of the two are a 400 field map.
    """
    lat = lat.strip() if lat else None
    lng = lng.strip() if lng else None
    if lat is None and lng is None:
        return None
    if lat is None or lng is None:
        missing, given = ("lat", "lng") if lat is None else ("lng", "lat")
        raise FieldErrors({missing: [f"This field is required when {given} is given."]})
    errors: dict[str, list[str]] = {}
    point = Point(_coordinate("lat", lat, 90.0, errors), _coordinate("lng", lng, 180.0, errors))
    if errors:
        raise FieldErrors(errors)
    return point
