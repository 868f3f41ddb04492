"""An :class:`~archive.storage.base.ObjectStore` opened on first use.

The composition root hands this to the parts it builds (ledger, legal holds, retention, audit
trail), so that building them never starts (or reaches) the store: a read-only command such as
``archive holds list`` works while the store is down, and the embedded store starts only when a
part really calls it. Thread-safe: the first caller opens it, concurrent callers wait for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping

from archive.storage.base import ObjectInfo, ObjectStore, PutResult, Retention

__all__ = ["DeferredStore"]


class DeferredStore:
    """Delegates every call to ``open_store()``'s result, calling ``open_store`` once.

    Raises whatever ``open_store`` raises (StorageError, ToolError), on each call until it succeeds.
    """

    def __init__(self, open_store: Callable[[], ObjectStore]) -> None:
        self._open = open_store
        self._store: ObjectStore | None = None
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        """True once the underlying store was opened."""
        return self._store is not None

    def target(self) -> ObjectStore:
        """The underlying store, opened now if not yet."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._open()
        return self._store

    def ensure_bucket(self, bucket: str, *, object_lock: bool = True) -> None:
        """See :meth:`ObjectStore.ensure_bucket`."""
        self.target().ensure_bucket(bucket, object_lock=object_lock)

    def put_file(self, bucket: str, key: str, path: str, *, content_type: str = "application/octet-stream",
                 metadata: Mapping[str, str] | None = None, retention: Retention | None = None,
                 legal_hold: bool = False) -> PutResult:  # fmt: skip
        """See :meth:`ObjectStore.put_file`."""
        return self.target().put_file(bucket, key, path, content_type=content_type, metadata=metadata,
                                      retention=retention, legal_hold=legal_hold)  # fmt: skip

    def put_bytes(self, bucket: str, key: str, data: bytes, *, content_type: str = "application/octet-stream",
                  metadata: Mapping[str, str] | None = None, retention: Retention | None = None,
                  legal_hold: bool = False, sha256: str | None = None) -> PutResult:  # fmt: skip
        """See :meth:`ObjectStore.put_bytes`."""
        return self.target().put_bytes(bucket, key, data, content_type=content_type, metadata=metadata,
                                       retention=retention, legal_hold=legal_hold, sha256=sha256)  # fmt: skip

    def stat(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo:
        """See :meth:`ObjectStore.stat`."""
        return self.target().stat(bucket, key, version_id)

    def open(self, bucket: str, key: str, version_id: str | None = None) -> Iterator[bytes]:
        """See :meth:`ObjectStore.open`."""
        return self.target().open(bucket, key, version_id)

    def get_bytes(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        """See :meth:`ObjectStore.get_bytes`."""
        return self.target().get_bytes(bucket, key, version_id)

    def delete_version(self, bucket: str, key: str, version_id: str, *, bypass_governance: bool = False) -> None:
        """See :meth:`ObjectStore.delete_version`."""
        self.target().delete_version(bucket, key, version_id, bypass_governance=bypass_governance)

    def set_legal_hold(self, bucket: str, key: str, version_id: str, on: bool) -> None:
        """See :meth:`ObjectStore.set_legal_hold`."""
        self.target().set_legal_hold(bucket, key, version_id, on)

    def set_retention(self, bucket: str, key: str, version_id: str, retention: Retention) -> None:
        """See :meth:`ObjectStore.set_retention`."""
        self.target().set_retention(bucket, key, version_id, retention)

    def list_versions(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """See :meth:`ObjectStore.list_versions`."""
        return self.target().list_versions(bucket, prefix)

    def ping(self) -> None:
        """See :meth:`ObjectStore.ping`."""
        self.target().ping()
