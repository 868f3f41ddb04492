"""Scheduler jobs (APScheduler 3: ``BackgroundScheduler`` or ``AsyncIOScheduler``).

:class:`RetentionJobs` wraps a service for a scheduler: its callables never raise (errors are
logged and kept for health), and :meth:`RetentionJobs.add_to` adds the executor (every
``interval_minutes``, default hourly) and the legal-hold sync (every ``hold_sync_minutes``) with
``max_instances=1`` and ``coalesce``. The functions are synchronous: ``AsyncIOScheduler`` runs
them in its thread pool, so the event loop is never blocked. Across processes the database
lease makes a second executor skip its turn (logged at INFO, not an error).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from archive.errors import ERRORS, ConflictError
from archive.retention.holds import SyncReport
from archive.retention.service import RetentionService, RunReport, summary

log = logging.getLogger(__name__)

RUN_JOB_ID = "retention-run"
HOLD_JOB_ID = "legal-hold-sync"


class Scheduler(Protocol):
    """The part of an APScheduler 3 scheduler used here."""

    def add_job(self, func: Callable[..., Any], trigger: str, **kwargs: Any) -> Any:
        """Schedule ``func``."""


@dataclass(frozen=True)
class JobStatus:
    """For health: the last run and hold sync, and the last error of each."""

    last_run_at: datetime | None
    last_run: dict[str, Any] | None
    last_run_error: str | None
    last_sync_at: datetime | None
    last_sync_error: str | None


class RetentionJobs:
    """Scheduler-facing wrapper of a :class:`RetentionService`. Thread-safe."""

    def __init__(self, service: RetentionService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._run_at: datetime | None = None
        self._run: dict[str, Any] | None = None
        self._run_error: str | None = None
        self._sync_at: datetime | None = None
        self._sync_error: str | None = None

    def run(self) -> RunReport | None:
        """One executor run; None when another process holds the lease or it failed (logged)."""
        try:
            report = self.service.run()
        except ConflictError as exc:
            log.info("retention run skipped: %s", exc)
            return None
        except ERRORS as exc:
            log.error("retention run failed: %s", exc)
            with self._lock:
                self._run_at, self._run_error = datetime.now(UTC), str(exc)
            return None
        with self._lock:
            self._run_at, self._run, self._run_error = datetime.now(UTC), summary(report), None
        log.info("retention run %d: %s, %d deleted, %d failed", report.run_id, report.status,
                 report.execution.deleted, report.execution.failed)  # fmt: skip
        return report

    def sync_holds(self) -> SyncReport | None:
        """One legal-hold sync; None when it failed or was busy (logged)."""
        try:
            rep = self.service.sync_holds()
        except ERRORS as exc:
            log.warning("legal-hold sync did not run: %s", exc)
            with self._lock:
                self._sync_at, self._sync_error = datetime.now(UTC), str(exc)
            return None
        with self._lock:
            self._sync_at, self._sync_error = datetime.now(UTC), None if rep.ok else "; ".join(
                (*rep.missing, *rep.failed)[:5])  # fmt: skip
        return rep

    def status(self) -> JobStatus:
        """The last results, for health checks."""
        with self._lock:
            return JobStatus(self._run_at, self._run, self._run_error, self._sync_at, self._sync_error)

    def add_to(self, scheduler: Scheduler, *, first_run_delay: timedelta = timedelta(minutes=1)) -> None:
        """Add both jobs to ``scheduler`` (ids ``retention-run`` and ``legal-hold-sync``)."""
        s = self.service.settings
        start = datetime.now(UTC) + first_run_delay
        common: dict[str, Any] = {"max_instances": 1, "coalesce": True, "replace_existing": True,
                                  "misfire_grace_time": 300}  # fmt: skip
        scheduler.add_job(self.run, "interval", id=RUN_JOB_ID, name="retention: plan and delete",
                          minutes=s.interval_minutes, next_run_time=start, **common)  # fmt: skip
        scheduler.add_job(self.sync_holds, "interval", id=HOLD_JOB_ID, name="legal holds: sync S3 legal holds",
                          minutes=s.hold_sync_minutes, next_run_time=start, **common)  # fmt: skip
