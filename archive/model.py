"""Frozen domain values shared by every layer. No I/O, no third-party imports."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime


class OwnerKind(enum.StrEnum):
    """Who a camera owner is: it decides defaults such as export approval."""

    GOVERNMENT = "government"
    PRIVATE = "private"


@dataclass(frozen=True)
class Owner:
    """A camera owner: the transport office, a city office, a mall."""

    id: str
    name: str
    kind: OwnerKind
    agencies: tuple[str, ...] = ()
    """Agencies (e.g. ``police``) this owner shares its cameras with."""


@dataclass(frozen=True)
class Camera:
    """A registered camera. ``stream_url`` never carries the password."""

    id: str
    name: str
    owner_id: str
    stream_url: str
    latitude: float
    longitude: float
    location: str
    tags: tuple[str, ...] = ()
    enabled: bool = True
    username: str | None = None
    has_password: bool = False
    removed: bool = False
    """Taken out of service by ``archive cameras remove`` (and disabled); its evidence stays."""


@dataclass(frozen=True)
class CameraCredentials:
    """The secret half of a camera: only ever held in memory, decrypted on demand."""

    camera_id: str
    password: str

    def __repr__(self) -> str:
        return f"CameraCredentials(camera_id={self.camera_id!r}, password='***')"


def utc_from_us(us: int) -> datetime:
    """Microseconds since the Unix epoch -> aware UTC datetime."""
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC).replace(microsecond=us % 1_000_000)


def us_from_utc(dt: datetime) -> int:
    """Aware datetime -> microseconds since the Unix epoch. Raises ValueError on naive input."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: every time in the archive is timezone-aware")
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


RECORDED_SCHEMES = ("rtsp", "rtsps")
"""The stream URL schemes the recorder records (import refuses others; ``archive up`` skips an
older camera with another one and reports it)."""


def unrecorded_scheme(url: str) -> str | None:
    """Why a camera with ``url`` is not recorded (its scheme is not RTSP), or None when it is."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in RECORDED_SCHEMES:
        return None
    return f"its stream URL scheme {scheme or '(none)'!r} is not recorded (RTSP only: rtsp:// or rtsps://)"
