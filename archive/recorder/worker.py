"""One camera's recording loop (:class:`CameraWorker`) and the supervisor's settings; the
:class:`archive.recorder.supervisor.Supervisor` runs one worker per enabled camera (its module
docstring describes the loop: reconnects, watchdog, spool limit, status).

A worker ends when its own stop event is set: the whole recorder stopping (mark
:data:`~archive.recorder.timeline.CLEAN_STOP`), or an operator disabling or removing the camera
while the service runs (``stop_detail`` says so; the gap that follows is ``recorder_stopped``
with that detail, :mod:`archive.recorder.follow`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from archive.errors import ConfigError, ToolError
from archive.recorder.backoff import Backoff
from archive.recorder.camera_clock import CameraClockTracker
from archive.recorder.ffmpeg import RecordingSpec, build_argv
from archive.recorder.ingest import Ingester
from archive.recorder.process import ClockPipes, FfmpegRun, classify_exit
from archive.recorder.sink import RecorderGapReason
from archive.recorder.spool import CameraSpool, RunPaths, SegmentList
from archive.recorder.status import CameraState, CameraStatus, IngestStatus
from archive.recorder.timeline import CLEAN_STOP, STATES_FILE, StateTimeline, without_urls
from archive.redact import scrub, scrub_optional

log = logging.getLogger(__name__)
GIB: Final = 1024**3
DEFAULT_RECONNECT: Final = Backoff(0.5, 2.0)
DEFAULT_FAILED_RETRY: Final = Backoff(5.0, 30.0)
RUNS_KEPT: Final = 16  # runs a worker remembers (the pre-roll runs of a handover are among them)
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """Now, UTC (the default clock)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class SupervisorSettings:
    """Knobs of the supervisor. Raises :class:`ConfigError` for impossible values."""

    spool_root: Path
    spool_max_bytes: int = 2 * GIB
    spool_alarm_fraction: float = 0.8
    spool_resume_fraction: float = 0.7
    reconnect: Backoff = DEFAULT_RECONNECT
    failed_retry: Backoff = DEFAULT_FAILED_RETRY
    failed_after: int = 5
    stall_seconds: float = 20.0
    segment_stall_seconds: float | None = None  # default max(4 x segment length, 30 s)
    poll_interval: float = 5.0  # watchdog tick; first media and closed segments are noticed at once
    spool_check_seconds: float = 5.0  # how often a recording camera compares its spool with the limit
    list_check_seconds: float = 10.0  # re-read the segment list at least this often (also on each new file)
    stop_grace: float = 5.0
    connect_timeout: float = 3.0
    ffmpeg: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.spool_resume_fraction <= self.spool_alarm_fraction <= 1:
            raise ConfigError("spool fractions need 0 < resume <= alarm <= 1")
        timers = (self.stall_seconds, self.poll_interval, self.stop_grace, self.spool_check_seconds,
                  self.list_check_seconds)  # fmt: skip
        if min(timers) <= 0 or self.failed_after < 1:
            raise ConfigError(
                "stall_seconds, poll_interval, stop_grace, spool_check_seconds, list_check_seconds and "
                "failed_after must be positive"
            )

    def segment_stall_for(self, spec: RecordingSpec) -> float:
        """Seconds without a closed segment after which a run counts as stalled."""
        return self.segment_stall_seconds or max(4.0 * spec.segment_seconds, 30.0)


@dataclass(frozen=True)
class _View:
    """The mutable part of a camera's status, replaced as a whole (read from any thread)."""

    state: CameraState
    state_since: dt.datetime
    pid: int | None = None
    run_id: str | None = None
    restarts: int = 0
    stalls: int = 0
    last_segment_at: dt.datetime | None = None
    bitrate_bps: float | None = None
    not_recording_since: dt.datetime | None = None
    last_exit: str | None = None
    input_streams: tuple[str, ...] = ()


