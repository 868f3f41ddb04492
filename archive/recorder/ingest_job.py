"""The work done for one segment on an upload thread: hash + probe, put with lock, confirm.

A segment up to :data:`IN_MEMORY_MAX` bytes is read once: the SHA-256, the container facts and
the upload all come from the same bytes in memory, and the hash is signed as the upload's payload
hash (a store that checks it, as AWS S3 and MinIO do, refuses a body that differs). Larger files
are hashed and probed in one read, then streamed from the file with a changed-file check.

Pure functions of their arguments (plus the store and the file): the ordering, retries and the
sink live in :mod:`archive.recorder.ingest`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from archive.errors import ConflictError, IntegrityError, ObjectMissingError
from archive.recorder.probe import ProbedSegment, parse_chunks, probe_segment
from archive.recorder.sink import SegmentRecord
from archive.recorder.spool import FileState, SpoolFile
from archive.storage.base import ObjectInfo, ObjectStore, Retention

CONTENT_TYPE: Final = "video/mp2t"
#: Segments up to this size are uploaded from the bytes that were hashed (60 s at 4 Mbit/s is 30 MB).
IN_MEMORY_MAX: Final = 48 * 1024 * 1024

#: ``(camera_id, arrival UTC) -> Retention | None``: the object-lock retention of a new segment, from the
#: wall time its file was finished (never before its dated start, SPEC.md 9.1: the lock is no shorter).
RetentionPolicy = Callable[[str, dt.datetime], Retention | None]
#: Which program lists a segment's packets (see :func:`archive.recorder.probe.probe_segment`).
ProbeTool = Literal["ffmpeg", "python"]
#: ``(camera_id, seq, spool file) -> object key``. Must be unique per file and deterministic (the
#: same file with the same seq gives the same key), so a retried upload finds its earlier copy.
KeyPolicy = Callable[[str, int, SpoolFile], str]


def default_key(camera_id: str, seq: int, file: SpoolFile) -> str:
    """``<camera>/<YYYY>/<MM>/<DD>/<HH>/<seq:012d>_<spool file name>`` (UTC hour of the segment's end)."""
    return f"{camera_id}/{file.mtime:%Y/%m/%d/%H}/{seq:012d}_{file.name}"


def iso(moment: dt.datetime) -> str:
    """UTC ISO-8601 with microseconds and a ``Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class IngestJob:
    """One spool file to store as segment ``seq`` of ``camera_id``."""

    camera_id: str
    seq: int
    file: SpoolFile
    bucket: str


def _reuse_existing(store: ObjectStore, job: IngestJob, key: str, facts: ProbedSegment) -> ObjectInfo | None:
    """An identical object already at ``key`` (an earlier attempt that was not recorded), None
    when there is none. Raises :class:`ConflictError` for different bytes there."""
    try:
        info = store.stat(job.bucket, key)
    except ObjectMissingError:
        return None
    if info.size == facts.size and info.metadata.get("sha256") == facts.sha256:
        return info
    raise ConflictError(
        f"{job.bucket}/{key} already holds other bytes (sha256 {info.metadata.get('sha256')}, "
        f"{info.size} bytes); {job.file.path} ({facts.sha256}) kept in the spool"
    )


def read_and_probe(path: Path, tool: ProbeTool, size: int) -> tuple[ProbedSegment, bytes | None]:
    """Facts of the file and, when read into memory, its bytes (what was hashed and parsed).

    Raises :class:`OSError` and :class:`ToolError` like :func:`probe_segment`.
    """
    if tool == "python" and size <= IN_MEMORY_MAX:
        data = path.read_bytes()
        facts = parse_chunks((data,))
        if facts is not None:
            return facts, data
    return probe_segment(path, tool=tool), None


def run_job(
    job: IngestJob,
    store: ObjectStore,
    *,
    retention: RetentionPolicy,
    key_for: KeyPolicy = default_key,
    probe_tool: ProbeTool = "python",
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    check_existing: bool = True,
) -> SegmentRecord:
    """Hash+probe the file, put it (unless an identical copy is there), confirm, return the record.

    ``check_existing=False`` skips the look for an earlier copy under the key: only for the first
    attempt at a file this process saw being written (no earlier attempt can have stored it).

    Raises :class:`OSError` (file unreadable or gone), :class:`ToolError` (ffmpeg, run only for video
    the in-process parser does not read), :class:`StorageError` subclasses (store down or refusing),
    :class:`ConflictError` (other bytes under the key) and :class:`IntegrityError` (the store's copy
    or the local file does not match what was hashed). Nothing is deleted here.
    """
    path = job.file.path
    facts, data = read_and_probe(path, probe_tool, job.file.size)
    st = path.stat()
    if (facts.size, st.st_size, st.st_mtime_ns) != (job.file.size, job.file.size, job.file.mtime_ns):
        raise IntegrityError(f"{path} changed while being ingested ({job.file.size} -> {facts.size} bytes)")
    # Provisional times (end at arrival); the ingester dates the record in recording order
    # (SPEC.md 9.1, archive.recorder.media_clock). The object carries only what is known here.
    arrived = job.file.mtime
    start, end = arrived - dt.timedelta(microseconds=round(facts.duration * 1_000_000)), arrived
    key = key_for(job.camera_id, job.seq, job.file)
    partial = job.file.state is FileState.PARTIAL
    existing = _reuse_existing(store, job, key, facts) if check_existing else None
    if existing is None:
        metadata = {
            "camera": job.camera_id,
            "seq": str(job.seq),
            "sha256": facts.sha256,
            "arrived": iso(arrived),
            "duration_us": str(round(facts.duration * 1_000_000)),
            "partial": "1" if partial else "0",
            "source": path.name,
        }
        lock = retention(job.camera_id, arrived)  # not before the dated start: a lock at least as long
        if data is not None:
            put = store.put_bytes(
                job.bucket, key, data, content_type=CONTENT_TYPE, metadata=metadata, retention=lock, sha256=facts.sha256
            )
        else:
            put = store.put_file(
                job.bucket, key, str(path), content_type=CONTENT_TYPE, metadata=metadata, retention=lock
            )
            st = path.stat()
            if (st.st_size, st.st_mtime_ns) != (facts.size, job.file.mtime_ns):
                raise IntegrityError(f"{path} changed while being uploaded; it will be ingested again")
        confirmed_size, confirmed_meta, version_id = put.size, put.metadata, put.version_id
    else:
        confirmed_size, confirmed_meta, version_id = existing.size, existing.metadata, existing.version_id
    if not version_id or version_id == "null":
        raise IntegrityError(f"{job.bucket}/{key}: the store returned no version id (is versioning on?)")
    if confirmed_size != facts.size or confirmed_meta.get("sha256", facts.sha256) != facts.sha256:
        raise IntegrityError(
            f"{job.bucket}/{key} version {version_id}: store has {confirmed_size} bytes "
            f"sha256={confirmed_meta.get('sha256')}, file has {facts.size} bytes sha256={facts.sha256}"
        )
    return SegmentRecord(
        camera_id=job.camera_id,
        seq=job.seq,
        bucket=job.bucket,
        key=key,
        version_id=version_id,
        size=facts.size,
        sha256=facts.sha256,
        start=start,
        end=end,
        wall_end=job.file.mtime,
        arrival_lag=None,
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
