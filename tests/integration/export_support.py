"""Helpers of the export tests (not a test module): a catalog with owners, cameras and users,
real H.264 MPEG-TS segments (made once with ffmpeg) stored and logged through the ledger, and
the export service wired over them."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.api.ports import ExportRequest
from archive.audit.service import AuditTrail
from archive.bootstrap.assemble import assemble_exports
from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.catalog.registry import RegistryRepository
from archive.export.model import Actor, ExportSettings
from archive.export.parts import Exports
from archive.export.timestamping import TimestampClient
from archive.export.verifier.custody import ZERO as CUSTODY_ZERO
from archive.export.verifier.formats import ManifestNote, canonical
from archive.export.verifier.rules import evidence_sha256
from archive.identity.model import Principal, Role
from archive.identity.policy import CameraScope
from archive.identity.service import IdentityService
from archive.integrity import MediaInfo, Signer, VerifierKey, sign_note
from archive.ledger import Ledger, LedgerSettings, SegmentFacts
from archive.model import Camera, Owner, OwnerKind, us_from_utc
from archive.recorder.ffmpeg import find_ffmpeg
from archive.retention.audit import HoldLog as RetentionAudit
from archive.retention.holds import HoldService
from archive.retention.policy_load import load_policies
from archive.secretbox import SecretBox
from archive.storage.base import LockMode, ObjectStore, Retention
from tests.fixtures.claims import claiming_writer

T0 = datetime(2025, 3, 14, 9, 0, 0, tzinfo=UTC)
CLIP = timedelta(seconds=2)
MEDIA = MediaInfo(container="mpegts", codec="h264", width=320, height=240, keyframe_start=True, partial=False)
REPO_POLICIES = Path(__file__).resolve().parents[2] / "retention_policies"

OWNERS = (
    Owner("dishub", "Dinas Perhubungan", OwnerKind.GOVERNMENT, ("police",)),
    Owner("mall", "Sunrise Mall", OwnerKind.PRIVATE, ("police",)),
)
CAMERAS = (
    Camera("cam-a", "Simpang Empat Mojopahit", "dishub", "rtsp://10.0.0.1/a", -7.4722, 112.4338, "Jl. Mojopahit"),
    Camera("mall-1", "Sunrise Mall lobby", "mall", "rtsp://10.0.1.1/l", -7.4725, 112.4340, "Mall lobby"),
)
USERS = {
    "inv1": ("Penyidik Satu", Role.INVESTIGATOR, "police", None),
    "legal1": ("Legal Satu", Role.LEGAL, "police", None),
    "own1": ("Mall Staff", Role.OWNER, None, "mall"),
    "admin1": ("Admin Satu", Role.ADMIN, "diskominfo", None),
}
_SHARED: dict[int, tuple[str, str]] = {}


def make_clips(dest: Path, n: int = 8) -> list[bytes]:
    """``n`` consecutive 2-second H.264 MPEG-TS segments of one continuous stream (real video)."""
    dest.mkdir(parents=True, exist_ok=True)
    if len(list(dest.glob("seg*.ts"))) < n:
        cmd = [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
               "testsrc2=size=320x240:rate=10", "-t", str(2 * n), "-c:v", "libx264", "-preset", "ultrafast",
               "-g", "10", "-pix_fmt", "yuv420p", "-f", "segment", "-segment_time", "2", "-reset_timestamps", "0",
               "-y", str(dest / "seg%03d.ts")]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return [p.read_bytes() for p in sorted(dest.glob("seg*.ts"))[:n]]


def _buckets(store: ObjectStore) -> tuple[str, str]:
    if id(store) not in _SHARED:
        media, logs = f"exp-media-{uuid.uuid4().hex[:8]}", f"exp-logs-{uuid.uuid4().hex[:8]}"
        store.ensure_bucket(media, object_lock=True)
        store.ensure_bucket(logs, object_lock=True)
        _SHARED[id(store)] = (media, logs)
    return _SHARED[id(store)]


def policies_dir(tmp: Path) -> Path:
    """The repository's city file and dishub policy (export_approval = policy) plus a private mall
    whose staff approve (export_approval = owner)."""
    d = tmp / "policies"
    d.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_POLICIES / "_city.toml", d / "_city.toml")
    shutil.copy(REPO_POLICIES / "dishub.toml", d / "dishub.toml")
    (d / "mall.toml").write_text('owner = "mall"\nkeep_days = 14\nexport_approval = "owner"\n\n'
                                 "[storage_pressure]\ndelete_early = false\n", encoding="utf-8")
    return d


@dataclass
class XEnv:
    """Everything an export test needs."""

    engine: object
    store: ObjectStore
    ledger: Ledger
    media: str
    exports: Exports
    identity: IdentityService
    audit: AuditTrail
    holds: HoldService
    tmp: Path

    def who(self, user: str) -> Principal:
        u = self.identity.user(user)
        return Principal(u.id, u.name, u.role, u.agency, u.owner_id, "test")

    def actor(self, user: str) -> Actor:
        return Actor.of(self.who(user), "10.0.0.7")

    @property
    def fingerprint(self) -> str:
        """The export key's fingerprint (it signs manifests)."""
        from archive.export.verifier.formats import fingerprint

        return fingerprint(self.ledger.export_keys.active().public.public_key)

    @property
    def trust(self) -> list[str]:
        """What a court is given: the export key's and the camera log key's fingerprints, each
        for its purpose (``export=``, ``camera=``)."""
        from archive.export.verifier.formats import fingerprint

        return [f"export={self.fingerprint}", f"camera={fingerprint(self.ledger.keys.active().public.public_key)}"]

    @property
    def trust_args(self) -> list[str]:
        """:attr:`trust` as command-line flags."""
        return [a for f in self.trust for a in ("--trust", f)]