@dataclass
class _RunWatch:
    """What one run has shown so far."""

    listing: SegmentList
    last_segment_mono: float | None = None
    streaming: bool = False  # ffmpeg has opened its output (state "recording")
    got_media: bool = False  # ffmpeg's media clock advanced (a run without it counts as failed)


class CameraWorker:
    """Records one camera until stopped (see the module docstring)."""

    def __init__(
        self,
        spec: RecordingSpec,
        spool: CameraSpool,
        settings: SupervisorSettings,
        ffmpeg: str,
        ingester: Ingester | None,
        clock: Clock = utc_now,
    ) -> None:
        self.spec, self.spool, self.settings = spec, spool, settings
        self._ffmpeg, self._ingester, self._clock = ffmpeg, ingester, clock
        self._view = _View(CameraState.STARTING, clock(), not_recording_since=clock())
        self.timeline = StateTimeline(path=spool.directory / STATES_FILE)  # what the recording did: gap reasons
        self.stop_detail = CLEAN_STOP  # why this worker's stop event was set (an operator's change says so)
        self.live_runs: tuple[str, ...] = ()  # the runs whose ffmpeg is alive now
        self.run_ids: tuple[str, ...] = ()  # the last RUNS_KEPT runs this worker started, oldest first

    def _set(self, **changes: object) -> None:
        if "state" in changes and changes["state"] != self._view.state:
            changes.setdefault("state_since", self._clock())
        self._view = replace(self._view, **changes)  # type: ignore[arg-type]

    def snapshot(self) -> CameraStatus:
        """The camera's status now (thread-safe), its texts scrubbed of credentials."""
        view, secrets = self._view, self.spec.secrets
        ingest = self._ingester.status(self.spec.camera_id) if self._ingester else IngestStatus(self.spec.camera_id)
        ingest = replace(ingest, last_error=scrub_optional(ingest.last_error, secrets))
        return CameraStatus(
            camera_id=self.spec.camera_id,
            url=self.spec.display_url,
            state=view.state,
            state_since=view.state_since,
            pid=view.pid,
            run_id=view.run_id,
            restarts=view.restarts,
            stalls=view.stalls,
            last_segment_at=view.last_segment_at,
            bitrate_bps=view.bitrate_bps,
            not_recording_since=view.not_recording_since,
            last_exit=scrub_optional(view.last_exit, secrets),
            input_streams=tuple(scrub(s, secrets) for s in view.input_streams),
            spool=self.spool.usage(),
            ingest=ingest,
            segment_seconds=float(self.spec.segment_seconds),
            watched_since=self.timeline.started_at,
        )

    def _live(self, runs: Sequence[str]) -> None:
        self.live_runs = tuple(runs)
        if self._ingester is not None:
            self._ingester.set_live_runs(self.spec.camera_id, runs)

    async def run(self, stop: asyncio.Event) -> None:
        """Record until ``stop`` is set; then end ffmpeg gracefully (its last segment is listed)."""
        failures = 0  # runs in a row that got no media and did not end as "unreachable"
        unreachable = 0  # attempts in a row that found the camera unreachable
        paused = False
        while not stop.is_set():
            usage = self.spool.usage()
            if usage.full or (paused and usage.fraction > self.settings.spool_resume_fraction):
                paused = True
                self._set(state=CameraState.SPOOL_FULL, pid=None)
                self.timeline.mark(self._clock(), RecorderGapReason.SPOOL_FULL, self._spool_full_detail())
                await _sleep(stop, 1.0)
                continue
            paused = False
            tried_at = self._clock()
            problem = await tcp_unreachable(self.spec.url, self.settings.connect_timeout)
            if problem is not None:  # cheaper than an ffmpeg per attempt while a camera is away
                unreachable += 1
                detail = _attempts(problem, unreachable)
                self.timeline.mark(tried_at, RecorderGapReason.CAMERA_UNREACHABLE, detail)
                last_exit = f"{RecorderGapReason.CAMERA_UNREACHABLE}: {detail}"
                self._set(state=CameraState.RECONNECTING, pid=None, last_exit=last_exit)
                await _sleep(stop, self.settings.reconnect.delay(unreachable))
                continue
            reason, detail, got_media = await self._one_run(stop)
            if stop.is_set():
                break
            if reason is RecorderGapReason.SPOOL_FULL:
                paused = True
                continue
            if got_media:
                failures = unreachable = 0
            elif reason is RecorderGapReason.CAMERA_UNREACHABLE:
                unreachable += 1
                self.timeline.mark(self._clock(), reason, _attempts(detail, unreachable))
            else:
                failures += 1
            failed = reason is RecorderGapReason.CAMERA_REJECTED or failures >= self.settings.failed_after
            if failed:
                self._set(state=CameraState.FAILED, pid=None)
                await _sleep(stop, self.settings.failed_retry.delay(max(failures, 1)))
            else:
                self._set(state=CameraState.RECONNECTING, pid=None)
                await _sleep(stop, self.settings.reconnect.delay(max(unreachable, failures, 1)))
        self.timeline.mark(self._clock(), RecorderGapReason.RECORDER_STOPPED, self.stop_detail)
        self._set(state=CameraState.STOPPED, pid=None)

    def _spool_full_detail(self) -> str:
        usage = self.spool.usage()
        return (f"spool full: {usage.bytes_used} of {self.spool.max_bytes} bytes waiting for the store; "
                f"recording resumes below {self.settings.spool_resume_fraction:.0%}")  # fmt: skip

    async def _one_run(self, stop: asyncio.Event) -> tuple[RecorderGapReason, str, bool]:
        run = self.spool.new_run(self._clock(), writer_epoch=self.spec.writer_epoch)
        self.run_ids = (*self.run_ids[-(RUNS_KEPT - 1):], run.run_id)
        self._live([run.run_id])  # before ffmpeg exists: its first file must never look partial
        clock = tracker = None
        if self.spec.camera_clock:  # SPEC.md 2.2 camera_start: the camera's sender-report time
            try:
                clock = ClockPipes()
                tracker = CameraClockTracker(run.camera_times, self.spec.camera_id)
            except OSError as exc:  # no pipe left: record without the camera's time
                log.warning("camera %s: recording without the camera's clock: %s", self.spec.camera_id, exc)
        argv = build_argv(self.spec, run.segment_pattern, run.segment_list, ffmpeg=self._ffmpeg,
                          camera_clock_fds=clock.write_fds if clock is not None else None)  # fmt: skip
        proc = FfmpegRun(argv, run, secrets=self.spec.secrets, clock=clock, tracker=tracker)
        try:
            await proc.start()
        except ToolError as exc:
            self._live([])
            self.timeline.mark(self._clock(), RecorderGapReason.FFMPEG_EXIT, str(exc))
            self._set(last_exit=f"{RecorderGapReason.FFMPEG_EXIT}: {exc}")
            return RecorderGapReason.FFMPEG_EXIT, str(exc), False
        self._set(state=CameraState.STARTING, pid=proc.pid, run_id=run.run_id, restarts=self._view.restarts + 1)
        watch = _RunWatch(SegmentList(run.segment_list))
        reason, detail = RecorderGapReason.RECORDER_STOPPED, "the recorder's supervision of this run was interrupted"
        try:
            reason, detail = await self._watch(proc, run, watch, stop)
        finally:
            if not proc.exited():
                proc.kill()
                await proc.wait()
            proc.forget_pid_file()
            self._check_list(run, watch)
            self.timeline.mark(self._clock(), reason, detail)
            self._live([])
            if self._view.not_recording_since is None:
                self._set(not_recording_since=self._clock())
        streams = tuple(proc.input_streams) or self._view.input_streams
        self._set(last_exit=f"{reason}: {without_urls(detail)}", input_streams=streams)
        return reason, detail, watch.got_media

    async def _watch(
        self, proc: FfmpegRun, run: RunPaths, watch: _RunWatch, stop: asyncio.Event
    ) -> tuple[RecorderGapReason, str]:
        ended = asyncio.ensure_future(proc.wait())
        stop_wait = asyncio.ensure_future(stop.wait())
        active = asyncio.ensure_future(proc.activity.wait())
        segment_stall = self.settings.segment_stall_for(self.spec)
        last_usage_check = last_list_check = 0.0
        try:
            while True:
                await asyncio.wait(
                    {ended, stop_wait, active}, timeout=self.settings.poll_interval, return_when="FIRST_COMPLETED"
                )
                woke = active.done()
                if woke:  # first media, or a segment closed: look now, not at the next tick
                    proc.activity.clear()
                    active = asyncio.ensure_future(proc.activity.wait())
                if ended.done():
                    return classify_exit(proc.returncode, list(proc.log))
                if stop.is_set():
                    await proc.stop(self.settings.stop_grace)
                    return RecorderGapReason.RECORDER_STOPPED, self.stop_detail
                now = time.monotonic()
                if not watch.streaming and (proc.output_opened or proc.last_progress_at is not None):
                    watch.streaming = True  # the camera's streams are known and the first file is open
                    watch.last_segment_mono = now
                    streams = tuple(proc.input_streams) or self._view.input_streams
                    self._set(state=CameraState.RECORDING, not_recording_since=None, input_streams=streams)
                    self.timeline.recording(self._clock())
                watch.got_media = watch.got_media or proc.last_progress_at is not None
                if woke or now - last_list_check >= self.settings.list_check_seconds:
                    last_list_check = now
                    self._check_list(run, watch)
                quiet = now - (proc.last_progress_at or proc.started_at)
                if quiet > self.settings.stall_seconds:
                    return await self._stall(proc, f"ffmpeg made no progress for {quiet:.0f} s")
                if watch.last_segment_mono is not None and now - watch.last_segment_mono > segment_stall:
                    return await self._stall(proc, f"no segment was closed for {now - watch.last_segment_mono:.0f} s")
                if now - last_usage_check >= self.settings.spool_check_seconds:
                    last_usage_check = now
                    if self.spool.usage().full:
                        detail = self._spool_full_detail()
                        await proc.stop(self.settings.stop_grace)
                        return RecorderGapReason.SPOOL_FULL, detail
        finally:
            stop_wait.cancel()
            active.cancel()

    async def _stall(self, proc: FfmpegRun, detail: str) -> tuple[RecorderGapReason, str]:
        self._set(stalls=self._view.stalls + 1)
        await proc.stop(self.settings.stop_grace)
        return RecorderGapReason.STALLED, detail

    def _check_list(self, run: RunPaths, watch: _RunWatch) -> None:
        """Notice newly closed segments: last segment time, bitrate, wake the ingester."""
        try:
            new = watch.listing.refresh()
        except OSError:
            return
        if not new:
            return
        watch.last_segment_mono = time.monotonic()
        name, start, end = new[-1]
        bitrate = self._view.bitrate_bps
        try:
            size = (run.directory / name).stat().st_size
            if end > start:
                bitrate = size * 8 / (end - start)
        except FileNotFoundError:
            pass
        self._set(last_segment_at=self._clock(), bitrate_bps=bitrate)
        if self._ingester is not None:
            self._ingester.wake(self.spec.camera_id)


async def tcp_unreachable(url: str, timeout: float) -> str | None:
    """None when a TCP connection to the URL's host and port succeeds, else why it did not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (322 if parts.scheme == "rtsps" else 554)
    except ValueError:
        return f"the stream URL of {host} has an invalid port"
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # never the URL: it may hold a password
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except ConnectionRefusedError:
        return f"connection refused by {where}"
    except TimeoutError:
        return f"no TCP answer from {where} within {timeout:g} s"
    except OSError as exc:
        return f"TCP connect to {where} failed: {exc.strerror or exc}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


def _attempts(detail: str, count: int) -> str:
    return f"{detail} ({count} attempt{'s' if count > 1 else ''})"


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
