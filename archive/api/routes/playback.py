"""Playback: a short-lived media link for one segment, an HLS playlist for a range.

Both are audited (camera, seqs, range, link lifetime). The links are the API's own signed
``/play/segment`` links (:mod:`archive.api.media_links`), never the store's address, valid for at
most ``api.presign_seconds``: relative, or under ``[api] public_url`` when it is set, never built
from the request's Host header. A range ending in the future is a live playlist
(``#EXT-X-PLAYLIST-TYPE:EVENT``, no ``#EXT-X-ENDLIST``): a player reloads it for new segments.
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
from archive.api.media_links import MediaLinks
from archive.api.params import Seq, time_range
from archive.api.schemas import PlaybackUrlOut
from archive.errors import ConflictError, Problem, ValidationError
from archive.identity.policy import Permission

__all__ = ["routes"]

Time = Annotated[str, QueryParameter(description="ISO 8601 with offset", max_length=64)]
Expires = Annotated[int | None, QueryParameter(ge=10, le=3600, description="URL lifetime, seconds")]


def routes(deps: ApiDeps, links: MediaLinks) -> list[HTTPRouteHandler]:
    """The playback handlers bound to ``deps``."""
    search, times, max_s = deps.search, deps.settings.times, deps.settings.presign_seconds
    base = deps.settings.public_url  # configured, never the request's Host header (host-header injection)

    @get("/cameras/{camera_id:str}/segments/{seq:int}/url", sync_to_thread=True,
         opt={"permission": Permission.PLAYBACK.value, "audit": "playback.segment"},
         summary="A short-lived link (through this API) to GET one segment's exact stored bytes")  # fmt: skip
    def segment_url(request: Request[Any, Any, Any], camera_id: FromPath[str], seq: Seq,
                    expires: Expires = None) -> PlaybackUrlOut:  # fmt: skip
        life = _lifetime(expires, max_s)
        who = principal_of(request)
        ref = search.segment(who, camera_id, seq)
        if ref.pruned:
            raise ConflictError(f"the media of segment {seq} of {camera_id} was deleted by retention (pruned)")
        url = base + links.segment(ref, life, who.user_id)
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
         summary="HLS playlist of a range: signed segment links of this API, EXT-X-PROGRAM-DATE-TIME in UTC; "
                 "a range ending in the future is a live EVENT playlist")  # fmt: skip
    def playlist(request: Request[Any, Any, Any], camera_id: FromPath[str], start: Time, end: Time,
                 expires: Expires = None) -> Response[str]:  # fmt: skip
        lo, hi = time_range(start, end)
        ongoing = hi > request_time_us()
        life = _lifetime(expires, max_s)
        who = principal_of(request)
        refs = search.playlist_segments(who, camera_id, lo, hi)
        urls = ["" if r.pruned else base + links.segment(r, life, who.user_id) for r in refs]
        live = [r.seq for r in refs if not r.pruned]
        audit_detail(request, segments=len(live), first_seq=live[0] if live else None,
                     last_seq=live[-1] if live else None, pruned=len(refs) - len(live),
                     expires_s=int(life.total_seconds()), live=ongoing)  # fmt: skip
        text = build_playlist(refs, urls, times, camera_id=camera_id, start_us=lo, end_us=hi,
                              live=ongoing)  # fmt: skip
        return Response(text, media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store"})

    return [segment_url, playlist]


def _lifetime(expires: int | None, max_s: int) -> timedelta:
    if expires is not None and not 10 <= expires <= max_s:
        raise ValidationError([Problem("expires", f"between 10 and {max_s} seconds")])
    return timedelta(seconds=expires or max_s)


def request_time_us() -> int:
    """Now, epoch µs."""
    return time.time_ns() // 1000
