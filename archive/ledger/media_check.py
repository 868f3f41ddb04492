"""Re-hashing stored media: stream each object version from the store and compare its size and
SHA-256 with the segment entry (SPEC.md 8 step 9, against the store instead of an export).

Objects are fetched by the version id the entry records, so a newer version under the same key
does not stand in for the logged one. Several objects are streamed in parallel: hashing
releases the GIL and the store's latency overlaps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from archive.errors import ObjectMissingError, StorageError
from archive.storage.base import ObjectStore

__all__ = ["MediaItem", "MediaResult", "check_media"]


@dataclass(frozen=True)
class MediaItem:
    """What a segment entry says about one object version."""

    seq: int
    bucket: str
    key: str
    version_id: str
    sha256: bytes
    size: int

    @property
    def where(self) -> str:
        """``bucket/key?versionId=...`` for messages."""
        return f"{self.bucket}/{self.key}?versionId={self.version_id}"


@dataclass(frozen=True)
class MediaResult:
    """The outcome for one item: ``problem`` is None when size and hash match."""

    item: MediaItem
    size: int
    sha256: bytes | None
    problem: str | None


def hash_object(store: ObjectStore, item: MediaItem) -> MediaResult:
    """Stream one version and compare. Never raises for store problems: they become the
    result's ``problem`` (missing version, unreadable object)."""
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in store.open(item.bucket, item.key, item.version_id):
            digest.update(chunk)
            size += len(chunk)
    except ObjectMissingError:
        return MediaResult(item, 0, None, "object version is missing from the store (deleted?)")
    except StorageError as exc:
        return MediaResult(item, size, None, f"object cannot be read: {exc}")
    got = digest.digest()
    problems = []
    if size != item.size:
        problems.append(f"size is {size} bytes, the entry says {item.size}")
    if got != item.sha256:
        problems.append(f"SHA-256 is {got.hex()}, the entry says {item.sha256.hex()}")
    return MediaResult(item, size, got, "; ".join(problems) or None)


def check_media(
    store: ObjectStore,
    items: Iterable[MediaItem],
    *,
    workers: int = 4,
    on_result: Callable[[MediaResult], None] | None = None,
) -> list[MediaResult]:
    """Hash every item, ``workers`` at a time; results in input order."""
    work = list(items)
    if workers <= 1 or len(work) <= 1:
        results = [hash_object(store, it) for it in work]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify-media") as pool:
            results = list(pool.map(lambda it: hash_object(store, it), work))
    if on_result is not None:
        for r in results:
            on_result(r)
    return results
