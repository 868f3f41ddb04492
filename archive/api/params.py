"""Parsing of request values shared by the controllers (raises ValidationError, never 500)."""

from __future__ import annotations

import math
from typing import Annotated

from litestar.params import PathParameter

from archive.errors import Problem, ValidationError
from archive.search.geo import Box
from archive.search.model import Near
from archive.search.times import parse_instant

__all__ = ["MAX_INT", "HoldId", "Seq", "bbox", "instant", "near", "place", "printable", "time_range"]

MAX_INT = 2**53 - 1
"""Largest integer accepted anywhere in a request (fits SQLite and PostgreSQL BIGINT)."""
Seq = Annotated[int, PathParameter(ge=0, le=MAX_INT, description="log entry sequence number")]
HoldId = Annotated[int, PathParameter(ge=1, le=MAX_INT, description="legal hold id")]


def printable(value: str, where: str, *, max_len: int = 2000, allow_empty: bool = False) -> str:
    """``value`` when it is printable text (newlines and tabs allowed) of at most ``max_len``
    characters. Raises ValidationError (control characters such as NUL never reach a database)."""
    if (not value.strip() and not allow_empty) or len(value) > max_len or not value.replace("\n", "").replace(
            "\t", "").isprintable():  # fmt: skip
        raise ValidationError([Problem(where, f"must be 1-{max_len} printable characters")])
    return value


def instant(text: str, where: str) -> int:
    """Epoch µs of an ISO 8601 time with offset. Raises ValidationError."""
    return parse_instant(text, where)


def time_range(start: str, end: str) -> tuple[int, int]:
    """``(start_us, end_us)`` of two ISO 8601 times; both problems reported together."""
    problems: list[Problem] = []
    out: list[int] = []
    for text, where in ((start, "start"), (end, "end")):
        try:
            out.append(parse_instant(text, where))
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    if out[1] <= out[0]:
        raise ValidationError([Problem("end", "end must be after start")])
    return out[0], out[1]


def bbox(text: str) -> Box:
    """``south,west,north,east`` in degrees. Raises ValidationError."""
    parts = text.split(",")
    try:
        if len(parts) != 4:
            raise ValueError
        s, w, n, e = (float(p) for p in parts)
    except ValueError:
        raise ValidationError([Problem("bbox", "expected south,west,north,east in degrees")]) from None
    return Box(s, n, w, e)


def place(lat: float | None, lon: float | None, radius_m: float | None, box: str | None) -> Near | Box:
    """The place of a sightings search: a circle (``lat``, ``lon``, ``radius_m``) or a ``box``
    (``south,west,north,east``, each side at most twice the circle's largest radius), exactly one.
    Raises ValidationError (``bbox`` when neither or both are given, or the box is bad)."""
    from archive.search.geo import MAX_RADIUS_M, haversine_m

    circle = near(lat, lon, radius_m)
    if (circle is None) == (box is None):
        raise ValidationError([Problem("bbox", "give either lat, lon and radius_m (a circle) or bbox (a box)")])
    if circle is not None:
        return circle
    assert box is not None
    found = bbox(box)
    mid_lat = (found.min_lat + found.max_lat) / 2
    tall = haversine_m(found.min_lat, found.min_lon, found.max_lat, found.min_lon)
    wide = haversine_m(mid_lat, found.min_lon, mid_lat, found.max_lon)
    if max(tall, wide) > 2 * MAX_RADIUS_M:
        most = 2 * MAX_RADIUS_M / 1000
        size = f"{tall / 1000:.1f} x {wide / 1000:.1f} km"
        raise ValidationError([Problem("bbox", f"each side must be at most {most:.0f} km (this box is {size})")])
    return found


def near(lat: float | None, lon: float | None, radius_m: float | None) -> Near | None:
    """A circle when ``lat`` and ``lon`` are given (radius required then). Raises ValidationError."""
    if lat is None and lon is None and radius_m is None:
        return None
    if lat is None or lon is None or radius_m is None:
        raise ValidationError([Problem("lat", "lat, lon and radius_m go together")])
    if not all(math.isfinite(v) for v in (lat, lon, radius_m)):
        raise ValidationError([Problem("lat", "lat, lon and radius_m must be finite numbers")])
    from archive.search.geo import box_around

    box_around(lat, lon, radius_m)  # validates point and radius
    return Near(lat, lon, radius_m)
