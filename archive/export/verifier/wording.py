"""Wording for people (EXPORT-SPEC.md 12): custody events as sentences, times in WIB and UTC,
durations in seconds and minutes, the verifier's facts rephrased with holes within the
tolerance summarised once per camera, and how to obtain the key to trust.

Used by the verifier's output and by the package report; needs only the standard library (the
display zone is a fixed offset: Indonesian zones have no daylight saving time, and a package
verified on a machine without a time zone database must read the same).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from .custody import CustodyEvent

__all__ = ["ZONES", "custody_sentence", "duration", "readable_facts", "readable_line", "trust_flags", "trust_paragraph",
           "when"]

ZONES: Mapping[str, tuple[str, int]] = {"Asia/Jakarta": ("WIB", 7), "Asia/Pontianak": ("WIB", 7),
                                        "Asia/Makassar": ("WITA", 8), "Asia/Jayapura": ("WIT", 9)}  # fmt: skip
"""Display zones: label and hours east of UTC."""
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_US = re.compile(r"(-?\d+) us\b")
_HOLE = re.compile(r"^(?P<cam>[^:]+): hole within tolerance: (?P<us>\d+) us from (?P<a>\S+) to (?P<b>\S+) ")
_OVERLAP = re.compile(r"^(?P<cam>[^:]+): seq \d+ starts (?P<us>\d+) us before seq \d+ ends "
                      r"\(overlap within tolerance\)")
_GAP = re.compile(r"^(?P<cam>[^:]+): seq (?P<seq>\d+): gap (?P<a>\S+) - (?P<b>\S+): (?P<reason>[a-z_]+)"
                  r"(?: \((?P<d>.*)\))?$")
REASONS = {
    "camera_unreachable": "the camera could not be reached", "stream_error": "the camera's stream broke",
    "recorder_stopped": "the recorder was stopped", "recorder_crashed": "the recorder ended without a clean stop",
    "store_down": "the storage was unavailable", "spool_full": "the recorder's local spool was full",
    "unreadable_segment": "a recorded file could not be read", "clock_step": "the host clock was stepped",
    "other": "another cause",
}  # fmt: skip


def _parse(t: datetime | str) -> datetime:
    if isinstance(t, datetime):
        return t.astimezone(UTC)
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _clock(t: datetime) -> str:
    ms = f".{t.microsecond // 1000:03d}" if t.microsecond else ""
    return t.strftime("%H:%M:%S") + ms


def _day(t: datetime) -> str:
    return f"{t.day} {t.strftime('%B %Y')}"


def when(t: datetime | str, zone: str = "Asia/Jakarta") -> str:
    """``Friday 14 March 2025, 16:26:50 WIB (09:26:50 UTC)``; the UTC date is added when it
    differs from the local one; milliseconds only when not zero. ``t``: aware datetime or an
    archive time string. Raises ValueError for a string that is not one."""
    u = _parse(t)
    label, hours = ZONES.get(zone, ("UTC", 0))
    if hours == 0:
        return f"{u.strftime('%A')} {_day(u)}, {_clock(u)} UTC"
    loc = u.astimezone(timezone(timedelta(hours=hours)))
    utc = f"{_clock(u)} UTC" if loc.date() == u.date() else f"{_day(u)} {_clock(u)} UTC"
    return f"{loc.strftime('%A')} {_day(loc)}, {_clock(loc)} {label} ({utc})"


def duration(us: int) -> str:
    """``5 s``, ``0.25 s``, ``3 min 20 s``, ``1 h 2 min``."""
    neg, us = us < 0, abs(us)
    if us < 60_000_000:
        s = f"{us / 1e6:.3f}".rstrip("0").rstrip(".")
        text = f"{s} s"
    elif us < 3_600_000_000:
        m, s2 = divmod(round(us / 1e6), 60)
        text = f"{m} min {s2} s" if s2 else f"{m} min"
    else:
        h, m = divmod(round(us / 60e6), 60)
        text = f"{h} h {m} min" if m else f"{h} h"
    return f"-{text}" if neg else text


def _who(e: CustodyEvent) -> str:
    member = f"agency {e.agency}" if e.agency else f"owner {e.owner}" if e.owner else ""
    return f"{e.name} (user {e.actor}, {e.role}{', ' + member if member else ''})"


def _list(values: Any) -> str:
    return ", ".join(str(v) for v in values) if isinstance(values, list | tuple) else str(values)


def _what(e: CustodyEvent, zone: str) -> str:
    d = e.detail
    ev = e.event
    if ev == "requested":
        text = f"requested the export of cameras {_list(d.get('cameras', []))}"
        if d.get("start") and d.get("end"):
            text += f" from {when(str(d['start']), zone)} to {when(str(d['end']), zone)}"
        if d.get("case"):
            text += f" for case {d['case']}"
        return text
    if ev in ("approved", "refused"):
        owners = d.get("owners") or ([d["owner"]] if d.get("owner") else [])
        text = f"{ev} the export" + (f" for owner {_list(owners)}" if owners else "")
        return text + (f" (reason: {d['reason']})" if d.get("reason") else "")
    if ev == "withdrawn":
        return "withdrew the request" + (f" (reason: {d['reason']})" if d.get("reason") else "")
    if ev == "hold_released":
        return f"released legal hold {d.get('legal_hold', '?')}" + (f" ({d['reason']})" if d.get("reason") else "")
    if ev == "build_started":
        return f"started building the package of cameras {_list(d.get('cameras', []))}"
    if ev == "built":
        return (f"built the package {d.get('package', '?')}, sealing {d.get('files', '?')} evidence files "
                f"({d.get('media_bytes', '?')} bytes of video; evidence SHA-256 {d.get('evidence_sha256', '?')})")
    if ev == "build_failed":
        return f"saw the build fail ({d.get('error', 'no reason given')})"
    if ev == "packaged":
        return (f"stored the package file {d.get('file', '?')} ({d.get('size', '?')} bytes, SHA-256 "
                f"{d.get('sha256', '?')})")
    if ev == "downloaded":
        part = "the whole package" if d.get("complete") else f"bytes {d.get('bytes', '?')} of the package"
        return f"downloaded {part}"
    if ev == "verified":
        return "verified the package" + (f": {d['verdict']}" if d.get("verdict") else "")
    return ev


def custody_sentence(e: CustodyEvent, zone: str = "Asia/Jakarta") -> str:
    """One custody event as a sentence: who did what, when (WIB and UTC), from where."""
    try:
        at = when(e.at, zone)
    except ValueError:
        at = e.at
    return f"{_who(e)} {_what(e, zone)} on {at}, from {e.origin}."


def readable_line(text: str, zone: str = "Asia/Jakarta") -> str:
    """``text`` with every archive time in WIB and UTC and every ``N us`` in seconds."""
    return _times(text, zone)


def _times(text: str, zone: str) -> str:
    return _US.sub(lambda m: duration(int(m.group(1))), _TIME.sub(lambda m: when(m.group(0), zone), text))


def readable_facts(facts: Sequence[str], tolerance_us: int, zone: str = "Asia/Jakarta") -> list[str]:
    """The verifier's facts for people: holes and overlaps within the tolerance summarised once per
    camera (count, total, longest, first), gaps as outages with their reason, every time in WIB
    and UTC and every duration in seconds. Other facts keep their words."""
    holes: dict[str, list[tuple[int, str]]] = {}
    overlaps: dict[str, list[int]] = {}
    out: list[str] = []
    order: list[tuple[str, str]] = []
    for f in facts:
        if m := _HOLE.match(f):
            if m["cam"] not in holes:
                order.append(("hole", m["cam"]))
                out.append("")
            holes.setdefault(m["cam"], []).append((int(m["us"]), m["a"]))
        elif m := _OVERLAP.match(f):
            if m["cam"] not in overlaps:
                order.append(("overlap", m["cam"]))
                out.append("")
            overlaps.setdefault(m["cam"], []).append(int(m["us"]))
        elif m := _GAP.match(f):
            a, b = _parse(m["a"]), _parse(m["b"])
            why = REASONS.get(m["reason"], m["reason"])
            detail = f" ({m['d']})" if m["d"] else ""
            out.append(f"{m['cam']}: seq {m['seq']}: an outage from {when(a, zone)} to {when(b, zone)} "
                       f"({duration((b - a) // timedelta(microseconds=1))}), reason {m['reason']}{detail}: "
                       f"{why}.")  # fmt: skip
        else:
            out.append(_times(f, zone))
    slots = [i for i, x in enumerate(out) if x == ""]
    for i, (kind, cam) in zip(slots, order, strict=True):
        tol = duration(tolerance_us)
        if kind == "hole":
            hs = holes[cam]
            out[i] = (f"{cam}: {len(hs)} hole{'s' if len(hs) != 1 else ''} between recordings, each within the "
                      f"tolerance of {tol} (together {duration(sum(h for h, _ in hs))}, the longest "
                      f"{duration(max(h for h, _ in hs))}, first at {when(hs[0][1], zone)}): reported, not "
                      "rejected.")  # fmt: skip
        else:
            os_ = overlaps[cam]
            out[i] = (f"{cam}: {len(os_)} overlap{'s' if len(os_) != 1 else ''} between consecutive recordings, "
                      f"each within the tolerance of {tol} (the longest {duration(max(os_))}): reported, not "
                      "rejected.")  # fmt: skip
    return out


def ongoing_sentence(camera: str, start: datetime | str, until: datetime | str, end: datetime | str, state: str,
                     zone: str = "Asia/Jakarta") -> str:  # fmt: skip
    """The ongoing outage of a camera (EXPORT-SPEC.md 4.1) as a sentence: its log ends at ``start``
    inside the requested range (which ends at ``end``), the outage was still going on at ``until``
    (the build), and no entry vouches for it. Raises ValueError for a time that is not one."""
    a, b, z = _parse(start), _parse(until), _parse(end)
    return (f"{camera}: ongoing outage, not yet logged: the camera's log ends at {when(a, zone)} and the outage was "
            f"still going on when the package was built, {when(b, zone)} (the recorder logs a gap only when it "
            f"ends); {when(a, zone)} to {when(z, zone)} ({duration((z - a) // timedelta(microseconds=1))}) of the "
            f"requested range is not vouched for by the log and not covered. Recorder state: {state.rstrip('.')}.")


def trust_flags(fingerprint: str, log_fingerprints: tuple[str, ...] = ()) -> str:
    """The verifier's trust flags: the export key for the manifest, each camera log key for the
    logs (the export key's own fingerprint again for a package made before separate keys)."""
    logs = [f for f in log_fingerprints if f != fingerprint] or [fingerprint]
    return " ".join([f"--trust export={fingerprint}", *(f"--trust camera={f}" for f in logs)])


def trust_paragraph(archive: str, fingerprint: str, log_fingerprints: tuple[str, ...] = ()) -> str:
    """How to obtain the keys to trust, for the report and README. ``fingerprint``: the export
    key's (it signs the manifest); ``log_fingerprints``: the camera log keys' when they differ."""
    logs = [f for f in log_fingerprints if f != fingerprint]
    flags = trust_flags(fingerprint, log_fingerprints)
    if not logs:
        return (f"This package says it was signed by the archive named {archive} with one key of fingerprint "
                f"{fingerprint} (its manifest and its camera logs). Believe that only after comparing it with the "
                "fingerprints the archive's operator gives you, not from this package (a forger writes the package "
                "too): the operator prints them with 'archive export key' and publishes them; a court or police "
                f"unit keeps its own copy. Then verify with a verifier you trust: python verify_package.py "
                f"PACKAGE.zip {flags} (or 'archive verify package' of your own installation). Each fingerprint is "
                "trusted for one purpose (export: the manifest; camera: the logs). VALID needs the export key; "
                "without it the verdict is UNVERIFIED, also with witness keys.")  # fmt: skip
    return (f"This package says it was signed by the archive named {archive}: its manifest with the export key "
            f"of fingerprint {fingerprint}, its camera logs with the camera log key of fingerprint "
            f"{', '.join(logs)}. Believe that only after comparing them with the fingerprints the archive's "
            "operator gives you, not from this package (a forger writes the package too): the operator prints "
            "both with 'archive export key' and publishes them; a court or police unit keeps its own copy. Then "
            f"verify with a verifier you trust: python verify_package.py PACKAGE.zip {flags} (or 'archive verify "
            "package' of your own installation). Each fingerprint is trusted for one purpose (export: the "
            "manifest; camera: the logs). VALID needs those keys; without the export key the verdict is "
            "UNVERIFIED, also with witness keys.")  # fmt: skip
