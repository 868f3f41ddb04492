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

As recorder node (``archive up --node``, :class:`~archive.ledger.membership.NodeMember`) it records
only the cameras the node should hold (:meth:`NodeMember.mine`): a camera whose preferred node is
now another live node is **handed over** (stopped, its spool stored, the gap up to that moment
logged, its claim released, so the other node takes it at its next look); a camera taken from
another node gets the reason of the time since the log's end from that node's claim
(:mod:`archive.cli.takeover`: a failover when its claim expired, a handover when it was
released); a held camera is tried again at every look (``NODE_LOOK_S``). Whether or not it is a node, a
camera whose writer claim another writer took over (renewal refused, or an append refused:
``WriterClaimLostError``) is **fenced**: its ffmpeg is stopped, nothing more is appended for it,
its spool files stay, and it is reported (status, log).

Starting and stopping a camera happen on worker threads (at most one change per camera at a
time), never on the ``up`` loop nor on the thread that reads the registry: a camera whose ffmpeg
takes its whole grace period to stop delays neither the status the others publish nor other
cameras' changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TextIO

from archive.cli.takeover import handover_detail, takeover_mark
from archive.errors import ERRORS, WriterHeldError
from archive.ledger.claims import ClaimRecord
from archive.ledger.membership import node_of
from archive.model import Camera
from archive.periodic import Periodic
from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.timeline import Mark, operator_stop

if TYPE_CHECKING:
    from archive.bootstrap import Runtime
    from archive.ledger.membership import NodeMember
    from archive.recorder.service import Recorder

log = logging.getLogger(__name__)
FOLLOW_EVERY_S = 2.0
RETRY_HELD_S = 60.0
FENCED_REPORT_S = 300.0  # a node's fenced camera another node now records stays a problem this long
NODE_LOOK_S = 0.5  # a node looks this often: a released or expired claim is taken within half a second
DRAIN_S = 20.0  # one try at storing a stopped camera's last segments before its claim is released
#: A node hands a camera over this long after it first saw the camera go to another node: the receiving node
#: starts its pre-roll at its next look (NODE_LOOK_S) and its ffmpeg has media well within it (make before break)
HANDOVER_LEAD_S = 3.0
#: A pre-roll whose claim is not handed over this long is stopped, and none is started for the camera for
#: PREROLL_PAUSE_S (the old node does not hand it over: its view of the nodes differs; spool is not filled for it)
PREROLL_MAX_S = 30.0
PREROLL_PAUSE_S = 60.0
CHANGE_WORKERS = 4
_FAILURES: tuple[type[Exception], ...] = (TimeoutError, *ERRORS)


