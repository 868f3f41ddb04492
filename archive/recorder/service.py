"""A synchronous handle on the whole recorder: the supervisor's event loop on its own thread,
plus the ingester's threads. For the CLI, tests and any caller that is not asyncio."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.guardian import Guardian
from archive.recorder.ingest import Ingester
from archive.recorder.status import RecorderStatus
from archive.recorder.supervisor import Supervisor, SupervisorSettings
from archive.recorder.timeline import Mark


class Recorder:
    """Records ``specs`` into the spool and (with an ``ingester``) stores every segment; a guardian
    process (:mod:`archive.recorder.guardian`) stops its ffmpegs gracefully if this process dies.

    Without an ingester it only records (segments stay in the spool). Raises what
    :class:`Supervisor` raises (ValidationError, ToolError, ConfigError) from the constructor and
    :meth:`start`.
    """

    def __init__(
        self, specs: Sequence[RecordingSpec], settings: SupervisorSettings, *, ingester: Ingester | None = None
    ) -> None:
        self.supervisor = Supervisor(specs, settings, ingester=ingester)
        self._guardian = Guardian(settings.spool_root)
        self.ingester = ingester
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.orphans_ended: list[int] = []
        self._guardian_started = False

    def start(self) -> None:
        """End orphans of an earlier recorder, start ingesting, start every camera."""
        if self._thread is not None:
            return
        self.orphans_ended = self.supervisor.prepare()
        if self.supervisor.workers:
            self._guardian.start()  # before the first ffmpeg: it ends them if this process dies
            self._guardian_started = True
        if self.ingester is not None:
            self.ingester.start()
        ready = threading.Event()

        def main() -> None:
            async def go() -> None:
                task = asyncio.ensure_future(self.supervisor.run())
                await asyncio.sleep(0)
                ready.set()
                await task

            try:
                asyncio.run(go())
            except BaseException as exc:  # kept for stop() to re-raise
                self._error = exc
            finally:
                ready.set()

        self._thread = threading.Thread(target=main, name="recorder-supervisor", daemon=True)
        self._thread.start()
        ready.wait()

    def stop(self, timeout: float = 30.0, *, drain: float = 10.0) -> None:
        """Stop every ffmpeg gracefully (last segments are closed and listed), ingest for up to
        ``drain`` seconds, then stop the ingester. Re-raises an error that ended the supervisor."""
        if self._thread is not None:
            self.supervisor.request_stop()
            self._thread.join(timeout)
            self._thread = None
        self._guardian.stop()  # ends any ffmpeg the supervisor could not (normally none)
        if self.ingester is not None:
            if drain > 0:
                self.ingester.drain(drain)
            self.ingester.stop(timeout)
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def add_camera(self, spec: RecordingSpec, prior: Mark | None = None, *, preroll: bool = False) -> bool:
        """Start recording one more camera while running (False if it is recorded already); ``prior``:
        why nobody here recorded it since the log's end (another node did); ``preroll``: into the
        spool only, until :meth:`adopt_camera`. Raises what :meth:`Supervisor.add` raises."""
        if not self._guardian_started:
            self._guardian.start()
            self._guardian_started = True
        return self.supervisor.add(spec, prior=prior, preroll=preroll)

    def adopt_camera(self, camera_id: str, epoch: int, prior: Mark | None = None) -> bool:
        """Ingest a pre-roll camera whose claim is now held at ``epoch`` (:meth:`Supervisor.adopt`).
        Raises TimeoutError."""
        return self.supervisor.adopt(camera_id, epoch, prior)

    def fence(self, camera_id: str, why: str) -> None:
        """The camera's writer claim was taken over: append nothing more for it, stop its ffmpeg and
        keep its spool files (never deleted unstored). Raises TimeoutError (ffmpeg did not stop)."""
        if self.ingester is not None:
            self.ingester.fence(camera_id, why)
        self.supervisor.remove(camera_id, f"writer claim taken over: {why}")
        if self.ingester is not None:
            self.ingester.forget(camera_id)

    def fenced(self) -> dict[str, str]:
        """Cameras whose append was refused (claim taken over), with why."""
        return {} if self.ingester is None else self.ingester.fenced()

    def remove_camera(self, camera_id: str, detail: str) -> bool:
        """Stop recording a camera while running (its gap says ``detail``); False if not recorded.
        Raises TimeoutError."""
        return self.supervisor.remove(camera_id, detail)

    def retire_camera(self, camera_id: str, timeout: float, stop: threading.Event | None = None, *,
                      trailing_gap: bool = True) -> bool:  # fmt: skip
        """After :meth:`remove_camera`: store and log what is left of the camera in the spool, log
        its gap up to now and stop ingesting it (:meth:`Ingester.retire`), so its writer claim can be
        released (``trailing_gap`` False: a handover to a node recording it already, no gap). True
        once done; False when ``timeout`` ran out or ``stop`` was set. Raises nothing."""
        return True if self.ingester is None else self.ingester.retire(camera_id, timeout, stop,
                                                                       trailing_gap=trailing_gap)

    def status(self) -> RecorderStatus:
        """A frozen snapshot of every camera and the store."""
        return self.supervisor.recorder_status()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
