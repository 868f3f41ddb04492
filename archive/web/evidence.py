"""The Verify page (legal staff, admins, auditors: ``verify.run``) and the Audit page (auditors).

Verify: the browser sends the chosen package file as the raw body of ``POST /ui/verify`` (our
module ``static/verify.js``; the session's CSRF token in the ``X-CSRF-Token`` header). It is
streamed to disk and size-capped exactly like ``POST /api/v1/exports/verify`` (one function,
:func:`archive.api.package_upload.verify_upload`, the verifier of ``archive verify package``);
the answer is an HTML fragment: the verdict, the failing step, every check with its messages
and the facts in plain words. Audit: the signed trail filtered by who (actor), what (action,
result) and when (since/until, ISO 8601 or a WIB wall-clock time), newest first, plus the
trail's verification status. Bad filter input is a 400 page naming the field, keeping what was
typed. Every answer checks the role and is audited; refusals are pages (archive.web.gate).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter
from litestar.response import Template

from archive.api.context import audit_detail, context_of, principal_of
from archive.api.deps import ApiDeps
from archive.api.package_upload import verify_upload
from archive.audit.query import AuditFilter
from archive.errors import ForbiddenError, ValidationError
from archive.identity.policy import Permission

from .gate import session_of
from .render import can, page, tr, wall_us
from .sessions import same_token

__all__ = ["RESULTS", "routes"]

Text = Annotated[str | None, QueryParameter(max_length=64)]
RESULTS = ("ok", "denied", "rejected", "failed")
_SHOWN = 200


def routes(deps: ApiDeps) -> list[HTTPRouteHandler]:
    """The Verify handlers (when the API has exports) and the Audit handler."""
    trail, times = deps.audit, deps.settings.times
    handlers: list[HTTPRouteHandler] = []

    @get("/audit", sync_to_thread=True, opt={"permission": Permission.AUDIT_READ.value, "audit": "web.audit"},
         summary="The audit trail filtered by who, what and when; its verification status")  # fmt: skip
    def audit_page(request: Request[Any, Any, Any], actor: Text = None, action: Text = None, result: Text = None,
                   since: Text = None, until: Text = None) -> Template:  # fmt: skip
        who, t = principal_of(request), tr(request)
        typed = {"actor": actor or "", "action": action or "", "result": result or "", "since": since or "",
                 "until": until or ""}  # fmt: skip
        problems: dict[str, str] = {}
        bounds: dict[str, int | None] = {"since": None, "until": None}
        for name in ("since", "until"):
            if typed[name].strip():
                try:
                    bounds[name] = wall_us(typed[name].strip(), name, deps.settings.zone, t)
                except ValidationError as exc:
                    problems[name] = "; ".join(p.message for p in exc.problems) or t("err.time")
        if typed["result"] and typed["result"] not in RESULTS:
            problems["result"] = t("err.one_of", values=", ".join(t(f"result.{r}") for r in RESULTS))
        events = []
        if not problems:
            f = AuditFilter(actor=typed["actor"].strip() or None, action=typed["action"].strip() or None,
                            result=typed["result"] or None, since_us=bounds["since"], until_us=bounds["until"],
                            limit=_SHOWN)  # fmt: skip
            events = [{"seq": e.seq, "local": times.local(e.record.at_us)[:19].replace("T", " "),
                       "utc": times.utc(e.record.at_us), "actor": e.record.actor, "role": e.record.role,
                       "action": e.record.action, "target": ", ".join(f"{k}={v}" for k, v in e.record.target.items()),
                       "result": e.record.result.value, "status": e.record.status}
                      for e in trail.events(f)]  # fmt: skip
        else:
            context_of(request).error = "; ".join(f"{k}: {v}" for k, v in problems.items())
        check = trail.verify() if can(who, Permission.AUDIT_VERIFY) else None
        audit_detail(request, returned=len(events), **({"verified": check.ok} if check else {}))
        return page(request, "audit.html", status=400 if problems else 200, typed=typed, problems=problems,
                    events=events, results=RESULTS, check=check, shown=_SHOWN)  # fmt: skip

    handlers.append(audit_page)
    exports = deps.exports
    if exports is None:
        return handlers

    @get("/verify", opt={"permission": Permission.VERIFY.value, "audit": "web.verify.form"},
         summary="Verify a package: the upload form")  # fmt: skip
    async def verify_form(request: Request[Any, Any, Any]) -> Template:
        return page(request, "verify.html", max_bytes=deps.settings.verify_upload_max_bytes)

    @post("/verify", status_code=200, request_max_body_size=deps.settings.verify_upload_max_bytes,
          opt={"permission": Permission.VERIFY.value, "audit": "web.verify"},
          summary="Verify an uploaded package (raw body; X-CSRF-Token): the verdict as HTML")  # fmt: skip
    async def verify_package_page(request: Request[Any, Any, Any]) -> Template:
        session = session_of(request)
        if session is None or not same_token(request.headers.get("x-csrf-token"), session.csrf):
            raise ForbiddenError("upload without the session's CSRF token; refused")
        ctx = context_of(request)
        outcome, recorded = await verify_upload(exports, principal_of(request), request.stream(),
                                                origin=ctx.client_ip, tool="web page")  # fmt: skip
        audit_detail(request, valid=outcome.valid, export_id=outcome.export_id, sha256=outcome.package_sha256)
        return page(request, "verify_result.html", outcome=outcome, recorded=recorded)

    return [*handlers, verify_form, verify_package_page]
