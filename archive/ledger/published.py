"""The log bucket: signed checkpoint notes and entry batches under COMPLIANCE object lock.

Layout per log (see :mod:`archive.ledger.settings`)::

    logs/<origin>/entries/<from>-<to>.jsonl     entries [from, to), JSON Lines (SPEC.md 3.2)
    logs/<origin>/checkpoints/<size>.note       the signed checkpoint of that size
    logs/<origin>/checkpoint.latest             newest version = latest signed checkpoint

(``<origin>`` is the log id, e.g. ``archive.mojokerto/camera/cam-0042``; sizes are 12 digits.)

The numbered notes are the archive of every checkpoint ever signed; ``checkpoint.latest``
lets the signer and verifiers find the newest one with one GET, so a catalog restored from
an older backup cannot make the log sign a diverging history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from archive.errors import ObjectMissingError
from archive.storage.base import LockMode, ObjectStore, PutResult, Retention

from .settings import checkpoint_key, entries_key, latest_checkpoint_key, log_prefix

__all__ = ["StoredNote", "list_checkpoint_notes", "publish_checkpoint", "read_latest_note"]

_NOTE_KEY = re.compile(r"checkpoints/(\d{12})\.note")
_NOTE_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class StoredNote:
    """A checkpoint note as stored in the log bucket (not yet verified)."""

    key: str
    version_id: str
    size_in_key: int | None
    text: bytes
    last_modified: datetime | None


def read_latest_note(store: ObjectStore, bucket: str, origin: str) -> StoredNote | None:
    """The newest version of ``checkpoint.latest``, or None if the log never had one.

    Raises StorageError (other than a missing object).
    """
    key = latest_checkpoint_key(origin)
    try:
        info = store.stat(bucket, key)
        data = store.get_bytes(bucket, key, info.version_id)
    except ObjectMissingError:
        return None
    return StoredNote(key, info.version_id, None, data, info.last_modified)


def list_checkpoint_notes(store: ObjectStore, bucket: str, origin: str) -> list[StoredNote]:
    """Every stored version of every numbered checkpoint note of a log, by key.

    Raises StorageError.
    """
    out: list[StoredNote] = []
    prefix = log_prefix(origin) + "checkpoints/"
    for info in store.list_versions(bucket, prefix):
        m = _NOTE_KEY.fullmatch(info.key[len(log_prefix(origin)) :])
        data = store.get_bytes(bucket, info.key, info.version_id)
        out.append(StoredNote(info.key, info.version_id, int(m.group(1)) if m else None, data, info.last_modified))
    out.sort(key=lambda n: (n.key, n.last_modified.timestamp() if n.last_modified else 0.0))
    return out


@dataclass(frozen=True)
class Published:
    """Where a checkpoint went."""

    note: PutResult
    entries: PutResult | None


def publish_checkpoint(
    store: ObjectStore,
    bucket: str,
    origin: str,
    *,
    size: int,
    note: bytes,
    first_seq: int,
    entries: list[bytes],
    now: datetime,
    retention: timedelta,
) -> Published:
    """Store the entry batch ``[first_seq, size)``, the numbered note and the latest pointer,
    each under COMPLIANCE retention until ``now + retention``. Order: entries, note, pointer,
    so the pointer never names a checkpoint whose objects are missing.

    Raises StorageError (the caller records nothing then).
    """
    lock = Retention(LockMode.COMPLIANCE, now + retention)
    batch = None
    if entries:
        body = b"".join(e + b"\n" for e in entries)
        batch = store.put_bytes(bucket, entries_key(origin, first_seq, size), body,
                                content_type="application/jsonl", retention=lock)  # fmt: skip
    put = store.put_bytes(bucket, checkpoint_key(origin, size), note, content_type=_NOTE_TYPE, retention=lock)
    store.put_bytes(bucket, latest_checkpoint_key(origin), note, content_type=_NOTE_TYPE, retention=lock)
    return Published(put, batch)