def store_segment(env: XEnv, camera: str, data: bytes, start: datetime, *, logged_sha256: str | None = None,
                  logged_size: int | None = None) -> None:
    """Store ``data`` and log it (``logged_*``: log other facts than the stored bytes have)."""
    key = f"{env.ledger.settings.media_prefix(camera)}{start:%Y/%m/%d/%H%M%S}.ts"
    put = env.store.put_bytes(env.media, key, data, content_type="video/mp2t",
                              retention=Retention(LockMode.GOVERNANCE, datetime.now(UTC) + timedelta(days=1)))
    facts = SegmentFacts(object_key=key, version_id=put.version_id,
                         sha256=logged_sha256 or hashlib.sha256(data).hexdigest(),
                         size=len(data) if logged_size is None else logged_size, start=start, end=start + CLIP,
                         duration_us=2_000_000, media=MEDIA, clock_offset_us=-120)
    env.ledger.append_segment(camera, facts)


def record_cameras(env: XEnv, clips: list[bytes]) -> None:
    """cam-a: 4 segments (0-8 s), a gap (8-12 s, camera unreachable), 4 segments (12-20 s);
    mall-1: 8 segments (0-16 s) and a gap to 20 s."""
    for i in range(4):
        store_segment(env, "cam-a", clips[i], T0 + i * CLIP)
    env.ledger.append_gap("cam-a", T0 + 4 * CLIP, T0 + 6 * CLIP, "camera_unreachable", "RTSP timeout")
    for i in range(4):
        store_segment(env, "cam-a", clips[4 + i], T0 + (6 + i) * CLIP)
    for i in range(8):
        store_segment(env, "mall-1", clips[i], T0 + i * CLIP)
    env.ledger.append_gap("mall-1", T0 + 8 * CLIP, T0 + 10 * CLIP, "recorder_stopped", "")


def make_env(url: str, store: ObjectStore, tmp: Path, *, working_copy: bool = True,
             witness_keys: tuple[VerifierKey, ...] = (), witness_quorum: int = 0,
             cosign: Callable[[Any], object] | None = None, fork_of: XEnv | None = None,
             log_bucket: str | None = None, recorder_state: Callable[[str], str | None] | None = None,
             timestamps: TimestampClient | None = None) -> XEnv:
    """``fork_of``: ``url`` is a copy of that env's catalog (same key ring, logs, users), used
    with the same names and its own ``log_bucket`` (an insider's second archive)."""
    engine = make_engine(url)
    upgrade(engine)
    box = SecretBox.from_key_file((fork_of.tmp if fork_of else tmp) / "keys" / "credentials.key")
    registry = RegistryRepository(engine, box)
    if fork_of is None:
        registry.apply(OWNERS, [(c, None) for c in CAMERAS])
    media, logs = _buckets(store)
    tag = f"x{uuid.uuid4().hex[:10]}"
    lset = LedgerSettings(origin_prefix=f"{tag}.archive", media_prefix_format=f"{tag}/{{camera}}/",
                          media_bucket=media, log_bucket=logs, log_retention=timedelta(days=1))
    if fork_of is not None:
        lset = replace(fork_of.ledger.settings, log_bucket=log_bucket or logs)
    ledger = Ledger(engine, store, box, lset,
                    claims=claiming_writer(engine, fork_of.ledger.claims.holder if fork_of else None))
    # the audit log goes to the ledger's log bucket (a fork's own, so it never reads the honest
    # archive's audit head, signed by an audit key made after the copy)
    audit = AuditTrail(engine, ledger.audit_keys, store, origin_prefix=lset.origin_prefix,
                       log_bucket=lset.log_bucket, retention=timedelta(days=1))

    def now_us() -> int:
        return time.time_ns() // 1000

    holds = HoldService(engine, store, RetentionAudit(engine, now_us), now_us=now_us,
                        known_camera=lambda c: c in {x.id for x in CAMERAS})
    policies = load_policies(policies_dir(tmp))
    settings = ExportSettings(exports_dir=tmp / "exports", working_copy=working_copy, witness_keys=witness_keys,
                              witness_quorum=witness_quorum, timestamps=timestamps)
    exports = assemble_exports(engine=engine, store=store, ledger=ledger, registry=registry, holds=holds, audit=audit,
                           policies=lambda: policies, settings=settings, auto_build=False, cosign=cosign,
                               recorder_state=recorder_state)
    identity = IdentityService(engine)
    for uid, (name, role, agency, owner) in USERS.items() if fork_of is None else ():
        identity.add_user(uid, name, role, agency=agency, owner_id=owner)
    return XEnv(engine, store, ledger, media, exports, identity, audit, holds, tmp)


