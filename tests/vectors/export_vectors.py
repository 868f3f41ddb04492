"""Generator of the archive-export/1 test vectors (EXPORT-SPEC.md 10).

Writes ``archive/integrity/vectors/export/*.zip`` and ``index.json``: one small honest package
(two cameras, a gap, a clock entry before the range, a range proof into a larger tree) and
packages tampered with under three attacker models, each with the verdict and the first
failing step a verifier must report. Deterministic: fixed keys (seeds from SHA-256 of fixed
labels), fixed times, zip members in a fixed order with a fixed date; running it twice gives
the same bytes. The package is built here from the specification (EXPORT-SPEC.md), not by the
archive's builder, so the vectors test the spec and not one implementation.

Run: ``python -m tests.vectors.export_vectors [OUT_DIR]``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.export.verifier.custody import ZERO, encode_event
from archive.export.verifier.formats import ManifestNote, canonical, fingerprint, keys_text
from archive.export.verifier.rules import evidence_sha256
from archive.integrity import (
    Clock,
    Gap,
    GapReason,
    LogWriter,
    MediaInfo,
    Segment,
    SignedNote,
    Signer,
    TreeHashes,
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


def camera(cam: str, rotate: bool = False) -> tuple[dict[str, tuple[bytes, str]], dict[str, Any]]:
    """One camera's log files and manifest section: entries [0, 6) of a tree of 8 (clock before
    the range, segment, segment, gap (or a key rotation), segment, clock; a segment and a clock
    follow the range), the range proof, the checkpoint signed by the log key (the new key when
    ``rotate``), and the exported segment files."""
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
    note = sign_checkpoint(w.checkpoint(), signer(origin, NEW_SEED if rotate else ARCHIVE_SEED))
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
        "witness_cosignatures_left_out": [],
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


def honest(rotate: bool = False, cameras: tuple[str, ...] = CAMERAS) -> Pkg:
    """The honest package (``rotate``: the logs and the export key rotated before signing)."""
    files: dict[str, tuple[bytes, str]] = {"README.txt": (README, "readme")}
    sections = []
    for cam in cameras:
        f, sec = camera(cam, rotate)
        files.update(f)
        sections.append(sec)
    names = [f"{ARCHIVE}/export", *(f"{ARCHIVE}/camera/{c}" for c in cameras)]
    keys = [signer(n).verifier_key for n in names]
    if rotate:
        keys += [signer(n, NEW_SEED).verifier_key for n in names]
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


Tamper = Callable[[Pkg], tuple[Pkg, bytes | None, bytes | None]]
"""A tamper: the changed package, and the manifest and signature bytes if not the sealed ones."""


def _edit(pkg: Pkg, path: str, fn: Callable[[bytes], bytes]) -> None:
    data, kind = pkg.files[path]
    pkg.files[path] = (fn(data), kind)


def _seg(pkg: Pkg, cam: str = "cam-1", i: int = 0) -> str:
    return str(pkg.manifest["cameras"][CAMERAS.index(cam)]["segments"][i]["path"])


def _insider(fn: Callable[[Pkg], None], custody_events: bool = False) -> Tamper:
    """Change files, then re-list and re-sign with the archive's own key (custody log kept, or
    rewritten too with ``custody_events``)."""

    def run(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
        fn(pkg)
        seal(pkg, custody_events=custody_events)
        return pkg, None, None

    return run


def _content(fn: Callable[[Pkg], None]) -> Tamper:
    """Change files only: the manifest and its signature stay as the archive made them."""

    def run(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
        m = manifest_bytes(pkg.manifest)
        sig = signature(m, pkg.key_seed)
        fn(pkg)
        return pkg, m, sig

    return run


def _flip(data: bytes) -> bytes:
    return data[:10] + bytes([data[10] ^ 1]) + data[11:]


def _forged(pkg: Pkg) -> None:
    """Everything re-signed by the forger's key: checkpoints, keys file, manifest."""
    pkg.key_seed = FORGER_SEED
    names = [f"{ARCHIVE}/export", *(f"{ARCHIVE}/camera/{c}" for c in CAMERAS)]
    pkg.files["keys/keys.txt"] = (keys_text([signer(n, FORGER_SEED).verifier_key for n in names]).encode(), "keys")
    for cam in CAMERAS:
        path = f"cameras/{cam}/checkpoint.note"
        text = SignedNote.parse(pkg.files[path][0]).text
        pkg.files[path] = (sign_note(text, [signer(f"{ARCHIVE}/camera/{cam}", FORGER_SEED)]).to_bytes(), "checkpoint")


