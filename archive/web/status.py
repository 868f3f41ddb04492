"""The status the pages show for a camera (camera list and map), from the recordings search
(:meth:`~archive.search.service.SearchService.last_recorded`: each camera's newest media end).

``recording``: the newest segment ended at most :data:`RECENT_US` ago; ``no recent segment``:
enabled but nothing that recent (unreachable, failing or not recorded by any node: the pages
cannot tell which); ``reconnecting`` / ``failed``: the running recorder's own state of the camera
(:func:`recorder_states`, from ``<data_dir>/run/status.json``, the snapshot ``archive status``
reads; a stale or missing snapshot says nothing); ``disabled``: disabled by an operator;
``enabled``: the role may not read recordings (auditors), so nothing is said about them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from archive.errors import NotRunningError
from archive.identity.model import Principal
from archive.identity.policy import Permission, allowed
from archive.recorder.status_file import read_status_file
from archive.search.model import CameraHit
from archive.search.service import SearchService
from archive.search.times import TimeFormatter

__all__ = ["RECENT_US", "SHOWN_STATES", "LiveStatus", "RecorderStates", "live_status", "recorder_states"]

RECENT_US = 120_000_000
"""A last segment younger than this (µs): ``recording``."""
NEAR_US = 600_000_000
"""The first window searched for each camera's newest segment (then 24 h for those with none in it)."""
SHOWN_STATES = frozenset({"reconnecting", "failed"})
"""The recorder states (archive.recorder.status.CameraState) the pages show instead of the segments' view."""
RecorderStates = Callable[[], Mapping[str, str]]
"""``states()`` -> {camera id: the running recorder's state}; empty when nothing is known."""


def recorder_states(path: Path) -> dict[str, str]:
    """{camera id: state} of the recorder's snapshot at ``path``; empty when no service publishes
    one or it is stale (older than archive.recorder.status_file.STALE_S). Never raises."""
    try:
        data = read_status_file(path)
    except NotRunningError:
        return {}
    cams = data.get("cameras")
    if data.get("stale") or not isinstance(cams, list):
        return {}
    return {str(c["camera_id"]): str(c.get("state")) for c in cams if isinstance(c, dict) and "camera_id" in c}


@dataclass(frozen=True)
class LiveStatus:
    """One camera's shown status and its last segment's end (display zone and UTC; "" if none)."""

    status: str
    last_local: str
    last_utc: str
    last_ms: int | None


def live_status(search: SearchService, times: TimeFormatter, who: Principal,
                hits: Sequence[CameraHit], states: Mapping[str, str] | None = None) -> list[LiveStatus]:  # fmt: skip
    """The status of each of ``hits`` (same order), from the last 24 h of recordings and the
    recorder's ``states`` (reconnecting, failed win over the segments' view)."""
    last: dict[str, int | None] = {}
    now = time.time_ns() // 1000
    if who.confirmed and allowed(who.role, Permission.RECORDINGS_READ) and hits:
        # the newest segment's end: over the last NEAR_US, then over 24 h for the cameras with
        # nothing that recent (one index probe each: SearchService.last_recorded)
        last = search.last_recorded(who, [h.id for h in hits], now, (NEAR_US, 86_400_000_000))
    out = []
    for h in hits:
        end = last.get(h.id)
        if not h.enabled:
            status = "disabled"
        elif h.id not in last:
            status = "enabled"
        elif (states or {}).get(h.id) in SHOWN_STATES:
            status = str((states or {})[h.id])
        elif end is not None and now - end <= RECENT_US:
            status = "recording"
        else:
            status = "no recent segment"
        out.append(LiveStatus(status, times.local(end)[:19].replace("T", " ") if end else "",
                              times.utc(end) if end else "", end // 1000 if end else None))  # fmt: skip
    return out
