"""Ingest: every finished (or partial) spool segment, in order, into the object store and the sink.

One dispatcher thread owns all state and makes every sink call, so per camera the sink sees
segments and gaps strictly in recording order. The slow part of each segment (hash + probe, put
with object-lock retention, confirm by HEAD: :func:`archive.recorder.ingest_job.run_job`) runs on a
bounded thread pool, up to ``per_camera`` segments of one camera at a time; results are committed
in order: gap (if the segment does not start where the last one ended) -> ``record_segment`` ->
only then the spool file is unlinked (:meth:`CameraSpool.remove_ingested`).

A failed segment keeps its file and ``seq`` and is retried with capped exponential backoff; later
segments of that camera wait behind it. While the store is unreachable (StorageUnavailableError)
nothing is submitted until the store backoff expires, then one probe job (the globally oldest
segment); once it succeeds the backlog drains oldest first. A put that succeeded before a crash or
a failed try is found again by HEAD (same key, same sha256) and not uploaded twice; a first try at
a file of a run seen live in this process skips that HEAD.

Gaps (:mod:`archive.recorder.ingest_state`): when a segment starts more than ``gap_tolerance``
seconds after the last logged segment or gap ended, the uncovered interval is logged first, one
gap per state the camera's :class:`~archive.recorder.timeline.StateTimeline` shows in it (the
supervisor marks it; without a supervisor, :meth:`Ingester.note_run_end` does), SPEC.md 2.3.1;
at :meth:`Ingester.stop`, a camera with nothing left to ingest gets the time since then logged too.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Final

from archive.errors import IntegrityError, StorageUnavailableError
from archive.integrity import DEFAULT_TOLERANCE_US
from archive.recorder.backoff import Backoff
from archive.recorder.ingest_job import IngestJob, KeyPolicy, ProbeTool, RetentionPolicy, default_key, run_job
from archive.recorder.ingest_state import CameraIngest, Pending, gap_between, log_trailing_gap
from archive.recorder.ingest_steps import commit_ready, drop_from, enqueue_ready
from archive.recorder.sink import GapRecord, RecorderGapReason, SegmentRecord, SegmentSink
from archive.recorder.spool import CameraSpool
from archive.recorder.status import IngestStatus
from archive.recorder.timeline import StateTimeline
from archive.redact import scrub
from archive.storage.base import ObjectStore

#: A hole between two segments longer than this is logged as a gap: the verifiers' default tolerance T
#: (SPEC.md 8 step 8, 500 ms), so every hole an export's verification would refuse as "not covered" is a gap
#: with its reason, and a hole left unlogged is one T absorbs as measurement error (SPEC.md 9).
DEFAULT_GAP_TOLERANCE_S: Final = DEFAULT_TOLERANCE_US / 1_000_000
DEFAULT_RETRY: Final = Backoff(1.0, 30.0)
DEFAULT_STORE_RETRY: Final = Backoff(1.0, 10.0)
_log = logging.getLogger(__name__)


class Ingester:
    """Moves spool segments into the store, in order, and reports them to a :class:`SegmentSink`.

    Call :meth:`start` for the background thread, or :meth:`pass_once` / :meth:`drain` directly.
    Public methods are thread-safe and raise nothing: failures of the store, the tools or the sink
    are counted and retried, and show in :meth:`status`.
    """

    def __init__(
        self,
        store: ObjectStore,
        sink: SegmentSink,
        *,
        bucket: str,
        retention: RetentionPolicy,
        workers: int = 4,
        per_camera: int = 2,
        key_for: KeyPolicy = default_key,
        probe_tool: ProbeTool = "python",
        retry: Backoff = DEFAULT_RETRY,
        store_retry: Backoff = DEFAULT_STORE_RETRY,
        poll_interval: float = 0.5,
        gap_tolerance: float = DEFAULT_GAP_TOLERANCE_S,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store, self._sink, self._bucket = store, sink, bucket
        self._retention, self._key_for, self._probe_tool = retention, key_for, probe_tool
        self._workers, self._per_camera = max(1, workers), max(1, per_camera)
        self._retry, self._store_retry = retry, store_retry
        self._poll, self._gap_tolerance, self._clock = poll_interval, gap_tolerance, clock
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="ingest")
        self._cams: dict[str, CameraIngest] = {}
        self._lock = threading.Lock()  # guards _cams membership and the inbox fields
        self._pass_lock = threading.Lock()  # one pass at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store_failures = 0
        self._store_retry_at = 0.0
        self._store_probe: Pending | None = None
        self._store_error: str | None = None

    # -- inputs (any thread) ---------------------------------------------------------------
    def add_camera(self, spool: CameraSpool, timeline: StateTimeline | None = None, epoch: int | None = None, *,
                   preroll: Collection[str] = (), live: Collection[str] = ()) -> None:  # fmt: skip
        """Start watching a camera's spool (idempotent). ``timeline``: the supervisor's marks of the
        camera's state, where gap reasons come from (else :meth:`note_run_end` fills one); ``epoch``:
        of the writer claim it is recorded under (earlier-epoch files the log covers are not logged);
        ``preroll``: runs recorded before that claim was held (a handover's make before break: their
        files the log covers are not logged either); ``live``: the runs whose ffmpeg is alive now."""
        with self._lock:
            if spool.camera_id not in self._cams:
                self._cams[spool.camera_id] = CameraIngest(
                    spool, timeline=timeline or StateTimeline(), status=IngestStatus(spool.camera_id), epoch=epoch,
                    preroll_runs=frozenset(preroll), live_runs=frozenset(live), seen_runs=frozenset(live))
        self._wake.set()

    def fenced(self) -> dict[str, str]:
        """Cameras whose append was refused because another writer took their claim over, with why."""
        with self._lock:
            return {c: cam.fenced for c, cam in self._cams.items() if cam.fenced}

    def fence(self, camera_id: str, why: str) -> None:
        """Append nothing more for the camera (its claim was taken over); its files stay in the spool."""
        with self._lock:
            cam = self._cams.get(camera_id)
            if cam is not None and not cam.fenced:
                cam.fenced = why
                cam.status = replace(cam.status, last_error=f"fenced: {why}")

    def forget(self, camera_id: str) -> None:
        """Stop watching a fenced camera without logging anything; its spool files stay."""
        with self._lock:
            cam = self._cams.get(camera_id)
            if cam is not None and cam.fenced:
                del self._cams[camera_id]

    def set_live_runs(self, camera_id: str, runs: Collection[str]) -> None:
        """The runs whose ffmpeg is alive now (their unlisted newest file is still being written)."""
        with self._lock:
            cam = self._cams.get(camera_id)
            if cam is not None:
                cam.live_runs = frozenset(runs)
                cam.seen_runs |= cam.live_runs
                cam.dirty = True
        self._wake.set()

    def note_run_end(
        self, camera_id: str, run_id: str, reason: RecorderGapReason, detail: str = "", at: dt.datetime | None = None
    ) -> None:
        """Why a run ended (at ``at``, default now): marked on the camera's timeline, the reason of
        the gap that follows it, if any (``detail`` is kept scrubbed). ``run_id`` is for the caller's log only."""
        detail = scrub(detail)
        with self._lock:
            cam = self._cams.get(camera_id)
        if cam is not None:
            cam.timeline.mark(at or self._clock(), reason, detail)

    def wake(self, camera_id: str | None = None) -> None:
        """Look at a camera's spool (all spools when None) now rather than at the next rescan."""
        with self._lock:
            for cam in self._cams.values():
                if camera_id is None or cam.spool.camera_id == camera_id:
                    cam.dirty = True
        self._wake.set()

    # -- outputs ----------------------------------------------------------------------------
    def status(self, camera_id: str) -> IngestStatus:
        """Counters of one camera (zeros for an unknown one)."""
        with self._lock:
            cam = self._cams.get(camera_id)
            return cam.status if cam is not None else IngestStatus(camera_id)

    @property
    def store_available(self) -> bool:
        """False from a failed put/HEAD with the store unreachable until the next success."""
        return self._store_failures == 0

    @property
    def store_error(self) -> str | None:
        """The last store-unreachable message while :attr:`store_available` is False."""
        return self._store_error if self._store_failures else None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Run passes on a background thread until :meth:`stop`."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="ingest-dispatch", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread, let running uploads finish and commit what completed (within ``timeout``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        deadline = time.monotonic() + timeout
        while self._in_flight() and time.monotonic() < deadline:
            time.sleep(0.05)
            self.pass_once(submit=False)
        self.pass_once(submit=False)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._log_trailing_gaps()

    def _log_trailing_gaps(self) -> None:
        """At shutdown, log a gap up to now for each camera down (nothing left in its spool)."""
        now = self._clock()
        with self._lock:
            cams = list(self._cams.values())
        for cam in cams:
            try:
                log_trailing_gap(cam, self._sink, now, self._gap_tolerance)
            except Exception as exc:  # the next start logs it as recorder_stopped instead
                self._sink_failed(cam, time.monotonic(), exc)

    def drain(self, timeout: float) -> bool:
        """Run passes until every ready segment is committed; False if ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pass_once(rescan=True) and not self._in_flight():
                return True
            self._wake.wait(0.05)
            self._wake.clear()
        return False

    def retire(self, camera_id: str, timeout: float, stop: threading.Event | None = None, *,
               trailing_gap: bool = True) -> bool:  # fmt: skip
        """For a camera that stopped recording (its ffmpeg ended): wait until everything of it in the
        spool is stored and logged, log the gap from its last segment to now (the reason its
        timeline shows, e.g. an operator disabled it) and stop watching it, so another process may
        take its writer claim. Returns True once done (also for a camera not watched), False when
        ``timeout`` ran out or ``stop`` was set first (it stays watched; call again). Without
        ``trailing_gap`` (a handover to a node that records the camera already) no gap is logged: the
        log ends at the last segment, where the next holder's first segment starts. Raises nothing."""
        deadline = time.monotonic() + timeout
        while True:
            with self._pass_lock:
                with self._lock:
                    cam = self._cams.get(camera_id)
                if cam is None:
                    return True
                try:
                    left = any(not cam.skipped(f.name) for f in cam.spool.scan(()))
                except OSError:
                    left = True
                if cam.initialized and not cam.pending and not left:
                    try:
                        # tolerance 0: the next writer may be another process, which cannot know why
                        if trailing_gap:
                            log_trailing_gap(cam, self._sink, self._clock(), 0.0)
                    except Exception as exc:  # the sink is someone else's code: retried by the next call
                        self._sink_failed(cam, time.monotonic(), exc)
                        return False
                    with self._lock:
                        del self._cams[camera_id]
                    return True
            if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                return False
            self.wake(camera_id)
            time.sleep(0.1)

    def _job_done(self, _: object) -> None:
        self._wake.set()  # commit it and hand its worker the next file now, not at the next poll

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.pass_once()
            self._wake.wait(self._poll)
            self._wake.clear()

    def _in_flight(self) -> int:
        with self._lock:
            cams = list(self._cams.values())
        return sum(1 for c in cams for p in c.pending if p.future is not None)

    # -- one pass ------------------------------------------------------------------------------
    def pass_once(self, *, submit: bool = True, rescan: bool = False) -> bool:
        """Collect finished uploads, commit in order, scan spools (woken ones, or all with ``rescan``),
        submit work. Returns True when nothing is waiting (every ready segment committed, none in flight).
        """
        with self._pass_lock:
            with self._lock:
                cams = list(self._cams.values())
            now = time.monotonic()
            cams = [c for c in cams if not c.fenced]  # their claim was taken over: nothing more is done
            for cam in cams:
                self._init_camera(cam, now)
                self._collect(cam, now)
                self._commit(cam, now)
                self._enqueue(cam, now, rescan)
            if submit and not self._stop.is_set():
                self._submit([c for c in cams if not c.fenced], now)
            idle = True
            for cam in cams:
                self._publish(cam)
                idle = idle and not cam.pending
            return idle

    def _init_camera(self, cam: CameraIngest, now: float) -> None:
        if cam.initialized or now < cam.commit_not_before:
            return
        try:
            cam.last = self._sink.last_segment(cam.spool.camera_id)
            cam.covered = self._sink.covered_until(cam.spool.camera_id)
        except Exception as exc:  # the sink is someone else's code: count, retry later
            self._sink_failed(cam, now, exc)
            return
        cam.next_seq = cam.last.seq + 1 if cam.last is not None else 0
        cam.initialized = True

    def _sink_failed(self, cam: CameraIngest, now: float, exc: BaseException) -> None:
        cam.commit_attempts += 1
        cam.commit_not_before = now + self._retry.delay(cam.commit_attempts)
        cam.status = replace(cam.status, sink_failures=cam.status.sink_failures + 1, last_error=f"sink: {exc!r}",
                             sink_retrying=cam.commit_attempts)  # fmt: skip

    def _collect(self, cam: CameraIngest, now: float) -> None:
        for index, item in enumerate(list(cam.pending)):
            future = item.future
            if future is None or not future.done():
                continue
            item.future = None
            if item.generation != cam.generation:
                continue
            try:
                item.record = future.result()
            except (FileNotFoundError, IntegrityError) as exc:  # gone, or changed after the scan
                cam.spool.forget(item.file.name)
                drop_from(cam, index, exc)
                return
            except Exception as exc:  # every failure keeps the file; it is retried
                cam.status = replace(
                    cam.status, failures=cam.status.failures + 1, last_error=f"{item.file.name}: {exc}"
                )
                if isinstance(exc, StorageUnavailableError):
                    self._store_down(now, exc)  # the store's backoff governs, not the item's
                else:
                    item.attempts += 1
                    item.not_before = now + self._retry.delay(item.attempts)
                    if self._store_probe is item:
                        self._store_probe = None  # let another segment probe the store
                continue
            if self._store_probe is item or self._store_failures:
                self._store_failures = 0
                self._store_probe = None

    def _store_down(self, now: float, exc: BaseException) -> None:
        self._store_failures += 1
        self._store_error = str(exc)
        self._store_retry_at = now + self._store_retry.delay(self._store_failures)
        self._store_probe = None

    def _gap_before(self, cam: CameraIngest, record: SegmentRecord) -> list[GapRecord]:
        return gap_between(cam.last, record, cam.timeline, self._gap_tolerance, cam.covered)

    def _commit(self, cam: CameraIngest, now: float) -> None:
        commit_ready(cam, self._sink, now, self._gap_before, fence=self.fence, sink_failed=self._sink_failed,
                     lock=self._lock)  # fmt: skip

    def _enqueue(self, cam: CameraIngest, now: float, rescan: bool) -> None:
        enqueue_ready(cam, now, rescan)

    def _submit(self, cams: list[CameraIngest], now: float) -> None:
        in_flight = sum(1 for c in cams for p in c.pending if p.future is not None)
        if self._store_failures and (now < self._store_retry_at or self._store_probe is not None):
            return
        waiting = [
            (p.file.mtime_ns, id(c), p, c)
            for c in cams
            for p in c.pending
            if p.future is None and p.record is None and p.not_before <= now
        ]
        waiting.sort(key=lambda t: (t[0], t[1]))
        per_cam = {id(c): sum(1 for p in c.pending if p.future is not None) for c in cams}
        for _, key, item, cam in waiting:
            if in_flight >= self._workers:
                break
            if per_cam[key] >= self._per_camera:
                continue
            job = IngestJob(cam.spool.camera_id, item.seq, item.file, self._bucket)
            recovered = item.submitted > 0 or item.file.run_id not in cam.seen_runs  # an earlier try may have stored it
            item.future = self._pool.submit(run_job, job, self._store, retention=self._retention, key_for=self._key_for,
                                            probe_tool=self._probe_tool, check_existing=recovered)  # fmt: skip
            item.future.add_done_callback(self._job_done)
            item.submitted += 1
            in_flight += 1
            per_cam[key] += 1
            if self._store_failures:
                self._store_probe = item  # one probe while the store is down
                break

    def _publish(self, cam: CameraIngest) -> None:
        status = replace(
            cam.status, in_flight=sum(1 for p in cam.pending if p.future is not None), kept_files=len(cam.kept)
        )
        with self._lock:
            cam.status = status
