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

from archive.errors import IntegrityError, StorageUnavailableError, WriterClaimLostError
from archive.integrity import DEFAULT_TOLERANCE_US
from archive.recorder.backoff import Backoff
from archive.recorder.ingest_job import IngestJob, KeyPolicy, ProbeTool, RetentionPolicy, default_key, run_job
from archive.recorder.ingest_state import CameraIngest, Pending, gap_between, log_trailing_gap, tidy_spool
from archive.recorder.media_clock import date_record
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
MAX_PENDING: Final = 64  # segments of one camera held in memory at once (the rest wait on disk)
RESCAN_S: Final = 5.0  # a camera nobody woke is rescanned at least this often
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
    def add_camera(self, spool: CameraSpool, timeline: StateTimeline | None = None, epoch: int | None = None) -> None:
        """Start watching a camera's spool (idempotent). ``timeline``: the supervisor's marks of the
        camera's state, where gap reasons come from (else :meth:`note_run_end` fills one); ``epoch``:
        of the writer claim it is recorded under (earlier-epoch files the log covers are not logged)."""
        with self._lock:
            if spool.camera_id not in self._cams:
                self._cams[spool.camera_id] = CameraIngest(
                    spool, timeline=timeline or StateTimeline(), status=IngestStatus(spool.camera_id), epoch=epoch
                )
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

    def retire(self, camera_id: str, timeout: float, stop: threading.Event | None = None) -> bool:
        """For a camera that stopped recording (its ffmpeg ended): wait until everything of it in the
        spool is stored and logged, log the gap from its last segment to now (the reason its
        timeline shows, e.g. an operator disabled it) and stop watching it, so another process may
        take its writer claim. Returns True once done (also for a camera not watched), False when
        ``timeout`` ran out or ``stop`` was set first (it stays watched; call again). Raises nothing."""
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
                self._vanished(cam, index, exc)
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

    def _vanished(self, cam: CameraIngest, index: int, exc: BaseException) -> None:
        """A file vanished or changed before it was stored: drop it and everything after it from
        memory (the next scan finds them again) and reuse their seqs."""
        cam.generation, cam.next_seq = cam.generation + 1, cam.pending[index].seq
        del cam.pending[index:]
        cam.dirty = True
        cam.status = replace(cam.status, failures=cam.status.failures + 1, last_error=f"rescanning: {exc}")

    def _gap_before(self, cam: CameraIngest, record: SegmentRecord) -> list[GapRecord]:
        return gap_between(cam.last, record, cam.timeline, self._gap_tolerance, cam.covered)

    def _commit(self, cam: CameraIngest, now: float) -> None:
        committed = False
        while cam.pending and cam.pending[0].record is not None and now >= cam.commit_not_before:
            item = cam.pending[0]
            assert item.record is not None
            if not item.dated:  # SPEC.md 9.1: from the media clock, bounded by arrival, in order
                nxt = cam.pending[1].file if len(cam.pending) > 1 else None
                by_next = item.file.run_id in cam.live_runs or (
                    nxt is not None and (nxt.run_id, nxt.index) == (item.file.run_id, item.file.index + 1)
                )
                item.record, item.dated = date_record(item.record, cam.last, cam.covered, closed_by_next=by_next), True
            record = item.record
            assert record is not None
            try:
                for gap in self._gap_before(cam, record):  # each logged one moves covered: never twice
                    self._sink.record_gap(gap)
                    cam.covered = gap.end if cam.covered is None else max(cam.covered, gap.end)
                    cam.status = replace(cam.status, gaps=cam.status.gaps + 1)
                self._sink.record_segment(record)
            except WriterClaimLostError as exc:  # another writer holds the camera: never append again
                self.fence(cam.spool.camera_id, str(exc))
                _log.error("NOT appending camera %s any more: %s; its spool files are kept", cam.spool.camera_id, exc)
                return
            except Exception as exc:  # the sink is someone else's code: keep the file, retry
                self._sink_failed(cam, now, exc)
                return
            cam.commit_attempts = 0
            cam.status = replace(cam.status, sink_retrying=0)
            cam.pending.pop(0)
            cam.last = record
            cam.covered = record.end if cam.covered is None else max(cam.covered, record.end)
            committed = True
            try:
                cam.spool.remove_ingested(item.file, stored_size=record.size)
                error = cam.status.last_error
            except Exception as exc:  # recorded and stored, but the file stays: never ingest it twice
                cam.kept.add(item.file.name)
                error = f"{item.file.name} stored but not deleted: {exc}"
            cam.status = replace(
                cam.status,
                backlog_files=max(0, cam.status.backlog_files - 1),
                backlog_bytes=max(0, cam.status.backlog_bytes - record.size),
                ingested=cam.status.ingested + 1,
                partial_ingested=cam.status.partial_ingested + int(record.partial),
                last_ingested_at=record.ingested_at,
                last_segment_end=record.end,
                last_error=error,
            )
        if committed and cam.covered is not None:
            cam.timeline.forget_before(cam.covered)
        if committed and not cam.pending:
            tidy_spool(cam, self._lock)

    def _enqueue(self, cam: CameraIngest, now: float, rescan: bool) -> None:
        refill = cam.truncated and len(cam.pending) < MAX_PENDING // 2
        due = cam.dirty or rescan or refill or now - cam.scanned_at >= RESCAN_S
        if not cam.initialized or not due:
            return
        cam.dirty, cam.scanned_at, cam.truncated = False, now, False
        try:
            files = cam.spool.scan(cam.live_runs)
        except OSError as exc:
            cam.status = replace(cam.status, last_error=f"spool scan: {exc}")
            return
        for file in files:
            if file.ready and not cam.skipped(file.name) and cam.supersedes(file):
                cam.superseded.add(file.name)
                _log.warning("camera %s: %s was recorded under an earlier writer claim and the log already holds "
                             "its time (another node took the camera over): kept in the spool, not logged",
                             cam.spool.camera_id, file.name)  # fmt: skip
        ready = [f for f in files if f.ready and not cam.skipped(f.name)]
        cam.status = replace(cam.status, backlog_files=len(ready), backlog_bytes=sum(f.size for f in ready),
                             oldest_waiting_at=min((f.mtime for f in ready), default=None))  # fmt: skip
        queued = {p.file.path for p in cam.pending}
        for file in files:
            if cam.skipped(file.name):
                continue
            if not file.ready:
                break
            if len(cam.pending) >= MAX_PENDING:
                cam.truncated = True
                break
            if file.path not in queued:
                cam.pending.append(Pending(file, cam.next_seq, cam.generation))
                cam.next_seq += 1

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
