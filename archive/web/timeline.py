"""One camera's day: the timeline page, its lane data, its HLS playlist and segment media.

The lanes come from the recordings search (the same coverage the API's ``/recordings`` gives):
recorded, gap (with its logged reason), pruned and unaccounted intervals, plus the camera's
legal holds, over one day in the display zone (``[api] display_timezone``; its abbreviation per
UTC offset of that day, from zoneinfo, goes with the data: WIB for Asia/Jakarta). The playlist is the API's HLS builder
(``EXT-X-PROGRAM-DATE-TIME`` per segment, ``EXT-X-DISCONTINUITY`` at gaps; a range ending in the
future is near-live: an EVENT playlist without ``EXT-X-ENDLIST`` that the player reloads) whose segment URLs
are this origin's ``/ui/media/...``: the browser never talks to the object store. Each answer
checks the role (recordings.read for the lanes, playback for playlist and media) and the
camera's scope (a camera the user may not see is 404, like a missing one); each is audited.
A segment is served with its logged container's media type (the API's ``content_type``) and only
when its stored bytes match the logged size and SHA-256 (else a StorageError page, audited).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps
from archive.api.hls import MEDIA_TYPE, build_playlist
from archive.api.params import time_range
from archive.api.routes.media import content_type
from archive.errors import ConflictError, Problem, StorageError, ValidationError
from archive.identity.policy import Permission
from archive.search.model import Interval

from .render import page, zone_abbrs

__all__ = ["MediaReader", "day_bounds", "routes"]

MediaReader = Callable[[str, str, str | None], bytes]
"""``read(bucket, key, version_id)`` -> the stored bytes (raises StorageError)."""
Day = Annotated[str | None, QueryParameter(max_length=10, pattern=r"^\d{4}-\d{2}-\d{2}$")]
Time = Annotated[str, QueryParameter(max_length=64)]


def day_bounds(day: str | None, deps: ApiDeps) -> tuple[date, int, int]:
    """The day (today in the display zone when None) and its ``[start_us, end_us)``.
    Raises ValidationError for a date that does not exist."""
    zone = deps.settings.zone
    try:
        d = date.fromisoformat(day) if day else datetime.now(zone).date()
    except ValueError as exc:
        raise ValidationError([Problem("day", "a date YYYY-MM-DD")]) from exc
    start = datetime(d.year, d.month, d.day, tzinfo=zone)
    end = start + timedelta(days=1)
    return d, int(start.timestamp() * 1_000_000), int(end.timestamp() * 1_000_000)


def _ms(intervals: tuple[Interval, ...]) -> list[list[int]]:
    return [[i.start_us // 1000, i.end_us // 1000] for i in intervals]


def routes(deps: ApiDeps, read_media: MediaReader | None) -> list[HTTPRouteHandler]:
    """The timeline handlers; without ``read_media`` no playback routes."""
    search, times, holds = deps.search, deps.settings.times, deps.holds

    @get("/cameras/{camera_id:str}", sync_to_thread=True,
         opt={"permission": Permission.RECORDINGS_READ.value, "audit": "web.timeline"},
         summary="Timeline and playback of one camera")  # fmt: skip
    def timeline(request: Request[Any, Any, Any], camera_id: FromPath[str], day: Day = None) -> Template:
        camera = search.camera(principal_of(request), camera_id)
        d, lo, hi = day_bounds(day, deps)
        abbrs = zone_abbrs(deps.settings.zone, lo, hi - 1)
        return page(request, "timeline.html", camera=camera, day=d.isoformat(), zone_abbrs=json.dumps(abbrs),
                    zone_abbr=" / ".join(dict.fromkeys(abbrs.values())),
                    prev_day=(d - timedelta(days=1)).isoformat(), next_day=(d + timedelta(days=1)).isoformat(),
                    playable=read_media is not None)  # fmt: skip

    @get("/cameras/{camera_id:str}/day.json", sync_to_thread=True,
         opt={"permission": Permission.RECORDINGS_READ.value, "audit": "web.recordings"},
         summary="The lanes of one camera's day (epoch ms)")  # fmt: skip
    def lanes(request: Request[Any, Any, Any], camera_id: FromPath[str], day: Day = None) -> dict[str, Any]:
        who = principal_of(request)
        d, lo, hi = day_bounds(day, deps)
        cov = search.recordings(who, [camera_id], lo, hi, limit=1).coverage[0]
        now = time.time_ns() // 1000
        held = [[max(s.start_us, lo) // 1000, min(s.end_us, hi) // 1000]
                for s in (holds.spans_for(camera_id) if holds is not None else [])
                if s.active(now) and s.start_us < hi and s.end_us > lo]  # fmt: skip
        gaps = [{"start": g.start_us // 1000, "end": g.end_us // 1000, "reason": g.reason, "detail": g.detail,
                 "start_utc": times.utc(g.start_us), "end_utc": times.utc(g.end_us),
                 "start_local": times.local(g.start_us), "end_local": times.local(g.end_us)}
                for g in cov.gaps]  # fmt: skip
        audit_detail(request, day=d.isoformat(), gaps=len(gaps), segments=cov.segments)
        return {"camera": camera_id, "day": d.isoformat(), "zone": times.zone_name,
                "zone_abbrs": zone_abbrs(deps.settings.zone, lo, hi - 1), "start": lo // 1000,
                "end": hi // 1000, "recorded": _ms(cov.covered), "gaps": gaps, "pruned": _ms(cov.pruned),
                "unaccounted": _ms(cov.unaccounted), "held": held, "segments": cov.segments}  # fmt: skip

    if read_media is None:
        return [timeline, lanes]
    reader = read_media

    @get("/cameras/{camera_id:str}/playlist.m3u8", sync_to_thread=True,
         opt={"permission": Permission.PLAYBACK.value, "audit": "web.playback.playlist"},
         summary="HLS playlist of a range; segments served by /ui/media")  # fmt: skip
    def playlist(request: Request[Any, Any, Any], camera_id: FromPath[str], start: Time, end: Time) -> Response[str]:
        lo, hi = time_range(start, end)
        refs = search.playlist_segments(principal_of(request), camera_id, lo, hi)
        urls = ["" if r.pruned else f"/ui/media/{camera_id}/{r.seq}" for r in refs]
        live = hi > time.time_ns() // 1000  # near-live: an EVENT playlist the player reloads
        audit_detail(request, segments=sum(1 for r in refs if not r.pruned), live=live)
        text = build_playlist(refs, urls, times, camera_id=camera_id, start_us=lo, end_us=hi, live=live)
        return Response(text, media_type=MEDIA_TYPE)

    @get("/media/{camera_id:str}/{seq:int}", sync_to_thread=True,
         opt={"permission": Permission.PLAYBACK.value, "audit": "web.playback.segment"},
         summary="One stored segment's exact bytes")  # fmt: skip
    def media(request: Request[Any, Any, Any], camera_id: FromPath[str], seq: FromPath[int]) -> Response[bytes]:
        ref = search.segment(principal_of(request), camera_id, seq)
        if ref.pruned:
            raise ConflictError(f"the media of segment {seq} of {camera_id} was deleted by retention (pruned)")
        audit_detail(request, seq=seq, object_key=ref.object_key, version_id=ref.version_id, sha256=ref.sha256)
        body = reader(ref.bucket, ref.object_key, ref.version_id)
        if len(body) != ref.size or hashlib.sha256(body).hexdigest() != ref.sha256:
            raise StorageError(f"segment {seq} of {camera_id}: the stored bytes differ from the logged ones "
                               f"({len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()}; logged {ref.size} "
                               f"bytes, {ref.sha256}); not served")  # fmt: skip
        return Response(body, media_type=content_type(ref))

    return [timeline, lanes, playlist, media]
