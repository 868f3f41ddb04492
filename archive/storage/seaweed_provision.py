"""The one-time Admin session of the embedded SeaweedFS: create the buckets the service needs.

The service identities cannot create a bucket (SeaweedFS needs Admin for it). When the data
directory has not yet made every bucket the archive asks for, the launcher writes a fresh Admin
identity beside the service identities, starts the store, creates the missing buckets (versioned,
with object lock) with it, stops the store and writes the identity file again without it: the
Admin secret lived only in that session. ``buckets.json`` records the buckets made, so later
starts skip the session.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

from archive.errors import StorageError, StorageUnavailableError, ToolError
from archive.storage.probe import PROBE_PREFIX
from archive.storage.s3 import S3Store
from archive.storage.seaweed_security import S3Credentials, write_private

__all__ = ["create_buckets", "missing_buckets", "record_buckets", "warm_up"]

MARKER = "buckets.json"


def _made(data_dir: Path) -> set[str]:
    try:
        found = json.loads((data_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {str(b) for b in found} if isinstance(found, list) else set()


def missing_buckets(data_dir: Path, wanted: Iterable[str]) -> list[str]:
    """The buckets of ``wanted`` that no Admin session of ``data_dir`` has made yet."""
    made = _made(data_dir)
    return [b for b in dict.fromkeys(wanted) if b not in made]


def record_buckets(data_dir: Path, buckets: Iterable[str]) -> None:
    """Note that ``buckets`` exist. Raises :class:`ToolError` when the note cannot be written."""
    names = sorted(_made(data_dir) | set(buckets))
    try:
        write_private(data_dir / MARKER, json.dumps(names).encode("utf-8"))
    except OSError as exc:
        raise ToolError(f"cannot write {data_dir / MARKER}: {exc}") from exc


def create_buckets(endpoint: str, admin: S3Credentials, buckets: Iterable[str]) -> None:
    """Create each bucket (versioning + object lock) with the session's Admin identity.

    Raises :class:`ToolError` naming the bucket when the store refuses (e.g. an existing bucket
    without object lock, or an invalid name).
    """
    store = S3Store(endpoint, admin.access_key, admin.secret_key, secure=False)
    for bucket in buckets:
        try:
            store.ensure_bucket(bucket, object_lock=True)
            # a first write grows the bucket's volume now: after a restart, a write that has to grow
            # one can wait many seconds for the master (measured: 19 s on a loaded machine)
            put = store.put_bytes(bucket, f"{PROBE_PREFIX}provision", b"archive bucket provisioning\n")
            store.delete_version(bucket, f"{PROBE_PREFIX}provision", put.version_id)
        except StorageError as exc:
            raise ToolError(f"cannot create bucket {bucket} in the embedded store: {exc}") from exc


WARMUP_KEY = f"{PROBE_PREFIX}warmup"


def warm_up(endpoint: str, creds: S3Credentials, buckets: Iterable[str], timeout: float) -> None:
    """Make one small write into each bucket with the service identity ``creds``, in attempts of
    at most 3 s, before the store is handed to the service; keep only the newest warm-up version.

    Measured (issue 14): right after a start, SeaweedFS's first PUT into a bucket can hang in
    its volume assignment until the client's 10 s read timeout, while the next PUT goes through
    at once; the first audited request then answered 503 after 10 s. Raises :class:`ToolError`
    when a bucket took no write within ``timeout`` seconds.
    """
    store = S3Store(endpoint, creds.access_key, creds.secret_key, secure=False, connect_timeout=2.0,
                    read_timeout=3.0)  # fmt: skip
    deadline = time.monotonic() + timeout
    for bucket in buckets:
        while True:
            try:
                put = store.put_bytes(bucket, WARMUP_KEY, b"archive store warm-up\n", content_type="text/plain")
                break
            except StorageUnavailableError as exc:
                if time.monotonic() >= deadline:
                    raise ToolError(f"the embedded store took no write into {bucket} within {timeout:.0f} s: "
                                    f"{exc}") from exc  # fmt: skip
        try:
            for old in list(store.list_versions(bucket, WARMUP_KEY)):
                if old.key == WARMUP_KEY and old.version_id and old.version_id != put.version_id:
                    store.delete_version(bucket, WARMUP_KEY, old.version_id)
        except StorageError:
            continue  # an old warm-up version stays: harmless
