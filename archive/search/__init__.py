"""archive.search: finding cameras and recordings by owner, tag, text, place and time.

Hot paths use SQLAlchemy Core with explicit columns (no ORM objects) over the indexes
``camera(latitude, longitude)``, ``segment(camera_id, start_us)`` and ``gap(camera_id, start_us)``.
Every query is restricted to a :class:`~archive.identity.policy.CameraScope`.

- :mod:`.times`: ISO 8601 in (offset required) and out (UTC beside the city's zone).
- :mod:`.geo`: haversine distance and the bounding box of a radius.
- :mod:`.intervals`: covered / pruned / unaccounted intervals from segment rows (pure).
- :mod:`.cameras`, :mod:`.recordings`, :mod:`.sightings`: the queries.
- :mod:`.service`: :class:`SearchService`, what the API calls.
"""

from __future__ import annotations

from archive.search.model import (
    CameraCoverage,
    CameraHit,
    CameraQuery,
    GapView,
    Interval,
    RecordingsPage,
    SegmentHit,
    Sighting,
)
from archive.search.service import SearchLimits, SearchService

__all__ = [
    "CameraCoverage",
    "CameraHit",
    "CameraQuery",
    "GapView",
    "Interval",
    "RecordingsPage",
    "SearchLimits",
    "SearchService",
    "SegmentHit",
    "Sighting",
]
