"""Cameras and owners: search, one camera, camera changes (admin), sharing (owner, admin)."""

from __future__ import annotations

import math
from typing import Annotated, Any, TypeVar

from litestar import Request, get, patch, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps
from archive.api.notes import note_of
from archive.api.params import bbox, near
from archive.api.render import camera_out
from archive.api.schemas import CameraOut, CameraPatch, CamerasOut, OwnerOut, OwnersOut, SharingIn
from archive.errors import NotFoundError, Problem, ValidationError
from archive.identity.duties import check_sharing_change
from archive.identity.model import AGENCY_ID, Role
from archive.identity.policy import Permission
from archive.model import Camera, Owner
from archive.search.model import CameraQuery

__all__ = ["routes"]

_T = TypeVar("_T")

Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="page size")]
Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]
BBox = Annotated[str | None, QueryParameter(name="bbox", description="south,west,north,east")]


def _opt(perm: Permission, audit: str | None) -> dict[str, Any]:
    return {"permission": perm.value, "audit": audit} if audit else {"permission": perm.value}


def _pick(new: _T | None, old: _T) -> _T:
    return old if new is None else new


def _check_patch(body: CameraPatch) -> list[Problem]:
    problems = []
    if body.name is not None and not (0 < len(body.name.strip()) <= 200 and body.name.isprintable()):
        problems.append(Problem("name", "1-200 printable characters"))
    if body.location is not None and not (len(body.location) <= 500 and body.location.isprintable()):
        problems.append(Problem("location", "at most 500 printable characters"))
    if body.tags is not None and (len(body.tags) > 32 or any(not (0 < len(t) <= 64 and t.isprintable())
                                                            for t in body.tags)):  # fmt: skip
        problems.append(Problem("tags", "at most 32 tags of 1-64 printable characters"))
    if body.latitude is not None and not (math.isfinite(body.latitude) and -90 <= body.latitude <= 90):
        problems.append(Problem("latitude", "between -90 and 90"))
    if body.longitude is not None and not (math.isfinite(body.longitude) and -180 <= body.longitude <= 180):
        problems.append(Problem("longitude", "between -180 and 180"))
    return problems


