"""The two in-order steps of one camera in an ingest pass (:class:`archive.recorder.ingest.Ingester`).

:func:`commit_ready` commits the finished uploads at the head of the camera's queue, in recording
order: its times set from the media clock (SPEC.md 9.1), the gap before it (if any), the segment,
then the spool file is unlinked. :func:`enqueue_ready` scans the spool and queues the ready files
it has not queued yet (at most :data:`MAX_PENDING` in memory), setting aside the files another
writer's log already covers (:meth:`CameraIngest.supersedes`).

Both run on the ingester's dispatcher thread under its pass lock; neither raises (failures are
counted in the camera's status and retried by a later pass).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from archive.errors import WriterClaimLostError
from archive.model import utc_from_us
from archive.recorder.camera_clock import PENDING, CameraTimes
from archive.recorder.ingest_state import CameraIngest, Pending, tidy_spool
from archive.recorder.media_clock import date_record
from archive.recorder.sink import GapRecord, SegmentRecord, SegmentSink

__all__ = ["MAX_PENDING", "commit_ready", "drop_from", "enqueue_ready"]

MAX_PENDING: Final = 64  # segments of one camera held in memory at once (the rest wait on disk)
RESCAN_S: Final = 5.0  # a camera nobody woke is rescanned at least this often
#: the longest a segment waits for its key frame's camera time (ffmpeg writes that key frame's
#: MP4 fragment when the next key frame arrives, about when the segment is listed)
CAMERA_TIME_WAIT_S: Final = 3.0
_log = logging.getLogger("archive.recorder.ingest")


def commit_ready(
    cam: CameraIngest,
    sink: SegmentSink,
    now: float,
    gaps_before: Callable[[CameraIngest, SegmentRecord], list[GapRecord]],
    *,
    fence: Callable[[str, str], None],
    sink_failed: Callable[[CameraIngest, float, BaseException], None],
    lock: threading.Lock,
) -> None:
    """Commit the camera's finished uploads in order (module docstring). ``fence``: called when
    the append was refused because another writer holds the camera; ``sink_failed``: when the
    sink raised anything else (the file is kept and retried). Raises nothing."""
    committed = False
    while cam.pending and cam.pending[0].record is not None and now >= cam.commit_not_before:
        item = cam.pending[0]
        assert item.record is not None
        if not item.dated:  # SPEC.md 9.1: from the media clock, bounded by arrival, in order
            camera_us = camera_start_us(cam, item, now)
            if camera_us == PENDING:  # its key frame's camera time is still on its way from ffmpeg
                break
            nxt = cam.pending[1].file if len(cam.pending) > 1 else None
            by_next = item.file.run_id in cam.live_runs or (
                nxt is not None and (nxt.run_id, nxt.index) == (item.file.run_id, item.file.index + 1)
            )
            dated = date_record(item.record, cam.last, cam.covered, closed_by_next=by_next)
            camera_start = None if camera_us is None or isinstance(camera_us, str) else utc_from_us(camera_us)
            item.record, item.dated = replace(dated, camera_start=camera_start), True
        record = item.record
        assert record is not None
        try:
            for gap in gaps_before(cam, record):  # each logged one moves covered: never twice
                sink.record_gap(gap)
                cam.covered = gap.end if cam.covered is None else max(cam.covered, gap.end)
                cam.status = replace(cam.status, gaps=cam.status.gaps + 1)
            sink.record_segment(record)
        except WriterClaimLostError as exc:  # another writer holds the camera: never append again
            fence(cam.spool.camera_id, str(exc))
            _log.error("NOT appending camera %s any more: %s; its spool files are kept", cam.spool.camera_id, exc)
            return
        except Exception as exc:  # the sink is someone else's code: keep the file, retry
            sink_failed(cam, now, exc)
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
            camera_clock_offset_s=None if record.camera_start is None
            else (record.camera_start - record.start).total_seconds(),
        )
    if committed and cam.covered is not None:
        cam.timeline.forget_before(cam.covered)
    if committed and not cam.pending:
        tidy_spool(cam, lock)


def camera_start_us(cam: CameraIngest, item: Pending, now: float) -> int | str | None:
    """The camera's time (Unix µs) of ``item``'s first frame from its run's camera-time file, None,
    or :data:`PENDING` while that file may still get it: its run is live, the file exists and the
    item has waited less than :data:`CAMERA_TIME_WAIT_S` (SPEC.md 2.2, 9.1)."""
    run = item.file.run_id
    times = cam.camera_times.get(run)
    if times is None:
        for old in [r for r in cam.camera_times if r < run]:  # segments come in order: done with those
            del cam.camera_times[old]
        times = cam.camera_times[run] = CameraTimes(cam.spool.run_paths(run).camera_times)
    if item.camera_wait_since is None:
        item.camera_wait_since = now
    waiting = run in cam.live_runs and now - item.camera_wait_since < CAMERA_TIME_WAIT_S and times.path.exists()
    return times.camera_start(item.file.list_start, item.file.list_end, more_coming=waiting)


def enqueue_ready(cam: CameraIngest, now: float, rescan: bool) -> None:
    """Scan the camera's spool when it is due (woken, ``rescan``, refilling, or :data:`RESCAN_S`
    old) and queue its ready files in order. Raises nothing (a scan error goes to the status)."""
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
            why = ("recorded before this node held the writer claim (the pre-roll of a handover)"
                   if file.run_id in cam.preroll_runs else "recorded under an earlier writer claim")  # fmt: skip
            _log.warning("camera %s: %s was %s and the log already holds its time (another node recorded it): "
                         "kept in the spool, not logged", cam.spool.camera_id, file.name, why)  # fmt: skip
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




def drop_from(cam: CameraIngest, index: int, exc: BaseException) -> None:
    """A queued file vanished or changed before it was stored: drop it and everything after it from
    memory (the next scan finds them again) and reuse their seqs."""
    cam.generation, cam.next_seq = cam.generation + 1, cam.pending[index].seq
    del cam.pending[index:]
    cam.dirty = True
    cam.status = replace(cam.status, failures=cam.status.failures + 1, last_error=f"rescanning: {exc}")
