"""The search service: scope resolution, limits and the queries, one connection per call.

Every method raises CatalogError when the database fails, ValidationError for a request
outside the limits, and NotFoundError for a camera that does not exist **or** is outside the
caller's scope (the two are indistinguishable on purpose).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from archive.catalog.errors import catalog_errors
from archive.errors import NotFoundError, Problem, ValidationError
from archive.identity.model import Principal
from archive.identity.policy import CameraScope, camera_scope
from archive.ledger import cover_index
from archive.ledger.index import MAX_SEGMENT_US
from archive.search import media, recordings
from archive.search.cameras import Sharing, camera_rows, camera_rows_with_sharing, find_cameras, sharing
from archive.search.geo import Box
from archive.search.model import (
    CameraCoverage,
    CameraHit,
    CameraQuery,
    Near,
    RecordingsPage,
    SegmentRef,
    Sighting,
)

__all__ = ["CAMERA_ID", "SearchLimits", "SearchService"]

CAMERA_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DAY_US = 86_400_000_000


@dataclass(frozen=True)
class SearchLimits:
    """Bounds of one request (each keeps a request's cost predictable)."""

    max_range_us: int = 31 * _DAY_US
    max_cameras: int = 64
    page_default: int = 100
    page_max: int = 2000
    camera_page_max: int = 1000
    playlist_max_us: int = 4 * 3600 * 1_000_000


def _now_us() -> int:
    return time.time_ns() // 1000


class SearchService:
    """Cameras and recordings for a principal."""

    def __init__(self, engine: Engine, limits: SearchLimits | None = None, *, now_us: Callable[[], int] = _now_us,
                 cache_seconds: float = 0.0) -> None:  # fmt: skip
        self._engine = engine
        self.limits = limits or SearchLimits()
        self._now_us = now_us
        self._cache_us = int(cache_seconds * 1_000_000)
        self._snap: tuple[int, dict[str, CameraHit], Sharing] | None = None
        self._snap_lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the cached registry snapshot (after a camera or sharing change)."""
        with self._snap_lock:
            self._snap = None

    def _snapshot(self, conn: Connection) -> tuple[dict[str, CameraHit], Sharing] | None:
        """Every camera and every owner's sharing, kept ``cache_seconds`` (None when caching is off).

        With caching on, a change made by another process (registry import, another API worker)
        is seen within ``cache_seconds``; one made through this service's API at once."""
        if self._cache_us <= 0:
            return None
        now = time.monotonic_ns() // 1000
        with self._snap_lock:
            snap = self._snap
        if snap is None or now - snap[0] >= self._cache_us:
            cams = dict(camera_rows(conn, None))
            snap = (now, cams, sharing(conn))
            with self._snap_lock:
                self._snap = snap
        return snap[1], snap[2]

    @contextmanager
    def _conn(self) -> Iterator[Connection]:
        with catalog_errors("catalog query failed", "class"), self._engine.connect() as conn:
            yield conn

    def _scope(self, conn: Connection, who: Principal) -> CameraScope:
        snap = self._snapshot(conn)
        return camera_scope(who, snap[1] if snap is not None else sharing(conn))

    def scope(self, who: Principal) -> CameraScope:
        """The cameras ``who`` sees."""
        with self._conn() as conn:
            return self._scope(conn, who)

    def check_range(self, lo: int, hi: int, max_us: int | None = None) -> None:
        """Raise ValidationError unless ``lo < hi`` and the range is within the limit."""
        limit = self.limits.max_range_us if max_us is None else max_us
        if hi <= lo:
            raise ValidationError([Problem("end", "end must be after start")])
        if hi - lo > limit:
            raise ValidationError([Problem("end", f"the range may span at most {limit / 3_600_000_000:g} hours")])

    def _visible(self, conn: Connection, who: Principal, ids: Sequence[str]) -> dict[str, CameraHit]:
        """The cameras ``ids`` when ``who`` sees every one (one query, or the cached snapshot)."""
        good = [i for i in ids if CAMERA_ID.match(i)]
        snap = self._snapshot(conn)
        if snap is not None:
            found = {i: snap[0][i] for i in good if i in snap[0]}
            sharing_of = snap[1]
        else:
            found, sharing_of = camera_rows_with_sharing(conn, good)
        scope = camera_scope(who, sharing_of)
        missing = [i for i in ids if i not in found or not scope.sees(found[i].owner_id)]
        if missing:
            shown = ", ".join(repr(m[:64]) for m in sorted(set(missing))[:5])
            raise NotFoundError(f"camera {shown} not found")
        return found

    # -- cameras -------------------------------------------------------------------------
    def cameras(self, who: Principal, q: CameraQuery) -> list[CameraHit]:
        """Cameras matching ``q`` that ``who`` sees."""
        if not 1 <= q.limit <= self.limits.camera_page_max or q.offset < 0:
            raise ValidationError([Problem("limit", f"limit must be 1-{self.limits.camera_page_max}, offset >= 0")])
        with self._conn() as conn:
            snap = self._snapshot(conn)
            if snap is not None and q == CameraQuery(limit=q.limit, offset=q.offset, enabled_only=q.enabled_only):
                # no filter (the map, the whole camera list): the cached registry, as find_cameras orders it
                scope = camera_scope(who, snap[1])
                hits = sorted((h for h in snap[0].values()
                               if scope.sees(h.owner_id) and (h.enabled or not q.enabled_only)), key=lambda h: h.id)
                return hits[q.offset : q.offset + q.limit]
            return find_cameras(conn, self._scope(conn, who), q)

    def camera(self, who: Principal, camera_id: str) -> CameraHit:
        """One camera ``who`` sees. Raises NotFoundError."""
        with self._conn() as conn:
            return self._visible(conn, who, [camera_id])[camera_id]

    def owners_of(self, camera_ids: Sequence[str]) -> dict[str, str]:
        """Camera id -> owner id of the registered cameras among ``camera_ids`` (no scope)."""
        with self._conn() as conn:
            return {c: h.owner_id for c, h in camera_rows(conn, camera_ids).items()}

    # -- recordings ----------------------------------------------------------------------
    def recordings(self, who: Principal, camera_ids: Sequence[str], lo: int, hi: int, *,
                   cursor: str | None = None, limit: int | None = None) -> RecordingsPage:  # fmt: skip
        """Coverage (first page) and a page of segments of ``camera_ids`` in ``[lo, hi)``."""
        limit = self.limits.page_default if limit is None else limit
        ids = sorted(set(camera_ids))
        problems = []
        if not ids:
            problems.append(Problem("camera", "name at least one camera"))
        if len(ids) > self.limits.max_cameras:
            problems.append(Problem("camera", f"at most {self.limits.max_cameras} cameras per request"))
        if not 1 <= limit <= self.limits.page_max:
            problems.append(Problem("limit", f"limit must be between 1 and {self.limits.page_max}"))
        if problems:
            raise ValidationError(problems)
        self.check_range(lo, hi)
        after = recordings.decode_cursor(cursor) if cursor else None
        now = self._now_us()
        with self._conn() as conn:
            self._visible(conn, who, ids)
            segs, nxt = recordings.segments_page(conn, ids, lo, hi, after, limit)
            cov: tuple[CameraCoverage, ...] = ()
            if after is None:
                if len(ids) == 1 and nxt is None:  # the page holds every segment: no other read
                    cov = (recordings.coverage(conn, ids[0], lo, hi, now, segs),)
                else:
                    found = recordings.coverages(conn, ids, lo, hi, now)
                    cov = tuple(found[c] for c in ids)
        return RecordingsPage(lo, hi, cov, tuple(segs), recordings.encode_cursor(nxt) if nxt else None)

    def last_recorded(self, who: Principal, camera_ids: Sequence[str], now_us: int,
                      windows: Sequence[int]) -> dict[str, int | None]:  # fmt: skip
        """For each of ``camera_ids``: the end of its newest media before ``now_us`` - what
        :meth:`recordings` gives as the last covered interval's end over ``[now_us - w, now_us)``
        for the first window ``w`` of ``windows`` with any media - or None when none has any.

        Each camera's latest segment with media comes from one read of the ledger's
        ``camera_latest`` (:func:`archive.ledger.cover_index.latest_media`); it is the answer for the
        first window it overlaps unless it started at or after ``now_us`` (then the widest window is
        probed: :func:`~archive.ledger.cover_index.newest_media`) or is too long for that window's
        overlap rule (starts before ``lo - MAX_SEGMENT_US``; then that window is probed).
        Raises NotFoundError (a camera not seen), CatalogError."""
        ids = sorted(set(camera_ids))
        if not ids or not windows:
            return dict.fromkeys(ids)
        out: dict[str, int | None] = {}
        with self._conn() as conn:
            self._visible(conn, who, ids)
            latest = cover_index.latest_media(conn)
            for cam in ids:
                newest = latest.get(cam)
                if newest is not None and newest[1] >= now_us:  # recorded "after now": the window's own newest
                    newest = cover_index.newest_media(conn, [cam], now_us - max(windows), now_us)[cam]
                out[cam] = None
                for w in windows:
                    if newest is None or newest[0] <= now_us - w:  # nothing in this window ends later
                        continue
                    found = newest if newest[1] >= now_us - w - MAX_SEGMENT_US else (
                        cover_index.newest_media(conn, [cam], now_us - w, now_us)[cam])
                    if found is not None:
                        out[cam] = min(found[0], now_us)
                        break
        return out

    def sightings(self, who: Principal, where: Near | Box, lo: int, hi: int, *, limit: int = 100) -> list[Sighting]:
        """Cameras within ``where`` (a circle: nearest first; a box: by id) that ``who`` sees, each
        with its coverage of ``[lo, hi)``."""
        self.check_range(lo, hi)
        now = self._now_us()
        query = CameraQuery(near=where, limit=limit) if isinstance(where, Near) else CameraQuery(box=where, limit=limit)
        with self._conn() as conn:
            hits = find_cameras(conn, self._scope(conn, who), query)
            found = recordings.coverages(conn, [h.id for h in hits], lo, hi, now)
            return [Sighting(h, found[h.id]) for h in hits]

    # -- playback ------------------------------------------------------------------------
    def segment(self, who: Principal, camera_id: str, seq: int) -> SegmentRef:
        """The stored segment ``seq`` of a camera ``who`` sees. Raises NotFoundError."""
        with self._conn() as conn:
            self._visible(conn, who, [camera_id])
            ref = media.segment_ref(conn, camera_id, seq)
        if ref is None:
            raise NotFoundError(f"camera {camera_id!r} has no segment with seq {seq}")
        return ref

    def stored_segment(self, camera_id: str, seq: int) -> SegmentRef:
        """Segment ``seq`` of a camera, with no scope check: only for a signed media link, whose
        minting checked the user (:mod:`archive.api.media_links`). Raises NotFoundError."""
        with self._conn() as conn:
            ref = media.segment_ref(conn, camera_id, seq)
        if ref is None:
            raise NotFoundError(f"camera {camera_id!r} has no segment with seq {seq}")
        return ref

    def playlist_segments(self, who: Principal, camera_id: str, lo: int, hi: int) -> list[SegmentRef]:
        """The segments of ``[lo, hi)`` (at most the playlist limit long) of a camera ``who`` sees."""
        self.check_range(lo, hi, self.limits.playlist_max_us)
        with self._conn() as conn:
            self._visible(conn, who, [camera_id])
            return media.segment_refs(conn, camera_id, lo, hi, limit=self.limits.playlist_max_us // 1_000_000)
