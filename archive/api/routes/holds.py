"""Legal holds (issue 5's HoldService): list, read, create (admin, investigator), release
(admin, legal). Who sees which hold, how much of it, and who may release it is decided by
:mod:`archive.retention.hold_access` (a hold belongs to the agency that placed it); what a
caller may not see is absent (404 for one hold). A new hold may name only cameras the caller sees.
Placing the same hold again (a retry: same case id, cameras, range, expiry, agency) answers 200
with the hold already placed; another hold of the agency under that case id is a 409
(:mod:`archive.retention.hold_retry`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery, JSONBody

from archive.api.context import audit_detail, context_of, principal_of
from archive.api.deps import ApiDeps
from archive.api.params import HoldId, instant, printable, time_range
from archive.api.render import interval_out, opt_time
from archive.api.schemas import HoldIn, HoldOut, HoldReleaseIn, HoldsOut
from archive.errors import NotFoundError
from archive.identity.model import Principal
from archive.identity.policy import CameraScope, Permission
from archive.retention.audit import HoldActor
from archive.retention.hold_access import Disclosure, HoldSight, check_release, disclosure
from archive.retention.holds import Hold, HoldService
from archive.search.times import TimeFormatter

__all__ = ["hold_actor", "routes"]


def now_us() -> int:
    """Now, epoch µs."""
    return time.time_ns() // 1000


def hold_actor(request: Request[Any, Any, Any], who: Principal) -> HoldActor:
    """The caller as the hold service records it in the audit trail (with the change, one transaction);
    the pages' Holds forms use it too."""
    return HoldActor(who.user_id, who.role, agency=who.agency, owner=who.owner_id,
                     token=who.token_id, ip=context_of(request).client_ip, method=request.method,
                     path=request.url.path)  # fmt: skip


def _out(t: TimeFormatter, h: Hold, sight: HoldSight, now_us: int) -> HoldOut:
    """The hold as ``sight`` allows: in full, or (existence) without case, reason, agency and people."""
    full = sight.disclosure is Disclosure.FULL
    return HoldOut(id=h.id, disclosure=sight.disclosure.value, case_id=h.case_id if full else None,
                   reason=h.reason if full else None, agency=h.agency if full else None, cameras=list(sight.cameras),
                   range=interval_out(t, h.start_us, h.end_us), expires=opt_time(t, h.expires_us),
                   active=h.active(now_us), created_by=h.created_by if full else None,
                   created_role=h.created_role if full else None, created_at=t.utc(h.created_us),
                   released_by=h.released_by if full else None, released_at=opt_time(t, h.released_us),
                   release_reason=h.release_reason if full else None)  # fmt: skip


def routes(deps: ApiDeps, holds: HoldService) -> list[HTTPRouteHandler]:
    """The hold handlers bound to ``deps``."""
    search, times = deps.search, deps.settings.times

    def owners(found: list[Hold]) -> Mapping[str, str]:
        return search.owners_of(sorted({c for h in found for c in h.cameras}))

    def seen(who: Principal, scope: CameraScope, hold_id: int) -> tuple[Hold, HoldSight]:
        h = holds.get(hold_id)
        sight = disclosure(who, h, scope, owners([h]))
        if sight is None:
            raise NotFoundError(f"legal hold {hold_id} not found")
        return h, sight

    @get("/holds", sync_to_thread=True, opt={"permission": Permission.HOLDS_READ.value, "audit": "holds.list"},
         summary="Legal holds the caller may see (own agency's; owners: existence on their cameras)")  # fmt: skip
    def list_holds(request: Request[Any, Any, Any], camera: FromQuery[str | None] = None,
                   include_inactive: FromQuery[bool] = False) -> HoldsOut:  # fmt: skip
        who = principal_of(request)
        scope = search.scope(who)
        found = holds.list_holds(include_inactive=include_inactive, camera_id=camera)
        of = owners(found)
        now = now_us()
        items = [_out(times, h, s, now) for h in found if (s := disclosure(who, h, scope, of)) is not None]
        audit_detail(request, found=len(items))
        return HoldsOut(zone=times.zone_name, items=items)

    @get("/holds/{hold_id:int}", sync_to_thread=True, opt={"permission": Permission.HOLDS_READ.value,
                                                          "audit": "holds.read"}, summary="One legal hold")  # fmt: skip
    def get_hold(request: Request[Any, Any, Any], hold_id: HoldId) -> HoldOut:
        who = principal_of(request)
        h, sight = seen(who, search.scope(who), hold_id)
        return _out(times, h, sight, now_us())

    @post("/holds", sync_to_thread=True, opt={"permission": Permission.HOLDS_CREATE.value, "audit": "holds.create"},
          summary="Place a legal hold on cameras x range for a case (blocks deletion everywhere)")  # fmt: skip
    def create_hold(request: Request[Any, Any, Any], data: JSONBody[HoldIn]) -> Response[HoldOut]:
        who = principal_of(request)
        printable(data.case_id, "case_id", max_len=128, allow_empty=True)
        printable(data.reason, "reason", allow_empty=True)
        lo, hi = time_range(data.start, data.end)
        expires = instant(data.expires, "expires") if data.expires else None
        for cam in dict.fromkeys(data.cameras):
            search.camera(who, cam)
        placed = holds.place(hold_actor(request, who), case_id=data.case_id, reason=data.reason, cameras=data.cameras,
                             start_us=lo, end_us=hi, expires_us=expires, agency=who.agency,
                             owner_id=who.owner_id)  # fmt: skip
        hold, report = placed.hold, placed.report
        audit_detail(request, hold_id=hold.id, case_id=hold.case_id, cameras=list(hold.cameras), agency=hold.agency,
                     objects_held=report.held_on if report else None, existing=placed.existing,
                     store_failures=len(report.failed) if report else None)  # fmt: skip
        out = _out(times, hold, HoldSight(Disclosure.FULL, hold.cameras), now_us())
        return Response(out, status_code=200 if placed.existing else 201)

    @post("/holds/{hold_id:int}/release", sync_to_thread=True,
          opt={"permission": Permission.HOLDS_RELEASE.value, "audit": "holds.release"},
          summary="Release a legal hold (admin; legal of its agency seeing all its cameras), reason given")  # fmt: skip
    def release_hold(request: Request[Any, Any, Any], hold_id: HoldId, data: JSONBody[HoldReleaseIn]) -> HoldOut:
        who = principal_of(request)
        printable(data.reason, "reason", allow_empty=True)
        scope = search.scope(who)
        before = holds.get(hold_id)
        check_release(who, before, scope, owners([before]))  # 404 / 403; the export guard (409) is the service's
        hold, report = holds.release(hold_actor(request, who), hold_id, data.reason)
        audit_detail(request, hold_id=hold_id, case_id=hold.case_id, reason=data.reason,
                     objects_released=report.held_off if report else None)  # fmt: skip
        _, sight = seen(who, scope, hold_id)
        return _out(times, hold, sight, now_us())

    return [list_holds, get_hold, create_hold, release_hold]
