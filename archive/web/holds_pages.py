"""The Holds and retention page: active legal holds, placing and releasing them, the owners'
retention policies and what the next retention run would delete, and why.

Served to the roles that place or release holds (admin, investigator, legal: ``holds.create`` or
``holds.release``); others get 403. The holds shown are exactly what the API's
``GET /api/v1/holds`` shows the caller (:func:`archive.retention.hold_access.disclosure`: own
agency's holds in full, existence only on an owner's cameras); a release button is shown only
where :func:`~archive.retention.hold_access.check_release` allows it. The forms post to the same
:class:`~archive.retention.holds.HoldService` calls as the API (same checks, same audit entries
``hold.create``/``hold.release`` with the caller as actor) and carry the session's CSRF token.
Bad input re-renders the page with status 400 (409 for a refused release), naming the field and
keeping what was typed; nothing is written. The retention section (``retention.read``: admin,
legal here) lists, per camera the caller sees, the plan of ``deps.retention_plan`` (read-only:
nothing is deleted) and the policy of each owner the caller sees (``deps.retention_policies``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template

from archive.api.context import audit_detail, principal_of
from archive.api.deps import ApiDeps
from archive.api.params import printable
from archive.api.routes.holds import hold_actor
from archive.errors import ConflictError, ForbiddenError, NotFoundError, UserError, ValidationError
from archive.identity.model import Principal
from archive.identity.policy import CameraScope, Permission
from archive.retention.hold_access import Disclosure, check_release, disclosure
from archive.retention.holds import Hold
from archive.search.model import CameraQuery
from archive.search.times import TimeFormatter

from .gate import require_csrf
from .i18n import Translate
from .render import can, page, tr, wall_us

__all__ = ["routes"]

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
_FIELDS = ("case_id", "reason", "cameras", "start", "end", "expires")


def _short(t: TimeFormatter, us: int) -> str:
    return t.local(us)[:19].replace("T", " ")


def _problems(exc: UserError, default: str, t: Translate) -> dict[str, str]:
    """Field -> message of a refusal (a ValidationError names its fields; others go to ``default``),
    the archive's own words after ``t``'s "refused by the archive"."""
    if isinstance(exc, ValidationError) and exc.problems:
        out: dict[str, str] = {}
        for p in exc.problems:
            key = p.where.split(".")[0].split("[")[0]
            field = key if key in _FIELDS else default
            said = p.message if p.message == t("err.time") else t("err.refused", detail=p.message)
            out[field] = f"{out[field]}; {said}" if field in out else said
        return out
    return {default: t("err.refused", detail=str(exc))}


def routes(deps: ApiDeps) -> list[HTTPRouteHandler]:
    """The Holds page handlers (none when the API has no hold service)."""
    holds = deps.holds
    if holds is None:
        return []
    service = holds
    search, times, zone = deps.search, deps.settings.times, deps.settings.zone

    def allowed_here(who: Principal) -> None:  # the refusal's words are the audit trail's too: English
        if not (can(who, Permission.HOLDS_CREATE) or can(who, Permission.HOLDS_RELEASE)):
            raise ForbiddenError(f"role {who.role.value} has no Holds page (admin, investigator, legal have)")

    def hold_rows(who: Principal, scope: CameraScope) -> list[dict[str, Any]]:
        found = service.list_holds()
        owners = search.owners_of(sorted({c for h in found for c in h.cameras}))
        now = time.time_ns() // 1000
        rows = []
        for h in found:
            sight = disclosure(who, h, scope, owners)
            if sight is None or not h.active(now):
                continue
            try:
                check_release(who, h, scope, owners)
                releasable = can(who, Permission.HOLDS_RELEASE)
            except (ForbiddenError, NotFoundError):
                releasable = False
            full = sight.disclosure is Disclosure.FULL
            rows.append({"id": h.id, "full": full, "case_id": h.case_id if full else "",
                         "reason": h.reason if full else "",
                         "agency": (h.agency or h.owner_id or "") if full else "", "cameras": ", ".join(sight.cameras),
                         "start": _short(times, h.start_us), "end": _short(times, h.end_us),
                         "start_utc": times.utc(h.start_us), "end_utc": times.utc(h.end_us),
                         "expires": _short(times, h.expires_us) if h.expires_us else "",
                         "created_by": h.created_by if full else "", "releasable": releasable})  # fmt: skip
        return rows

    def retention_rows(scope: CameraScope, t: Translate) -> dict[str, Any] | None:
        if deps.retention_plan is None:
            return None
        plan = deps.retention_plan()
        policies = deps.retention_policies() if deps.retention_policies is not None else None
        cams = []
        for c in plan.cameras:
            if not scope.sees(c.owner_id):
                continue
            why = []
            for s in c.selections:
                why.append(t("retention.why_early" if s.early or s.pressure else "retention.why_keep", n=s.count,
                             bytes=s.bytes, rule=s.rule, oldest=_short(times, s.oldest_start_us),
                             newest=_short(times, s.newest_end_us)))  # fmt: skip
            rule = policies.resolve(c.owner_id, c.camera_id) if policies is not None else None
            cams.append({"camera": c.camera_id, "owner": c.owner_id, "count": c.count, "bytes": c.bytes,
                         "why": why, "held_count": c.held_count, "held_bytes": c.held_bytes,
                         "keep": t("retention.rule", rule=rule.name, n=rule.keep_days) if rule else ""})  # fmt: skip
        owners = []
        if policies is not None:
            for owner, pol in sorted(policies.owners.items()):
                if scope.sees(owner):
                    early = (t("retention.early_yes", n=pol.pressure.min_keep_days) if pol.pressure.delete_early
                             else t("retention.early_no"))  # fmt: skip
                    owners.append({"owner": owner, "keep_days": pol.keep_days, "approval": pol.export_approval.value,
                                   "early": early,
                                   "overrides": ", ".join(t("retention.override", id=o.id, n=o.keep_days)
                                                          for o in pol.overrides),
                                   "source": pol.source})  # fmt: skip
        city = policies.city if policies is not None else None
        return {"at": _short(times, plan.now_us), "at_utc": times.utc(plan.now_us), "cameras": cams,
                "count": sum(c["count"] for c in cams), "bytes": sum(c["bytes"] for c in cams), "owners": owners,
                "city": city, "policies_loaded": policies is not None}  # fmt: skip

    def render(request: Request[Any, Any, Any], *, status: int = 200, typed: dict[str, str] | None = None,
               problems: dict[str, str] | None = None, released: dict[str, str] | None = None) -> Template:  # fmt: skip
        who, t = principal_of(request), tr(request)
        allowed_here(who)
        scope = search.scope(who)
        rows = hold_rows(who, scope)
        cams = [h.id for h in search.cameras(who, CameraQuery(limit=500))] if can(who, Permission.HOLDS_CREATE) else []
        retention = retention_rows(scope, t) if can(who, Permission.RETENTION_READ) else None
        audit_detail(request, holds=len(rows))
        return page(request, "holds.html", status=status, holds=rows, cams=cams, retention=retention,
                    typed={f: (typed or {}).get(f, "") for f in _FIELDS}, problems=problems or {},
                    released={"id": "", "reason": "", "error": "", **(released or {})},
                    can_create=can(who, Permission.HOLDS_CREATE),
                    placed=request.query_params.get("placed", ""))  # fmt: skip

    @get("/holds", sync_to_thread=True, opt={"permission": Permission.HOLDS_READ.value, "audit": "web.holds"},
         summary="Active legal holds, place and release them; retention policies and plan")  # fmt: skip
    def holds_page(request: Request[Any, Any, Any]) -> Template:
        return render(request)

    @post("/holds", sync_to_thread=True, opt={"permission": Permission.HOLDS_CREATE.value, "audit": "web.holds.create"},
          summary="Place a legal hold (the API's hold service)")  # fmt: skip
    def place(request: Request[Any, Any, Any], data: Form) -> Template | Redirect:
        require_csrf(request, data.get("csrf"))
        who, t = principal_of(request), tr(request)
        typed = {f: (data.get(f) or "").strip() for f in _FIELDS}
        problems: dict[str, str] = {}
        cameras = [c for c in typed["cameras"].replace(",", " ").split() if c]
        bounds: dict[str, int] = {}
        for name in ("start", "end", "expires"):
            if typed[name]:
                try:
                    bounds[name] = wall_us(typed[name], name, zone, t)
                except ValidationError as exc:
                    problems.update(_problems(exc, name, t))
            elif name != "expires":
                problems[name] = t("err.required_time")
        if "start" in bounds and "end" in bounds and bounds["end"] <= bounds["start"]:
            problems["end"] = t("err.end_after_start")
        if not cameras:
            problems["cameras"] = t("err.one_camera")
        for name, limit in (("case_id", 128), ("reason", 1000)):
            try:
                printable(typed[name], name, max_len=limit, allow_empty=False)
            except UserError:
                problems[name] = t("err.printable_max", n=limit)
        for cam in dict.fromkeys(cameras):
            try:
                search.camera(who, cam)
            except NotFoundError:
                problems["cameras"] = t("err.no_camera", camera=repr(cam))
        if not problems:
            try:
                hold, _ = service.create(hold_actor(request, who), case_id=typed["case_id"], reason=typed["reason"],
                                         cameras=cameras, start_us=bounds["start"], end_us=bounds["end"],
                                         expires_us=bounds.get("expires"),
                                         agency=who.agency, owner_id=who.owner_id)  # fmt: skip
            except UserError as exc:
                problems.update(_problems(exc, "form", t))
            else:
                audit_detail(request, hold_id=hold.id, case_id=hold.case_id, cameras=list(hold.cameras))
                return Redirect(f"/ui/holds?placed={hold.id}", status_code=303)
        audit_detail(request, refused=sorted(problems))
        return render(request, status=400, typed=typed, problems=problems)

    @post("/holds/{hold_id:int}/release", sync_to_thread=True,
          opt={"permission": Permission.HOLDS_RELEASE.value, "audit": "web.holds.release"},
          summary="Release a legal hold with a reason (the API's hold service)")  # fmt: skip
    def release(request: Request[Any, Any, Any], hold_id: FromPath[int], data: Form) -> Template | Redirect:
        require_csrf(request, data.get("csrf"))
        who = principal_of(request)
        reason = (data.get("reason") or "").strip()
        before: Hold = service.get(hold_id)
        scope = search.scope(who)
        check_release(who, before, scope, search.owners_of(list(before.cameras)))  # 404 / 403 pages
        problem = ""
        try:
            printable(reason, "reason", allow_empty=False)
            service.release(hold_actor(request, who), hold_id, reason)
        except UserError as exc:
            problem = "; ".join(_problems(exc, "reason", tr(request)).values())
            status = 409 if isinstance(exc, ConflictError) else 400
            audit_detail(request, hold_id=hold_id, refused=problem[:200])
            return render(request, status=status, released={"id": str(hold_id), "reason": reason, "error": problem})
        audit_detail(request, hold_id=hold_id, reason=reason)
        return Redirect("/ui/holds", status_code=303)

    return [holds_page, place, release]