def _relabel(pkg: Pkg) -> None:
    a, b = pkg.manifest["cameras"]
    a["id"], b["id"] = b["id"], a["id"]


def _slip(pkg: Pkg) -> None:
    pkg.files["cameras/cam-1/segments/000000000003_0099.ts"] = (b"a file standing in the outage\n", "segment")


def _drop_entry(pkg: Pkg) -> None:
    lines = pkg.files["cameras/cam-1/entries.jsonl"][0].splitlines(keepends=True)
    pkg.files["cameras/cam-1/entries.jsonl"] = (b"".join(lines[:3] + lines[4:]), "entries")


def _truncate_custody(pkg: Pkg) -> None:
    lines = pkg.files["custody.jsonl"][0].splitlines(keepends=True)
    pkg.files["custody.jsonl"] = (b"".join(lines[:-1]), "custody")


def _bad_evidence(pkg: Pkg) -> None:
    """The built event names another evidence_sha256; chain re-linked, head re-signed."""
    lines = pkg.files["custody.jsonl"][0].splitlines()
    out, prev = [], ZERO
    for line in lines:
        d = json.loads(line)
        if d["event"] == "built":
            d["detail"]["evidence_sha256"] = "0" * 64
        d["prev"] = prev
        out.append(canonical(d))
        prev = hashlib.sha256(out[-1]).hexdigest()
    pkg.files["custody.jsonl"] = (b"".join(x + b"\n" for x in out), "custody")


