"""The package manifest (``manifest.json``) and its signature (``manifest.json.sig``).

The manifest is JSON (sorted keys, indented for people, integers and strings only) naming
everything the package claims: case, requester and legal basis, approvals, operator, creation
time, requested range, cameras with owner and place, per camera the log files, checkpoint
and segment files, the custody log's head, and every file with its SHA-256 and size. Its
exact bytes are signed through :class:`~archive.export.verifier.formats.ManifestNote`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archive.export.gather import CameraEvidence
from archive.export.model import Actor, ExportRecord, ExportSettings
from archive.export.verifier import FORMAT
from archive.export.verifier.formats import ManifestNote, fingerprint
from archive.export.zipout import FileRecord
from archive.integrity import Signer, format_time, sign_note
from archive.model import Camera, Owner, utc_from_us

__all__ = ["ONGOING_NOTE", "CameraPaths", "camera_section", "manifest_bytes", "ongoing_section", "person",
           "sign_manifest"]  # fmt: skip


@dataclass(frozen=True)
class CameraPaths:
    """Where one camera's files went inside the package."""

    entries: str
    proof: str
    checkpoint: str
    segments: Mapping[int, str]
    prunes: str | None
    prune_proofs: str | None
    working_copy: FileRecord | None
    working_copy_error: str | None
    still: FileRecord | None = None
    still_seq: int | None = None
    timestamp: str | None = None
    timestamp_time: str | None = None
    timestamp_by: str | None = None


def _t(us: int) -> str:
    return format_time(utc_from_us(us))


def person(a: Actor) -> dict[str, Any]:
    """An actor as the manifest shows it."""
    return {"user": a.user, "name": a.name, "role": a.role, "agency": a.agency, "owner": a.owner, "from": a.origin}


ONGOING_NOTE = ("not yet logged: an outage still going on when the package was built (the recorder logs a gap "
                "only when it ends); no log entry vouches for it, so it is not covered")  # fmt: skip


def ongoing_section(ev: CameraEvidence, created_us: int) -> dict[str, Any] | None:
    """The ``ongoing_outage`` of a camera section (EXPORT-SPEC.md 4.1): from the camera's last
    logged instant to the build, never a logged gap; None when the log covers the range's end."""
    if ev.ongoing is None:
        return None
    return {"from": _t(ev.ongoing.from_us), "until": _t(created_us), "logged": False, "state": ev.ongoing.state,
            "note": ONGOING_NOTE}  # fmt: skip


def camera_section(ev: CameraEvidence, cam: Camera | None, owner: Owner | None, paths: CameraPaths,
                   created_us: int) -> dict[str, Any]:  # fmt: skip
    """The ``cameras[]`` item of one camera; ``created_us``: the build time (the end of an ongoing outage)."""
    cp = ev.report.checkpoint
    wc = paths.working_copy
    return {
        "id": ev.camera_id, "name": cam.name if cam else None, "location": cam.location if cam else None,
        "latitude": f"{cam.latitude:.6f}" if cam else None, "longitude": f"{cam.longitude:.6f}" if cam else None,
        "owner": {"id": owner.id, "name": owner.name, "kind": owner.kind.value} if owner else None,
        "log": ev.origin, "entries": {"path": paths.entries, "start": ev.first, "end": ev.end},
        "range_proof": paths.proof,
        "checkpoint": {"path": paths.checkpoint, "size": cp.size, "root": cp.root.hex()},
        "prunes": {"path": paths.prunes, "proofs": paths.prune_proofs} if paths.prunes else None,
        "segments": [{"seq": s, "path": p} for s, p in sorted(paths.segments.items())],
        "pruned": [list(r) for r in ev.report.pruned],
        "working_copy": {"path": wc.path, "derived": True, "sha256": wc.sha256, "size": wc.size,
                         "note": "derived: segments joined by ffmpeg concat with stream copy; not evidence"}
        if wc else None,
        "working_copy_error": paths.working_copy_error,
        "still": {"path": paths.still.path, "derived": True, "sha256": paths.still.sha256, "size": paths.still.size,
                  "note": f"derived: the first keyframe of the segment of log entry seq {paths.still_seq}, decoded by "
                          "ffmpeg into a JPEG for people; not evidence"} if paths.still else None,
        "witness_cosignatures_left_out": list(ev.cosignatures_left_out),
        "ongoing_outage": ongoing_section(ev, created_us),
        "clock_before": ev.clock_before,
        "timestamp": {"path": paths.timestamp, "gen_time": paths.timestamp_time} if paths.timestamp else None,
    }  # fmt: skip


def manifest_bytes(*, rec: ExportRecord, package: str, archive_name: str, created_us: int, operator: Actor,
                   requester: Actor, settings: ExportSettings, signer: Signer, cameras: Sequence[dict[str, Any]],
                   custody_path: str, custody: Sequence[bytes], files: Sequence[FileRecord],
                   report_path: str) -> bytes:  # fmt: skip
    """The manifest's bytes (UTF-8 JSON, sorted keys, two-space indent, final newline)."""
    doc = {
        "format": FORMAT, "export_id": rec.id, "package": package,
        "archive": {"name": archive_name, "software": "archive 0.1.0"},
        "case": {"id": rec.case_id, "legal_basis": rec.legal_basis, "reason": rec.reason},
        "requested_by": person(requester), "requested_at": _t(rec.requested_us),
        "approvals": [{"owner": a.owner_id, "rule": a.rule.value, "decision": a.decision, "by": a.actor,
                       "name": a.actor_name, "role": a.actor_role, "at": _t(a.at_us) if a.at_us else None,
                       "reason": a.reason, "from": a.origin} for a in rec.approvals],
        "operator": person(operator), "created_at": _t(created_us), "created_at_local": settings.local_us(created_us),
        "time_zone": settings.zone_name, "range": {"start": _t(rec.start_us), "end": _t(rec.end_us)},
        "tolerance_us": settings.tolerance_us, "legal_hold": rec.hold_id,
        "signing_key": {"name": signer.name, "verifier_key": signer.verifier_key.encode(),
                        "fingerprint": fingerprint(signer.public_key)},
        "cameras": list(cameras),
        "custody": {"path": custody_path, "events": len(custody),
                    "head": hashlib.sha256(custody[-1]).hexdigest() if custody else None},
        "report": report_path, "report_pdf": "report.pdf", "verifier": "verify_package.py",
        "files": [{"path": f.path, "sha256": f.sha256, "size": f.size, "kind": f.kind}
                  for f in sorted(files, key=lambda f: f.path)],
    }  # fmt: skip
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def sign_manifest(data: bytes, export_id: str, signer: Signer) -> bytes:
    """``manifest.json.sig``: the signed note naming the manifest's SHA-256."""
    note = ManifestNote(export_id, hashlib.sha256(data).hexdigest())
    return sign_note(note.text(), [signer]).to_bytes()
