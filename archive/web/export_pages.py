"""The Exports pages: the exports a user may see with their status and build progress (and, for
owner staff and admins, the queue of exports awaiting their decision), and one export with its
progress (polled while it builds), the decision form when it awaits the user's decision, the
download link once built (``exports.download``) and its custody log in plain words (who did
what, when in the display zone and UTC, from where). The forms are :mod:`.export_forms`.

Both read the export service the API reads (``exports.read``: every role; which exports and
which custody logs follow the service's rules: a camera outside the user's scope makes the
export 404, owner staff do not read a custody log that names other owners' cameras). Served
when the API has exports; audited ``web.exports`` and ``web.export``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Redirect, Template

from archive.api.context import audit_detail, context_of, principal_of
from archive.api.deps import ApiDeps
from archive.api.errors import problem
from archive.api.params import printable
from archive.errors import ForbiddenError, Problem, UserError, ValidationError
from archive.export.verifier.custody import decode_event
from archive.export.verifier.formats import FormatError
from archive.export.verifier.wording import custody_sentence
from archive.export.views import ExportView
from archive.identity.policy import Permission
from archive.search.times import TimeFormatter

from .export_forms import POLLED, Form, may_decide_now
from .gate import require_csrf
from .i18n import Translate
from .render import can, page, tr

__all__ = ["routes"]


def _row(t: TimeFormatter, e: ExportView) -> dict[str, Any]:
    return {"id": e.id, "case_id": e.case_id, "status": e.status, "cameras": ", ".join(e.cameras),
            "start": t.local(e.start_us)[:19].replace("T", " "), "end": t.local(e.end_us)[:19].replace("T", " "),
            "start_utc": t.utc(e.start_us), "end_utc": t.utc(e.end_us), "requested_by": e.requested_by,
            "agency": e.requested_agency or "", "progress": e.progress, "sha256": e.package_sha256 or "",
            "size": e.package_size, "error": e.error or "", "approvals": ", ".join(e.approvals)}  # fmt: skip


def _sentence(line: bytes, zone: str, t: Translate) -> str:
    try:
        return custody_sentence(decode_event(line), zone)
    except FormatError as exc:  # never expected from the archive's own log; shown, not hidden
        return t("export.custody.unreadable", error=str(exc))


def routes(deps: ApiDeps) -> list[HTTPRouteHandler]:
    """The Exports handlers (none when the API has no exports)."""
    exports = deps.exports
    if exports is None:
        return []
    svc, search, times = exports.service, deps.search, deps.settings.times
    zone = deps.settings.times.zone_name

    @get("/exports", sync_to_thread=True, opt={"permission": Permission.EXPORTS_READ.value, "audit": "web.exports"},
         summary="Exports the user may see, with status and build progress")  # fmt: skip
    def export_list(request: Request[Any, Any, Any]) -> Template:
        who = principal_of(request)
        views = svc.list(who, search.scope(who))
        rows = [_row(times, e) for e in views]
        queue = [r for r, v in zip(rows, views, strict=True)
                 if v.status == "requested" and may_decide_now(svc, who, v.id)]  # fmt: skip
        audit_detail(request, returned=len(rows), awaiting_decision=len(queue))
        return page(request, "exports.html", rows=rows, queue=queue,
                    can_request=can(who, Permission.EXPORTS_REQUEST),
                    can_decide=can(who, Permission.EXPORTS_DECIDE))  # fmt: skip

    def show(request: Request[Any, Any, Any], export_id: str, decision_error: str = "", status: int = 200) -> Template:
        who = principal_of(request)
        view = svc.get(who, search.scope(who), export_id)
        refused = ""
        try:
            custody = [_sentence(line, zone, tr(request)) for line in svc.custody_lines(who, export_id)]
        except ForbiddenError as exc:
            custody, refused = [], str(exc)
        audit_detail(request, export_id=export_id, custody_events=len(custody))
        return page(request, "export.html", status=status, e=_row(times, view), custody=custody, refused=refused,
                    decision_error=decision_error,
                    decide_now=may_decide_now(svc, who, export_id), polling=view.status in POLLED,
                    can_download=can(who, Permission.EXPORTS_DOWNLOAD) and view.status == "built")  # fmt: skip

    @get("/exports/{export_id:str}", sync_to_thread=True,
         opt={"permission": Permission.EXPORTS_READ.value, "audit": "web.export"},
         summary="One export and its custody log in plain words")  # fmt: skip
    def export_page(request: Request[Any, Any, Any], export_id: FromPath[str]) -> Template:
        return show(request, export_id)

    @post("/exports/{export_id:str}/decision", sync_to_thread=True,
          opt={"permission": Permission.EXPORTS_DECIDE.value, "audit": "web.exports.decide"},
          summary="Approve or deny an export (the export service)")  # fmt: skip
    def decide(request: Request[Any, Any, Any], export_id: FromPath[str], data: Form) -> Template | Redirect:
        require_csrf(request, data.get("csrf"))
        who = principal_of(request)
        choice = data.get("decision", "")
        reason = (data.get("reason") or "").strip()
        try:
            if choice not in ("approve", "deny"):
                raise ValidationError([Problem("decision", "approve or deny")])
            printable(reason, "reason", allow_empty=True)
            view = svc.decide(who, search.scope(who), export_id, choice == "approve", reason,
                              origin=context_of(request).client_ip)  # fmt: skip
        except UserError as exc:  # refused (no reason to deny, already decided...): said at the form
            status, body = problem(exc)
            context_of(request).error = str(body["message"])[:500]
            audit_detail(request, export_id=export_id, approve=choice == "approve", refused=str(body["message"]))
            return show(request, export_id, decision_error=tr(request)("err.refused", detail=str(body["message"])),
                        status=status)
        audit_detail(request, export_id=export_id, approve=choice == "approve", reason=reason, status=view.status)
        return Redirect(f"/ui/exports/{export_id}", status_code=303)

    return [export_list, export_page, decide]
