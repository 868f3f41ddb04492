"""Evidence exports through :class:`archive.api.ports.ExportsPort` (issue 7): list, read,
request (investigator, legal), approve or refuse (owner staff, admin), download (investigator,
legal). Every step is audited here; the port enforces its own workflow rules."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody
from litestar.response import File

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps
from archive.api.params import printable, time_range
from archive.api.ports import ExportRequest, ExportsPort, ExportView
from archive.api.render import interval_out
from archive.api.schemas import ExportDecisionIn, ExportIn, ExportOut, ExportsOut
from archive.identity.policy import Permission
from archive.search.times import TimeFormatter

__all__ = ["routes"]


def _out(t: TimeFormatter, e: ExportView) -> ExportOut:
    return ExportOut(id=e.id, case_id=e.case_id, status=e.status, cameras=list(e.cameras),
                     range=interval_out(t, e.start_us, e.end_us), requested_by=e.requested_by,
                     requested_agency=e.requested_agency, created_at=t.utc(e.created_us), approvals=list(e.approvals),
                     progress=e.progress, package_sha256=e.package_sha256, package_size=e.package_size)  # fmt: skip


def routes(deps: ApiDeps, exports: ExportsPort) -> list[HTTPRouteHandler]:
    """The export handlers bound to ``deps``."""
    search, times = deps.search, deps.settings.times

    @get("/exports", sync_to_thread=True, opt={"permission": Permission.EXPORTS_READ.value, "audit": "exports.list"},
         summary="Exports the caller may see")  # fmt: skip
    def list_exports(request: Request[Any, Any, Any]) -> ExportsOut:
        who = principal_of(request)
        items = exports.list(who, search.scope(who))
        return ExportsOut(zone=times.zone_name, items=[_out(times, e) for e in items])

    @get("/exports/{export_id:str}", sync_to_thread=True,
         opt={"permission": Permission.EXPORTS_READ.value, "audit": "exports.read"}, summary="One export")  # fmt: skip
    def get_export(request: Request[Any, Any, Any], export_id: FromPath[str]) -> ExportOut:
        who = principal_of(request)
        return _out(times, exports.get(who, search.scope(who), export_id))

    @post("/exports", sync_to_thread=True, opt={"permission": Permission.EXPORTS_REQUEST.value,
                                               "audit": "exports.request"},
          summary="Request an evidence export (cameras, range, case, legal basis, reason)")  # fmt: skip
    def request_export(request: Request[Any, Any, Any], data: JSONBody[ExportIn]) -> ExportOut:
        who = principal_of(request)
        for value, where in ((data.case_id, "case_id"), (data.legal_basis, "legal_basis"), (data.reason, "reason")):
            printable(value, where)
        lo, hi = time_range(data.start, data.end)
        for cam in dict.fromkeys(data.cameras):
            search.camera(who, cam)
        view = exports.request(who, search.scope(who), ExportRequest(data.case_id, data.legal_basis, data.reason,
                                                                     tuple(data.cameras), lo, hi))  # fmt: skip
        audit_detail(request, export_id=view.id, case_id=view.case_id, cameras=list(view.cameras))
        return _out(times, view)

    @post("/exports/{export_id:str}/decision", sync_to_thread=True,
          opt={"permission": Permission.EXPORTS_DECIDE.value, "audit": "exports.decide"},
          summary="Approve or refuse an export of the caller's cameras (owner staff) or any (admin)")  # fmt: skip
    def decide_export(request: Request[Any, Any, Any], export_id: FromPath[str],
                      data: JSONBody[ExportDecisionIn]) -> ExportOut:  # fmt: skip
        who = principal_of(request)
        printable(data.reason, "reason", allow_empty=True)
        view = exports.decide(who, search.scope(who), export_id, data.approve, data.reason)
        audit_detail(request, export_id=export_id, approve=data.approve, reason=data.reason)
        return _out(times, view)

    @get("/exports/{export_id:str}/package", sync_to_thread=True,
         opt={"permission": Permission.EXPORTS_DOWNLOAD.value, "audit": "exports.download"},
         summary="Download the built package (zip); its SHA-256 is in the X-Package-SHA256 header")  # fmt: skip
    def download_export(request: Request[Any, Any, Any], export_id: FromPath[str]) -> File:
        who = principal_of(request)
        pkg = exports.package(who, search.scope(who), export_id)
        audit_detail(request, export_id=export_id, sha256=pkg.sha256, size=pkg.size)
        return File(path=pkg.path, filename=pkg.filename, media_type="application/zip",
                    headers={"X-Package-SHA256": pkg.sha256})  # fmt: skip

    return [list_exports, get_export, request_export, decide_export, download_export]
