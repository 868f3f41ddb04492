"""The work done for one segment on an upload thread: hash + probe, put with lock, confirm.

Pure functions of their arguments (plus the store and the file): the ordering, retries and the
sink live in :mod:`archive.recorder.ingest`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from archive.errors import ConflictError, IntegrityError, ObjectMissingError
from archive.recorder.probe import SegmentFacts, probe_segment
from archive.recorder.sink import SegmentRecord
from archive.recorder.spool import FileState, SpoolFile
from archive.storage.base import ObjectStore, Retention

CONTENT_TYPE: Final = "video/mp2t"

#: ``(camera_id, segment start UTC) -> Retention | None``: the object-lock retention of a new segment.
RetentionPolicy = Callable[[str, dt.datetime], Retention | None]
#: Which program lists a segment's packets (see :func:`archive.recorder.probe.probe_segment`).
ProbeTool = Literal["ffprobe", "ffmpeg", "python"]
#: ``(camera_id, seq, spool file) -> object key``. Must be unique per file and deterministic (the
#: same file with the same seq gives the same key), so a retried upload finds its earlier copy.
KeyPolicy = Callable[[str, int, SpoolFile], str]


def default_key(camera_id: str, seq: int, file: SpoolFile) -> str:
    """``<camera>/<YYYY>/<MM>/<DD>/<HH>/<seq:012d>_<spool file name>`` (UTC hour of the segment's end)."""
    return f"{camera_id}/{file.mtime:%Y/%m/%d/%H}/{seq:012d}_{file.name}"


def iso(moment: dt.datetime) -> str:
    """UTC ISO-8601 with microseconds and a ``Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def segment_timing(
    duration: float, wall_end: dt.datetime, prev_wall_end: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime, float | None]:
    """``(start, end, clock_offset)`` of a segment.

    With the previous segment of the same run closed at ``prev_wall_end`` (its end boundary is
    this one's start boundary): start = that wall clock, end = start + media duration,
    clock_offset = ``wall_end - end`` in seconds. Without it (first segment of a run, or its
    predecessor was not observed): end = ``wall_end``, start = end - duration, offset unknown.
    """
    length = dt.timedelta(seconds=duration)
    if prev_wall_end is not None and prev_wall_end <= wall_end:
        end = prev_wall_end + length
        return prev_wall_end, end, round((wall_end - end).total_seconds(), 6)
    return wall_end - length, wall_end, None


@dataclass(frozen=True)
class IngestJob:
    """One spool file to store as segment ``seq`` of ``camera_id``."""

    camera_id: str
    seq: int
    file: SpoolFile
    bucket: str
    prev_wall_end: dt.datetime | None


def _reuse_existing(store: ObjectStore, job: IngestJob, key: str, facts: SegmentFacts) -> str | None:
    """Version id of an identical object already at ``key`` (an earlier attempt that was not
    recorded), None when there is none. Raises :class:`ConflictError` for different bytes there."""
    try:
        info = store.stat(job.bucket, key)
    except ObjectMissingError:
        return None
    if info.size == facts.size and info.metadata.get("sha256") == facts.sha256:
        return info.version_id
    raise ConflictError(
        f"{job.bucket}/{key} already holds other bytes (sha256 {info.metadata.get('sha256')}, "
        f"{info.size} bytes); {job.file.path} ({facts.sha256}) kept in the spool"
    )


def run_job(
    job: IngestJob,
    store: ObjectStore,
    *,
    retention: RetentionPolicy,
    key_for: KeyPolicy = default_key,
    probe_tool: ProbeTool = "ffprobe",
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> SegmentRecord:
    """Hash+probe the file, put it (unless an identical copy is there), confirm, return the record.

    Raises :class:`OSError` (file unreadable or gone), :class:`ToolError` (ffprobe),
    :class:`StorageError` subclasses (store down or refusing), :class:`ConflictError` (other bytes
    under the key) and :class:`IntegrityError` (the store's copy or the local file does not match
    what was hashed). Nothing is deleted here.
    """
    path = job.file.path
    facts = probe_segment(path, tool=probe_tool)
    if facts.size != job.file.size:
        raise IntegrityError(f"{path} changed size while being ingested ({job.file.size} -> {facts.size})")
    start, end, offset = segment_timing(facts.duration, job.file.mtime, job.prev_wall_end)
    key = key_for(job.camera_id, job.seq, job.file)
    partial = job.file.state is FileState.PARTIAL
    version_id = _reuse_existing(store, job, key, facts)
    if version_id is None:
        metadata = {
            "camera": job.camera_id,
            "seq": str(job.seq),
            "sha256": facts.sha256,
            "start": iso(start),
            "end": iso(end),
            "partial": "1" if partial else "0",
            "source": path.name,
        }
        put = store.put_file(
            job.bucket,
            key,
            str(path),
            content_type=CONTENT_TYPE,
            metadata=metadata,
            retention=retention(job.camera_id, start),
        )
        version_id = put.version_id
        st = path.stat()
        if (st.st_size, st.st_mtime_ns) != (facts.size, job.file.mtime_ns):
            raise IntegrityError(f"{path} changed while being uploaded; it will be ingested again")
    info = store.stat(job.bucket, key, version_id or None)
    if not info.version_id:
        raise IntegrityError(f"{job.bucket}/{key}: the store returned no version id (is versioning on?)")
    if info.size != facts.size or info.metadata.get("sha256", facts.sha256) != facts.sha256:
        raise IntegrityError(
            f"{job.bucket}/{key} version {info.version_id}: store has {info.size} bytes "
            f"sha256={info.metadata.get('sha256')}, file has {facts.size} bytes sha256={facts.sha256}"
        )
    return SegmentRecord(
        camera_id=job.camera_id,
        seq=job.seq,
        bucket=job.bucket,
        key=key,
        version_id=info.version_id,
        size=facts.size,
        sha256=facts.sha256,
        start=start,
        end=end,
        wall_end=job.file.mtime,
        clock_offset=offset,
        duration=facts.duration,
        video_codec=facts.video_codec,
        width=facts.width,
        height=facts.height,
        audio_codec=facts.audio_codec,
        starts_with_keyframe=facts.starts_with_keyframe,
        readable=facts.readable,
        complete=facts.complete and not partial,
        partial=partial,
        run_id=job.file.run_id,
        run_index=job.file.index,
        ingested_at=now(),
        problems=facts.problems,
    )
