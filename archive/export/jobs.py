"""Background builds: a queue and one worker thread (builds are disk- and network-bound; one
at a time keeps memory and store load predictable). Progress is in the catalog
(``progress_done`` / ``progress_total``), so any process sees it. When idle, the worker also
queues exports approved by other processes and releases the legal holds refused exports
still keep (a release that failed when the export was refused)."""

from __future__ import annotations

import logging
import queue
import threading
from typing import cast

from archive.errors import ERRORS
from archive.export.building import ExportBuilds
from archive.export.model import SYSTEM, Actor, ExportStatus
from archive.export.service import ExportService

__all__ = ["BuildRunner"]

log = logging.getLogger(__name__)
_STOP = object()
_FAILURES: tuple[type[BaseException], ...] = (*ERRORS, OSError)


class BuildRunner:
    """Runs queued builds in a daemon thread; :meth:`submit` never blocks. Every ``poll_s`` without
    work it also queues exports approved by other processes."""

    def __init__(self, service: ExportService, builds: ExportBuilds, *, poll_s: float = 30.0) -> None:
        self._poll = poll_s
        self._svc = service
        self._builds = builds
        self._queue: queue.Queue[object] = queue.Queue()
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def submit(self, export_id: str, operator: Actor = SYSTEM) -> None:
        """Queue a build (ignored when it is already queued)."""
        with self._lock:
            if export_id in self._queued:
                return
            self._queued.add(export_id)
        self._queue.put((export_id, operator))

    def start(self) -> None:
        """Start the worker (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._loop, name="export-builder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current build (queued builds stay approved and are resumed next start)."""
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def idle(self) -> bool:
        """True when nothing is queued or running."""
        with self._lock:
            return not self._queued

    def resume(self) -> list[str]:
        """Queue every approved export and retry every build a stopped process left ``building``.
        Returns the queued ids. Raises CatalogError."""
        ids = []
        for rec in self._svc.records([ExportStatus.APPROVED, ExportStatus.BUILDING]):
            if rec.status is ExportStatus.BUILDING:
                self._builds.interrupted(rec.id)
            self.submit(rec.id)
            ids.append(rec.id)
        return ids

    def _loop(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._poll)
            except queue.Empty:  # approvals made by another process (e.g. the CLI)
                try:
                    for rec in self._svc.records([ExportStatus.APPROVED]):
                        self.submit(rec.id)
                    self._svc.release_refused_holds()
                except ERRORS as exc:
                    log.error("export builder: cannot list approved or refused exports: %s", exc)
                continue
            if item is _STOP:
                return
            assert isinstance(item, tuple)
            export_id, operator = cast(tuple[str, Actor], item)
            try:
                self._builds.build(export_id, operator)
                self.last_error = None
            except _FAILURES as exc:
                self.last_error = f"export {export_id}: {exc}"
                log.error("export %s: build failed: %s", export_id, exc)
            finally:
                with self._lock:
                    self._queued.discard(export_id)
