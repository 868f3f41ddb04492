"""Helpers for the recorder's unit tests: small real MPEG-TS files and an in-memory object store."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from archive.errors import ObjectMissingError, StorageError, StorageUnavailableError
from archive.recorder.ffmpeg import find_ffmpeg
from archive.recorder.spool import CameraSpool
from archive.storage.base import ObjectInfo, PutResult, Retention


def make_ts(path: Path, seconds: float = 2.0, *, size: str = "320x240", gop: int = 25, audio: bool = False) -> Path:
    """A real H.264 MPEG-TS file made by ffmpeg (about 0.2 s of CPU)."""
    cmd = [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    cmd += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    cmd += ["-t", f"{seconds:g}", "-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop), "-bf", "0"]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "32k"]
    cmd += ["-f", "mpegts", str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return path


@pytest.fixture(scope="session")
def ts_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 2-second 320x240 H.264 TS file, made once."""
    return make_ts(tmp_path_factory.mktemp("ts") / "template.ts")


@dataclass
class FakeStore:
    """Just enough of :class:`archive.storage.base.ObjectStore` for the ingester, in memory.

    ``down`` makes every call raise StorageUnavailableError; ``calls`` counts puts.
    """

    objects: dict[tuple[str, str], list[tuple[str, bytes, dict[str, str], Retention | None]]] = field(
        default_factory=dict
    )
    down: bool = False
    puts: int = 0
    signed_puts: int = 0
    stats: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _check(self) -> None:
        if self.down:
            raise StorageUnavailableError("fake store is down")

    def put_file(
        self,
        bucket: str,
        key: str,
        path: str,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        retention: Retention | None = None,
        legal_hold: bool = False,
    ) -> PutResult:
        return self.put_bytes(bucket, key, Path(path).read_bytes(), metadata=metadata, retention=retention)

    def put_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        retention: Retention | None = None,
        legal_hold: bool = False,
        sha256: str | None = None,
    ) -> PutResult:
        """Like S3 with a signed payload hash: a body that does not match ``sha256`` is refused."""
        self._check()
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError("XAmzContentSHA256Mismatch")
        with self.lock:
            self.puts += 1
            self.signed_puts += sha256 is not None
            versions = self.objects.setdefault((bucket, key), [])
            vid = f"v{len(versions) + 1}-{hashlib.sha256(data).hexdigest()[:8]}"
            versions.append((vid, data, dict(metadata or {}), retention))
        return PutResult(bucket, key, vid, "etag", len(data), dict(metadata or {}))

    def stat(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        self._check()
        with self.lock:
            self.stats += 1
            versions = self.objects.get((bucket, key), [])
            match = [v for v in versions if version_id in (None, v[0])]
            if not match:
                raise ObjectMissingError(f"{bucket}/{key} {version_id}")
            vid, data, meta, retention = match[-1]
        return ObjectInfo(bucket, key, vid, len(data), "etag", dt.datetime.now(dt.UTC), meta, retention)

    def latest(self, key: str) -> bytes:
        return next(v for (b, k), vs in self.objects.items() if k == key for v in vs[-1:])[1]


@pytest.fixture
def fake_store() -> Iterator[FakeStore]:
    yield FakeStore()


@pytest.fixture
def spool(tmp_path: Path) -> CameraSpool:
    """An empty spool of camera ``cam1`` (the ingester tests)."""
    spool = CameraSpool(tmp_path / "spool", "cam1", max_bytes=10**9)
    spool.ensure()
    return spool
