"""The grid: 2x2 (up to 4) or 3x3 (up to 9) cameras played on one wall clock (``GET /ui/grid``).

``cameras`` is a list of camera ids (repeated, ``cameras=a&cameras=b`` as the camera list's ticks
send it, or comma-separated) (each checked like the timeline: a camera the
user may not see is 404); ``at`` the instant to start from (ISO 8601 with an offset, or a wall-clock
time in the display zone, ``2025-03-14T16:00:05``; default: 5 minutes ago); ``live=1`` follows the
newest segments instead (each tile's playlist is then an EVENT playlist without an end, reloaded
by the player: see :mod:`.timeline`). ``static/grid.js`` keeps one clock; every tile maps the
clock's instant to its own media through the playlist's ``EXT-X-PROGRAM-DATE-TIME`` (so a gap
stays a gap: the tile says nothing is recorded, it never skips to the next recording) and corrects
its drift. A camera whose segments at ``at`` are H.265 gets a tile that says Chromium cannot play it
and links the original segments (``/ui/media/...``, downloaded as stored). Needs the playback
permission; audited ``web.grid``. Raises ValidationError (400 page) for a bad list or instant.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Request, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter
from litestar.response import Template

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps
from archive.errors import Problem, ValidationError
from archive.identity.policy import Permission

from .render import page, wall_us

__all__ = ["MAX_TILES", "UNPLAYABLE_CODECS", "routes"]

MAX_TILES = 9
UNPLAYABLE_CODECS = frozenset({"hevc", "h265"})
"""Codecs (as logged per segment) Chromium's MSE player cannot decode here."""
Text = Annotated[str | None, QueryParameter(max_length=400)]
Ids = Annotated[list[str] | None, QueryParameter()]
WINDOW_US = 15 * 60 * 1_000_000


def _ids(given: list[str] | None) -> list[str]:
    ids = list(dict.fromkeys(x.strip() for x in ",".join(given or [])[:1000].split(",") if x.strip()))
    if not 1 <= len(ids) <= MAX_TILES or any(len(x) > 100 for x in ids):
        raise ValidationError([Problem("cameras", f"between 1 and {MAX_TILES} camera ids, separated by commas")])
    return ids


def routes(deps: ApiDeps, playable: bool) -> list[HTTPRouteHandler]:
    """The grid handler (none without playback: ``playable`` False)."""
    search, zone = deps.search, deps.settings.zone
    if not playable:
        return []

    @get("/grid", sync_to_thread=True, opt={"permission": Permission.PLAYBACK.value, "audit": "web.grid"},
         summary="Several cameras played on one clock")  # fmt: skip
    def grid(request: Request[Any, Any, Any], cameras: Ids = None, at: Text = None, live: Text = None) -> Template:
        who = principal_of(request)
        ids = _ids(cameras)
        now = time.time_ns() // 1000
        start = wall_us(at, "at", zone) if at else now - 5 * 60 * 1_000_000
        tiles = []
        for cid in ids:
            camera = search.camera(who, cid)
            refs = [r for r in search.playlist_segments(who, cid, start - 1_000_000, start + WINDOW_US) if not r.pruned]
            codec = next((r.codec for r in refs if r.end_us > start), refs[-1].codec if refs else "")
            unplayable = codec.lower() in UNPLAYABLE_CODECS
            tiles.append({"camera": camera, "codec": codec, "unplayable": unplayable,
                          "downloads": [r for r in refs if r.end_us > start][:5] if unplayable else []})  # fmt: skip
        audit_detail(request, cameras=ids, at_us=start, live=bool(live))
        side = 2 if len(ids) <= 4 else 3
        return page(request, "grid.html", tiles=tiles, side=side, start_ms=start // 1000, live=bool(live),
                    cameras=",".join(ids))  # fmt: skip

    return [grid]
