"""The small protocol every object store adapter implements, and its frozen values.

Only :mod:`archive.storage.s3` imports ``minio``; the rest of the package sees this protocol.
Object lock semantics follow the S3 API (PutObjectRetention / PutObjectLegalHold).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class LockMode(enum.StrEnum):
    """S3 object-lock retention modes."""

    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


@dataclass(frozen=True)
class Retention:
    """Retention for one object version: nobody may delete it before ``until`` (UTC)."""

    mode: LockMode
    until: datetime


@dataclass(frozen=True)
class PutResult:
    """What the store confirmed after a put."""

    bucket: str
    key: str
    version_id: str
    etag: str
    size: int
    metadata: Mapping[str, str] = field(default_factory=dict)  # user metadata, as the confirming HEAD returned it


@dataclass(frozen=True)
class ObjectInfo:
    """Facts about one stored object version (HEAD)."""

    bucket: str
    key: str
    version_id: str
    size: int
    etag: str
    last_modified: datetime | None
    metadata: Mapping[str, str] = field(default_factory=dict)
    retention: Retention | None = None
    legal_hold: bool = False


class ObjectStore(Protocol):
    """S3-compatible object storage. Every method raises :class:`archive.errors.StorageError` subclasses."""

    def ensure_bucket(self, bucket: str, *, object_lock: bool = True) -> None:
        """Create the bucket (with versioning and, if asked, object lock) unless it exists."""

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
        """Upload a local file; returns the confirmed version."""

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
        """Upload bytes; returns the confirmed version. ``sha256`` (hex of ``data``), when given, is
        sent as the signed payload hash so the store refuses a body that does not match it."""

    def stat(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        """HEAD one object version (latest when ``version_id`` is None)."""

    def open(self, bucket: str, key: str, version_id: str | None = None) -> Iterator[bytes]:
        """Stream an object version's bytes in chunks."""

    def get_bytes(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        """Read a whole (small) object version."""

    def delete_version(
        self, bucket: str, key: str, version_id: str, *, bypass_governance: bool = False
    ) -> None:
        """Permanently delete one version. Raises ObjectLockedError when the lock refuses."""

    def set_legal_hold(self, bucket: str, key: str, version_id: str, on: bool) -> None:
        """Turn the S3 legal hold of one version on or off."""

    def set_retention(self, bucket: str, key: str, version_id: str, retention: Retention) -> None:
        """Set (normally extend) the retention of one version."""

    def list_versions(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every version under a prefix (metadata not filled)."""

    def ping(self) -> None:
        """Return None when the store answers; raise StorageUnavailableError otherwise."""
