"""Keeps one ffmpeg recording per enabled camera: reconnects, watchdog, spool limit, status.

Why asyncio (one event loop for all cameras) and not a thread per camera: supervising a camera is
waiting (for the process, for two pipes, for timers); hundreds of cameras are hundreds of cheap
coroutines in one thread instead of ~3 blocking threads each. The blocking work (hashing,
ffprobe, S3 uploads, sink calls) is not done here but in the :class:`Ingester`'s own threads, so
a slow store or catalog can never delay a reconnect. :class:`archive.recorder.service.Recorder`
runs this loop on a dedicated thread for synchronous callers; an asyncio application can await
:meth:`Supervisor.run` directly.

Per camera, forever until stopped: start ffmpeg into a new spool run -> watch it -> when it ends,
tell the ingester why (the reason of the gap that follows) -> wait (``reconnect`` backoff, capped
at 2 s by default, so recording resumes within ~2.5 s of the camera's return; ``failed_retry``
after the camera refused us or after ``failed_after`` runs in a row that ended without media for
another reason) -> start again. While a camera is unreachable the retries are plain TCP connects
(no ffmpeg is spawned until its RTSP port answers). The watchdog ends a run (``stalled``) when
ffmpeg's media clock has not advanced for ``stall_seconds`` or no segment was closed for
``segment_stall_seconds``. The watch is woken by ffmpeg's first media progress and by each new
segment file its log announces (the previous file was listed just before), else every
``poll_interval``; the list is re-read on each wake-up and at least every ``list_check_seconds``,
the spool size every ``spool_check_seconds``. Supervision measured at 8 cameras (``/proc`` CPU of
this process, no ingest): 0.017 CPU-s per camera-minute, against 0.050 with the former 0.5 s poll
and 1 s progress. When the spool reaches its limit the run is ended (``spool_full``) and restarted
once the spool has drained below ``spool_resume_fraction``; no spool file is ever deleted to make
room.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from archive.errors import Problem, ValidationError
from archive.recorder.ffmpeg import RecordingSpec, find_ffmpeg
from archive.recorder.ingest import Ingester
from archive.recorder.process import end_orphans
from archive.recorder.spool import CameraSpool
from archive.recorder.status import CameraStatus, RecorderStatus
from archive.recorder.timeline import Mark
from archive.recorder.worker import CameraWorker, Clock, SupervisorSettings, tcp_unreachable, utc_now
from archive.redact import remember_secret, scrub, scrub_optional

__all__ = ["CameraWorker", "Supervisor", "SupervisorSettings", "tcp_unreachable"]

log = logging.getLogger(__name__)
CRASH_RESTART_S = 2.0  # a camera loop that raised is started again after this pause


class Supervisor:
    """All cameras of one recorder. Build, :meth:`prepare`, then ``await run()``; :meth:`request_stop` ends it.

    Raises :class:`ValidationError` for duplicate camera ids and :class:`ToolError` when ffmpeg is missing.
    """

    def __init__(
        self,
        specs: Sequence[RecordingSpec],
        settings: SupervisorSettings,
        *,
        ingester: Ingester | None = None,
        clock: Clock = utc_now,
    ) -> None:
        ids = [s.camera_id for s in specs]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValidationError([Problem(f"cameras.{i}", "camera id used more than once") for i in dupes])
        self.settings = settings
        self._ingester = ingester
        self._clock = clock
        for spec in specs:  # every later scrub in this process removes them (archive.redact)
            for secret in spec.secrets:
                remember_secret(secret)
        self._ffmpeg = find_ffmpeg(settings.ffmpeg)
        self.workers = [self._worker(spec) for spec in specs if spec.enabled]  # replaced whole, never mutated
        self._retired: dict[str, CameraWorker] = {}  # taken out by remove(): their spool and timeline kept
        self._preroll: set[str] = set()  # recorded before this process holds their claim: not ingested yet
        self._tasks: dict[str, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def _worker(self, spec: RecordingSpec) -> CameraWorker:
        s = self.settings
        spool = CameraSpool(s.spool_root, spec.camera_id, max_bytes=s.spool_max_bytes,
                            alarm_fraction=s.spool_alarm_fraction)  # fmt: skip
        return CameraWorker(spec, spool, s, self._ffmpeg, self._ingester, self._clock)

    def prepare(self) -> list[int]:
        """Create spool directories, end ffmpeg orphans of an earlier recorder, register spools with
        the ingester. Returns the pids of orphans ended. Raises :class:`ConfigError` (spool dir)."""
        runs = []
        for worker in self.workers:
            worker.spool.ensure()
            runs += [worker.spool.run_paths(run_id) for run_id in worker.spool.run_ids()]
        ended = end_orphans(runs)
        for worker in self.workers:
            worker.timeline.start(self._clock())
            if self._ingester is not None:
                self._ingester.add_camera(worker.spool, worker.timeline, worker.spec.writer_epoch)
        return ended

    async def run(self) -> None:
        """Record every enabled camera until :meth:`request_stop`."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        for worker in self.workers:
            self._launch(worker)
        await self._stop.wait()
        for own_stop, _ in self._tasks.values():
            own_stop.set()
        await asyncio.gather(*(task for _, task in self._tasks.values()))

    def _launch(self, worker: CameraWorker) -> None:
        own_stop = asyncio.Event()
        task = asyncio.ensure_future(worker.run(own_stop))
        self._tasks[worker.spec.camera_id] = (own_stop, task)
        task.add_done_callback(lambda done: self._ended(worker, own_stop, done))

    def _ended(self, worker: CameraWorker, own_stop: asyncio.Event, task: asyncio.Future[None]) -> None:
        """A camera loop that raised is never silent: logged at once, and started again unless the
        camera or the recorder is stopping (the gap that follows carries the timeline's reason)."""
        if task.cancelled() or own_stop.is_set():
            return
        exc = task.exception()
        if exc is None:
            return
        camera_id = worker.spec.camera_id
        log.error("camera %s: its recording loop failed (%s); starting it again in %g s", camera_id,
                  scrub(f"{type(exc).__name__}: {exc}", worker.spec.secrets), CRASH_RESTART_S)  # fmt: skip
        if self._loop is not None:
            self._loop.call_later(CRASH_RESTART_S, self._relaunch, worker, own_stop)

    def _relaunch(self, worker: CameraWorker, own_stop: asyncio.Event) -> None:
        current = self._tasks.get(worker.spec.camera_id)
        stopping = self._stop is None or self._stop.is_set() or own_stop.is_set()
        if not stopping and current is not None and current[0] is own_stop and worker in self.workers:
            self._launch(worker)

    def add(self, spec: RecordingSpec, timeout: float = 30.0, prior: Mark | None = None, *,
            preroll: bool = False) -> bool:  # fmt: skip
        """Start recording a camera while running (thread-safe; False if it is recorded already or the
        supervisor is not running). A camera removed earlier in this run keeps its spool and state
        timeline, so the gap of its time out says why; ``prior``: another node recorded it until the
        log's end (:meth:`StateTimeline.take_over`). ``preroll``: record into the spool only, nothing
        is ingested until :meth:`adopt` (a handover's make before break: the previous holder still
        records and holds the writer claim). Raises ConfigError (spool dir), TimeoutError."""
        if self._loop is None or self._stop is None or self._stop.is_set():
            return False
        for secret in spec.secrets:
            remember_secret(secret)
        return asyncio.run_coroutine_threadsafe(self._add(spec, prior, preroll), self._loop).result(timeout)

    def adopt(self, camera_id: str, epoch: int, prior: Mark | None = None, timeout: float = 30.0) -> bool:
        """A pre-roll camera (:meth:`add` with ``preroll``) whose writer claim this process now holds
        at ``epoch``: its spool is ingested from now on; files of its runs so far that the log covers
        already are kept in the spool, never logged (:meth:`CameraIngest.supersedes`), a later one
        starts no earlier than the log's end (SPEC.md 9.1). False when it is not a pre-roll camera or
        was started under another epoch (the caller stops it and records it afresh). Raises TimeoutError."""
        if self._loop is None or self._stop is None or self._stop.is_set():
            return False
        return asyncio.run_coroutine_threadsafe(self._adopt(camera_id, epoch, prior), self._loop).result(timeout)

    async def _adopt(self, camera_id: str, epoch: int, prior: Mark | None) -> bool:
        worker = next((w for w in self.workers if w.spec.camera_id == camera_id), None)
        if worker is None or camera_id not in self._preroll or worker.spec.writer_epoch != epoch:
            return False
        if prior is not None:
            worker.timeline.take_over(prior)
        if self._ingester is not None:  # on the loop's thread: no run starts or ends meanwhile
            self._ingester.add_camera(worker.spool, worker.timeline, epoch, preroll=worker.run_ids,
                                      live=worker.live_runs)  # fmt: skip
        self._preroll.discard(camera_id)
        return True

    def prerolling(self) -> set[str]:
        """The cameras recorded as pre-roll (not ingested yet)."""
        return set(self._preroll)

    async def _add(self, spec: RecordingSpec, prior: Mark | None = None, preroll: bool = False) -> bool:
        if any(w.spec.camera_id == spec.camera_id for w in self.workers):
            return False
        old = self._retired.pop(spec.camera_id, None)
        worker = self._worker(spec)
        if old is not None:
            worker.timeline = old.timeline
        else:
            worker.spool.ensure()
            runs = [worker.spool.run_paths(run_id) for run_id in worker.spool.run_ids()]
            await asyncio.to_thread(end_orphans, runs)
            worker.timeline.start(self._clock())
        if prior is not None:
            worker.timeline.take_over(prior)
        if preroll:
            self._preroll.add(spec.camera_id)
        elif self._ingester is not None:  # a retired camera was forgotten by the ingester (its claim released)
            self._ingester.add_camera(worker.spool, worker.timeline, spec.writer_epoch)
        self.workers = [*self.workers, worker]
        self._launch(worker)
        return True

    def remove(self, camera_id: str, detail: str, timeout: float = 60.0) -> bool:
        """Stop recording a camera while running (thread-safe): its ffmpeg ends gracefully, its last
        segment is listed and still ingested; ``detail`` is the reason the gap after it gets. False
        when it is not recorded. Raises TimeoutError."""
        if self._loop is None or self._stop is None or self._stop.is_set():
            return False
        return asyncio.run_coroutine_threadsafe(self._remove(camera_id, detail), self._loop).result(timeout)

    async def _remove(self, camera_id: str, detail: str) -> bool:
        worker = next((w for w in self.workers if w.spec.camera_id == camera_id), None)
        if worker is None or camera_id not in self._tasks:
            return False
        worker.stop_detail = detail
        own_stop, task = self._tasks.pop(camera_id)
        own_stop.set()
        await task
        self.workers = [w for w in self.workers if w is not worker]
        if camera_id in self._preroll:  # never ingested here: nothing of it to remember
            self._preroll.discard(camera_id)
        else:
            self._retired[camera_id] = worker
        return True

    def request_stop(self) -> None:
        """Ask every camera to stop (thread-safe); :meth:`run` returns once all ffmpegs ended."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def status(self) -> tuple[CameraStatus, ...]:
        """Every camera's status (thread-safe)."""
        return tuple(w.snapshot() for w in self.workers)

    def recorder_status(self) -> RecorderStatus:
        """The cameras plus the store's reachability."""
        ing = self._ingester
        return RecorderStatus(
            taken_at=self._clock(),
            store_available=ing.store_available if ing else True,
            store_error=scrub_optional(ing.store_error) if ing else None,
            cameras=self.status(),
        )
