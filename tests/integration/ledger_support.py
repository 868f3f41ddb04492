"""Helpers shared by the ledger and tamper tests (not a test module)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from archive.catalog.db import make_engine
from archive.catalog.migrate import upgrade
from archive.integrity import MediaInfo
from archive.ledger import Ledger, LedgerSettings, SegmentFacts
from archive.secretbox import SecretBox
from archive.storage.base import LockMode, ObjectStore, Retention
from tests.fixtures.claims import claiming_writer

T0 = datetime(2025, 3, 14, 9, 0, 0, tzinfo=UTC)
SEG = timedelta(seconds=10)
MEDIA = MediaInfo(container="mpegts", codec="h264", width=1280, height=720, keyframe_start=True, partial=False)


def new_bucket(store: ObjectStore, kind: str) -> str:
    name = f"{kind}-{uuid.uuid4().hex[:16]}"
    store.ensure_bucket(name, object_lock=True)
    return name


_SHARED: dict[int, tuple[str, str]] = {}


def shared_buckets(store: ObjectStore) -> tuple[str, str]:
    """One media and one log bucket per store for all tests: the embedded SeaweedFS stops
    accepting writes after about 77 buckets (one volume each). Tests stay apart by using their
    own log origin prefix and media key prefix (see :func:`make_env`)."""
    if id(store) not in _SHARED:
        _SHARED[id(store)] = (new_bucket(store, "media"), new_bucket(store, "logs"))
    return _SHARED[id(store)]


@dataclass
class Env:
    """A ledger over a fresh catalog; its logs and media keys are private to the test (``tag``)."""

    ledger: Ledger
    engine: Engine
    store: ObjectStore
    media: str
    logs: str
    url: str
    key_file: Path
    tag: str = ""

    def reopen(self) -> Ledger:
        """A new Ledger on the same catalog/store (as after a restart: no in-memory state; the
        same writer-claim holder, as a recorder process that keeps its claims)."""
        return make_ledger(self.engine, self.store, self.key_file, self.media, self.logs, self.tag,
                           holder=self.ledger.claims.holder)


def make_ledger(engine: Engine, store: ObjectStore, key_file: Path, media: str, logs: str, tag: str = "",
                holder: str | None = None) -> Ledger:
    """A ledger; with ``tag``, origins are ``<tag>.archive/camera/<id>`` and media keys ``<tag>/<id>/...``.
    It claims each camera it appends to (:mod:`tests.fixtures.claims`) as ``holder``."""
    if tag:
        settings = LedgerSettings(origin_prefix=f"{tag}.archive", media_prefix_format=f"{tag}/{{camera}}/",
                                  media_bucket=media, log_bucket=logs, log_retention=timedelta(days=1))
    else:
        settings = LedgerSettings(media_bucket=media, log_bucket=logs, log_retention=timedelta(days=1))
    return Ledger(engine, store, SecretBox.from_key_file(key_file), settings, claims=claiming_writer(engine, holder))


def make_env(url: str, store: ObjectStore, tmp_path: Path, *, shared: bool = True) -> Env:
    """``shared``: shared buckets with a private tag; else fresh buckets and default names."""
    engine = make_engine(url)
    upgrade(engine)
    if shared:
        (media, logs), tag = shared_buckets(store), f"t{uuid.uuid4().hex[:10]}"
    else:
        (media, logs), tag = (new_bucket(store, "media"), new_bucket(store, "logs")), ""
    key_file = tmp_path / "keys" / "credentials.key"
    return Env(make_ledger(engine, store, key_file, media, logs, tag), engine, store, media, logs, url, key_file, tag)


def segment_bytes(camera: str, i: int, size: int = 70_000) -> bytes:
    """Deterministic, incompressible bytes of one fake segment (over 64 KiB: not inlined)."""
    seed = hashlib.sha256(f"{camera}/{i}".encode()).digest()
    return hashlib.shake_256(seed).digest(size)


def store_segment(
    env: Env, camera: str, i: int, *, data: bytes | None = None, start: datetime | None = None, key: str | None = None
) -> tuple[SegmentFacts, bytes]:
    """Put segment ``i`` of ``camera`` into the media bucket (GOVERNANCE lock) and return its facts."""
    body = segment_bytes(camera, i) if data is None else data
    begin = start if start is not None else T0 + i * SEG
    obj = key or f"{env.ledger.settings.media_prefix(camera)}2025/03/14/{i:012d}.ts"
    put = env.store.put_bytes(
        env.media,
        obj,
        body,
        content_type="video/mp2t",
        retention=Retention(LockMode.GOVERNANCE, datetime.now(UTC) + timedelta(days=1)),
    )
    facts = SegmentFacts(
        object_key=obj,
        version_id=put.version_id,
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
        start=begin,
        end=begin + SEG,
        duration_us=10_000_000,
        media=MEDIA,
        clock_offset_us=-120,
    )
    return facts, body


def record(env: Env, camera: str, n: int, first: int = 0) -> list[int]:
    """Store and log ``n`` consecutive segments of ``camera``; return their seqs."""
    seqs = []
    for i in range(first, first + n):
        facts, _ = store_segment(env, camera, i)
        seqs.append(env.ledger.append_segment(camera, facts).seq)
    return seqs
