"""Helpers of the retention integration tests (not a test module).

Every test gets its own catalog, policy directory, clock, usage probe and camera ids (prefixed
with a random tag), but all tests share one media and one log bucket per store: the embedded
SeaweedFS stops accepting writes after about 77 buckets.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from archive.bootstrap.assemble import assemble_retention
from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.integrity import MediaInfo
from archive.ledger import Ledger, LedgerSettings, SegmentFacts
from archive.ledger.tables import SegmentRow
from archive.model import Camera
from archive.retention.service import RetentionService
from archive.retention.settings import RetentionSettings
from archive.retention.upload import PolicyStore, UploadRetention
from archive.retention.usage import Usage
from archive.secretbox import SecretBox
from archive.storage.base import ObjectStore, Retention
from tests.fixtures.claims import claiming_writer

REPO_POLICIES = Path(__file__).resolve().parents[2] / "retention_policies"
MEDIA = MediaInfo(container="mpegts", codec="h264", width=1280, height=720, keyframe_start=True, partial=False)
SEG = timedelta(seconds=10)
DAY = timedelta(days=1)
SIZE = 2000

_SHARED: dict[int, tuple[str, str]] = {}


def shared_buckets(store: ObjectStore) -> tuple[str, str]:
    if id(store) not in _SHARED:
        media, logs = f"ret-media-{uuid.uuid4().hex[:8]}", f"ret-logs-{uuid.uuid4().hex[:8]}"
        store.ensure_bucket(media, object_lock=True)
        store.ensure_bucket(logs, object_lock=True)
        _SHARED[id(store)] = (media, logs)
    return _SHARED[id(store)]


class Clock:
    """Real time plus a settable offset (the store's locks run on real time)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class FakeUsage:
    used: int = 0
    capacity: int = 1_000_000_000

    def __call__(self) -> Usage:
        return Usage(self.used, self.capacity, "test")


@dataclass
class REnv:
    engine: Engine
    store: ObjectStore
    ledger: Ledger
    media: str
    logs: str
    tag: str
    policies: Path
    clock: Clock
    usage: FakeUsage
    cams: list[Camera] = field(default_factory=list)
    settings: RetentionSettings | None = None
    svc: RetentionService | None = None

    def cam(self, name: str) -> str:
        return f"{self.tag}-{name}"

    def service(self, **overrides: object) -> RetentionService:
        base = RetentionSettings(policies_dir=self.policies, media_bucket=self.media, default_keep_days=14,
                                 delete_workers=8, batch_size=4)
        settings = RetentionSettings(**{**base.__dict__, **overrides})  # type: ignore[arg-type]
        self.settings = settings
        self.svc = assemble_retention(engine=self.engine, store=self.store, ledger=self.ledger,
                                      cameras=lambda: self.cams, settings=settings, now=self.clock, usage=self.usage)
        return self.svc

    def upload_lock(self, min_lock: timedelta = timedelta(seconds=2)) -> UploadRetention:
        return UploadRetention(PolicyStore(self.policies), lambda: self.cams, min_lock=min_lock, clock=self.clock)

    def record(self, camera: str, starts: list[datetime], lock: Retention | UploadRetention | None = None,
               ) -> list[tuple[int, str, str]]:
        """Store and log one segment per start; returns (seq, key, version)."""
        out = []
        for start in starts:
            body = hashlib.shake_256(f"{camera}/{start.isoformat()}".encode()).digest(SIZE)
            key = f"{camera}/{start:%Y/%m/%d/%H%M%S%f}.ts"
            ret = lock(camera, start) if isinstance(lock, UploadRetention) else lock
            put = self.store.put_bytes(self.media, key, body, content_type="video/mp2t", retention=ret)
            facts = SegmentFacts(object_key=key, version_id=put.version_id, sha256=hashlib.sha256(body).hexdigest(),
                                 size=len(body), start=start, end=start + SEG, duration_us=10_000_000, media=MEDIA)
            out.append((self.ledger.append_segment(camera, facts).seq, key, put.version_id))
        return out

    def pruned(self, camera: str) -> dict[int, bool]:
        t = SegmentRow.__table__  # type: ignore[attr-defined]
        with self.engine.connect() as conn:
            return {r[0]: bool(r[1]) for r in conn.execute(select(t.c.seq, t.c.pruned).where(t.c.camera_id == camera))}

    def versions(self, camera: str) -> set[str]:
        return {v.version_id for v in self.store.list_versions(self.media, f"{camera}/")}


def make_renv(url: str, store: ObjectStore, tmp_path: Path, owners: dict[str, str] | None = None,
              origin_prefix: str | None = None, own_log_bucket: bool = False,
              admin: ObjectStore | None = None) -> REnv:
    """A fresh catalog + ledger over the shared buckets; cameras ``<tag>-<name>`` of the given owners.
    Log origins are ``<tag>.archive/...`` unless ``origin_prefix`` is given (the CLI uses the default).
    ``own_log_bucket``: a log bucket of its own (an archive whose audit trail publishes its head there).
    ``admin`` makes the buckets when ``store`` is a service identity (which cannot)."""
    engine = make_engine(url)
    upgrade(engine)
    media, logs = shared_buckets(admin or store)
    tag = f"t{uuid.uuid4().hex[:8]}"
    if own_log_bucket:
        logs = f"ret-logs-{tag}"
        (admin or store).ensure_bucket(logs, object_lock=True)
    settings = LedgerSettings(origin_prefix=origin_prefix or f"{tag}.archive", media_bucket=media, log_bucket=logs,
                              log_retention=timedelta(days=1))
    ledger = Ledger(engine, store, SecretBox.from_key_file(tmp_path / "keys" / "credentials.key"), settings,
                    claims=claiming_writer(engine))
    policies = tmp_path / "retention_policies"
    shutil.copytree(REPO_POLICIES, policies)
    env = REnv(engine, store, ledger, media, logs, tag, policies, Clock(), FakeUsage())
    owners = owners or {"lobby": "sunrise-mall", "atcs": "dishub", "kantor": "satpolpp"}
    env.cams = [Camera(env.cam(n), n, o, "rtsp://x", 0.0, 0.0, "somewhere") for n, o in owners.items()]
    return env


def wait_until(moment: datetime) -> None:
    """Sleep until the store's real clock has passed ``moment`` (short locks in tests)."""
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay + 0.3)


def starts(first: datetime, n: int) -> list[datetime]:
    return [first + i * SEG for i in range(n)]
