"""Recordings by camera(s) and time, and "which cameras saw this place at this time" (a circle or a box)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery, QueryParameter

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps
from archive.api.params import place, time_range
from archive.api.render import camera_out, coverage_out, interval_out, segments_out
from archive.api.schemas import RecordingsOut, SightingOut, SightingsOut
from archive.identity.policy import Permission
from archive.search.model import Near

__all__ = ["routes"]

Time = Annotated[str, QueryParameter(description="ISO 8601 with offset, e.g. 2025-03-14T16:00:00+07:00",
                                     max_length=64)]
BBox = Annotated[str | None, QueryParameter(name="bbox", max_length=128,
                                            description="south,west,north,east in degrees (instead of a circle)")]
PageLimit = Annotated[int | None, QueryParameter(ge=1, le=10_000, description="segments per page (server cap)")]


def routes(deps: ApiDeps) -> list[HTTPRouteHandler]:
    """The recordings handlers bound to ``deps``."""
    search, times = deps.search, deps.settings.times

    @get("/recordings", sync_to_thread=True,
         opt={"permission": Permission.RECORDINGS_READ.value, "audit": "recordings.search"},
         summary="Coverage, gaps, pruned intervals and segments of cameras in a time range (paginated)")  # fmt: skip
    def recordings(request: Request[Any, Any, Any], camera: FromQuery[list[str]], start: Time, end: Time,
                   limit: PageLimit = None,
                   cursor: Annotated[str | None, QueryParameter(max_length=512)] = None) -> RecordingsOut:  # fmt: skip
        lo, hi = time_range(start, end)
        page = search.recordings(principal_of(request), camera, lo, hi, cursor=cursor, limit=limit)
        audit_detail(request, segments=len(page.segments), more=page.next_cursor is not None)
        return RecordingsOut(
            zone=times.zone_name, range=interval_out(times, lo, hi), cameras=sorted(set(camera)),
            coverage=[coverage_out(times, c) for c in page.coverage] if cursor is None else None,
            segments=segments_out(times, page.segments), next_cursor=page.next_cursor,
        )  # fmt: skip

    @get("/sightings", sync_to_thread=True,
         opt={"permission": Permission.RECORDINGS_READ.value, "audit": "recordings.sightings"},
         summary="Which cameras saw this place at this time: cameras within radius_m of lat/lon, or inside "
                 "bbox, with their coverage")  # fmt: skip
    def sightings(request: Request[Any, Any, Any], start: Time, end: Time, lat: FromQuery[float | None] = None,
                  lon: FromQuery[float | None] = None, radius_m: FromQuery[float | None] = None, bbox_: BBox = None,
                  limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100) -> SightingsOut:  # fmt: skip
        lo, hi = time_range(start, end)
        where = place(lat, lon, radius_m, bbox_)
        found = search.sightings(principal_of(request), where, lo, hi, limit=limit)
        audit_detail(request, cameras=[s.camera.id for s in found])
        circle = where if isinstance(where, Near) else None
        box = None if isinstance(where, Near) else [where.min_lat, where.min_lon, where.max_lat, where.max_lon]
        return SightingsOut(
            zone=times.zone_name, latitude=circle.lat if circle else None, longitude=circle.lon if circle else None,
            radius_m=circle.radius_m if circle else None, bbox=box, range=interval_out(times, lo, hi),
            cameras=[SightingOut(camera=camera_out(s.camera), coverage=coverage_out(times, s.coverage)) for s in found],
        )  # fmt: skip

    return [recordings, sightings]
