"""Playback: a short-lived presigned URL for one segment, an HLS playlist for a range.

Both are audited (camera, seqs, range, URL lifetime); the URLs themselves are bearer links
valid for at most ``api.presign_seconds``.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, QueryParameter

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps
from archive.api.hls import MEDIA_TYPE, build_playlist
from archive.api.params import Seq, time_range
from archive.api.ports import Presigner
from archive.api.schemas import PlaybackUrlOut
from archive.errors import ConflictError, Problem, ValidationError
from archive.identity.policy import Permission

__all__ = ["routes"]

Time = Annotated[str, QueryParameter(description="ISO 8601 with offset", max_length=64)]
Expires = Annotated[int | None, QueryParameter(ge=10, le=3600, description="URL lifetime, seconds")]


def routes(deps: ApiDeps, presigner: Presigner) -> list[HTTPRouteHandler]:
    """The playback handlers bound to ``deps``."""
    search, times, max_s = deps.search, deps.settings.times, deps.settings.presign_seconds

    @get("/cameras/{camera_id:str}/segments/{seq:int}/url", sync_to_thread=True,
         opt={"permission": Permission.PLAYBACK.value, "audit": "playback.segment"},
         summary="A short-lived URL to GET one segment's exact stored bytes")  # fmt: skip
    def segment_url(request: Request[Any, Any, Any], camera_id: FromPath[str], seq: Seq,
                    expires: Expires = None) -> PlaybackUrlOut:  # fmt: skip
        life = _lifetime(expires, max_s)
        ref = search.segment(principal_of(request), camera_id, seq)
        if ref.pruned:
            raise ConflictError(f"the media of segment {seq} of {camera_id} was deleted by retention (pruned)")
        url = presigner.presigned_get(ref.bucket, ref.object_key, ref.version_id, life)
        until = request_time_us() + int(life.total_seconds() * 1e6)
        audit_detail(request, seq=seq, object_key=ref.object_key, version_id=ref.version_id, sha256=ref.sha256,
                     expires_s=int(life.total_seconds()))  # fmt: skip
        return PlaybackUrlOut(start=times.utc(ref.start_us), start_local=times.local(ref.start_us),
                              end=times.utc(ref.end_us), end_local=times.local(ref.end_us),
                              seconds=(ref.end_us - ref.start_us) / 1e6, camera=camera_id, seq=seq, url=url,
                              expires_at=times.utc(until), expires_at_local=times.local(until), sha256=ref.sha256,
                              size=ref.size, container=ref.container, codec=ref.codec)  # fmt: skip

    @get("/cameras/{camera_id:str}/playlist.m3u8", sync_to_thread=True,
         opt={"permission": Permission.PLAYBACK.value, "audit": "playback.playlist"},
         summary="HLS playlist of a range: presigned segment URLs, EXT-X-PROGRAM-DATE-TIME in UTC")  # fmt: skip
    def playlist(request: Request[Any, Any, Any], camera_id: FromPath[str], start: Time, end: Time,
                 expires: Expires = None) -> Response[str]:  # fmt: skip
        lo, hi = time_range(start, end)
        life = _lifetime(expires, max_s)
        refs = search.playlist_segments(principal_of(request), camera_id, lo, hi)
        urls = ["" if r.pruned else presigner.presigned_get(r.bucket, r.object_key, r.version_id, life) for r in refs]
        live = [r.seq for r in refs if not r.pruned]
        audit_detail(request, segments=len(live), first_seq=live[0] if live else None,
                     last_seq=live[-1] if live else None, pruned=len(refs) - len(live),
                     expires_s=int(life.total_seconds()))  # fmt: skip
        text = build_playlist(refs, urls, times, camera_id=camera_id, start_us=lo, end_us=hi)
        return Response(text, media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store"})

    return [segment_url, playlist]


def _lifetime(expires: int | None, max_s: int) -> timedelta:
    if expires is not None and not 10 <= expires <= max_s:
        raise ValidationError([Problem("expires", f"between 10 and {max_s} seconds")])
    return timedelta(seconds=expires or max_s)


def request_time_us() -> int:
    """Now, epoch µs."""
    return time.time_ns() // 1000
