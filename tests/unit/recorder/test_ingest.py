"""The ingester's ordering, gaps, retries and deletion rule, against an in-memory store."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from archive.integrity import DEFAULT_TOLERANCE_US
from archive.recorder.backoff import Backoff
from archive.recorder.ingest import DEFAULT_GAP_TOLERANCE_S, Ingester
from archive.recorder.ingest_job import default_key
from archive.recorder.sink import GapRecord, RecorderGapReason
from archive.recorder.spool import CameraSpool
from archive.storage.base import LockMode, ObjectStore, Retention
from tests.fixtures.memory_sink import MemorySink

from .conftest import FakeStore

T0 = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
RUN_A = "20250301T120000000Z"
RUN_B = "20250301T120100000Z"
FAST = Backoff(0.01, 0.05)


def retention(camera_id: str, start: dt.datetime) -> Retention:
    return Retention(LockMode.GOVERNANCE, start + dt.timedelta(days=30))


def add_segment(
    spool: CameraSpool, template: Path, run: str, index: int, wall_end: dt.datetime, *, listed: bool = True
) -> Path:
    paths = spool.run_paths(run)
    path = paths.segment_path(index)
    shutil.copyfile(template, path)
    ns = int(wall_end.timestamp()) * 1_000_000_000 + wall_end.microsecond * 1000
    os.utime(path, ns=(ns, ns))
    if listed:
        with paths.segment_list.open("a", encoding="utf-8") as fh:
            fh.write(f"{path.name},{index * 2}.000000,{index * 2 + 2}.000000\n")
    return path


def make(
    store: FakeStore,
    sink: MemorySink,
    spool: CameraSpool,
    *,
    workers: int = 2,
    per_camera: int = 2,
    clock: Callable[[], dt.datetime] = lambda: T0,
    epoch: int | None = None,
    preroll: tuple[str, ...] = (),
) -> Ingester:
    ingester = Ingester(
        cast("ObjectStore", store),
        sink,
        bucket="media",
        retention=retention,
        retry=FAST,
        store_retry=FAST,
        workers=workers,
        per_camera=per_camera,
        clock=clock,
    )
    ingester.add_camera(spool, epoch=epoch, preroll=preroll)
    return ingester


def test_segments_are_stored_recorded_in_order_then_deleted(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    paths = [add_segment(spool, ts_template, RUN_A, i, T0 + dt.timedelta(seconds=2 * i)) for i in range(5)]
    sink = MemorySink()
    ingester = make(fake_store, sink, spool, workers=4, per_camera=3)
    assert ingester.drain(30)
    ingester.stop()
    assert [s.seq for s in sink.segments] == [0, 1, 2, 3, 4]
    assert not any(p.exists() for p in paths)
    first, second = sink.segments[0], sink.segments[1]
    assert first.dating == "anchored" and first.end == first.wall_end == T0  # SPEC.md 9.1: end = arrival
    assert second.start == first.end == T0 and second.arrival_lag == pytest.approx(0.0, abs=0.05)
    for a, b in itertools.pairwise(sink.segments):
        assert b.start == a.end and b.end <= b.wall_end
    data = ts_template.read_bytes()
    ((vid, stored, meta, ret),) = fake_store.objects[("media", first.key)]
    assert stored == data and vid == first.version_id
    assert meta["sha256"] == hashlib.sha256(data).hexdigest() == first.sha256
    assert meta["camera"] == "cam1" and meta["seq"] == "0" and meta["partial"] == "0"
    assert ret == retention("cam1", first.wall_end)  # from the arrival: never shorter than from the start
    assert meta["arrived"] == "2025-03-01T12:00:00.000000Z" and "start" not in meta
    assert first.key == f"cam1/2025/03/01/12/000000000000_{RUN_A}-000000.ts"
    assert sink.gaps == []
    assert ingester.status("cam1").ingested == 5


def test_in_progress_waits_and_becomes_partial_when_the_run_dies(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    add_segment(spool, ts_template, RUN_A, 0, T0)
    add_segment(spool, ts_template, RUN_A, 1, T0 + dt.timedelta(seconds=2), listed=False)
    sink = MemorySink()
    ingester = make(fake_store, sink, spool)
    ingester.set_live_runs("cam1", [RUN_A])
    assert ingester.drain(30)
    assert [s.partial for s in sink.segments] == [False]
    ingester.set_live_runs("cam1", [])
    assert ingester.drain(30)
    assert [s.partial for s in sink.segments] == [False, True]
    assert not sink.segments[1].complete
    assert ingester.status("cam1").partial_ingested == 1


def test_a_gap_between_runs_is_recorded_in_order_with_the_reason(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    add_segment(spool, ts_template, RUN_A, 0, T0)
    add_segment(spool, ts_template, RUN_A, 1, T0 + dt.timedelta(seconds=2))
    add_segment(spool, ts_template, RUN_B, 0, T0 + dt.timedelta(seconds=40))
    sink = MemorySink()
    ingester = make(fake_store, sink, spool, per_camera=3)
    ingester.note_run_end("cam1", RUN_A, RecorderGapReason.CAMERA_UNREACHABLE, "Connection refused")
    assert ingester.drain(30)
    kinds = [type(e).__name__ for e in sink.for_camera("cam1")]
    assert kinds == ["SegmentRecord", "SegmentRecord", "GapRecord", "SegmentRecord"]
    (gap,) = sink.gaps
    assert gap.reason is RecorderGapReason.CAMERA_UNREACHABLE and gap.detail == "Connection refused"
    assert gap.start == sink.segments[1].end and gap.end == sink.segments[2].start
    assert gap.seconds == pytest.approx(36.0, abs=0.1)


def test_a_hole_between_runs_longer_than_the_verifiers_tolerance_is_a_gap(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    """Writer and verifier agree (SPEC.md 8 step 8, 9): a hole the verifier's default tolerance T
    (0.5 s) would refuse as "not covered" is logged as a gap. Run B's first segment starts 0.7 s
    after run A's last ended: no gap was logged (the writer tolerated 1 s), so an export over it
    failed; now the timeline tiles exactly."""
    add_segment(spool, ts_template, RUN_A, 0, T0)
    add_segment(spool, ts_template, RUN_A, 1, T0 + dt.timedelta(seconds=2))
    add_segment(spool, ts_template, RUN_B, 0, T0 + dt.timedelta(seconds=4.7))
    sink = MemorySink()
    ingester = make(fake_store, sink, spool, per_camera=3)
    ingester.note_run_end("cam1", RUN_A, RecorderGapReason.FFMPEG_EXIT, "connection reset")
    assert ingester.drain(30)
    assert len(sink.gaps) == 1, [(s.start, s.end) for s in sink.segments]
    (gap,) = sink.gaps
    assert gap.start == sink.segments[1].end and gap.end == sink.segments[2].start
    assert gap.seconds == pytest.approx(0.7, abs=0.01) and gap.reason is RecorderGapReason.FFMPEG_EXIT
    assert DEFAULT_GAP_TOLERANCE_S * 1_000_000 <= DEFAULT_TOLERANCE_US


def test_an_unexplained_gap_is_recorder_stopped_and_seq_continues_from_the_sink(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    sink = MemorySink()
    add_segment(spool, ts_template, RUN_A, 0, T0)
    first = make(fake_store, sink, spool)
    assert first.drain(30)
    first.stop()
    add_segment(spool, ts_template, RUN_B, 0, T0 + dt.timedelta(seconds=60))
    second = make(fake_store, sink, spool)  # a new recorder process: knows only the sink
    assert second.drain(30)
    assert [s.seq for s in sink.segments] == [0, 1]
    assert [g.reason for g in sink.gaps] == [RecorderGapReason.RECORDER_STOPPED]


def test_a_camera_down_at_shutdown_gets_its_gap_and_the_restart_continues_after_it(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    sink = MemorySink()
    add_segment(spool, ts_template, RUN_A, 0, T0)
    stopped_at = T0 + dt.timedelta(seconds=300)
    first = make(fake_store, sink, spool, clock=lambda: stopped_at)
    first.note_run_end("cam1", RUN_A, RecorderGapReason.CAMERA_UNREACHABLE, "Connection refused", at=T0)
    assert first.drain(30)
    first.stop()
    (trailing,) = sink.gaps  # the camera's state until the stop: one reason, one gap
    assert trailing.reason is RecorderGapReason.CAMERA_UNREACHABLE
    assert trailing.start == sink.segments[0].end and trailing.end == stopped_at
    assert trailing.detail == "Connection refused"
    assert first.status("cam1").gaps == 1
    add_segment(spool, ts_template, RUN_B, 0, T0 + dt.timedelta(seconds=400))
    second = make(fake_store, sink, spool)  # a new process: knows only the sink
    assert second.drain(30)
    second.stop()
    kinds = [type(e).__name__ for e in sink.for_camera("cam1")]
    assert kinds == ["SegmentRecord", "GapRecord", "GapRecord", "SegmentRecord"]
    downtime = sink.gaps[1]
    assert downtime.reason is RecorderGapReason.RECORDER_STOPPED
    assert downtime.start == stopped_at and downtime.end == sink.segments[1].start  # no overlap, no hole


def test_no_trailing_gap_when_recording_was_current_or_segments_still_wait(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    sink = MemorySink()
    add_segment(spool, ts_template, RUN_A, 0, T0)
    current = make(fake_store, sink, spool, clock=lambda: T0 + dt.timedelta(seconds=0.4))  # within T
    assert current.drain(30)
    current.stop()
    assert sink.gaps == []  # stopped right after the last segment: nothing to explain
    waiting = add_segment(spool, ts_template, RUN_A, 1, T0 + dt.timedelta(seconds=2))
    fake_store.down = True
    later = make(fake_store, sink, spool, clock=lambda: T0 + dt.timedelta(seconds=600))
    assert not later.drain(1)
    later.stop()
    assert sink.gaps == [] and waiting.exists()  # the next start ingests it; it covers that time


def test_store_down_keeps_files_and_drains_oldest_first_when_back(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    paths = [add_segment(spool, ts_template, RUN_A, i, T0 + dt.timedelta(seconds=2 * i)) for i in range(4)]
    sink = MemorySink()
    fake_store.down = True
    ingester = make(fake_store, sink, spool, workers=3, per_camera=3)
    assert not ingester.drain(1.0)
    assert all(p.exists() for p in paths) and sink.segments == []
    status = ingester.status("cam1")
    assert status.failures >= 1 and status.backlog_files == 4 and not ingester.store_available
    assert "down" in (ingester.store_error or "")
    fake_store.down = False
    assert ingester.drain(30)
    assert [s.seq for s in sink.segments] == [0, 1, 2, 3]
    assert [s.run_index for s in sink.segments] == [0, 1, 2, 3]
    assert not any(p.exists() for p in paths) and ingester.store_available


def test_sink_failure_keeps_the_file_and_retries_without_uploading_again(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    path = add_segment(spool, ts_template, RUN_A, 0, T0)
    sink = MemorySink(fail=2)
    ingester = make(fake_store, sink, spool)
    ingester.pass_once()  # last_segment() fails
    assert path.exists()
    assert ingester.drain(30)
    assert len(sink.segments) == 1 and not path.exists()
    assert fake_store.puts == 1
    assert ingester.status("cam1").sink_failures == 2


def test_an_identical_object_from_an_earlier_attempt_is_reused(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    path = add_segment(spool, ts_template, RUN_A, 0, T0)
    (file,) = spool.scan()
    key = default_key("cam1", 0, file)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    earlier = fake_store.put_file("media", key, str(path), metadata={"sha256": sha})
    sink = MemorySink()
    assert make(fake_store, sink, spool).drain(30)
    assert fake_store.puts == 1 and sink.segments[0].version_id == earlier.version_id


def test_new_files_upload_the_hashed_bytes_without_a_head_first_and_retries_look_first(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    for i in range(2):
        add_segment(spool, ts_template, RUN_A, i, T0 + dt.timedelta(seconds=2 * i))
    sink = MemorySink()
    ingester = make(fake_store, sink, spool)
    ingester.set_live_runs("cam1", [RUN_A])  # files of a run this process saw being written
    assert ingester.drain(30)
    assert fake_store.puts == fake_store.signed_puts == 2  # the hashed bytes, hash signed
    assert fake_store.stats == 0  # no look for an earlier copy: there cannot be one
    fake_store.down = True
    add_segment(spool, ts_template, RUN_A, 2, T0 + dt.timedelta(seconds=4))
    ingester.wake("cam1")
    assert not ingester.drain(0.5)  # its first try fails ...
    fake_store.down = False
    assert ingester.drain(30)
    ingester.stop()
    assert fake_store.puts == 3 and fake_store.stats == 1  # ... so the retry looked for a copy first
    assert [s.seq for s in sink.segments] == [0, 1, 2]


def test_other_bytes_under_the_key_keep_the_file(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path, tmp_path: Path
) -> None:
    path = add_segment(spool, ts_template, RUN_A, 0, T0)
    (file,) = spool.scan()
    other = tmp_path / "other.ts"
    other.write_bytes(b"x" * 188)
    fake_store.put_file("media", default_key("cam1", 0, file), str(other), metadata={"sha256": "ff"})
    sink = MemorySink()
    ingester = make(fake_store, sink, spool)
    assert not ingester.drain(1.0)
    assert path.exists() and sink.segments == []
    assert "other bytes" in (ingester.status("cam1").last_error or "")


def test_gap_record_seconds() -> None:
    assert GapRecord("c", T0, T0 + dt.timedelta(seconds=3), RecorderGapReason.STALLED).seconds == 3.0


def test_a_backlog_larger_than_the_window_is_ingested_in_order(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("archive.recorder.ingest_steps.MAX_PENDING", 4)
    for i in range(11):
        add_segment(spool, ts_template, RUN_A, i, T0 + dt.timedelta(seconds=2 * i))
    sink = MemorySink()
    ingester = make(fake_store, sink, spool, workers=3, per_camera=3)
    ingester.pass_once()
    assert ingester.status("cam1").backlog_files == 11
    assert ingester.drain(60)
    assert [s.run_index for s in sink.segments] == list(range(11))
    assert [s.seq for s in sink.segments] == list(range(11))
    assert ingester.status("cam1").backlog_files == 0
    assert_contiguous = [abs((b.start - a.end).total_seconds()) < 0.05 for a, b in itertools.pairwise(sink.segments)]
    assert all(assert_contiguous)


def test_retire_waits_for_the_spool_then_logs_the_gap_and_forgets_the_camera(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    """A camera an operator disabled: :meth:`Ingester.retire` returns True only once its last
    segment is stored and logged (store down: False, the file kept, the camera still watched),
    then logs the gap from that segment to now (however short: the next writer may be another
    process) and stops watching the camera, so its writer claim can be released."""
    sink = MemorySink()
    last = add_segment(spool, ts_template, RUN_A, 0, T0)
    now = T0 + dt.timedelta(seconds=0.4)  # shorter than the gap tolerance (1 s)
    ingester = make(fake_store, sink, spool, clock=lambda: now)
    ingester.note_run_end("cam1", RUN_A, RecorderGapReason.RECORDER_STOPPED, "disabled by an operator", at=T0)
    fake_store.down = True  # before the ingester starts: else its thread may store the file first (seen under load)
    ingester.start()
    try:
        assert ingester.retire("cam1", 0.5) is False
        assert last.exists() and sink.segments == [] and sink.gaps == []
        fake_store.down = False
        assert ingester.retire("cam1", 30) is True
        assert not last.exists() and [s.seq for s in sink.segments] == [0]
        (gap,) = sink.gaps
        assert gap.start == sink.segments[0].end and gap.end == now and gap.detail == "disabled by an operator"
        assert ingester.status("cam1").ingested == 0  # forgotten: an unknown camera's zeros
        assert ingester.retire("cam1", 0.1) is True  # not watched: nothing to wait for
    finally:
        ingester.stop()
    assert len(sink.gaps) == 1  # the stop logs nothing more for a camera it no longer watches
