"""Pure helpers of the S3 adapter (no minio here): error-code classes and header parsing.

Kept apart from :mod:`archive.storage.s3` so they can be unit-tested without a server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from archive.errors import StorageError
from archive.storage.base import LockMode, ObjectInfo, Retention

MISSING_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "NoSuchUpload", "ResourceNotFound"})
DENIED_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "AccountProblem"}
    | {"InvalidToken", "ExpiredToken", "RequestTimeTooSkewed", "AuthorizationHeaderMalformed", "BucketAlreadyExists"}
)
UNAVAILABLE_CODES = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"})
META_PREFIX = "x-amz-meta-"


def user_metadata(metadata: Mapping[str, str] | None) -> dict[str, str | list[str] | tuple[str]]:
    """``{"Camera": "7"}`` -> ``{"x-amz-meta-camera": "7"}``: names are lower-cased.

    Raises :class:`StorageError` unless names and values are printable ASCII (HTTP headers).
    """
    out: dict[str, str | list[str] | tuple[str]] = {}
    for name, value in (metadata or {}).items():
        if not (name and name.isascii() and name.isprintable() and value.isascii() and value.isprintable()):
            raise StorageError(f"metadata {name!r} must be printable ASCII (name and value)")
        out[META_PREFIX + name.lower()] = value
    return out


def parse_time(value: str) -> dt.datetime:
    """An ISO-8601 time from a header, always timezone-aware (UTC when none is given)."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def parse_head(headers: Mapping[str, str]) -> tuple[dict[str, str], Retention | None, bool]:
    """User metadata (prefix stripped, lower-case names), retention and legal hold of a HEAD."""
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    meta = {k[len(META_PREFIX) :]: v for k, v in lower.items() if k.startswith(META_PREFIX)}
    retention = None
    mode, until = lower.get("x-amz-object-lock-mode"), lower.get("x-amz-object-lock-retain-until-date")
    if mode in (LockMode.GOVERNANCE.value, LockMode.COMPLIANCE.value) and until:
        retention = Retention(LockMode(mode), parse_time(until))
    return meta, retention, lower.get("x-amz-object-lock-legal-hold", "").upper() == "ON"


def lock_reasons(info: ObjectInfo, now: dt.datetime) -> list[str]:
    """What protects a version at ``now``: legal hold and/or a retention not yet expired."""
    reasons = []
    if info.legal_hold:
        reasons.append("legal hold")
    if info.retention and info.retention.until > now:
        reasons.append(f"{info.retention.mode.value} retention until {info.retention.until.isoformat()}")
    return reasons
