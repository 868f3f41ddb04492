"""Plain-data and text views of plans, runs and holds (for the CLI and, later, the API)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from archive.model import utc_from_us
from archive.retention.holds import Hold
from archive.retention.planner import CameraPlan
from archive.retention.service import Preview, RunReport, summary


def iso(us: int | None) -> str:
    """Microseconds -> ``YYYY-MM-DDTHH:MM:SSZ`` ("-" for None)."""
    return "-" if us is None else utc_from_us(us).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB'."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _camera(c: CameraPlan) -> dict[str, Any]:
    return {
        "camera": c.camera_id, "owner": c.owner_id, "count": c.count, "bytes": c.bytes,
        "oldest": iso(min((s.oldest_start_us for s in c.selections), default=None)),
        "newest": iso(max((s.newest_end_us for s in c.selections), default=None)),
        "held_count": c.held_count, "held_bytes": c.held_bytes,
        "rules": [{"rule": s.rule, "count": s.count, "bytes": s.bytes, "early": s.early, "pressure": s.pressure}
                  for s in c.selections],
    }  # fmt: skip


def preview_data(p: Preview) -> dict[str, Any]:
    """A JSON-able plan: per owner and camera (count, bytes, oldest, newest), changes, pressure."""
    owners: dict[str, dict[str, Any]] = {}
    for c in p.plan.cameras:
        o = owners.setdefault(c.owner_id, {"owner": c.owner_id, "count": 0, "bytes": 0, "held_count": 0,
                                           "oldest": None, "newest": None, "cameras": []})  # fmt: skip
        cam = _camera(c)
        o["cameras"].append(cam)
        o["count"] += c.count
        o["bytes"] += c.bytes
        o["held_count"] += c.held_count
        if c.count:
            o["oldest"] = min(filter(None, (o["oldest"], cam["oldest"])))
            o["newest"] = max(filter(None, (o["newest"], cam["newest"])))
    pr = p.plan.pressure
    return {
        "at": iso(p.now_us), "policies": p.policies.directory, "policy_digest": p.policies.digest,
        "count": p.plan.count, "bytes": p.plan.bytes, "owners": list(owners.values()),
        "changes": [{"camera": ch.camera_id, "owner": ch.owner_id, "kind": ch.kind.value, "old_rule": ch.old_rule,
                     "new_rule": ch.new_rule} for ch in p.changes],
        "pending_shortenings": list(p.pending_shortenings), "unmanaged": list(p.unmanaged),
        "usage": None if p.usage is None else {"used": p.usage.used_bytes, "capacity": p.usage.capacity_bytes,
                                                "source": p.usage.source},
        "usage_error": p.usage_error,
        "pressure": None if pr is None else {"level": pr.level.value, "need": pr.need_bytes,
                                             "freed_early": pr.freed_early_bytes, "blocked": pr.blocked},
    }  # fmt: skip


def _changes(p: Preview) -> Iterator[str]:
    """Policy changes grouped per owner, kind and rules."""
    grouped: dict[tuple[str, str, str, str], list[str]] = {}
    for ch in p.changes:
        grouped.setdefault((ch.owner_id, ch.kind.value, ch.old_rule, ch.new_rule), []).append(ch.camera_id)
    for (owner, kind, old, new), cams in grouped.items():
        which = cams[0] if len(cams) == 1 else f"{len(cams)} cameras"
        yield f"{owner} ({which}) {kind}: {old} -> {new}"


def preview_lines(p: Preview, *, cameras: bool = True) -> Iterator[str]:
    """The plan as text (``archive retention plan``)."""
    d = preview_data(p)
    yield f"retention plan at {d['at']} (policies {d['policies']}, digest {d['policy_digest'][:12]})"
    if p.usage is not None:
        level = d["pressure"]["level"] if d["pressure"] else "ok"
        yield (f"storage: {human_bytes(p.usage.used_bytes)} of {human_bytes(p.usage.capacity_bytes)} used "
               f"({p.usage.fraction:.1%}, {p.usage.source}): {level}")  # fmt: skip
        if d["pressure"] and d["pressure"]["need"]:
            yield (f"  early deletion under storage pressure: {human_bytes(d['pressure']['freed_early'])} of "
                   f"{human_bytes(d['pressure']['need'])} needed" + (f"; {d['pressure']['blocked']}"
                                                                     if d["pressure"]["blocked"] else ""))  # fmt: skip
    elif p.usage_error:
        yield f"storage: usage unknown ({p.usage_error})"
    else:
        yield "storage: no [storage] capacity_bytes configured, so no storage pressure and no early deletion"
    for line in _changes(p):
        yield f"policy change on run: {line}"
    if p.pending_shortenings:
        yield (f"pending shortening (older footage kept longer until an admin runs 'archive retention run "
               f"--confirm'): {', '.join(p.pending_shortenings)}")  # fmt: skip
    yield f"{'owner / camera':<28} {'segments':>10} {'bytes':>11}  {'oldest':<20}  {'newest':<20}  held"
    for o in d["owners"]:
        yield (f"{o['owner']:<28} {o['count']:>10,} {human_bytes(o['bytes']):>11}  {o['oldest'] or '-':<20}  "
               f"{o['newest'] or '-':<20}  {o['held_count']:,}")  # fmt: skip
        if not cameras:
            continue
        for c in o["cameras"]:
            rules = ", ".join(r["rule"] + (" [early]" if r["early"] else "") for r in c["rules"])
            yield (f"  {c['camera']:<26} {c['count']:>10,} {human_bytes(c['bytes']):>11}  {c['oldest']:<20}  "
                   f"{c['newest']:<20}  {c['held_count']:,}  {rules}")  # fmt: skip
    if p.unmanaged:
        yield f"unmanaged cameras (not in the registry; never deleted): {', '.join(p.unmanaged)}"
    yield f"total: {p.plan.count:,} segments, {human_bytes(p.plan.bytes)} would be deleted"


def run_lines(r: RunReport) -> Iterator[str]:
    """A run as text (``archive retention run``)."""
    s = summary(r)
    yield (f"retention run {r.run_id}: {s['status']}; deleted {s['deleted']:,} of {s['planned']:,} planned "
           f"({human_bytes(s['bytes'])}), {s['failed']:,} failed, {s['held_skipped']:,} skipped (held)")  # fmt: skip
    for owner, o in sorted(s["owners"].items()):
        yield f"  {owner:<26} deleted {o['deleted']:>10,} {human_bytes(o['bytes']):>11}  failed {o['failed']:,}"
    for line in _changes(r.preview):
        yield f"  policy applied: {line}"
    h = s["holds"]
    yield (f"  legal holds: {h['on']} versions held, {h['off']} released, {len(h['expired'])} holds expired, "
           f"{h['missing']} missing, {h['failed']} failed")  # fmt: skip
    e = s["extension"]
    if e["extended"] or e["failed"] or e["pending"]:
        yield f"  locks extended: {e['extended']:,}, failed {e['failed']}, pending: {', '.join(e['pending']) or '-'}"
    for f in r.execution.failures[:20]:
        yield f"  FAILED {f.camera_id} seq {f.seq} ({f.kind}): {f.message}"
    if r.execution.aborted:
        yield f"  STOPPED: {r.execution.aborted}"
    for a in r.alarms:
        yield f"  ALARM: {a}"


def hold_data(h: Hold, now_us: int) -> dict[str, Any]:
    """A JSON-able hold."""
    return {
        "id": h.id, "case": h.case_id, "reason": h.reason, "cameras": list(h.cameras), "from": iso(h.start_us),
        "to": iso(h.end_us), "expires": iso(h.expires_us) if h.expires_us is not None else "indefinite",
        "active": h.active(now_us), "created_by": h.created_by, "created_role": h.created_role,
        "created": iso(h.created_us), "released_by": h.released_by, "released": iso(h.released_us),
        "release_reason": h.release_reason, "agency": h.agency, "owner": h.owner_id,
    }  # fmt: skip


def hold_line(h: Hold, now_us: int) -> str:
    """One hold as a line."""
    state = "active" if h.active(now_us) else f"released {iso(h.released_us)} by {h.released_by}"
    expires = iso(h.expires_us) if h.expires_us is not None else "indefinite"
    return (f"{h.id:>5}  case {h.case_id:<18} {iso(h.start_us)} .. {iso(h.end_us)}  expires {expires:<20}  "
            f"{state}  by {h.created_by} ({h.created_role}, agency {h.agency or '-'})  "
            f"cameras: {', '.join(h.cameras)}")  # fmt: skip

