"""Object-lock retention at upload = the owner's policy (the Ingester's ``retention`` callback).

:class:`PolicyStore` keeps the last valid :class:`~archive.retention.policy.PolicySet` of the
policy directory and reloads it when a file changes (checked at most every ``check_s``); an
invalid edit is logged and the last valid set stays in force. :class:`UploadRetention` maps a
camera to its owner and tags (cached from the registry) and returns ``Retention(mode, start +
keep)``: footage cannot be deleted, even with storage credentials, before the policy allows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.errors import ERRORS, ValidationError
from archive.model import Camera
from archive.retention.policy import PolicySet
from archive.retention.policy_load import load_policies
from archive.storage.base import LockMode, Retention

log = logging.getLogger(__name__)


class PolicyStore:
    """The current policies of a directory, reloaded on change. Thread-safe."""

    def __init__(self, directory: Path, *, check_s: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.directory = directory
        self._check_s = check_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._current: PolicySet | None = None
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._checked = -float("inf")
        self.error: str | None = None

    def _sig(self) -> tuple[tuple[str, int, int], ...]:
        try:
            return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in self.directory.iterdir()))
        except OSError:
            return ()

    def load(self) -> PolicySet:
        """Load now, strictly. Raises ValidationError (the last valid set stays in force)."""
        with self._lock:
            sig = self._sig()
            try:
                policies = load_policies(self.directory)
            except ValidationError as exc:
                self.error = str(exc)
                raise
            self._current, self._signature, self.error = policies, sig, None
            self._checked = self._monotonic()
            return policies

    def current(self) -> PolicySet | None:
        """The last valid set, reloaded if the files changed; None if none was ever valid."""
        if self._monotonic() - self._checked >= self._check_s:
            self._checked = self._monotonic()
            if self._sig() != self._signature:
                try:
                    self.load()
                except ValidationError as exc:
                    log.error("retention policies in %s are invalid; keeping the last valid ones:\n%s",
                              self.directory, exc)  # fmt: skip
        return self._current


class UploadRetention:
    """``(camera_id, segment start) -> Retention`` for :class:`archive.recorder.ingest.Ingester`.

    ``until = start + keep`` of the camera's rule, at least ``min_lock`` from now (a segment
    drained late from the spool must still get a valid, future lock). Unknown cameras and a
    missing policy set fall back to the city default, then to ``default_keep_days``. Never
    raises: a lock is always returned.
    """

    def __init__(
        self,
        policies: PolicyStore,
        cameras: Callable[[], Sequence[Camera]],
        *,
        mode: LockMode = LockMode.GOVERNANCE,
        default_keep_days: int = 30,
        min_lock: timedelta = timedelta(hours=1),
        camera_ttl_s: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policies = policies
        self._cameras = cameras
        self._mode = mode
        self._default = default_keep_days
        self._min_lock = min_lock
        self._ttl = camera_ttl_s
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._map: dict[str, Camera] = {}
        self._loaded = -float("inf")

    def _camera(self, camera_id: str) -> Camera | None:
        with self._lock:
            stale = self._monotonic() - self._loaded >= self._ttl
            if stale or (camera_id not in self._map and self._monotonic() - self._loaded >= 1.0):
                try:
                    self._map = {c.id: c for c in self._cameras()}
                    self._loaded = self._monotonic()
                except ERRORS as exc:
                    log.warning("camera registry unavailable for upload retention: %s", exc)
            return self._map.get(camera_id)

    def keep_days(self, camera_id: str) -> int:
        """The keep period applied to new footage of ``camera_id``."""
        policies = self._policies.current()
        if policies is None:
            return self._default
        cam = self._camera(camera_id)
        if cam is None:
            return policies.city.default_keep_days
        return policies.resolve(cam.owner_id, cam.id, cam.tags).keep_days

    def __call__(self, camera_id: str, start: datetime) -> Retention:
        until = start.astimezone(UTC) + timedelta(days=self.keep_days(camera_id))
        return Retention(self._mode, max(until, self._clock() + self._min_lock))