def request(env: XEnv, *, user: str = "inv1", cameras: tuple[str, ...] = ("cam-a", "mall-1"),
            start: datetime = T0 + timedelta(seconds=1), end: datetime = T0 + timedelta(seconds=19)) -> str:
    req = ExportRequest("LP/123/III/2025/Reskrim", "KUHAP art. 43, warrant 17/2025", "traffic accident at Jl. "
                        "Mojopahit", cameras, us_from_utc(start), us_from_utc(end))
    return env.exports.service.request(env.who(user), CameraScope(None), req, origin="10.0.0.7").id


def approve_and_build(env: XEnv, export_id: str) -> Path:
    svc = env.exports.service
    svc.decide(env.who("own1"), CameraScope(None), export_id, True, "ok for the police", origin="10.0.1.9")
    rec = env.exports.builds.build(export_id, env.actor("admin1"))
    assert rec.package_path is not None
    return Path(rec.package_path)


def export_signer(env: XEnv) -> Signer:
    """The archive's package signer (what an insider holding the signing key could use)."""
    keys = env.ledger.export_keys
    return keys.log_signer(keys.active().key_id, f"{env.ledger.settings.origin_prefix}/export")


def reseal_custody(lines: list[bytes], files: list[dict[str, Any]]) -> list[bytes]:
    """The custody log with its ``built`` event naming ``files`` (evidence_sha256, files,
    media_bytes) and the chain re-linked: what a forger who rewrites the package also does."""
    digest, count, media = evidence_sha256(files)
    out: list[bytes] = []
    prev = CUSTODY_ZERO
    for line in lines:
        d = json.loads(line)
        if d["event"] == "built":
            d["detail"] = {**d["detail"], "evidence_sha256": digest, "files": count, "media_bytes": media}
        d["prev"] = prev
        out.append(canonical(d))
        prev = hashlib.sha256(out[-1]).hexdigest()
    return out


def reseal(folder: Path, signer: Signer, mutate: Callable[[dict[str, Any]], None] = lambda m: None, *,
           custody: bool = True) -> None:  # fmt: skip
    """Rewrite the manifest of an unpacked package (after ``mutate``) with fresh hashes of every
    file, and sign it: what an insider with the signing key could do after changing files.
    ``custody``: also re-seal the custody log's ``built`` event over the new files (a forger
    rewriting the package does; without it step 7 catches the changed evidence)."""
    mpath = folder / "manifest.json"
    m = json.loads(mpath.read_text())
    kinds = {f["path"]: f["kind"] for f in m["files"]}  # an insider keeps each file's kind
    mutate(m)

    def listing() -> list[dict[str, Any]]:
        files = []
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder).as_posix()
            if p.is_file() and rel not in ("manifest.json", "manifest.json.sig"):
                data = p.read_bytes()
                kind = kinds.get(rel, "segment" if "/segments/" in rel else "x")
                files.append({"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                              "kind": kind})  # fmt: skip
        return files

    cpath = folder / str(m["custody"]["path"])
    if custody and cpath.is_file():
        lines = reseal_custody(cpath.read_bytes().splitlines(), listing())
        cpath.write_bytes(b"".join(x + b"\n" for x in lines))
        m["custody"]["head"] = hashlib.sha256(lines[-1]).hexdigest() if lines else None
    m["files"] = listing()
    data = (json.dumps(m, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
    mpath.write_bytes(data)
    note = ManifestNote(m["export_id"], hashlib.sha256(data).hexdigest())
    (folder / "manifest.json.sig").write_bytes(sign_note(note.text(), [signer]).to_bytes())
