"""``archive up`` follows the camera registry while it runs (issue 13 item 7).

Every :data:`FOLLOW_EVERY_S` seconds the follower's own thread reads the registry: a camera it
records that is now disabled or removed (``archive cameras disable|remove``, or the API's
``enabled=false``) is stopped (its ffmpeg ends gracefully, its last segment is still stored, and
the gap that follows says an operator disabled or removed it, with the time); once everything of
it in the spool is stored and logged its writer claim is **released**, so another recorder
(``archive record --camera X``) may take it while ``up`` runs on. While the store is down that
drain waits, and the claim stays held (tried again every look). A camera enabled since
(``archive cameras enable``, the API, an import) is claimed for this writer and recorded. A camera
another recorder holds is retried every :data:`RETRY_HELD_S` seconds. Demo cameras of an earlier
run (``skip``) are never picked up.

Starting and stopping a camera happen on worker threads (at most one change per camera at a
time), never on the ``up`` loop nor on the thread that reads the registry: a camera whose ffmpeg
takes its whole grace period to stop delays neither the status the others publish nor other
cameras' changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TextIO

from archive.errors import ERRORS
from archive.model import Camera
from archive.periodic import Periodic
from archive.recorder.timeline import operator_stop

if TYPE_CHECKING:
    from archive.bootstrap import Runtime
    from archive.recorder.service import Recorder

log = logging.getLogger(__name__)
FOLLOW_EVERY_S = 2.0
RETRY_HELD_S = 60.0
DRAIN_S = 20.0  # one try at storing a stopped camera's last segments before its claim is released
CHANGE_WORKERS = 4
_FAILURES: tuple[type[Exception], ...] = (TimeoutError, *ERRORS)


class RegistryFollower:
    """Applies registry changes to a running recorder; ``recording``: the camera ids it records now.

    :meth:`start` runs it on its own thread until :meth:`stop`; :meth:`poll` is one look (for tests).
    """

    def __init__(self, rt: Runtime, recorder: Recorder, recording: set[str], out: TextIO,
                 skip: Callable[[Camera], bool] = lambda c: False) -> None:  # fmt: skip
        self._rt, self._recorder, self._out, self._skip = rt, recorder, out, skip
        self._lock = threading.Lock()  # guards the three collections below
        self._recording = set(recording)
        self._retiring: dict[str, str] = {}  # stopped, claim still held until its spool is drained: id -> what
        self._busy: dict[str, Future[None]] = {}  # camera id -> the change running for it
        self._held_until: dict[str, float] = {}  # camera id -> when to try claiming it again
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=CHANGE_WORKERS, thread_name_prefix="follow-change")
        self._looker = Periodic("registry-follower", FOLLOW_EVERY_S, self.poll)

    @property
    def recording(self) -> set[str]:
        """The camera ids recorded now (a copy)."""
        with self._lock:
            return set(self._recording)

    def _say(self, text: str) -> None:
        log.info("%s", text)
        try:
            print(text, file=self._out)
            self._out.flush()
        except (OSError, ValueError):  # the output went away: the log has it
            pass

    def start(self) -> None:
        """Look at the registry every :data:`FOLLOW_EVERY_S` seconds on a daemon thread."""
        self._looker.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop looking; wait up to ``timeout`` s for changes under way (a drain gives up at once)."""
        self._stop.set()
        self._looker.stop(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def poll(self) -> None:
        """One look at the registry; hands each change to a worker thread and returns at once.
        Raises nothing: a failure is logged and the next look tries again."""
        try:
            cams = {c.id: c for c in self._rt.registry.cameras() if not self._skip(c)}
        except ERRORS as exc:
            log.error("cannot read the camera registry (changes wait for the next look): %s", exc)
            return
        wanted = {i for i, c in cams.items() if c.enabled and not c.removed}
        with self._lock:
            self._busy = {k: f for k, f in self._busy.items() if not f.done()}
            stopping = sorted(self._recording - wanted)
            retiring = sorted(set(self._retiring) - wanted)
            starting = sorted(wanted - self._recording)
        for camera_id in stopping:
            cam = cams.get(camera_id)
            self._dispatch(camera_id, self._remove, "removed" if cam is None or cam.removed else "disabled")
        for camera_id in retiring:
            self._dispatch(camera_id, self._retire, None)
        for camera_id in starting:
            if self._held_until.get(camera_id, 0.0) <= time.monotonic():
                self._dispatch(camera_id, self._add, cams[camera_id])

    def _dispatch(self, camera_id: str, change: Callable[[str, object], None], arg: object) -> None:
        with self._lock:
            if camera_id in self._busy or self._stop.is_set():
                return  # one change per camera at a time: the next look sees what is left
            try:
                self._busy[camera_id] = self._pool.submit(self._guarded, change, camera_id, arg)
            except RuntimeError:  # the pool is shutting down
                return

    def _guarded(self, change: Callable[[str, object], None], camera_id: str, arg: object) -> None:
        try:
            change(camera_id, arg)
        except Exception:  # a change never ends the follower: logged, the next look tries again
            log.exception("camera %s: applying a registry change failed", camera_id)

    def _remove(self, camera_id: str, what: object) -> None:
        what = str(what)
        try:
            self._recorder.remove_camera(camera_id, operator_stop(what, dt.datetime.now(dt.UTC)))
        except _FAILURES as exc:
            log.error("camera %s was %s but its recording did not stop: %s", camera_id, what, exc)
            return
        with self._lock:
            self._recording.discard(camera_id)
            self._retiring[camera_id] = what
        self._say(f"camera {camera_id} {what}: recording stopped")
        self._retire(camera_id, None)

    def _retire(self, camera_id: str, _: object) -> None:
        if not self._recorder.retire_camera(camera_id, DRAIN_S, self._stop):
            log.warning("camera %s: its last segments are not stored yet; its writer claim stays held "
                        "until they are", camera_id)  # fmt: skip
            return
        with self._lock:
            if self._retiring.pop(camera_id, None) is None or camera_id in self._recording:
                return  # enabled again meanwhile: it records under the claim
        self._rt.writer_claims.release(camera_id)
        self._say(f"camera {camera_id}: writer claim released (another recorder may record it)")

    def _add(self, camera_id: str, cam: object) -> None:
        assert isinstance(cam, Camera)
        try:
            claimed, held = self._rt.writer_claims.claim_for_recording([camera_id], refuse=False)
            if camera_id not in claimed:
                self._held_until[camera_id] = time.monotonic() + RETRY_HELD_S
                self._say(f"SKIP {camera_id}: {held.get(camera_id, 'held by another recorder')}")
                return
            (spec,) = self._rt.recording_specs([cam])
            recorded = {c.camera_id for c in self._recorder.status().cameras}
            if not self._recorder.add_camera(spec) and camera_id not in recorded:  # the recorder is stopping
                log.warning("camera %s was enabled but the recorder did not take it (stopping?)", camera_id)
                self._held_until[camera_id] = time.monotonic() + RETRY_HELD_S
                return
        except _FAILURES as exc:
            log.error("camera %s was enabled but cannot be recorded: %s", camera_id, exc)
            self._held_until[camera_id] = time.monotonic() + RETRY_HELD_S
            return
        with self._lock:
            self._held_until.pop(camera_id, None)
            self._retiring.pop(camera_id, None)
            self._recording.add(camera_id)
        self._say(f"camera {camera_id} enabled: recording")
