"""The export workflow in the pages: the request form, the approval decision, the build progress
fragment and the package download, each through the export service the API uses.

- ``GET /ui/exports/new`` (``exports.request``: investigator, legal): cameras, range (a wall-clock
  time in the display zone or ISO 8601 with offset), case number, legal basis, reason; prefilled
  from the query (the timeline page links here with its camera and day). ``POST /ui/exports``
  requests it (``ExportService.request``: the legal hold is placed at once) and goes to the
  export's page; bad input re-renders the form with 400, naming each field, keeping what was
  typed, writing nothing.
- ``POST /ui/exports/{id}/decision``: in :mod:`.export_pages` (a refusal re-shows the export page).
- ``GET /ui/exports/{id}/progress``: the status/progress fragment the export page polls with
  htmx while it awaits a decision (every 15 s) or builds (every second) (:data:`POLLED`; each
  poll is audited ``web.exports.progress``, hence the slow rate while waiting); when the status
  differs from ``?seen=`` (the status the page was drawn with) it answers ``HX-Refresh: true``
  so the whole page (approvals, custody log) is drawn again, never left stale.
- ``GET /ui/exports/{id}/package`` (``exports.download``): the package, resumable with ``Range``
  (the API's :func:`~archive.api.routes.exports.package_download`, a ``downloaded`` custody event).

Every form carries the session's CSRF token; refusals are pages with the API's status and message.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body, FromPath, QueryParameter
from litestar.response import Redirect, Response, Stream, Template

from archive.api.context import audit_detail, context_of, principal_of
from archive.api.deps import ApiDeps
from archive.api.params import printable
from archive.api.routes.exports import package_download
from archive.errors import NotFoundError, UserError, ValidationError
from archive.export.approval import decidable
from archive.export.service import ExportService
from archive.export.views import ExportRequest
from archive.identity.model import Principal
from archive.identity.policy import Permission
from archive.search.model import CameraQuery

from .gate import require_csrf
from .render import can, page, tr, wall_us

__all__ = ["POLLED", "may_decide_now", "routes"]

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
Seen = Annotated[str | None, QueryParameter(max_length=20)]
_FIELDS = ("cameras", "start", "end", "case_id", "legal_basis", "reason")
POLLED = ("requested", "approved", "building")
"""Statuses whose page polls the progress fragment (it changes without the viewer doing anything)."""


def may_decide_now(svc: ExportService, who: Principal, export_id: str) -> bool:
    """True when ``export_id`` awaits a decision that ``who`` may make (the approval queue)."""
    if not can(who, Permission.EXPORTS_DECIDE):
        return False
    rec = svc.visible(who, export_id)
    return rec.status.value == "requested" and bool(decidable(who, rec.approvals))


def routes(deps: ApiDeps) -> list[HTTPRouteHandler]:
    """The export form handlers (none when the API has no exports)."""
    exports = deps.exports
    if exports is None:
        return []
    svc, search, zone = exports.service, deps.search, deps.settings.zone

    def form(request: Request[Any, Any, Any], typed: dict[str, str], problems: dict[str, str],
             status: int = 200) -> Template:  # fmt: skip
        cams = [h.id for h in search.cameras(principal_of(request), CameraQuery(limit=500))]
        return page(request, "export_new.html", status=status, typed=typed, problems=problems, cams=cams)

    @get("/exports/new", sync_to_thread=True,
         opt={"permission": Permission.EXPORTS_REQUEST.value, "audit": "web.exports.form"},
         summary="The export request form")  # fmt: skip
    def new_form(request: Request[Any, Any, Any]) -> Template:
        q = request.query_params
        typed = {f: str(q.get(f) or "")[:2000] for f in _FIELDS}
        return form(request, typed, {})

    @post("/exports", sync_to_thread=True,
          opt={"permission": Permission.EXPORTS_REQUEST.value, "audit": "web.exports.request"},
          summary="Request an export (the export service; the legal hold is placed at once)")  # fmt: skip
    def request_export(request: Request[Any, Any, Any], data: Form) -> Template | Redirect:
        require_csrf(request, data.get("csrf"))
        who, t = principal_of(request), tr(request)
        typed = {f: (data.get(f) or "").strip() for f in _FIELDS}
        problems: dict[str, str] = {}
        cameras = list(dict.fromkeys(c for c in typed["cameras"].replace(",", " ").split() if c))
        bounds: dict[str, int] = {}
        for name in ("start", "end"):
            try:
                bounds[name] = wall_us(typed[name], name, zone, t) if typed[name] else -1
                if not typed[name]:
                    problems[name] = t("err.required_time")
            except ValidationError as exc:
                problems[name] = "; ".join(p.message for p in exc.problems)
        if "start" not in problems and "end" not in problems and bounds["end"] <= bounds["start"]:
            problems["end"] = t("err.end_after_start")
        for name in ("case_id", "legal_basis", "reason"):
            try:
                printable(typed[name], name, max_len=128 if name == "case_id" else 2000)
            except ValidationError:
                problems[name] = t("err.printable_max", n=128) if name == "case_id" else t("err.printable")
        if not cameras:
            problems["cameras"] = t("err.one_camera")
        for cam in cameras:
            try:
                search.camera(who, cam)
            except NotFoundError:
                problems["cameras"] = t("err.no_camera", camera=repr(cam))
        if not problems:
            req = ExportRequest(typed["case_id"], typed["legal_basis"], typed["reason"], tuple(cameras),
                                bounds["start"], bounds["end"])  # fmt: skip
            try:
                view = svc.request(who, search.scope(who), req, origin=context_of(request).client_ip)
            except ValidationError as exc:
                for p in exc.problems:
                    field = p.where if p.where in _FIELDS else "cameras" if "camera" in p.where else "start"
                    problems[field] = t("err.refused", detail=p.message)
            except UserError as exc:  # e.g. a range the log cannot cover (422 in the API): about the range
                problems["start"] = t("err.refused", detail=str(exc))
            else:
                audit_detail(request, export_id=view.id, case_id=view.case_id, cameras=list(view.cameras))
                return Redirect(f"/ui/exports/{view.id}", status_code=303)
        audit_detail(request, refused=sorted(problems))
        return form(request, typed, problems, status=400)

    @get("/exports/{export_id:str}/progress", sync_to_thread=True,
         opt={"permission": Permission.EXPORTS_READ.value, "audit": "web.exports.progress"},
         summary="The export's status and build progress (an htmx fragment)")  # fmt: skip
    def progress(request: Request[Any, Any, Any], export_id: FromPath[str], seen: Seen = None) -> Template:
        who = principal_of(request)
        view = svc.get(who, search.scope(who), export_id)
        out = page(request, "export_progress.html", e={"id": view.id, "status": view.status,
                                                       "progress": view.progress, "error": view.error or ""},
                   polling=view.status in POLLED,
                   can_download=can(who, Permission.EXPORTS_DOWNLOAD) and view.status == "built")  # fmt: skip
        if seen is not None and seen != view.status:  # the page's other facts (approvals, custody) changed too
            out.headers["HX-Refresh"] = "true"
        return out

    @get("/exports/{export_id:str}/package", sync_to_thread=True,
         opt={"permission": Permission.EXPORTS_DOWNLOAD.value, "audit": "web.exports.download"},
         summary="Download the package (zip), resumable with Range")  # fmt: skip
    def download(request: Request[Any, Any, Any], export_id: FromPath[str]) -> Stream | Response[Any]:
        return package_download(request, svc, principal_of(request), export_id, context_of(request).client_ip)

    return [new_form, request_export, progress, download]
