"""``archive up`` follows the camera registry while it runs (issue 13 item 7).

Every :data:`FOLLOW_EVERY_S` seconds the running service reads the registry: a camera it records
that is now disabled or removed (``archive cameras disable|remove``, or the API's
``enabled=false``) is stopped (its ffmpeg ends gracefully, its last segment is still stored, and
the gap that follows says an operator disabled or removed it, with the time); a camera enabled
since (``archive cameras enable``, the API, an import) is claimed for this writer and recorded.
A camera another recorder holds is retried every :data:`RETRY_HELD_S` seconds. Demo cameras of
an earlier run (``skip``) are never picked up.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from archive.errors import ERRORS
from archive.model import Camera
from archive.recorder.timeline import operator_stop

if TYPE_CHECKING:
    from archive.bootstrap import Runtime
    from archive.recorder.service import Recorder

log = logging.getLogger(__name__)
FOLLOW_EVERY_S = 2.0
RETRY_HELD_S = 60.0
_FAILURES: tuple[type[Exception], ...] = (TimeoutError, *ERRORS)


class RegistryFollower:
    """Applies registry changes to a running recorder; ``recording``: the camera ids it records now."""

    def __init__(self, rt: Runtime, recorder: Recorder, recording: set[str], out: TextIO,
                 skip: Callable[[Camera], bool] = lambda c: False) -> None:  # fmt: skip
        self._rt, self._recorder, self._out, self._skip = rt, recorder, out, skip
        self.recording = set(recording)
        self._held_until: dict[str, float] = {}  # camera id -> when to try claiming it again

    def _say(self, text: str) -> None:
        log.info("%s", text)
        print(text, file=self._out)
        self._out.flush()

    def poll(self) -> None:
        """One look at the registry; applies what changed. Raises nothing: a failure is logged and
        the next poll tries again."""
        try:
            cams = {c.id: c for c in self._rt.registry.cameras() if not self._skip(c)}
        except ERRORS as exc:
            log.error("cannot read the camera registry (changes wait for the next look): %s", exc)
            return
        wanted = {i for i, c in cams.items() if c.enabled and not c.removed}
        for camera_id in sorted(self.recording - wanted):
            cam = cams.get(camera_id)
            what = "removed" if cam is None or cam.removed else "disabled"
            try:
                self._recorder.remove_camera(camera_id, operator_stop(what, dt.datetime.now(dt.UTC)))
            except _FAILURES as exc:
                log.error("camera %s was %s but its recording did not stop: %s", camera_id, what, exc)
                continue
            self.recording.discard(camera_id)
            self._say(f"camera {camera_id} {what}: recording stopped")
        for camera_id in sorted(wanted - self.recording):
            if self._held_until.get(camera_id, 0.0) > time.monotonic():
                continue
            try:
                claimed, held = self._rt.writer_claims.claim_for_recording([camera_id], refuse=False)
                if camera_id not in claimed:
                    self._held_until[camera_id] = time.monotonic() + RETRY_HELD_S
                    self._say(f"SKIP {camera_id}: {held.get(camera_id, 'held by another recorder')}")
                    continue
                (spec,) = self._rt.recording_specs([cams[camera_id]])
                recorded = {c.camera_id for c in self._recorder.status().cameras}
                if not self._recorder.add_camera(spec) and camera_id not in recorded:  # the recorder is stopping
                    log.warning("camera %s was enabled but the recorder did not take it (stopping?)", camera_id)
                    self._held_until[camera_id] = time.monotonic() + RETRY_HELD_S
                    continue
            except _FAILURES as exc:
                log.error("camera %s was enabled but cannot be recorded: %s", camera_id, exc)
                self._held_until[camera_id] = time.monotonic() + RETRY_HELD_S
                continue
            self._held_until.pop(camera_id, None)
            self.recording.add(camera_id)
            self._say(f"camera {camera_id} enabled: recording")
