"""The honest archive-export/1 package of the test vectors, built from EXPORT-SPEC.md (not by the
archive's builder): fixed keys and times, two cameras, and the functions that seal, sign and zip
a package; :mod:`tests.vectors.export_vectors` changes it into the tampered vectors."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.export.verifier.custody import ZERO, encode_event
from archive.export.verifier.formats import ManifestNote, fingerprint, keys_text
from archive.export.verifier.rules import evidence_sha256
from archive.integrity import (
    ALG_COSIGNATURE_V1,
    Clock,
    Gap,
    GapReason,
    LogWriter,
    MediaInfo,
    Segment,
    Signer,
    TreeHashes,
    cosign,
    format_time,
    make_key_rotation,
    range_proof,
    sign_checkpoint,
    sign_note,
)

OUT = Path(__file__).resolve().parents[2] / "archive" / "integrity" / "vectors" / "export"
ARCHIVE = "vectors.example"
EXPORT_ID = "exp-vector-1"
PACKAGE = "CASE-1_exp-vector-1"
T0 = datetime(2025, 3, 14, 2, 0, 0, tzinfo=UTC)  # 09:00 WIB
MEDIA = MediaInfo(container="mpegts", codec="h264", width=320, height=240, keyframe_start=True, partial=False)
ZIP_DATE = (2025, 3, 14, 9, 0, 0)
CAMERAS = ("cam-1", "cam-2")


def seed(label: str) -> bytes:
    """A fixed 32-byte Ed25519 seed."""
    return hashlib.sha256(f"archive-export/1 test vector key: {label}".encode()).digest()


ARCHIVE_SEED, NEW_SEED, FORGER_SEED = seed("archive"), seed("archive, after rotation"), seed("forger")
CAMERA_SEED = seed("archive camera key")
"""The camera key of a package signed with separate keys per purpose (``honest(split=True)``)."""
WITNESS = Signer.from_seed("witness.vectors.example", seed("witness"), ALG_COSIGNATURE_V1)
"""The witness of ``honest(witnessed=True)`` (cosignature/v1)."""
WITNESS_TIME = 1_741_924_800  # 2025-03-14T04:00:00Z, after every entry


def signer(name: str, key_seed: bytes = ARCHIVE_SEED) -> Signer:
    """The key of ``key_seed`` under ``name``."""
    return Signer.from_seed(name, key_seed)


def fp(key_seed: bytes) -> str:
    """The fingerprint (EXPORT-SPEC.md 5) of a seed's key."""
    return fingerprint(signer("x", key_seed).public_key)


def _t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _local(at: datetime) -> str:
    return (at + timedelta(hours=7)).strftime("%Y-%m-%d %H:%M:%S") + " WIB (UTC+07:00, Asia/Jakarta)"


@dataclass
class Pkg:
    """A package as files (path -> bytes, kind), its manifest and the key that signs it."""

    files: dict[str, tuple[bytes, str]]
    manifest: dict[str, Any]
    key_seed: bytes = ARCHIVE_SEED
    extra_members: list[tuple[str, bytes]] = field(default_factory=list)
    top: str = PACKAGE

    def copy(self) -> Pkg:
        return Pkg(dict(self.files), json.loads(json.dumps(self.manifest)), self.key_seed, list(self.extra_members),
                   self.top)  # fmt: skip


def _segment_bytes(cam: str, n: int) -> bytes:
    return f"{cam} segment {n} (opaque media bytes for the test vectors)\n".encode() * 8


