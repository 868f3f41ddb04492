"""Verification of a camera's evidence log (and, with ``media``, its stored bytes) - audited."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, QueryParameter

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps, CameraVerifier
from archive.api.params import time_range
from archive.api.schemas import VerifyOut
from archive.identity.policy import Permission
from archive.model import utc_from_us

__all__ = ["routes"]

Time = Annotated[str | None, QueryParameter(description="ISO 8601 with offset; start and end together", max_length=64)]


def routes(deps: ApiDeps, verify: CameraVerifier) -> list[HTTPRouteHandler]:
    """The verification handler bound to ``deps``."""

    @post("/cameras/{camera_id:str}/verify", sync_to_thread=True, status_code=200,
          opt={"permission": Permission.VERIFY.value, "audit": "verify.camera"},
          summary="Verify a camera's log against its signed checkpoint (media=true: re-hash the bytes)")  # fmt: skip
    def verify_camera(request: Request[Any, Any, Any], camera_id: FromPath[str], start: Time = None, end: Time = None,
                      media: FromQuery[bool] = False) -> VerifyOut:  # fmt: skip
        deps.search.camera(principal_of(request), camera_id)
        lo = hi = None
        if start is not None or end is not None:
            lo_us, hi_us = time_range(start or "", end or "")
            lo, hi = utc_from_us(lo_us), utc_from_us(hi_us)
        report = verify(camera_id, lo, hi, media)
        audit_detail(request, ok=report.ok, failures=len(report.failures), checkpoint_size=report.checkpoint_size)
        return VerifyOut(ok=report.ok, subject=report.subject, failures=[str(f) for f in report.failures],
                         notes=list(report.notes), checkpoint_size=report.checkpoint_size,
                         checkpoint_root=report.checkpoint_root, entries_checked=report.entries_checked,
                         segments_checked=report.segments_checked, bytes_hashed=report.bytes_hashed,
                         seconds=report.seconds)  # fmt: skip

    return [verify_camera]