class RegistryFollower:
    """Applies registry changes to a running recorder; ``recording``: the camera ids it records now.

    :meth:`start` runs it on its own thread until :meth:`stop`; :meth:`poll` is one look (for tests).
    """

    def __init__(self, rt: Runtime, recorder: Recorder, recording: set[str], out: TextIO,
                 skip: Callable[[Camera], bool] = lambda c: False,
                 member: NodeMember | None = None) -> None:  # fmt: skip
        self._rt, self._recorder, self._out, self._skip, self._member = rt, recorder, out, skip, member
        self._retry_held = RETRY_HELD_S if member is None else 0.0  # a node: at every look (a lease runs out any time)
        self._lock = threading.Lock()  # guards the three collections below
        self._recording = set(recording)
        self._retiring: dict[str, str] = {}  # stopped, claim still held until its spool is drained: id -> what
        self._busy: dict[str, Future[None]] = {}  # camera id -> the change running for it
        self._held_until: dict[str, float] = {}  # camera id -> when to try claiming it again
        self._fenced_at: dict[str, float] = {}  # fenced camera another node now holds -> first seen so
        self._handing_since: dict[str, float] = {}  # camera going to another node -> when first seen so
        self._preroll: dict[str, int] = {}  # camera recorded before its claim is held -> the epoch expected
        self._preroll_since: dict[str, float] = {}  # pre-roll camera -> when it started
        self._no_preroll_until: dict[str, float] = {}  # camera whose pre-roll ran out -> no new one before
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=CHANGE_WORKERS, thread_name_prefix="follow-change")
        self._looker = Periodic("registry-follower", FOLLOW_EVERY_S if member is None else NODE_LOOK_S, self.poll)

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
            recording = set(self._recording)
        lost = self._rt.writer_claims.lost() | self._recorder.fenced()
        for camera_id in sorted(recording & set(lost)):
            self._dispatch(camera_id, self._fence, lost[camera_id])
        handing: dict[str, str] = {}
        if self._member is not None:
            try:
                mine = self._member.mine(wanted, recording, self._member.claims())
            except ERRORS as exc:
                log.error("cannot read the writer claims (the cameras stay as they are): %s", exc)
                mine = wanted & recording
            handing = {c: self._member.preferred(c) or "?" for c in (wanted & recording) - mine}
            self._settle_fenced(lost, recording, mine)
            wanted = mine | set(handing)  # handed over below, not as disabled
            handing = self._due(handing)
            now = time.monotonic()
            for camera_id in sorted(self._preroll):
                if camera_id not in mine:
                    self._dispatch(camera_id, self._cool, None)
                elif now - self._preroll_since.get(camera_id, now) > PREROLL_MAX_S:
                    self._no_preroll_until[camera_id] = now + PREROLL_PAUSE_S
                    self._dispatch(camera_id, self._cool, None)
        with self._lock:
            self._busy = {k: f for k, f in self._busy.items() if not f.done()}
            stopping = sorted(self._recording - wanted)
            retiring = sorted(set(self._retiring) - wanted)
            starting = sorted(wanted - self._recording - set(handing))
        for camera_id, node in sorted(handing.items()):
            self._dispatch(camera_id, self._remove, ("handed over", handover_detail(self._member, node)))
        for camera_id in stopping:
            cam = cams.get(camera_id)
            what = "removed" if cam is None or cam.removed else "disabled"
            self._dispatch(camera_id, self._remove, (what, operator_stop(what, dt.datetime.now(dt.UTC))))
        for camera_id in retiring:
            if camera_id not in handing:
                self._dispatch(camera_id, self._retire, None)
        for camera_id in starting:
            if self._held_until.get(camera_id, 0.0) <= time.monotonic():
                self._dispatch(camera_id, self._add, cams[camera_id])

    def _due(self, handing: dict[str, str]) -> dict[str, str]:
        """Of the cameras going to another node, those first seen so :data:`HANDOVER_LEAD_S` ago."""
        now = time.monotonic()
        self._handing_since = {c: self._handing_since.get(c, now) for c in handing}
        return {c: n for c, n in handing.items() if now - self._handing_since[c] >= HANDOVER_LEAD_S}

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

    def _remove(self, camera_id: str, change: object) -> None:
        assert isinstance(change, tuple)
        what, detail = str(change[0]), str(change[1])
        try:
            self._recorder.remove_camera(camera_id, detail)
        except _FAILURES as exc:
            log.error("camera %s was %s but its recording did not stop: %s", camera_id, what, exc)
            return
        with self._lock:
            self._recording.discard(camera_id)
            self._retiring[camera_id] = what
        self._say(f"camera {camera_id} {what}: recording stopped")
        self._retire(camera_id, None)

    def _retire(self, camera_id: str, _: object) -> None:
        with self._lock:  # a handover: the next node records already, its first segment starts where the log ends
            trailing = self._retiring.get(camera_id) != "handed over"
        if not self._recorder.retire_camera(camera_id, DRAIN_S, self._stop, trailing_gap=trailing):
            log.warning("camera %s: its last segments are not stored yet; its writer claim stays held "
                        "until they are", camera_id)  # fmt: skip
            return
        with self._lock:
            if self._retiring.pop(camera_id, None) is None or camera_id in self._recording:
                return  # enabled again meanwhile: it records under the claim
        self._rt.writer_claims.release(camera_id)
        self._say(f"camera {camera_id}: writer claim released (another recorder may record it)")

    def _settle_fenced(self, lost: dict[str, str], recording: set[str], mine: set[str]) -> None:
        """A node's fenced camera that the assignment gives to another node is that node's now: it
        stays a problem here for :data:`FENCED_REPORT_S` (the log line and the status said it), then
        it is no longer listed."""
        now = time.monotonic()
        for camera_id in lost:
            if camera_id in recording or camera_id in mine:
                continue
            since = self._fenced_at.setdefault(camera_id, now)
            if now - since >= FENCED_REPORT_S:
                self._rt.writer_claims.forget_lost(camera_id)
                self._fenced_at.pop(camera_id, None)

    def _fence(self, camera_id: str, why: object) -> None:
        try:
            self._recorder.fence(camera_id, str(why))
        except _FAILURES as exc:
            log.error("camera %s: its claim was taken over but its recording did not stop: %s", camera_id, exc)
            return
        with self._lock:
            self._recording.discard(camera_id)
            self._retiring.pop(camera_id, None)
        self._say(f"camera {camera_id}: FENCED, recording stopped, spool files kept: {why}")

    def _add(self, camera_id: str, cam: object) -> None:
        assert isinstance(cam, Camera)
        try:
            before = self._rt.writer_claims.describe(camera_id) if self._member is not None else None
            if self._member is not None:
                try:  # held while its holder hands it over or its lease runs out: expected, tried again soon
                    self._rt.writer_claims.claim(camera_id)
                except WriterHeldError as exc:
                    self._held_until[camera_id] = time.monotonic() + self._retry_held
                    log.info("%s", exc)
                    self._start_preroll(cam, before)
                    return
            claimed, held = self._rt.writer_claims.claim_for_recording([camera_id], refuse=False)
            if camera_id not in claimed:
                self._held_until[camera_id] = time.monotonic() + self._retry_held
                self._say(f"SKIP {camera_id}: {held.get(camera_id, 'held by another recorder')}")
                return
            (spec,) = self._rt.recording_specs([cam])
            prior = None if self._member is None else takeover_mark(self._rt, self._member, camera_id, before)
            if self._adopted(spec, prior):
                pass
            elif not self._recorder.add_camera(spec, prior) and camera_id not in self._recorded():  # stopping?
                log.warning("camera %s was enabled but the recorder did not take it (stopping?)", camera_id)
                self._held_until[camera_id] = time.monotonic() + self._retry_held
                return
        except _FAILURES as exc:
            log.error("camera %s was enabled but cannot be recorded: %s", camera_id, exc)
            self._held_until[camera_id] = time.monotonic() + self._retry_held
            return
        with self._lock:
            self._held_until.pop(camera_id, None)
            self._retiring.pop(camera_id, None)
            self._recording.add(camera_id)
        if prior is not None:
            self._say(f"camera {camera_id}: taken over, recording ({prior.detail})")
        else:
            self._say(f"camera {camera_id} enabled: recording")

    def _recorded(self) -> set[str]:
        return {c.camera_id for c in self._recorder.status().cameras}

    def _start_preroll(self, cam: Camera, before: ClaimRecord | None) -> None:
        """Make before break: another live node holds the camera this node is to take (it hands it over
        within :data:`HANDOVER_LEAD_S`): record it into the spool already, under the epoch the claim
        gets next; nothing is ingested before this node holds that claim (:meth:`_adopted`)."""
        if self._member is None or before is None or not before.live or cam.id in self._preroll:
            return
        if self._no_preroll_until.get(cam.id, 0.0) > time.monotonic():
            return
        old = node_of(before.claim.holder)
        if old is None or old == self._member.name or self._member.preferred(cam.id) != self._member.name:
            return
        (spec,) = self._rt.recording_specs([cam])
        epoch = before.claim.epoch + 1
        if self._recorder.add_camera(dataclasses.replace(spec, writer_epoch=epoch), preroll=True):
            self._preroll[cam.id], self._preroll_since[cam.id] = epoch, time.monotonic()
            self._say(f"camera {cam.id}: recording as pre-roll while node {old} hands it over (epoch {epoch}; "
                      "nothing is logged before this node holds the writer claim)")  # fmt: skip

    def _adopted(self, spec: RecordingSpec, prior: Mark | None) -> bool:
        """The claim is held now: a pre-roll under its epoch is ingested from here on (True); one under
        another epoch is stopped (its files stay in the spool) and the camera recorded afresh (False)."""
        epoch = self._preroll.pop(spec.camera_id, None)
        if epoch is None:
            return False
        if spec.writer_epoch == epoch and self._recorder.adopt_camera(spec.camera_id, epoch, prior):
            return True
        self._recorder.remove_camera(spec.camera_id, "pre-roll under another writer-claim epoch")
        return False

    def _cool(self, camera_id: str, _: object) -> None:
        """A pre-roll camera the assignment no longer gives this node, or not handed over within
        :data:`PREROLL_MAX_S`: stopped, its files stay in the spool."""
        if self._preroll.pop(camera_id, None) is None:
            return
        try:
            self._recorder.remove_camera(camera_id, "pre-roll ended: the camera stays with its node")
        except _FAILURES as exc:
            log.error("camera %s: its pre-roll did not stop: %s", camera_id, exc)
            return
        self._say(f"camera {camera_id}: pre-roll stopped (the camera stays with its node)")