def camera(cam: str, rotate: bool = False, log_seed: bytes = ARCHIVE_SEED,
           witnessed: bool = False) -> tuple[dict[str, tuple[bytes, str]], dict[str, Any]]:  # fmt: skip
    """One camera's log files and manifest section: entries [0, 6) of a tree of 8 (clock before
    the range, segment, segment, gap (or a key rotation), segment, clock; a segment and a clock
    follow the range), the range proof, the checkpoint signed by the log key ``log_seed`` (the
    new key when ``rotate``; cosigned by :data:`WITNESS` when ``witnessed``), and the exported
    segment files."""
    origin = f"{ARCHIVE}/camera/{cam}"
    base = f"cameras/{cam}"
    w = LogWriter(origin)
    lines: list[bytes] = []
    files: dict[str, tuple[bytes, str]] = {}
    segs: dict[int, str] = {}

    def seg(n: int, a: float, b: float, exported: bool = True) -> None:
        data = _segment_bytes(cam, n)
        got = w.append(Segment(camera=cam, object_key=f"{cam}/2025/03/14/{n:04d}.ts", version_id=f"v{n}",
                               sha256=hashlib.sha256(data).digest(), size=len(data), start=_t(a), end=_t(b),
                               duration_us=int((b - a) * 1_000_000), clock_offset_us=-120, media=MEDIA))  # fmt: skip
        lines.append(got.data)
        if exported:
            segs[got.seq] = f"{base}/segments/{got.seq:012d}_{n:04d}.ts"
            files[segs[got.seq]] = (data, "segment")

    def clock(at: float) -> None:
        lines.append(w.append(Clock(at=_t(at), synced=True, source="chrony", offset_us=-120, max_error_us=2500,
                                    stratum=2)).data)  # fmt: skip

    clock(-5)
    seg(1, 0, 10)
    seg(2, 10, 20)
    if rotate:
        lines.append(w.append(make_key_rotation(origin, signer(origin), signer(origin, NEW_SEED).verifier_key,
                                                _t(20))).data)  # fmt: skip
        seg(3, 20, 35)
    else:
        lines.append(w.append(Gap(camera=cam, start=_t(20), end=_t(25), reason=GapReason.CAMERA_UNREACHABLE,
                                  detail="connection refused by 10.0.0.1:554 (5 attempts)")).data)  # fmt: skip
        seg(3, 25, 35)
    clock(36)
    seg(4, 35, 45, exported=False)
    clock(46)
    leaves = [hashlib.sha256(b"\x00" + d).digest() for d in lines]
    proof = range_proof(0, 6, len(lines), TreeHashes.from_list(leaves))
    note = sign_checkpoint(w.checkpoint(), signer(origin, NEW_SEED if rotate else log_seed))
    if witnessed:
        note = note.with_signature(cosign(note, WITNESS, WITNESS_TIME).to_note_signature())
    files[f"{base}/entries.jsonl"] = (b"".join(d + b"\n" for d in lines[:6]), "entries")
    files[f"{base}/range-proof.json"] = (proof.to_json() + b"\n", "proof")
    files[f"{base}/checkpoint.note"] = (note.to_bytes(), "checkpoint")
    section = {
        "id": cam, "name": f"Camera {cam}", "location": "Jl. Contoh 1", "latitude": "-7.472200",
        "longitude": "112.433800", "owner": {"id": "dishub", "name": "Dinas Perhubungan", "kind": "government"},
        "log": origin, "entries": {"path": f"{base}/entries.jsonl", "start": 0, "end": 6},
        "range_proof": f"{base}/range-proof.json",
        "checkpoint": {"path": f"{base}/checkpoint.note", "size": len(lines), "root": w.root().hex()},
        "prunes": None, "segments": [{"seq": q, "path": p} for q, p in sorted(segs.items())],
        "pruned": [], "working_copy": None, "working_copy_error": "not made for the test vectors",
        "witness_cosignatures_left_out": [], "clock_before": 0,
    }  # fmt: skip
    return files, section


PEOPLE = {
    "requested": ("inv1", "Penyidik Satu", "investigator", "police", None, "10.0.0.7"),
    "approved": ("admin1", "Admin Satu", "admin", "diskominfo", None, "10.0.0.8"),
    "build_started": ("op1", "Operator Satu", "admin", "diskominfo", None, "cli:op1@archive-host"),
    "built": ("op1", "Operator Satu", "admin", "diskominfo", None, "cli:op1@archive-host"),
}


