"""The retention plan (issue 5's planner): what retention would delete now, per camera, for
the cameras the caller sees. Read-only: nothing is deleted here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request, get
from litestar.handlers import HTTPRouteHandler

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps
from archive.api.render import opt_time
from archive.api.schemas import RetentionCameraOut, RetentionPlanOut
from archive.identity.policy import Permission
from archive.retention.planner import Plan

__all__ = ["routes"]


def routes(deps: ApiDeps, make_plan: Callable[[], Plan]) -> list[HTTPRouteHandler]:
    """The retention handlers bound to ``deps``."""
    search, times = deps.search, deps.settings.times

    @get("/retention/plan", sync_to_thread=True,
         opt={"permission": Permission.RETENTION_READ.value, "audit": "retention.plan"},
         summary="What retention would delete now (count, bytes, oldest, newest per camera)")  # fmt: skip
    def retention_plan(request: Request[Any, Any, Any]) -> RetentionPlanOut:
        scope = search.scope(principal_of(request))
        plan = make_plan()
        cams = []
        for c in plan.cameras:
            if not scope.sees(c.owner_id):
                continue
            oldest = min((s.oldest_start_us for s in c.selections), default=None)
            newest = max((s.newest_end_us for s in c.selections), default=None)
            cams.append(RetentionCameraOut(camera=c.camera_id, owner=c.owner_id,
                                           rules=sorted({s.rule for s in c.selections}), count=c.count,
                                           bytes=c.bytes, oldest=opt_time(times, oldest),
                                           newest=opt_time(times, newest),
                                           held_count=c.held_count, held_bytes=c.held_bytes))  # fmt: skip
        audit_detail(request, cameras=len(cams), count=sum(c.count for c in cams))
        return RetentionPlanOut(zone=times.zone_name, at=times.utc(plan.now_us), at_local=times.local(plan.now_us),
                                count=sum(c.count for c in cams), bytes=sum(c.bytes for c in cams),
                                cameras=cams)  # fmt: skip

    return [retention_plan]
