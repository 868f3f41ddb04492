"""Validate raw registry records into frozen owners and cameras; every problem names file:line."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from archive.errors import Problem, ValidationError
from archive.model import RECORDED_SCHEMES, Camera, Owner, OwnerKind
from archive.redact import scrub
from archive.registry.parse import Located, RawFile, RawRecord

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
ALLOWED_SCHEMES = RECORDED_SCHEMES
OWNER_FIELDS = {"id", "name", "kind", "agencies"}
CAMERA_REQUIRED = ("id", "name", "owner", "stream_url", "latitude", "longitude", "location")
CAMERA_FIELDS = {*CAMERA_REQUIRED, "tags", "enabled", "username", "password"}


@dataclass(frozen=True)
class CameraInput:
    """A validated camera and its password (None when it has none)."""

    camera: Camera
    password: str | None
    line: int

    def __repr__(self) -> str:
        return f"CameraInput(camera={self.camera!r}, password={'***' if self.password else None}, line={self.line})"


@dataclass(frozen=True)
class RegistryInput:
    """A validated registry file."""

    path: str
    owners: tuple[Owner, ...]
    cameras: tuple[CameraInput, ...]


class _Checker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(f"{self.path}:{line}", message))

    def fields(self, rec: RawRecord, allowed: set[str], required: Iterable[str], what: str) -> bool:
        ok = True
        for name in sorted(set(rec.fields) - allowed):
            self.add(rec.fields[name].line, f"unknown field '{name}' in {what} (allowed: {', '.join(sorted(allowed))})")
            ok = False
        for name in required:
            if name not in rec.fields or rec.fields[name].value in (None, ""):
                self.add(rec.line, f"{what} is missing required field '{name}'")
                ok = False
        return ok

    def text(self, loc: Located, name: str, limit: int = 200) -> str | None:
        if not isinstance(loc.value, str) or not loc.value.strip():
            self.add(loc.line, f"{name} must be non-empty text")
            return None
        if len(loc.value) > limit:
            self.add(loc.line, f"{name} is longer than {limit} characters")
            return None
        return loc.value.strip()

    def ident(self, loc: Located, name: str) -> str | None:
        value = loc.value if isinstance(loc.value, str) else str(loc.value)
        if not ID_PATTERN.match(value):
            self.add(loc.line, f"{name} {value!r} must be 1-64 of a-z, 0-9, '-', '_' (starting with a letter or digit)")
            return None
        return value

    def coordinate(self, loc: Located, name: str, bound: float) -> float | None:
        v = loc.value
        if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
            self.add(loc.line, f"{name} must be a number, got {v!r}")
            return None
        if not -bound <= float(v) <= bound:
            self.add(loc.line, f"{name} {v} is out of range (-{bound:g} to {bound:g})")
            return None
        return float(v)

    def string_list(self, loc: Located, name: str) -> tuple[str, ...] | None:
        v = loc.value
        if not isinstance(v, list) or not all(isinstance(t, str) and t.strip() for t in v):
            self.add(loc.line, f"{name} must be a list of non-empty text")
            return None
        return tuple(dict.fromkeys(t.strip() for t in v))


_DELIMS = "/?#"
_AMBIGUOUS = ("stream_url has '/', '?' or '#' before its last '@' and it cannot be told whether they belong "
              "to a password or to the path: percent-encode them in the password (%2F, %3F, %23) or give the "
              "password in the 'password' field")  # fmt: skip


def _userinfo_split(url: str) -> tuple[str, str | None] | None:
    """``(url without userinfo, raw userinfo)`` when a password holds raw ``/ ? #`` (RFC 3986 3.2.1
    says encode them; people do not), else None. Raises ValueError(_AMBIGUOUS) when the text before
    the last ``@`` might as well be ``host:port/path`` (a path holding ``@``)."""
    scheme, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if not sep or at < 0 or not any(c in rest[:at] for c in _DELIMS):
        return None
    userinfo = rest[:at]
    user, colon, password = userinfo.partition(":")
    if any(c in user for c in _DELIMS):
        return None  # "host/path@x": no userinfo at all, urlsplit reads it right
    first = min((password.find(c) for c in _DELIMS if c in password), default=len(password))
    if not colon or password[:first].isdigit():
        raise ValueError(_AMBIGUOUS)  # "host:554/live@main" or "user/x@host"
    return f"{scheme}://{rest[at + 1:]}", userinfo


def split_stream_url(url: str) -> tuple[str, str | None, str | None]:
    """Split credentials out of a stream URL: (url without userinfo, username, password).

    A password may hold raw ``@ : / ? #``: the userinfo ends at the last ``@``. Raises ValueError
    (its message never quotes the URL) when that is ambiguous or the URL is malformed.
    """
    raw = _userinfo_split(url)
    rest, userinfo = raw if raw is not None else (url, None)
    parts = urlsplit(rest)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    if ":" in (parts.hostname or ""):
        host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port is not None else "")
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    if userinfo is not None:
        user_raw, _, password_raw = userinfo.partition(":")
        return bare, unquote(user_raw) or None, unquote(password_raw)
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return bare, user, password


def _stream_url(chk: _Checker, loc: Located) -> tuple[str, str | None, str | None] | None:
    raw = loc.value
    if not isinstance(raw, str) or not raw.strip():
        chk.add(loc.line, "stream_url must be non-empty text")
        return None
    text = raw.strip()
    has_userinfo = "@" in text.partition("://")[2]
    try:
        raw_split = _userinfo_split(text)
        parts = urlsplit(raw_split[0] if raw_split else text)
        _ = parts.port
    except ValueError as exc:
        if str(exc) == _AMBIGUOUS:
            chk.add(loc.line, _AMBIGUOUS)
        else:  # urlsplit's messages quote the netloc, password included: never echo them then
            why = "its host or port cannot be read" if has_userinfo else scrub(str(exc))
            chk.add(loc.line, f"stream_url is not a valid URL ({why})")
        return None
    if parts.scheme.lower() in ("http", "https"):
        chk.add(loc.line, f"stream_url scheme {parts.scheme.lower()!r} is not recorded: the recorder records "
                          "RTSP only (rtsp:// or rtsps://)")
        return None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        chk.add(loc.line, f"stream_url scheme {parts.scheme or '(none)'!r} is not allowed "
                          f"(allowed: {', '.join(ALLOWED_SCHEMES)})")
        return None
    if not parts.hostname:
        chk.add(loc.line, "stream_url has no host")
        return None
    if any(c.isspace() for c in text):
        chk.add(loc.line, "stream_url must not contain spaces")
        return None
    return split_stream_url(text)


def _owner(chk: _Checker, rec: RawRecord) -> Owner | None:
    if not chk.fields(rec, OWNER_FIELDS, ("id", "name", "kind"), "owner"):
        return None
    f = rec.fields
    oid, name = chk.ident(f["id"], "owner id"), chk.text(f["name"], "name")
    kind_raw = f["kind"].value
    kind = OwnerKind(kind_raw) if kind_raw in {k.value for k in OwnerKind} else None
    if kind is None:
        chk.add(f["kind"].line, f"kind must be one of {', '.join(k.value for k in OwnerKind)}, got {kind_raw!r}")
    agencies = chk.string_list(f["agencies"], "agencies") if "agencies" in f else ()
    if oid is None or name is None or kind is None or agencies is None:
        return None
    bad = [a for a in agencies if not ID_PATTERN.match(a)]
    if bad:
        chk.add(f["agencies"].line, f"agency ids must be lowercase identifiers: {', '.join(bad)}")
        return None
    return Owner(oid, name, kind, agencies)


def _camera(chk: _Checker, rec: RawRecord, known_owners: Callable[[str], bool]) -> CameraInput | None:
    if not chk.fields(rec, CAMERA_FIELDS, CAMERA_REQUIRED, "camera"):
        return None
    f = rec.fields
    cid = chk.ident(f["id"], "camera id")
    name = chk.text(f["name"], "name")
    owner = chk.ident(f["owner"], "owner")
    if owner is not None and not known_owners(owner):
        chk.add(f["owner"].line, f"unknown owner {owner!r} (define it under 'owners' or import it first)")
        owner = None
    url = _stream_url(chk, f["stream_url"])
    lat = chk.coordinate(f["latitude"], "latitude", 90)
    lon = chk.coordinate(f["longitude"], "longitude", 180)
    location = chk.text(f["location"], "location", 500)
    tags = chk.string_list(f["tags"], "tags") if "tags" in f else ()
    enabled: Any = f["enabled"].value if "enabled" in f else True
    if not isinstance(enabled, bool):
        chk.add(f["enabled"].line, f"enabled must be true or false, got {enabled!r}")
        enabled = None
    username = chk.text(f["username"], "username") if "username" in f else None
    password: str | None = None
    if "password" in f:
        if not isinstance(f["password"].value, str) or not f["password"].value:
            chk.add(f["password"].line, "password must be non-empty text")
            return None
        password = f["password"].value
    if None in (cid, name, owner, url, lat, lon, location, tags, enabled):
        return None
    assert url is not None and cid and name and owner and location and tags is not None
    bare, url_user, url_password = url
    if url_password is not None and password is not None:
        chk.add(f["password"].line, "password given both in stream_url and in 'password': keep one")
        return None
    if url_user and username and url_user != username:
        chk.add(f["username"].line, "username differs from the one inside stream_url")
        return None
    password = password if password is not None else url_password
    cam = Camera(cid, name, owner, bare, float(lat or 0.0), float(lon or 0.0), location, tags, bool(enabled),
                 username or url_user, password is not None)
    return CameraInput(cam, password, rec.line)


def validate_registry(raw: RawFile, existing_owner_ids: Iterable[str]) -> RegistryInput:
    """Check every record; raise ValidationError listing every problem, or return frozen values."""
    chk = _Checker(raw.path)
    owners: dict[str, Owner] = {}
    for rec in raw.owners:
        owner = _owner(chk, rec)
        if owner is not None:
            if owner.id in owners:
                chk.add(rec.line, f"duplicate owner id {owner.id!r}")
            owners[owner.id] = owner
    known = set(existing_owner_ids) | {r.fields["id"].value for r in raw.owners if "id" in r.fields}
    cameras: dict[str, CameraInput] = {}
    for rec in raw.cameras:
        cam = _camera(chk, rec, known.__contains__)
        if cam is not None:
            if cam.camera.id in cameras:
                first = cameras[cam.camera.id].line
                chk.add(rec.line, f"duplicate camera id {cam.camera.id!r} (first at line {first})")
                continue
            cameras[cam.camera.id] = cam
    if not raw.owners and not raw.cameras:
        chk.add(1, "no owners and no cameras in file")
    if chk.problems:
        raise ValidationError(chk.problems)
    return RegistryInput(raw.path, tuple(owners.values()), tuple(cameras.values()))


def field_map(values: Mapping[str, Any]) -> dict[str, Located]:
    """Build located fields from plain values (line 0): for records that come from an API, not a file."""
    return {k: Located(v, 0) for k, v in values.items()}