def _sig_lines(extra: Callable[[bytes], bytes]) -> Tamper:
    def run(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
        m = manifest_bytes(pkg.manifest)
        return pkg, m, extra(signature(m, pkg.key_seed))

    return run


def _unknown_line(sig: bytes) -> bytes:
    note = SignedNote.parse(sig)
    other = sign_note(note.text, [signer("someone.else/export", FORGER_SEED)]).signatures[0]
    return note.with_signature(other).to_bytes()


def _duplicate_line(sig: bytes) -> bytes:
    return sig + sig.splitlines(keepends=True)[-1]


def _malformed_line(sig: bytes) -> bytes:
    return sig + "\u2014 vectors.example/export not-base64!\n".encode()


def _bad_signature(sig: bytes) -> bytes:
    lines = sig.splitlines(keepends=True)
    last = lines[-1].decode()
    cut = last.rindex(" ") + 1
    raw = bytearray(base64.b64decode(last[cut:].strip()))
    raw[10] ^= 1
    return b"".join(lines[:-1]) + (last[:cut] + base64.b64encode(bytes(raw)).decode() + "\n").encode()


def _noncanonical_proof(pkg: Pkg) -> None:
    _edit(pkg, "cameras/cam-1/range-proof.json",
          lambda d: json.dumps(json.loads(d), indent=1).encode() + b"\n")  # fmt: skip


def _non_ascii_key(pkg: Pkg) -> None:
    extra = signer("vectors.example/caméra", FORGER_SEED).verifier_key.encode()
    _edit(pkg, "keys/keys.txt", lambda d: d + extra.encode() + b"\n")


def _long_reason(pkg: Pkg) -> None:
    pkg.manifest["case"]["reason"] = "x" * 4097


def _member(name: str, data: bytes = b"not listed\n") -> Tamper:
    def run(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
        pkg.extra_members.append((name, data))
        return pkg, None, None

    return run


def _duplicate_member(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
    data = manifest_bytes(pkg.manifest)
    pkg.extra_members.append((f"{pkg.top}/manifest.json", data))
    return pkg, None, None


def _renamed_top(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
    pkg.top = "CASE-2_exp-vector-1"
    return pkg, None, None


def _manifest_edited(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
    sig = signature(manifest_bytes(pkg.manifest), pkg.key_seed)
    pkg.manifest["case"]["reason"] = "edited"
    return pkg, manifest_bytes(pkg.manifest), sig


def _same(pkg: Pkg) -> tuple[Pkg, bytes | None, bytes | None]:
    return pkg, None, None


@dataclass(frozen=True)
class Vector:
    """One vector: file stem, what was done, attacker model, trust given, expected outcome."""

    name: str
    description: str
    model: str
    tamper: Tamper
    trust: tuple[str, ...]
    verdict: str
    step: int | None
    rotated: bool = False


A, N, F = fp(ARCHIVE_SEED), fp(NEW_SEED), fp(FORGER_SEED)
CONTENT, FORGER, INSIDER, NONE = "content only", "attacker key", "archive key", "none (honest)"


def vectors() -> list[Vector]:
    """Every vector, in index order."""
    def seg1(p: Pkg) -> None:
        _edit(p, _seg(p), _flip)

    v = [
        Vector("honest", "the honest package", NONE, _same, (A,), "VALID", None),
        Vector("honest-no-trust", "the honest package, no trust root given", NONE, _same, (), "UNVERIFIED", 8),
        Vector("honest-other-trust", "the honest package, trusting another key", NONE, _same, (F,), "INVALID", 2),
        Vector("rotated-trust-new", "logs and export key rotated; trusting the new key", NONE, _same, (N,), "VALID",
               None, rotated=True),
        Vector("rotated-trust-old", "logs and export key rotated; trusting only the old key: no trust is carried "
               "over by a key entry inside an export", NONE, _same, (A,), "INVALID", 2, rotated=True),
        Vector("segment-byte-flipped", "one byte of a segment file changed", CONTENT, _content(seg1), (A,),
               "INVALID", 4),
        Vector("segment-byte-flipped-resealed", "one byte of a segment changed, manifest re-listed and re-signed",
               INSIDER, _insider(seg1), (A,), "INVALID", 6),
        Vector("manifest-edited", "manifest.json edited, signature kept", CONTENT, _manifest_edited, (A,),
               "INVALID", 2),
        Vector("forged-all-trusted", "every signature made by a forger's key, verified with the archive's "
               "fingerprint", FORGER, _insider(_forged, True), (A,), "INVALID", 2),
        Vector("forged-all-untrusted", "every signature made by a forger's key, no trust root given", FORGER,
               _insider(_forged, True), (), "UNVERIFIED", 8),
        Vector("bad-signature", "a bit of the manifest signature flipped", CONTENT, _sig_lines(_bad_signature),
               (A,), "INVALID", 2),
        Vector("signature-line-unknown-key", "a second signature line by a key the package does not list",
               CONTENT, _sig_lines(_unknown_line), (A,), "INVALID", 2),
        Vector("signature-line-duplicate", "the export key's signature line twice", CONTENT,
               _sig_lines(_duplicate_line), (A,), "INVALID", 2),
        Vector("signature-line-malformed", "a signature line that is not name and base64", CONTENT,
               _sig_lines(_malformed_line), (A,), "INVALID", 2),
        Vector("keys-non-ascii-name", "keys/keys.txt lists a key whose name is not ASCII", INSIDER,
               _insider(_non_ascii_key), (A,), "INVALID", 2),
        Vector("duplicate-member", "manifest.json twice in the zip", CONTENT, _duplicate_member, (A,), "INVALID", 1),
        Vector("path-traversal", "a member named <package>/../evil.txt", CONTENT,
               _member(f"{PACKAGE}/../evil.txt"), (A,), "INVALID", 1),
        Vector("member-outside-folder", "a member outside the package folder", CONTENT, _member("evil.txt"), (A,),
               "INVALID", 1),
        Vector("member-non-ascii", "a member name that is not ASCII", CONTENT,
               _member(f"{PACKAGE}/cameras/cam-1/segments/caf\u00e9.ts"), (A,), "INVALID", 1),
        Vector("unlisted-member", "a file added that the manifest does not list", CONTENT,
               _member(f"{PACKAGE}/cameras/cam-1/segments/000000000003_0099.ts"), (A,), "INVALID", 4),
        Vector("long-string", "a manifest string of 4097 code points", INSIDER, _insider(_long_reason), (A,),
               "INVALID", 3),
        Vector("relabelled-camera", "the two camera sections swap their ids (genuine logs, wrong camera)", INSIDER,
               _insider(_relabel), (A,), "INVALID", 3),
        Vector("zip-folder-renamed", "the zip's folder is not the manifest's package name", CONTENT, _renamed_top,
               (A,), "INVALID", 3),
        Vector("slipped-segment-file", "a segment file in the outage that no entry vouches for, listed and re-signed",
               INSIDER, _insider(_slip), (A,), "INVALID", 5),
        Vector("entry-removed", "the gap entry removed from entries.jsonl, re-listed and re-signed", INSIDER,
               _insider(_drop_entry), (A,), "INVALID", 6),
        Vector("proof-not-canonical", "range-proof.json re-indented (same values)", INSIDER,
               _insider(_noncanonical_proof), (A,), "INVALID", 6),
        Vector("proof-two-newlines", "range-proof.json with a second final newline", INSIDER,
               _insider(lambda p: _edit(p, "cameras/cam-1/range-proof.json", lambda d: d + b"\n")), (A,),
               "INVALID", 6),
        Vector("entries-no-final-newline", "entries.jsonl without its final newline", INSIDER,
               _insider(lambda p: _edit(p, "cameras/cam-1/entries.jsonl", lambda d: d[:-1])), (A,), "INVALID", 6),
        Vector("custody-truncated", "the custody log's last event (built) cut off, head re-signed", INSIDER,
               _insider(_truncate_custody), (A,), "INVALID", 7),
        Vector("custody-cut-short", "the custody log cut in its last line", CONTENT,
               _content(lambda p: _edit(p, "custody.jsonl", lambda d: d[:-20])), (A,), "INVALID", 4),
        Vector("evidence-sha256-wrong", "the built event's evidence_sha256 changed, chain re-linked, re-signed",
               INSIDER, _insider(_bad_evidence), (A,), "INVALID", 7),
        Vector("evidence-changed-after-seal", "README.txt replaced after the custody log was sealed, re-signed",
               INSIDER, _insider(lambda p: _edit(p, "README.txt", lambda d: b"trust me\n")), (A,), "INVALID", 7),
    ]  # fmt: skip
    return v


def build(out: Path) -> dict[str, Any]:
    """Write every vector into ``out`` and return the index."""
    out.mkdir(parents=True, exist_ok=True)
    base, rotated = honest(), honest(rotate=True)
    index: dict[str, Any] = {
        "format": "archive-export-vectors/1",
        "spec": "archive/integrity/EXPORT-SPEC.md, section 10",
        "keys": {"archive": A, "archive after rotation": N, "forger": F},
        "vectors": [],
    }
    for vec in vectors():
        pkg, manifest, sig = vec.tamper((rotated if vec.rotated else base).copy())
        path = out / f"{vec.name}.zip"
        write_zip(pkg, path, manifest=manifest, sig=sig)
        index["vectors"].append({
            "file": path.name, "description": vec.description, "attacker": vec.model, "trust": list(vec.trust),
            "verdict": vec.verdict, "step": vec.step, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    (out / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return index


def main(argv: list[str]) -> int:
    """Write the vectors (default folder: archive/integrity/vectors/export)."""
    out = Path(argv[0]) if argv else OUT
    index = build(out)
    print(f"{len(index['vectors'])} vectors written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
