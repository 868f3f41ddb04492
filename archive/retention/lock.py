"""A database lease so that only one retention executor runs at a time, across processes/hosts.

One ``job_lock`` row per job name. Acquiring is one atomic ``UPDATE ... WHERE holder IS NULL OR
expires_us < now`` (works the same on SQLite and PostgreSQL: the row lock / database lock makes
the conditional update exclusive); renewing is ``UPDATE ... WHERE holder = me``. A holder that dies
loses the lease after ``lease_s``. While held, a heartbeat thread renews it every ``lease_s / 3``;
if a renewal fails, :attr:`JobLock.lost` is set and the executor stops between batches.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, and_, insert, or_, select, update

from archive.catalog.errors import catalog_errors
from archive.errors import CatalogConflictError, CatalogError, ConflictError
from archive.retention.tables import JOB_LOCK

log = logging.getLogger(__name__)


def _wall_us() -> int:
    return time.time_ns() // 1000


class JobLock:
    """A lease on job ``name`` for this holder. Raises CatalogError when the database fails."""

    def __init__(self, engine: Engine, name: str, lease_s: float, *, now_us: Callable[[], int] = _wall_us,
                 holder: str | None = None) -> None:  # fmt: skip
        self._engine = engine
        self.name = name
        self._lease_us = int(lease_s * 1_000_000)
        self._now_us = now_us
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def _ensure_row(self) -> None:
        with self._engine.connect() as conn:
            if conn.execute(select(JOB_LOCK.c.name).where(JOB_LOCK.c.name == self.name)).first() is not None:
                return
        try:
            with catalog_errors(f"cannot create the {self.name} lock"), self._engine.begin() as conn:
                conn.execute(insert(JOB_LOCK).values(name=self.name))
        except CatalogConflictError:
            pass  # another process created it first: fine

    def acquire(self) -> bool:
        """Take the lease if it is free or expired (or already ours). Returns whether we hold it."""
        now = self._now_us()
        with catalog_errors(f"cannot take the {self.name} lock"):
            self._ensure_row()
            with self._engine.begin() as conn:
                done = conn.execute(
                    update(JOB_LOCK)
                    .where(and_(JOB_LOCK.c.name == self.name,
                                or_(JOB_LOCK.c.holder.is_(None), JOB_LOCK.c.expires_us < now,
                                    JOB_LOCK.c.holder == self.holder)))
                    .values(holder=self.holder, acquired_us=now, expires_us=now + self._lease_us)
                )  # fmt: skip
                got = done.rowcount == 1
        if got:
            self.lost.clear()
        return got

    def renew(self) -> bool:
        """Extend our lease. Returns False (and sets :attr:`lost`) if it is no longer ours."""
        now = self._now_us()
        try:
            with catalog_errors(f"cannot renew the {self.name} lock"), self._engine.begin() as conn:
                done = conn.execute(
                    update(JOB_LOCK)
                    .where(and_(JOB_LOCK.c.name == self.name, JOB_LOCK.c.holder == self.holder))
                    .values(expires_us=now + self._lease_us)
                )
        except CatalogError as exc:
            log.warning("cannot renew the %s lock: %s", self.name, exc.__cause__)
            return True  # keep going until the lease really lapses; the next beat retries
        if done.rowcount != 1:
            self.lost.set()
            return False
        return True

    def release(self) -> None:
        """Give the lease back (only if we still hold it)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
            self._beat = None
        with catalog_errors(f"cannot release the {self.name} lock"), self._engine.begin() as conn:
            conn.execute(
                update(JOB_LOCK)
                .where(and_(JOB_LOCK.c.name == self.name, JOB_LOCK.c.holder == self.holder))
                .values(holder=None, acquired_us=None, expires_us=None)
            )

    def current_holder(self) -> tuple[str | None, int | None]:
        """``(holder, expires_us)`` as stored now."""
        with catalog_errors(f"cannot read the {self.name} lock"), self._engine.connect() as conn:
            row = conn.execute(select(JOB_LOCK.c.holder, JOB_LOCK.c.expires_us)
                               .where(JOB_LOCK.c.name == self.name)).first()  # fmt: skip
        return (None, None) if row is None else (row[0], row[1])

    def _heartbeat(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            if not self.renew():
                log.error("lost the %s lock (lease expired and taken by another process)", self.name)
                return

    @contextmanager
    def held(self, heartbeat_s: float | None = None, wait_s: float = 0.0) -> Iterator[JobLock]:
        """Hold the lease for the block (waiting up to ``wait_s`` for it), renewing it in the background.

        Raises:
            ConflictError: another holder has it (message names the holder and expiry).
            CatalogError: the database failed.
        """
        deadline = time.monotonic() + wait_s
        while not self.acquire():
            if time.monotonic() >= deadline:
                holder, expires = self.current_holder()
                raise ConflictError(f"{self.name} is already running ({holder}, lease until {expires} us)")
            time.sleep(0.2)
        self._stop.clear()
        every = heartbeat_s if heartbeat_s is not None else self._lease_us / 3_000_000
        self._beat = threading.Thread(target=self._heartbeat, args=(every,), name=f"{self.name}-lease", daemon=True)
        self._beat.start()
        try:
            yield self
        finally:
            self.release()
