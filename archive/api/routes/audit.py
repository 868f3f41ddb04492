"""The audit trail for auditors: read (filters, pages), verify, the signed head.

There is deliberately no route that changes or deletes an entry (a test checks that no
route under /audit uses any method but GET).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery, QueryParameter

from archive.api.context import audit_detail
from archive.api.deps import ApiDeps
from archive.api.params import MAX_INT, instant
from archive.api.schemas import AuditEventOut, AuditEventsOut, AuditHeadOut, AuditVerifyOut
from archive.audit.query import AuditFilter
from archive.identity.policy import Permission

__all__ = ["routes"]

Text = Annotated[str | None, QueryParameter(max_length=64)]
Time = Annotated[str | None, QueryParameter(max_length=64, description="ISO 8601 with offset")]


def routes(deps: ApiDeps) -> list[HTTPRouteHandler]:
    """The audit handlers bound to ``deps``."""
    trail, times = deps.audit, deps.settings.times

    @get("/audit/events", sync_to_thread=True, opt={"permission": Permission.AUDIT_READ.value, "audit": "audit.read"},
         summary="Audit entries, newest (or oldest) first, filtered; page with before_seq / after_seq")  # fmt: skip
    def events(request: Request[Any, Any, Any], actor: Text = None, action: Text = None,
               result: FromQuery[Literal["ok", "denied", "rejected", "failed"] | None] = None, since: Time = None,
               until: Time = None, before_seq: Annotated[int | None, QueryParameter(ge=0, le=MAX_INT)] = None,
               after_seq: Annotated[int | None, QueryParameter(ge=-1, le=MAX_INT)] = None,
               order: FromQuery[Literal["newest", "oldest"]] = "newest",
               limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100) -> AuditEventsOut:  # fmt: skip
        f = AuditFilter(actor=actor, action=action, result=result,
                        since_us=instant(since, "since") if since else None,
                        until_us=instant(until, "until") if until else None, after_seq=after_seq,
                        before_seq=before_seq, newest_first=order == "newest", limit=limit)  # fmt: skip
        found = trail.events(f)
        audit_detail(request, returned=len(found))
        items = [AuditEventOut(seq=e.seq, entry_hash=e.entry_hash, at=times.utc(e.record.at_us),
                               at_local=times.local(e.record.at_us), actor=e.record.actor, agency=e.record.agency,
                               owner=e.record.owner, role=e.record.role, token=e.record.token, ip=e.record.ip,
                               action=e.record.action, method=e.record.method, path=e.record.path,
                               target=dict(e.record.target), result=e.record.result.value, status=e.record.status,
                               detail=dict(e.record.detail)) for e in found]  # fmt: skip
        nxt = found[-1].seq if found and len(found) == limit and order == "newest" else None
        return AuditEventsOut(zone=times.zone_name, items=items, next_before_seq=nxt)

    @get("/audit/verify", sync_to_thread=True, opt={"permission": Permission.AUDIT_VERIFY.value,
                                                   "audit": "audit.verify"},
         summary="Verify the whole audit trail: chain, tree, signed checkpoints, published head")  # fmt: skip
    def verify(request: Request[Any, Any, Any]) -> AuditVerifyOut:
        r = trail.verify()
        audit_detail(request, ok=r.ok, size=r.size, failures=len(r.failures))
        return AuditVerifyOut(ok=r.ok, origin=r.origin, size=r.size, entries_checked=r.entries_checked,
                              checkpoints_checked=r.checkpoints_checked, signed_size=r.signed_size,
                              signed_root=r.signed_root, failures=list(r.failures), seconds=r.seconds)  # fmt: skip

    @get("/audit/head", sync_to_thread=True, opt={"permission": Permission.AUDIT_READ.value, "audit": "audit.head"},
         summary="The audit log's size and latest signed checkpoint (keep it to detect later rewrites)")  # fmt: skip
    def head(request: Request[Any, Any, Any]) -> AuditHeadOut:
        latest = trail.latest()
        return AuditHeadOut(origin=trail.origin, size=trail.size(), signed_size=latest.size if latest else None,
                            signed_root=latest.root.hex() if latest else None,
                            signed_at=times.utc(latest.signed_us) if latest and latest.signed_us else None,
                            note=latest.note if latest else None)  # fmt: skip

    return [events, verify, head]