def routes(deps: ApiDeps) -> list[HTTPRouteHandler]:
    """The camera and owner handlers bound to ``deps``."""
    search = deps.search

    @get("/cameras", sync_to_thread=True, opt=_opt(Permission.CAMERAS_READ, "cameras.search"),
         summary="Search cameras by owner, tag, text, radius around a point, or bounding box")  # fmt: skip
    def list_cameras(request: Request[Any, Any, Any], owner: FromQuery[str | None] = None,
                     tag: FromQuery[str | None] = None, q: FromQuery[str | None] = None,
                     lat: FromQuery[float | None] = None, lon: FromQuery[float | None] = None,
                     radius_m: FromQuery[float | None] = None, bbox_: BBox = None,
                     enabled: FromQuery[bool] = False, limit: Limit = 100,
                     offset: Offset = 0) -> CamerasOut:  # fmt: skip
        for name, value in (("owner", owner), ("tag", tag), ("q", q)):
            if value is not None and (len(value) > 200 or not value):
                raise ValidationError([Problem(name, "must be 1-200 characters")])
        query = CameraQuery(owner=owner, tag=tag, text=q, near=near(lat, lon, radius_m),
                            box=bbox(bbox_) if bbox_ is not None else None, enabled_only=enabled, limit=limit,
                            offset=offset)  # fmt: skip
        hits = search.cameras(principal_of(request), query)
        audit_detail(request, found=len(hits))
        return CamerasOut(items=[camera_out(h) for h in hits], count=len(hits), limit=limit, offset=offset)

    @get("/cameras/{camera_id:str}", sync_to_thread=True, opt=_opt(Permission.CAMERAS_READ, "cameras.read"),
         summary="One camera")  # fmt: skip
    def get_camera(request: Request[Any, Any, Any], camera_id: FromPath[str]) -> CameraOut:
        return camera_out(search.camera(principal_of(request), camera_id))

    @get("/owners", sync_to_thread=True, opt=_opt(Permission.OWNERS_READ, "owners.read"),
         summary="Camera owners visible to the caller, with the agencies they share with")  # fmt: skip
    def list_owners(request: Request[Any, Any, Any]) -> OwnersOut:
        scope = search.scope(principal_of(request))
        owners = deps.registry.owners() if deps.registry is not None else []
        return OwnersOut(items=[OwnerOut(id=o.id, name=o.name, kind=o.kind.value, agencies=list(o.agencies))
                                for o in owners if scope.sees(o.id)])  # fmt: skip

    handlers: list[HTTPRouteHandler] = [list_cameras, get_camera, list_owners]
    registry = deps.registry
    if registry is None:
        return handlers

    @patch("/cameras/{camera_id:str}", sync_to_thread=True, opt=_opt(Permission.CAMERAS_WRITE, "cameras.change"),
           summary="Change a camera's name, place, tags or enabled flag (admin)")  # fmt: skip
    def change_camera(request: Request[Any, Any, Any], camera_id: FromPath[str],
                      data: JSONBody[CameraPatch]) -> CameraOut:  # fmt: skip
        who = principal_of(request)
        search.camera(who, camera_id)
        problems = _check_patch(data)
        if problems:
            raise ValidationError(problems)
        cam = registry.camera(camera_id)
        new = Camera(id=cam.id, name=_pick(data.name, cam.name), owner_id=cam.owner_id, stream_url=cam.stream_url,
                     latitude=_pick(data.latitude, cam.latitude), longitude=_pick(data.longitude, cam.longitude),
                     location=_pick(data.location, cam.location),
                     tags=tuple(data.tags) if data.tags is not None else cam.tags,
                     enabled=_pick(data.enabled, cam.enabled), username=cam.username, has_password=cam.has_password)
        changes = {k: getattr(new, k) for k in ("name", "location", "tags", "enabled", "latitude", "longitude")
                   if getattr(new, k) != getattr(cam, k)}  # fmt: skip
        creds = registry.credentials(camera_id)
        registry.apply([], [(new, creds.password if creds else None)], note=note_of(request, deps.audit))
        search.invalidate()
        audit_detail(request, changed={k: str(v) for k, v in changes.items()},
                     before={k: str(getattr(cam, k)) for k in changes})  # fmt: skip
        return camera_out(search.camera(who, camera_id))

    @put("/owners/{owner_id:str}/sharing", sync_to_thread=True, opt=_opt(Permission.SHARING_WRITE, "owners.sharing"),
         summary="Set the agencies that see this owner's cameras (the owner's staff; an admin only removes "
                 "agencies from a private owner's sharing and sets a government owner's)")  # fmt: skip
    def set_sharing(request: Request[Any, Any, Any], owner_id: FromPath[str], data: JSONBody[SharingIn]) -> OwnerOut:
        who = principal_of(request)
        found = {o.id: o for o in registry.owners()}
        if owner_id not in found or (who.role is Role.OWNER and who.owner_id != owner_id):
            raise NotFoundError(f"owner {owner_id[:64]!r} not found")
        bad = [a for a in data.agencies if not AGENCY_ID.match(a)]
        if bad or len(data.agencies) > 64:
            raise ValidationError([Problem("agencies", f"at most 64 agency ids (a-z, 0-9, _ and -); bad: {bad[:5]}")])
        old = found[owner_id]
        check_sharing_change(who, old, data.agencies)  # separation of duties, rule 1
        new = Owner(old.id, old.name, old.kind, tuple(sorted(set(data.agencies))))
        registry.apply([new], [], note=note_of(request, deps.audit))
        search.invalidate()
        audit_detail(request, before=list(old.agencies), after=list(new.agencies))
        return OwnerOut(id=new.id, name=new.name, kind=new.kind.value, agencies=list(new.agencies))

    return [*handlers, change_camera, set_sharing]
