"""Camera queries (Core, explicit columns): by owner, tag, text, radius and box, within a scope.

SQL narrows (owner, scope, LIKE on tags/text, the lat/lon box on its index); Python finishes
(exact tag membership, haversine distance, order, page). Registered cameras number in the
hundreds, so the finishing pass is cheap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, true

from archive.catalog.tables import CameraRow, OwnerRow
from archive.identity.policy import CameraScope
from archive.search.geo import Box, box_around, haversine_m
from archive.search.model import CameraHit, CameraQuery

__all__ = ["CAMERA", "OWNER", "Sharing", "camera_rows", "camera_rows_with_sharing", "find_cameras", "like_pattern",
           "sharing"]

CAMERA = CameraRow.__table__  # type: ignore[attr-defined]
OWNER = OwnerRow.__table__  # type: ignore[attr-defined]
_COLS = (CAMERA.c.id, CAMERA.c.name, CAMERA.c.owner_id, CAMERA.c.latitude, CAMERA.c.longitude, CAMERA.c.location,
         CAMERA.c.tags, CAMERA.c.enabled)  # fmt: skip


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE wildcards in ``text`` escaped by backslash."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def sharing(conn: Connection) -> dict[str, tuple[str, ...]]:
    """Owner id -> agencies it shares its cameras with."""
    return {str(oid): _agencies(agencies) for oid, agencies in conn.execute(select(OWNER.c.id, OWNER.c.agencies))}


def _agencies(text: str) -> tuple[str, ...]:
    try:
        parsed = json.loads(text)
    except (TypeError, ValueError):
        return ()
    return tuple(str(a) for a in parsed) if isinstance(parsed, list) else ()


def _hit(r: Any, distance: float | None = None) -> CameraHit:
    try:
        tags = tuple(str(t) for t in json.loads(r.tags))
    except ValueError:
        tags = ()
    return CameraHit(r.id, r.name, r.owner_id, float(r.latitude), float(r.longitude), r.location, tags,
                     bool(r.enabled), distance)  # fmt: skip


def _scope_cond(scope: CameraScope) -> ColumnElement[bool] | None:
    if scope.owner_ids is None:
        return true()
    if not scope.owner_ids:
        return None
    cond: ColumnElement[bool] = CAMERA.c.owner_id.in_(sorted(scope.owner_ids))
    return cond


def _box_cond(box: Box) -> ColumnElement[bool]:
    return and_(CAMERA.c.latitude >= box.min_lat, CAMERA.c.latitude <= box.max_lat,
                CAMERA.c.longitude >= box.min_lon, CAMERA.c.longitude <= box.max_lon)  # fmt: skip


def find_cameras(conn: Connection, scope: CameraScope, q: CameraQuery) -> list[CameraHit]:
    """Cameras matching ``q`` inside ``scope``: by distance when ``q.near``, else by id.

    Raises ValidationError (bad point/radius), SQLAlchemyError.
    """
    cond = _scope_cond(scope)
    if cond is None:
        return []
    if q.owner is not None:
        cond = and_(cond, CAMERA.c.owner_id == q.owner)
    if q.enabled_only:
        cond = and_(cond, CAMERA.c.enabled.is_(True))
    if q.tag is not None:
        cond = and_(cond, CAMERA.c.tags.like(like_pattern(json.dumps(q.tag)), escape="\\"))
    if q.text is not None:
        pat = like_pattern(q.text.lower())
        cond = and_(cond, or_(func.lower(CAMERA.c.name).like(pat, escape="\\"),
                              func.lower(CAMERA.c.location).like(pat, escape="\\"),
                              CAMERA.c.id.like(pat, escape="\\")))  # fmt: skip
    if q.box is not None:
        cond = and_(cond, _box_cond(q.box))
    if q.near is not None:
        cond = and_(cond, _box_cond(box_around(q.near.lat, q.near.lon, q.near.radius_m)))
    hits = []
    for r in conn.execute(select(*_COLS).where(cond)):
        hit = _hit(r)
        if q.tag is not None and q.tag not in hit.tags:
            continue
        if q.near is not None:
            d = haversine_m(q.near.lat, q.near.lon, hit.latitude, hit.longitude)
            if d > q.near.radius_m:
                continue
            hit = _hit(r, round(d, 1))
        hits.append(hit)
    hits.sort(key=lambda h: (h.distance_m or 0.0, h.id) if q.near is not None else (0.0, h.id))
    return hits[q.offset : q.offset + q.limit]


def camera_rows(conn: Connection, ids: Iterable[str] | None) -> Mapping[str, CameraHit]:
    """The registered cameras among ``ids`` (every camera for None; no scope applied), by id."""
    if ids is None:
        return {r.id: _hit(r) for r in conn.execute(select(*_COLS))}
    wanted: Sequence[str] = sorted(set(ids))
    if not wanted:
        return {}
    return {r.id: _hit(r) for r in conn.execute(select(*_COLS).where(CAMERA.c.id.in_(wanted)))}


Sharing = dict[str, tuple[str, ...]]


def camera_rows_with_sharing(conn: Connection, ids: Iterable[str]) -> tuple[dict[str, CameraHit], Sharing]:
    """The registered cameras among ``ids`` and, for their owners, the agencies they share with
    (one query: camera joined to owner)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}, {}
    stmt = select(*_COLS, OWNER.c.agencies.label("shared")).select_from(
        CAMERA.join(OWNER, OWNER.c.id == CAMERA.c.owner_id)).where(CAMERA.c.id.in_(wanted))  # fmt: skip
    cams: dict[str, CameraHit] = {}
    shared: dict[str, tuple[str, ...]] = {}
    for r in conn.execute(stmt).all():
        cams[r.id] = _hit(r)
        shared[r.owner_id] = _agencies(r.shared)
    return cams, shared
