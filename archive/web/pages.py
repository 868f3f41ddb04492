"""Login, logout, the language choice (``POST /ui/language``, :mod:`.i18n`) and the camera list.

Login takes one of the user's API tokens (the identity service has tokens, no passwords): a
wrong one is audited ``auth.failed`` and counted by the API's failed-authentication throttle
(the same per-address limit as a bad bearer token); a good one is audited ``web.login`` and
starts a session (cookie ``HttpOnly; SameSite=Strict; Path=/ui``, ``Secure`` over TLS).
The login form is protected by a double-submit CSRF cookie, every later form by the session's
token. Raises nothing: refusals are pages (archive.web.gate).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import anyio.to_thread
from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body, QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from archive.api.context import context_of
from archive.api.deps import ApiDeps
from archive.api.gate import THROTTLED
from archive.api.throttle import FailedAuthThrottle
from archive.errors import ERRORS, Problem, UnauthenticatedError, ValidationError
from archive.identity.policy import Permission
from archive.search.model import CameraQuery

from .gate import cookie, require_csrf, session_of
from .i18n import LanguageChoices
from .render import can, page, tr
from .sessions import COOKIE, LOGIN_COOKIE, SessionStore, same_token
from .status import RecorderStates, live_status

__all__ = ["routes"]

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
Query = Annotated[str | None, QueryParameter(max_length=200)]


def _secure(request: Request[Any, Any, Any]) -> bool:
    return request.scope.get("scheme") == "https"


def _login_form(request: Request[Any, Any, Any], *, status: int = 200, error: str = "") -> Template:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", status=status, login_csrf=token, error=error)
    response.cookies.append(Cookie(key=LOGIN_COOKIE, value=token, path="/ui/login", httponly=True,
                                   samesite="strict", secure=_secure(request), max_age=1800))  # fmt: skip
    return response


def routes(deps: ApiDeps, throttle: FailedAuthThrottle, sessions: SessionStore,
           languages: LanguageChoices, states: RecorderStates) -> list[HTTPRouteHandler]:  # fmt: skip
    """The login, logout, language and camera handlers; ``states``: the recorder's camera states."""
    identity, search, times = deps.identity, deps.search, deps.settings.times

    @get("/login", opt={"public": True}, summary="Login form")
    async def login_form(request: Request[Any, Any, Any]) -> Template:
        return _login_form(request)

    @post("/login", opt={"public": True, "audit": "web.login"}, summary="Log in with an API token")
    async def login(request: Request[Any, Any, Any], data: Form) -> Template | Redirect:
        ctx = context_of(request)
        if not same_token(data.get("csrf"), cookie(request.scope, LOGIN_COOKIE)):
            ctx.error = "login form without its CSRF token"
            return _login_form(request, status=403, error=tr(request)("login.expired_form"))
        blocked = throttle.check(ctx.client_ip)
        if blocked is not None:
            ctx.throttled = THROTTLED if blocked.first else ""
            ctx.detail.update(failures=blocked.failures, retry_after_s=blocked.retry_after_s)
            wait = blocked.retry_after_s
            return _login_form(request, status=429, error=tr(request)("login.throttled", s=wait))
        token = (data.get("token") or "").strip()
        try:
            if not token:
                raise UnauthenticatedError("no token given")
            who = await anyio.to_thread.run_sync(identity.authenticate, token)
            if not who.confirmed:
                ctx.error = f"user {who.user_id} is pending confirmation"
                return _login_form(request, status=403, error=tr(request)("login.pending", user=who.user_id))
        except UnauthenticatedError as exc:
            ctx.auth_failure = str(exc)
            throttle.failed(ctx.client_ip)
            return _login_form(request, status=401, error=tr(request)("login.bad_token"))
        except ERRORS as exc:
            ctx.error = str(exc)
            return _login_form(request, status=403, error=tr(request)("err.refused", detail=str(exc)))
        ctx.principal = who
        await anyio.to_thread.run_sync(languages.load, who.user_id)
        sid, _ = sessions.create(token, who.user_id)
        out = Redirect("/ui/cameras", status_code=303)
        out.cookies.append(Cookie(key=COOKIE, value=sid, path="/ui", httponly=True, samesite="strict",
                                  secure=_secure(request)))  # fmt: skip
        out.cookies.append(Cookie(key=LOGIN_COOKIE, value="", path="/ui/login", max_age=0, httponly=True,
                                  samesite="strict"))  # fmt: skip
        return out

    @post("/logout", opt={"permission": Permission.ME.value, "audit": "web.logout"}, summary="Log out")
    async def logout(request: Request[Any, Any, Any], data: Form) -> Template | Redirect:
        require_csrf(request, data.get("csrf"))
        sessions.drop(cookie(request.scope, COOKIE))
        out = Redirect("/ui/login", status_code=303)
        out.cookies.append(Cookie(key=COOKIE, value="", path="/ui", max_age=0, httponly=True, samesite="strict"))
        return out

    @post("/language", opt={"permission": Permission.ME.value, "audit": "web.language"},
          summary="Choose the pages' language (id, en) for this user")  # fmt: skip
    async def language(request: Request[Any, Any, Any], data: Form) -> Redirect:
        require_csrf(request, data.get("csrf"))
        session = session_of(request)
        assert session is not None  # require_csrf refused a request without one
        try:
            await anyio.to_thread.run_sync(languages.choose, session.user_id, data.get("lang", ""))
        except ValueError as exc:
            raise ValidationError([Problem("lang", str(exc))]) from exc
        context_of(request).detail.update(lang=data.get("lang"))
        back = data.get("back", "")
        return Redirect(back if back.startswith("/ui/") and "//" not in back else "/ui/cameras", status_code=303)

    @get("/cameras", sync_to_thread=True, opt={"permission": Permission.CAMERAS_READ.value, "audit": "web.cameras"},
         summary="Cameras with status and last segment; text search")  # fmt: skip
    def cameras(request: HTMXRequest, q: Query = None) -> Template:
        who = context_of(request).principal
        assert who is not None
        text = (q or "").strip() or None
        hits = search.cameras(who, CameraQuery(text=text, limit=500))
        rows = [{"camera": h, "status": st.status, "last_local": st.last_local, "last_utc": st.last_utc}
                for h, st in zip(hits, live_status(search, times, who, hits, states()), strict=True)]  # fmt: skip
        context_of(request).detail.update(found=len(hits))
        name = "camera_rows.html" if request.htmx else "cameras.html"
        return page(request, name, rows=rows, q=text or "", show_last=can(who, Permission.RECORDINGS_READ))

    return [login_form, login, logout, language, cameras]