def custody(events: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
    """The custody log's lines (archive-custody/1), one event a minute from T0 + 1 h."""
    out: list[bytes] = []
    prev = ZERO
    for i, (event, detail) in enumerate(events):
        user, name, role, agency, owner, origin = PEOPLE[event]
        at = _t(3600 + 60 * i)
        out.append(encode_event(export=EXPORT_ID, seq=i, prev=prev, event=event, at=format_time(at), local=_local(at),
                                actor=user, name=name, role=role, agency=agency, owner=owner, origin=origin,
                                detail=detail))  # fmt: skip
        prev = hashlib.sha256(out[-1]).hexdigest()
    return out


README = b"""EVIDENCE EXPORT - test vector of archive-export/1 (EXPORT-SPEC.md 10). Not real evidence.
"""


def honest(rotate: bool = False, cameras: tuple[str, ...] = CAMERAS, *, split: bool = False,
           witnessed: bool = False) -> Pkg:  # fmt: skip
    """The honest package (``rotate``: the logs and the export key rotated before signing;
    ``split``: the logs signed by a camera key of their own, :data:`CAMERA_SEED`, as the archive
    does since separate keys per purpose; ``witnessed``: every checkpoint cosigned by
    :data:`WITNESS`, whose key the keys file lists)."""
    files: dict[str, tuple[bytes, str]] = {"README.txt": (README, "readme")}
    sections = []
    log_seed = CAMERA_SEED if split else ARCHIVE_SEED
    for cam in cameras:
        f, sec = camera(cam, rotate, log_seed, witnessed)
        files.update(f)
        sections.append(sec)
    logs = [f"{ARCHIVE}/camera/{c}" for c in cameras]
    keys = [signer(f"{ARCHIVE}/export").verifier_key, *(signer(n, log_seed).verifier_key for n in logs)]
    if rotate:
        keys += [signer(n, NEW_SEED).verifier_key for n in (f"{ARCHIVE}/export", *logs)]
    if witnessed:
        keys.append(WITNESS.verifier_key)
    files["keys/keys.txt"] = (keys_text(keys, ["Public keys of the test vectors' archive."]).encode(), "keys")
    manifest = {
        "format": "archive-export/1", "export_id": EXPORT_ID, "package": PACKAGE,
        "archive": {"name": ARCHIVE, "software": "archive-export/1 vector generator"},
        "case": {"id": "CASE-1", "legal_basis": "KUHAP art. 39 (test vector)", "reason": "test vector"},
        "requested_by": {"user": "inv1", "name": "Penyidik Satu", "role": "investigator", "agency": "police",
                         "owner": None, "from": "10.0.0.7"},
        "requested_at": format_time(_t(3600)), "approvals": [
            {"owner": "dishub", "rule": "policy", "decision": "approved", "by": "admin1", "name": "Admin Satu",
             "role": "admin", "at": format_time(_t(3660)), "reason": "test vector", "from": "10.0.0.8"}],
        "operator": {"user": "op1", "name": "Operator Satu", "role": "admin", "agency": "diskominfo",
                     "owner": None, "from": "cli:op1@archive-host"},
        "created_at": format_time(_t(3780)), "created_at_local": _local(_t(3780)), "time_zone": "Asia/Jakarta",
        "range": {"start": format_time(_t(0)), "end": format_time(_t(35))}, "tolerance_us": 500000,
        "legal_hold": 1, "cameras": sections, "report": None, "report_pdf": None,
        "verifier": None,
    }  # fmt: skip
    pkg = Pkg(files, manifest, NEW_SEED if rotate else ARCHIVE_SEED)
    seal(pkg, custody_events=True)
    return pkg


def seal(pkg: Pkg, *, custody_events: bool) -> None:
    """(Re)write the custody log over the evidence files (when ``custody_events``), the file
    list, the signing key and the custody head in the manifest: what the archive (or a holder
    of its key) does."""
    m = pkg.manifest
    if custody_events:
        rng = m["range"]
        cams = [c["id"] for c in m["cameras"]]
        listing = [{"path": p, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d), "kind": k}
                   for p, (d, k) in sorted(pkg.files.items()) if k != "custody"]  # fmt: skip
        digest, count, media = evidence_sha256(listing)
        lines = custody([
            ("requested", {"start": rng["start"], "end": rng["end"], "cameras": cams}),
            ("approved", {"owner": "dishub", "rule": "policy"}),
            ("build_started", {"cameras": cams}),
            ("built", {"package": pkg.top, "files": count, "media_bytes": media, "evidence_sha256": digest,
                       "cameras": cams}),
        ])  # fmt: skip
        pkg.files["custody.jsonl"] = (b"".join(x + b"\n" for x in lines), "custody")
    data, _ = pkg.files["custody.jsonl"]
    last = data.splitlines()[-1] if data.strip() else b""
    m["custody"] = {"path": "custody.jsonl", "events": len(data.splitlines()),
                    "head": hashlib.sha256(last).hexdigest() if last else None}  # fmt: skip
    key = signer(f"{ARCHIVE}/export", pkg.key_seed)
    m["signing_key"] = {"name": key.name, "verifier_key": key.verifier_key.encode(),
                        "fingerprint": fingerprint(key.public_key)}  # fmt: skip
    m["files"] = [{"path": p, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d), "kind": k}
                  for p, (d, k) in sorted(pkg.files.items())]  # fmt: skip


def manifest_bytes(m: dict[str, Any]) -> bytes:
    """The manifest's bytes (sorted keys, two-space indent, final newline, UTF-8)."""
    return (json.dumps(m, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def signature(data: bytes, key_seed: bytes) -> bytes:
    """``manifest.json.sig`` over manifest bytes ``data``."""
    note = ManifestNote(EXPORT_ID, hashlib.sha256(data).hexdigest())
    return sign_note(note.text(), [signer(f"{ARCHIVE}/export", key_seed)]).to_bytes()


def write_zip(pkg: Pkg, path: Path, *, manifest: bytes | None = None, sig: bytes | None = None) -> None:
    """The package as a zip: stored members in path order under ``pkg.top/``, fixed dates; the
    manifest and its signature last; then ``extra_members`` (raw names, e.g. a second copy)."""
    data = manifest if manifest is not None else manifest_bytes(pkg.manifest)
    members = [(f"{pkg.top}/{p}", d) for p, (d, _) in sorted(pkg.files.items())]
    members += [(f"{pkg.top}/manifest.json", data),
                (f"{pkg.top}/manifest.json.sig", sig if sig is not None else signature(data, pkg.key_seed))]
    members += pkg.extra_members
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, content in members:
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.external_attr = 0o644 << 16
            z.writestr(info, content)
