"""Distances on the Earth (haversine, mean radius) and the bounding box of a radius.

The box is a cheap prefilter on the ``camera(latitude, longitude)`` index; the exact test is
the haversine distance. Radii are limited (see :data:`MAX_RADIUS_M`), so the box never wraps
the antimeridian in practice; near the poles it widens to every longitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from archive.errors import Problem, ValidationError

__all__ = ["EARTH_RADIUS_M", "MAX_RADIUS_M", "Box", "box_around", "check_point", "haversine_m"]

EARTH_RADIUS_M = 6_371_008.8
MAX_RADIUS_M = 50_000.0
_M_PER_DEG_LAT = math.pi * EARTH_RADIUS_M / 180.0


@dataclass(frozen=True)
class Box:
    """A latitude/longitude box (degrees), edges included."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def __post_init__(self) -> None:
        problems = []
        for name in ("min_lat", "max_lat", "min_lon", "max_lon"):
            if not math.isfinite(getattr(self, name)):
                problems.append(Problem(name, "must be a finite number"))
        if problems:
            raise ValidationError(problems)
        if not (-90 <= self.min_lat <= self.max_lat <= 90):
            problems.append(Problem("bbox", "latitudes must satisfy -90 <= south <= north <= 90"))
        if not (-180 <= self.min_lon <= self.max_lon <= 180):
            problems.append(Problem("bbox", "longitudes must satisfy -180 <= west <= east <= 180"))
        if problems:
            raise ValidationError(problems)


def check_point(lat: float, lon: float) -> None:
    """Raise ValidationError unless ``lat`` is in [-90, 90] and ``lon`` in [-180, 180]."""
    problems = []
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        problems.append(Problem("lat", f"latitude {lat!r} must be between -90 and 90"))
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        problems.append(Problem("lon", f"longitude {lon!r} must be between -180 and 180"))
    if problems:
        raise ValidationError(problems)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def box_around(lat: float, lon: float, radius_m: float) -> Box:
    """The smallest lat/lon box containing the circle (clamped to the globe).

    Raises ValidationError for a bad point or a radius outside (0, MAX_RADIUS_M].
    """
    check_point(lat, lon)
    if not (math.isfinite(radius_m) and 0 < radius_m <= MAX_RADIUS_M):
        raise ValidationError([Problem("radius_m", f"radius must be > 0 and <= {MAX_RADIUS_M:.0f} m")])
    dlat = radius_m / _M_PER_DEG_LAT
    cos_lat = math.cos(math.radians(lat))
    dlon = 180.0 if cos_lat < 1e-6 else min(180.0, radius_m / (_M_PER_DEG_LAT * cos_lat))
    return Box(max(-90.0, lat - dlat), min(90.0, lat + dlat), max(-180.0, lon - dlon), min(180.0, lon + dlon))
