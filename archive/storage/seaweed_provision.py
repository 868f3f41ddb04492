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
from collections.abc import Iterable
from pathlib import Path

from archive.errors import StorageError, ToolError
from archive.storage.probe import PROBE_PREFIX
from archive.storage.s3 import S3Store
from archive.storage.seaweed_security import S3Credentials, write_private

__all__ = ["create_buckets", "missing_buckets", "record_buckets"]

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
