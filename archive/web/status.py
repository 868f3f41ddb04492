"""The status the pages show for a camera (camera list and map), from the recordings search.

``recording``: the newest segment ended at most :data:`RECENT_US` ago; ``no recent segment``:
enabled but nothing that recent (unreachable, failing or not recorded by any node: the pages
cannot tell which); ``disabled``: disabled by an operator; ``enabled``: the role may not read
recordings (auditors), so nothing is said about them. The recorder's own live state
(reconnecting, failed) is not reachable from the pages (``archive status`` shows it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from archive.identity.model import Principal
from archive.identity.policy import Permission, allowed
from archive.search.model import CameraHit
from archive.search.service import SearchService
from archive.search.times import TimeFormatter

__all__ = ["RECENT_US", "LiveStatus", "live_status"]

RECENT_US = 120_000_000
"""A last segment younger than this (µs): ``recording``."""


@dataclass(frozen=True)
class LiveStatus:
    """One camera's shown status and its last segment's end (display zone and UTC; "" if none)."""

    status: str
    last_local: str
    last_utc: str
    last_ms: int | None


def live_status(search: SearchService, times: TimeFormatter, who: Principal,
                hits: Sequence[CameraHit]) -> list[LiveStatus]:  # fmt: skip
    """The status of each of ``hits`` (same order), from the last 24 h of recordings."""
    last: dict[str, int | None] = {}
    now = time.time_ns() // 1000
    if who.confirmed and allowed(who.role, Permission.RECORDINGS_READ) and hits:
        ids = [h.id for h in hits]
        step = search.limits.max_cameras
        for i in range(0, len(ids), step):
            got = search.recordings(who, ids[i : i + step], now - 86_400_000_000, now, limit=1)
            last.update({c.camera_id: (c.covered[-1].end_us if c.covered else None) for c in got.coverage})
    out = []
    for h in hits:
        end = last.get(h.id)
        if not h.enabled:
            status = "disabled"
        elif h.id not in last:
            status = "enabled"
        elif end is not None and now - end <= RECENT_US:
            status = "recording"
        else:
            status = "no recent segment"
        out.append(LiveStatus(status, times.local(end)[:19].replace("T", " ") if end else "",
                              times.utc(end) if end else "", end // 1000 if end else None))  # fmt: skip
    return out
