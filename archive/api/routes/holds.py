"""Legal holds (issue 5's HoldService): list, read, create (admin, investigator), release
(admin, legal). Holds are shown when they cover at least one camera the caller sees, with
only those cameras; a new hold may name only cameras the caller sees."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery, JSONBody

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps
from archive.api.params import HoldId, instant, printable, time_range
from archive.api.render import interval_out, opt_time
from archive.api.schemas import HoldIn, HoldOut, HoldReleaseIn, HoldsOut
from archive.errors import NotFoundError
from archive.identity.model import Principal
from archive.identity.policy import CameraScope, Permission
from archive.retention.audit import Actor
from archive.retention.audit import Role as RetentionRole
from archive.retention.holds import Hold, HoldService
from archive.search.times import TimeFormatter

__all__ = ["routes"]


def now_us() -> int:
    """Now, epoch µs."""
    return time.time_ns() // 1000


def _actor(who: Principal) -> Actor:
    return Actor(who.user_id, RetentionRole(who.role.value))


def _out(t: TimeFormatter, h: Hold, cameras: list[str], now_us: int) -> HoldOut:
    return HoldOut(id=h.id, case_id=h.case_id, reason=h.reason, cameras=cameras,
                   range=interval_out(t, h.start_us, h.end_us), expires=opt_time(t, h.expires_us),
                   active=h.active(now_us), created_by=h.created_by, created_role=h.created_role,
                   created_at=t.utc(h.created_us), released_by=h.released_by, released_at=opt_time(t, h.released_us),
                   release_reason=h.release_reason)  # fmt: skip


def routes(deps: ApiDeps, holds: HoldService) -> list[HTTPRouteHandler]:
    """The hold handlers bound to ``deps``."""
    search, times = deps.search, deps.settings.times

    def visible(scope: CameraScope, h: Hold) -> list[str]:
        if scope.everything:
            return list(h.cameras)
        owners = search.owners_of(h.cameras)
        return [c for c in h.cameras if c in owners and scope.sees(owners[c])]

    @get("/holds", sync_to_thread=True, opt={"permission": Permission.HOLDS_READ.value, "audit": "holds.list"},
         summary="Legal holds on cameras the caller sees")  # fmt: skip
    def list_holds(request: Request[Any, Any, Any], camera: FromQuery[str | None] = None,
                   include_inactive: FromQuery[bool] = False) -> HoldsOut:  # fmt: skip
        scope = search.scope(principal_of(request))
        found = holds.list_holds(include_inactive=include_inactive, camera_id=camera)
        now = now_us()
        items = [_out(times, h, cams, now) for h in found if (cams := visible(scope, h))]
        audit_detail(request, found=len(items))
        return HoldsOut(zone=times.zone_name, items=items)

    @get("/holds/{hold_id:int}", sync_to_thread=True, opt={"permission": Permission.HOLDS_READ.value,
                                                          "audit": "holds.read"}, summary="One legal hold")  # fmt: skip
    def get_hold(request: Request[Any, Any, Any], hold_id: HoldId) -> HoldOut:
        scope = search.scope(principal_of(request))
        h = holds.get(hold_id)
        cams = visible(scope, h)
        if not cams:
            raise NotFoundError(f"legal hold {hold_id} not found")
        return _out(times, h, cams, now_us())

    @post("/holds", sync_to_thread=True, opt={"permission": Permission.HOLDS_CREATE.value, "audit": "holds.create"},
          summary="Place a legal hold on cameras x range for a case (blocks deletion everywhere)")  # fmt: skip
    def create_hold(request: Request[Any, Any, Any], data: JSONBody[HoldIn]) -> HoldOut:
        who = principal_of(request)
        printable(data.case_id, "case_id", max_len=128, allow_empty=True)
        printable(data.reason, "reason", allow_empty=True)
        lo, hi = time_range(data.start, data.end)
        expires = instant(data.expires, "expires") if data.expires else None
        for cam in dict.fromkeys(data.cameras):
            search.camera(who, cam)
        hold, report = holds.create(_actor(who), case_id=data.case_id, reason=data.reason, cameras=data.cameras,
                                    start_us=lo, end_us=hi, expires_us=expires)  # fmt: skip
        audit_detail(request, hold_id=hold.id, case_id=hold.case_id, cameras=list(hold.cameras),
                     objects_held=report.held_on if report else None,
                     store_failures=len(report.failed) if report else None)  # fmt: skip
        return _out(times, hold, list(hold.cameras), now_us())

    @post("/holds/{hold_id:int}/release", sync_to_thread=True,
          opt={"permission": Permission.HOLDS_RELEASE.value, "audit": "holds.release"},
          summary="Release a legal hold (admin, legal), with a reason")  # fmt: skip
    def release_hold(request: Request[Any, Any, Any], hold_id: HoldId, data: JSONBody[HoldReleaseIn]) -> HoldOut:
        who = principal_of(request)
        printable(data.reason, "reason", allow_empty=True)
        scope = search.scope(who)
        if not visible(scope, holds.get(hold_id)):
            raise NotFoundError(f"legal hold {hold_id} not found")
        hold, report = holds.release(_actor(who), hold_id, data.reason)
        audit_detail(request, hold_id=hold_id, case_id=hold.case_id, reason=data.reason,
                     objects_released=report.held_off if report else None)  # fmt: skip
        return _out(times, hold, visible(scope, hold), now_us())

    return [list_holds, get_hold, create_hold, release_hold]
