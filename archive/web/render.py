"""What every page template gets: the user, what their role may do, the session's CSRF token and
the display zone (``[api] display_timezone``, default Asia/Jakarta) with its abbreviation from
zoneinfo (WIB for Asia/Jakarta, WITA for Asia/Makassar): ``zone``, ``zone_abbr`` (now, or at the
instant a page passes), the user's language (``lang``, ``t(key, **values)`` and ``has(key)`` from
:mod:`.i18n`, ``js_catalog``: the messages our ES modules use) and, for
pages that format instants in the browser, ``zone_abbrs`` (:func:`zone_abbrs` as JSON: the
abbreviation per UTC offset in minutes)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request
from litestar.response import Template

from archive.api.context import context_of
from archive.api.errors import problem
from archive.api.params import instant
from archive.errors import Problem, ValidationError
from archive.identity.model import Principal
from archive.identity.policy import Permission, allowed

from .gate import LANG_KEY, error_page, session_of
from .i18n import CATALOG, DEFAULT, LANGUAGES, Translate, browser_messages, translator

__all__ = ["HOLDS_OPT", "VERIFY_OPT", "ZONE_OPT", "can", "lang_of", "page", "page_error", "tr", "wall_us", "zone_abbr",
           "zone_abbrs"]

VERIFY_OPT = "ui_verify"
"""Router option: True when the Verify and Exports pages are served (the API has exports)."""
HOLDS_OPT = "ui_holds"
"""Router option: True when the Holds page is served (the API has a hold service)."""
ZONE_OPT = "ui_zone"
"""Router option: the IANA name of the display zone (the API's ``settings.display_timezone``)."""


def zone_abbr(zone: ZoneInfo, us: int) -> str:
    """The zone's abbreviation at epoch µs ``us`` from zoneinfo (``WIB``; the key if it has none)."""
    return datetime.fromtimestamp(us / 1_000_000, zone).tzname() or zone.key


def zone_abbrs(zone: ZoneInfo, *instants_us: int) -> dict[str, str]:
    """``{UTC offset in minutes: abbreviation}`` at each instant (a day's first and last µs give
    every offset of that day: zones change offset at most once a day)."""
    out: dict[str, str] = {}
    for us in instants_us:
        at = datetime.fromtimestamp(us / 1_000_000, zone)
        offset = at.utcoffset()
        out[str(int(offset.total_seconds()) // 60 if offset else 0)] = at.tzname() or zone.key
    return out


def wall_us(text: str, where: str, zone: ZoneInfo, t: Translate | None = None) -> int:
    """Epoch µs of ``text``: ISO 8601 with an offset, or a wall-clock time read in ``zone`` (the
    pages' datetime-local fields, ``2025-03-14T16:00``). Raises ValidationError naming ``where``
    (its message in ``t``'s language when given)."""
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        naive = None
    if naive is not None and naive.tzinfo is None:
        return int(naive.replace(tzinfo=zone).timestamp() * 1_000_000)
    try:
        return instant(text, where)
    except ValidationError:
        if t is None:
            raise
        raise ValidationError([Problem(where, t("err.time"))]) from None


def lang_of(request: Request[Any, Any, Any]) -> str:
    """The language of the request's user (the default without a session)."""
    return str(request.scope.get(LANG_KEY) or DEFAULT)


def tr(request: Request[Any, Any, Any]) -> Translate:
    """``t(key, **values)`` in the language of the request's user (:mod:`.i18n`)."""
    return translator(lang_of(request))


def can(who: Principal | None, permission: Permission) -> bool:
    """True when ``who`` (confirmed) holds ``permission``."""
    return who is not None and who.confirmed and allowed(who.role, permission)


def page(request: Request[Any, Any, Any], name: str, *, status: int = 200, **values: Any) -> Template:
    """The template ``name`` with the common context plus ``values``."""
    who = context_of(request).principal
    session = session_of(request)
    zone = ZoneInfo(str(request.route_handler.opt.get(ZONE_OPT) or "Asia/Jakarta"))
    now = time.time_ns() // 1000
    lang = lang_of(request)
    context = {"who": who, "csrf": session.csrf if session else "", "zone": zone.key, "lang": lang,
               "t": translator(lang), "has": CATALOG.__contains__, "js_catalog": browser_messages(lang),
               "languages": LANGUAGES, "here": request.url.path,
               "zone_abbr": zone_abbr(zone, now), "zone_abbrs": json.dumps(zone_abbrs(zone, now)),
               "can_play": can(who, Permission.PLAYBACK), "can_recordings": can(who, Permission.RECORDINGS_READ),
               "can_verify": can(who, Permission.VERIFY) and bool(request.route_handler.opt.get(VERIFY_OPT)),
               "can_exports": can(who, Permission.EXPORTS_READ) and bool(request.route_handler.opt.get(VERIFY_OPT)),
               "can_audit": can(who, Permission.AUDIT_READ),
               "can_request_export": can(who, Permission.EXPORTS_REQUEST)
               and bool(request.route_handler.opt.get(VERIFY_OPT)),
               "can_holds": (can(who, Permission.HOLDS_CREATE) or can(who, Permission.HOLDS_RELEASE))
               and bool(request.route_handler.opt.get(HOLDS_OPT)),
               **values}  # fmt: skip
    return Template(template_name=name, context=context, status_code=status)


def page_error(request: Request[Any, Any, Any], exc: Exception) -> Any:
    """Router exception handler: the API's status and message, as an HTML page."""
    status, body = problem(exc)
    context_of(request).error = str(body["message"])[:500]
    return error_page(status, str(body["message"]), lang_of(request))
