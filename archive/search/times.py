"""Times at the edge: ISO 8601 with an explicit offset in, UTC and the city's zone out.

Inside the archive every time is integer microseconds since the Unix epoch, UTC. Output is
fixed-width ISO 8601 with microseconds: UTC as ``2025-03-14T09:00:00.000000Z`` and the
display zone (Asia/Jakarta by default) as ``2025-03-14T16:00:00.000000+07:00``. Formatting
is integer arithmetic plus a per-hour cache of the zone offset (the hot path formats
thousands of times per request).
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archive.errors import ConfigError, Problem, ValidationError

__all__ = ["MAX_US", "MIN_US", "TimeFormatter", "load_zone", "parse_instant"]

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_US = 86_400_000_000
_HOUR_US = 3_600_000_000
MIN_US = 0
MAX_US = int((datetime(2200, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000
"""Accepted instants: 1970-01-01 to 2200-01-01 UTC."""


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``. Raises ConfigError when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {name!r}") from exc


def parse_instant(text: str, where: str) -> int:
    """Microseconds since the epoch of an ISO 8601 date-time WITH offset (``Z`` or ``±HH:MM``).

    Raises:
        ValidationError: not ISO 8601, no offset (a naive time is ambiguous: say ``+07:00``
            for Asia/Jakarta or ``Z`` for UTC), or outside 1970-2200.
    """
    if len(text) > 64:
        raise ValidationError([Problem(where, "not an ISO 8601 date-time (too long)")])
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError([Problem(where, f"{text!r} is not an ISO 8601 date-time such as "
                                              "2025-03-14T16:00:00+07:00")]) from None  # fmt: skip
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValidationError([Problem(where, f"{text!r} has no UTC offset; add one, e.g. +07:00 (WIB) or Z")])
    try:
        delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    except OverflowError:
        raise ValidationError([Problem(where, f"{text!r} is outside 1970-2200")]) from None
    us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if not MIN_US <= us < MAX_US:
        raise ValidationError([Problem(where, f"{text!r} is outside 1970-2200")])
    return us


_HMS = tuple(f"{h:02d}:{m:02d}:{sec:02d}" for h in range(24) for m in range(60) for sec in range(60))
_MICRO = tuple(f".{i:03d}" for i in range(1000))


@functools.lru_cache(maxsize=65536)
def _day(days: int) -> str:
    d = date.fromordinal(_EPOCH_ORDINAL + days)
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}T"


def _civil(us: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffff`` of epoch microseconds (table lookups: the hot path)."""
    days, rest = divmod(us, _DAY_US)
    secs, micro = divmod(rest, 1_000_000)
    ms, sub = divmod(micro, 1000)
    return _day(days) + _HMS[secs] + _MICRO[ms] + _MICRO[sub][1:]


class TimeFormatter:
    """Formats epoch microseconds as UTC and as local time in ``zone``."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.zone_name = zone.key
        self._offset = functools.lru_cache(maxsize=4096)(self._offset_of_hour)

    def _offset_at(self, us: int) -> tuple[int, str]:
        at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
        off = at.astimezone(self.zone).utcoffset() or timedelta(0)
        total = int(off.total_seconds())
        sign = "+" if total >= 0 else "-"
        hh, mm = divmod(abs(total) // 60, 60)
        return total * 1_000_000, f"{sign}{hh:02d}:{mm:02d}"

    def _offset_of_hour(self, hour: int) -> tuple[int, str] | None:
        """The offset valid for the whole UTC hour, or None when it changes inside it."""
        first, last = self._offset_at(hour * _HOUR_US), self._offset_at((hour + 1) * _HOUR_US - 1)
        return first if first == last else None

    def utc(self, us: int) -> str:
        """``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
        return _civil(us) + "Z"

    def local(self, us: int) -> str:
        """``YYYY-MM-DDTHH:MM:SS.ffffff±HH:MM`` in the display zone."""
        found = self._offset(us // _HOUR_US)
        off_us, suffix = found if found is not None else self._offset_at(us)
        return _civil(us + off_us) + suffix
