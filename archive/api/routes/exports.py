"""Evidence exports (one served API for every export step; the service enforces the workflow):
list, read (with build progress), request, decision, build (start or retry), package metadata
(hash first), ``HEAD`` of the package, resumable download with ``Range`` / ``If-Range`` (206,
``Content-Range``), the custody log, and verification of an uploaded package (streamed to disk,
size-capped, never held in memory). Every call passes the client address into the custody log;
every download is a ``downloaded`` custody event with its byte range."""

from __future__ import annotations

import base64
from typing import Any

from litestar import Request, get, head, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody
from litestar.response import File, Response, Stream

from archive.api import package_upload
from archive.api.context import audit_detail, context_of, principal_of
from archive.api.deps import ApiDeps
from archive.api.params import printable, time_range
from archive.api.ranges import parse_range, read_range
from archive.api.render import interval_out
from archive.api.schemas import (
    ExportDecisionIn,
    ExportIn,
    ExportOut,
    ExportsOut,
    ExportWithdrawIn,
    PackageCheckOut,
    PackageMetaOut,
    PackageVerifyOut,  # fmt: skip
)
from archive.errors import ConflictError, ForbiddenError, UserError
from archive.export.model import Actor
from archive.export.parts import Exports
from archive.export.service import ExportService
from archive.export.views import ExportFile, ExportRequest, ExportView
from archive.identity.model import Principal, Role
from archive.identity.policy import Permission
from archive.search.times import TimeFormatter

__all__ = ["package_download", "routes"]


def _quorum(value: str | None) -> int | None:
    """``?witness_quorum=Q``: a positive integer (checked against the ``?witness`` keys by the
    verifier). Raises UserError."""
    if value is None:
        return None
    if not value.isdigit() or len(value) > 4:
        raise UserError(f"witness_quorum: expected a positive integer, got {value[:20]!r}")
    return int(value)


def _headers(f: ExportFile) -> dict[str, str]:
    digest = base64.b64encode(bytes.fromhex(f.sha256)).decode()
    return {"X-Package-SHA256": f.sha256, "Repr-Digest": f"sha-256=:{digest}:", "ETag": f'"{f.sha256}"',
            "Accept-Ranges": "bytes", "Content-Disposition": f'attachment; filename="{f.filename}"'}  # fmt: skip


def _out(t: TimeFormatter, e: ExportView) -> ExportOut:
    return ExportOut(id=e.id, case_id=e.case_id, status=e.status, cameras=list(e.cameras),
                     range=interval_out(t, e.start_us, e.end_us), requested_by=e.requested_by,
                     requested_agency=e.requested_agency, created_at=t.utc(e.created_us), approvals=list(e.approvals),
                     progress=e.progress, package_sha256=e.package_sha256, package_size=e.package_size,
                     error=e.error)  # fmt: skip


def package_download(request: Request[Any, Any, Any], svc: ExportService, who: Principal, export_id: str,
                     origin: str) -> Stream | Response[Any]:  # fmt: skip
    """The built package of ``export_id`` for ``who``: whole (200) or the ``Range`` asked for (206;
    ``If-Range`` with another ETag sends it whole; 416 when not satisfiable), recorded as a
    ``downloaded`` custody event from ``origin``. The API's and the pages' download. Raises what
    ``svc.package_file`` raises (NotFoundError, ForbiddenError, ConflictError: not built)."""
    f = svc.package_file(who, export_id)
    headers = _headers(f)
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != headers["ETag"]:
        wanted = None  # the file changed since the first part: send it whole
    try:
        rng = parse_range(wanted, f.size)
    except ConflictError:
        return Response({"status": 416, "error": "range", "message": "range not satisfiable"}, status_code=416,
                        headers={"Content-Range": f"bytes */{f.size}", **headers})  # fmt: skip
    first, last = rng if rng is not None else (0, f.size - 1)
    svc.record_download(who, export_id, origin=origin, first=first, last=last, total=f.size)
    audit_detail(request, export_id=export_id, sha256=f.sha256, bytes=f"{first}-{last}/{f.size}")
    headers["Content-Length"] = str(last - first + 1)
    if rng is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{f.size}"
    return Stream(read_range(f.path, first, last), status_code=206 if rng is not None else 200, headers=headers,
                  media_type="application/zip")  # fmt: skip


