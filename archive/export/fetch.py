"""Fetching the segments of a package: several at once, bounded by bytes in flight, each hashed once.

Worker threads read objects from the store; each chunk is fed to SHA-256 and CRC-32 as it
arrives (both release the GIL for large buffers, so hashing runs beside the thread that writes
the zip). The one SHA-256 serves both the check against the log entry and the manifest's file
record; the CRC-32 goes into the zip's local header. Results come back in the order asked for.

Memory: at most ``budget`` bytes of segments are fetched or being fetched and not yet handed
to the consumer (one segment larger than the budget is fetched alone), plus the segment the
consumer holds. It does not depend on the number of cameras or segments.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from archive.export.gather import ExportSegmentRef
from archive.integrity import IntegrityError
from archive.storage.base import ObjectStore

__all__ = ["Fetched", "Prefetcher", "fetch"]


@dataclass(frozen=True)
class Fetched:
    """One object's bytes (as the chunks that arrived), their SHA-256 (hex), CRC-32 and size."""

    chunks: tuple[bytes, ...]
    sha256: str
    crc32: int
    size: int


def fetch(store: ObjectStore, ref: ExportSegmentRef) -> Fetched:
    """Read and hash one object version.

    Raises:
        IntegrityError: the object is larger or smaller than its log entry records (reading
            stops at the first byte too many).
        StorageError (ObjectMissingError, ...): the store failed or lost the version.
    """
    h = hashlib.sha256()
    crc = size = 0
    chunks: list[bytes] = []
    for chunk in store.open(ref.bucket, ref.key, ref.version_id):
        size += len(chunk)
        if size > ref.size:
            raise IntegrityError(f"stored object {ref.key} version {ref.version_id} is larger than the {ref.size} "
                                 "bytes its log entry records", seq=ref.seq)  # fmt: skip
        h.update(chunk)
        crc = zlib.crc32(chunk, crc)
        chunks.append(chunk)
    if size != ref.size:
        raise IntegrityError(f"stored object {ref.key} version {ref.version_id} is {size} bytes, its log entry "
                             f"records {ref.size}", seq=ref.seq)  # fmt: skip
    return Fetched(tuple(chunks), h.hexdigest(), crc, size)


class Prefetcher:
    """``(ref, fetched)`` for every ref, in order, read ahead by ``workers`` threads within
    ``budget`` bytes (module docstring). Fetching starts at construction; :meth:`close`
    (also on leaving a ``with`` block) cancels what is queued and waits for running fetches.

    Iterating raises what :func:`fetch` raises, for the first ref that failed.
    """

    def __init__(self, store: ObjectStore, refs: Iterable[ExportSegmentRef], *, budget: int = 64 << 20,
                 workers: int = 4) -> None:  # fmt: skip
        self._store = store
        self._budget = budget
        self._depth = 2 * max(1, workers)
        self._pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="export-fetch")
        self._pending: deque[tuple[ExportSegmentRef, Future[Fetched]]] = deque()
        self._held = 0
        self._refs = iter(refs)
        self._next = next(self._refs, None)
        self._fill()

    def _fill(self) -> None:
        while self._next is not None and len(self._pending) < self._depth and (
                not self._pending or self._held + self._next.size <= self._budget):  # fmt: skip
            self._pending.append((self._next, self._pool.submit(fetch, self._store, self._next)))
            self._held += self._next.size
            self._next = next(self._refs, None)

    def __iter__(self) -> Iterator[tuple[ExportSegmentRef, Fetched]]:
        return self

    def __next__(self) -> tuple[ExportSegmentRef, Fetched]:
        if not self._pending:
            raise StopIteration
        ref, fut = self._pending.popleft()
        self._held -= ref.size
        self._fill()  # the budget counts what is fetched and not handed out yet
        return ref, fut.result()

    def close(self) -> None:
        """Stop: cancel queued fetches, wait for running ones (never raises)."""
        self._pending.clear()
        self._next = None
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