def routes(deps: ApiDeps, exports: Exports) -> list[HTTPRouteHandler]:
    """Every export handler, bound to ``deps`` and the process's export parts."""
    svc, search, times = exports.service, deps.search, deps.settings.times
    max_upload = deps.settings.verify_upload_max_bytes

    def ip(request: Request[Any, Any, Any]) -> str:
        return context_of(request).client_ip

    @get("/exports", sync_to_thread=True, opt={"permission": Permission.EXPORTS_READ.value, "audit": "exports.list"},
         summary="Exports the caller may see (with build progress)")  # fmt: skip
    def list_exports(request: Request[Any, Any, Any]) -> ExportsOut:
        who = principal_of(request)
        return ExportsOut(zone=times.zone_name, items=[_out(times, e) for e in svc.list(who, search.scope(who))])

    @get("/exports/{export_id:str}", sync_to_thread=True,
         opt={"permission": Permission.EXPORTS_READ.value, "audit": "exports.read"},
         summary="One export; progress is 0..1 while building")  # fmt: skip
    def get_export(request: Request[Any, Any, Any], export_id: FromPath[str]) -> ExportOut:
        who = principal_of(request)
        return _out(times, svc.get(who, search.scope(who), export_id))

    @post("/exports", sync_to_thread=True,
          opt={"permission": Permission.EXPORTS_REQUEST.value, "audit": "exports.request"},
          summary="Request an evidence export; a legal hold is placed on cameras x range at once")  # fmt: skip
    def request_export(request: Request[Any, Any, Any], data: JSONBody[ExportIn]) -> ExportOut:
        who = principal_of(request)
        for value, where in ((data.case_id, "case_id"), (data.legal_basis, "legal_basis"), (data.reason, "reason")):
            printable(value, where)
        lo, hi = time_range(data.start, data.end)
        for cam in dict.fromkeys(data.cameras):
            search.camera(who, cam)  # a camera outside the caller's scope is 404, as everywhere
        view = svc.request(who, search.scope(who), ExportRequest(data.case_id, data.legal_basis, data.reason,
                                                                 tuple(data.cameras), lo, hi), origin=ip(request))
        audit_detail(request, export_id=view.id, case_id=view.case_id, cameras=list(view.cameras))
        return _out(times, view)

    @post("/exports/{export_id:str}/decision", sync_to_thread=True,
          opt={"permission": Permission.EXPORTS_DECIDE.value, "audit": "exports.decide"},
          summary="Approve or refuse (the owner's staff, or an admin, per the owner's policy file)")  # fmt: skip
    def decide_export(request: Request[Any, Any, Any], export_id: FromPath[str],
                      data: JSONBody[ExportDecisionIn]) -> ExportOut:  # fmt: skip
        who = principal_of(request)
        printable(data.reason, "reason", allow_empty=True)
        view = svc.decide(who, search.scope(who), export_id, data.approve, data.reason, origin=ip(request))
        audit_detail(request, export_id=export_id, approve=data.approve, reason=data.reason)
        return _out(times, view)

    @post("/exports/{export_id:str}/withdraw", sync_to_thread=True, status_code=200,
          opt={"permission": Permission.EXPORTS_REQUEST.value, "audit": "exports.withdraw"},
          summary="Withdraw a request (its requesting agency): the legal hold it placed is released")  # fmt: skip
    def withdraw_export(request: Request[Any, Any, Any], export_id: FromPath[str],
                        data: JSONBody[ExportWithdrawIn]) -> ExportOut:  # fmt: skip
        who = principal_of(request)
        printable(data.reason, "reason")
        view = svc.withdraw(who, export_id, data.reason, origin=ip(request))
        audit_detail(request, export_id=export_id, reason=data.reason)
        return _out(times, view)

    @post("/exports/{export_id:str}/build", sync_to_thread=True, status_code=202,
          opt={"permission": Permission.EXPORTS_DECIDE.value, "audit": "exports.build"},
          summary="Queue the build of an approved export (or retry a failed one); watch progress")  # fmt: skip
    def build_export(request: Request[Any, Any, Any], export_id: FromPath[str]) -> ExportOut:
        who = principal_of(request)
        if who.role is not Role.ADMIN:
            raise ForbiddenError("only an administrator starts or retries builds (approved exports build on their own)")
        rec = svc.visible(who, export_id)
        if rec.status.value not in ("approved", "failed"):
            raise ConflictError(f"export {export_id} is {rec.status.value}: nothing to build")
        exports.runner.submit(export_id, Actor.of(who, ip(request)))
        return _out(times, rec.view(who.only_owner))

    @get("/exports/{export_id:str}/package/meta", sync_to_thread=True,
         opt={"permission": Permission.EXPORTS_DOWNLOAD.value, "audit": "exports.package_meta"},
         summary="The package's SHA-256, size and name (check the download against it)")  # fmt: skip
    def package_meta(request: Request[Any, Any, Any], export_id: FromPath[str]) -> PackageMetaOut:
        f = svc.package_file(principal_of(request), export_id)
        rec = svc.record(export_id)
        return PackageMetaOut(sha256=f.sha256, size=f.size, filename=f.filename, export_id=export_id,
                              case_id=rec.case_id, url=f"/api/v1/exports/{export_id}/package")  # fmt: skip

    @head("/exports/{export_id:str}/package", sync_to_thread=True,
          opt={"permission": Permission.EXPORTS_DOWNLOAD.value, "audit": "exports.package_head"},
          summary="Headers of the package (X-Package-SHA256, size) without the body")  # fmt: skip
    def package_head(request: Request[Any, Any, Any], export_id: FromPath[str]) -> File:
        f = svc.package_file(principal_of(request), export_id)
        headers = {k: v for k, v in _headers(f).items() if k != "Content-Disposition"}
        return File(path=f.path, filename=f.filename, media_type="application/zip", headers=headers)

    @get("/exports/{export_id:str}/package", sync_to_thread=True,
         opt={"permission": Permission.EXPORTS_DOWNLOAD.value, "audit": "exports.download"},
         summary="Download the package (zip); resumable with Range; hash in X-Package-SHA256")  # fmt: skip
    def download_export(request: Request[Any, Any, Any], export_id: FromPath[str]) -> Stream | Response[Any]:
        return package_download(request, svc, principal_of(request), export_id, ip(request))

    @get("/exports/{export_id:str}/custody", sync_to_thread=True,
         opt={"permission": Permission.EXPORTS_READ.value, "audit": "exports.custody"},
         summary="The whole custody log (JSON Lines; give it to verify_package.py --custody)")  # fmt: skip
    def custody(request: Request[Any, Any, Any], export_id: FromPath[str]) -> Response[bytes]:
        lines = svc.custody_lines(principal_of(request), export_id)
        return Response(b"".join(x + b"\n" for x in lines), media_type="application/x-ndjson")

    @post("/exports/verify", status_code=200, request_max_body_size=max_upload,
          opt={"permission": Permission.VERIFY.value, "audit": "exports.verify"},
          summary="Verify an uploaded package (body: the zip, at most [api] verify_upload_max_bytes); "
                  "?trust=export=<fingerprint> / camera=<fingerprint> (or a whole verifier key) repeatable, each key "
                  "for that purpose only (default: this archive's own export and camera keys); "
                  "?witness=<witness verifier key> repeatable (each must have cosigned every checkpoint, or "
                  "?witness_quorum=Q of them); the "
                  "result goes into the export's custody log when the caller may see it")  # fmt: skip
    async def verify_upload(request: Request[Any, Any, Any]) -> PackageVerifyOut:
        outcome, recorded = await package_upload.verify_upload(
            exports, principal_of(request), request.stream(), origin=ip(request), tool="API upload",
            trust=request.query_params.getall("trust", []), witness=request.query_params.getall("witness", []),
            quorum=_quorum(request.query_params.get("witness_quorum")))
        audit_detail(request, valid=outcome.valid, export_id=outcome.export_id, sha256=outcome.package_sha256)
        return PackageVerifyOut(valid=outcome.valid, verdict=outcome.verdict(), status=outcome.status,
                                failed_step=outcome.failed_step, export_id=outcome.export_id,
                                case_id=outcome.case_id, package_sha256=outcome.package_sha256, trust=outcome.trust,
                                checks=[PackageCheckOut(name=c.name, step=c.step, ok=c.ok, failures=list(c.failures),
                                                        details=list(c.details)) for c in outcome.checks],
                                facts=list(outcome.facts), recorded=recorded)  # fmt: skip

    return [list_exports, get_export, request_export, decide_export, withdraw_export, build_export, package_meta,
            package_head, download_export, custody, verify_upload]
