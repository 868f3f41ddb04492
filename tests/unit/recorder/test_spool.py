"""Spool directory states, accounting and the one deletion path."""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

import pytest

from archive.errors import ConfigError, IntegrityError
from archive.recorder.ingest_state import SEEN_RUNS_KEPT, CameraIngest, tidy_spool
from archive.recorder.spool import CameraSpool, FileState, read_segment_list
from archive.recorder.status import IngestStatus

RUN_A = "20250101T000000000Z"
RUN_B = "20250101T000100000Z"


def spool_with(tmp_path: Path, max_bytes: int = 10_000) -> CameraSpool:
    spool = CameraSpool(tmp_path, "cam1", max_bytes=max_bytes, alarm_fraction=0.8)
    spool.ensure()
    return spool


def write(spool: CameraSpool, run: str, index: int, size: int = 188) -> Path:
    path = spool.run_paths(run).segment_path(index)
    path.write_bytes(b"\x47" * size)
    return path


def test_segment_list_ignores_an_unfinished_last_line(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("a.ts,0.000000,4.000000\nb.ts,4.000000,8.0", encoding="utf-8")
    assert read_segment_list(path) == {"a.ts": (0.0, 4.0)}
    assert read_segment_list(tmp_path / "missing.csv") == {}


def test_states_finished_in_progress_partial(tmp_path: Path) -> None:
    spool = spool_with(tmp_path)
    for i in range(3):
        write(spool, RUN_A, i)
    spool.run_paths(RUN_A).segment_list.write_text(
        f"{RUN_A}-000000.ts,0.0,4.0\n{RUN_A}-000001.ts,4.0,8.0\n", encoding="utf-8"
    )
    live = spool.scan(live_runs={RUN_A})
    assert [f.state for f in live] == [FileState.FINISHED, FileState.FINISHED, FileState.IN_PROGRESS]
    assert (live[1].list_start, live[1].list_end) == (4.0, 8.0)
    dead = spool.scan(live_runs=())
    assert [f.state for f in dead] == [FileState.FINISHED, FileState.FINISHED, FileState.PARTIAL]
    assert all(f.ready for f in dead)


def test_scan_orders_by_run_then_index_and_ignores_strangers(tmp_path: Path) -> None:
    spool = spool_with(tmp_path)
    write(spool, RUN_B, 0)
    write(spool, RUN_A, 10)
    write(spool, RUN_A, 2)
    (spool.directory / "notes.txt").write_text("x", encoding="utf-8")
    assert [(f.run_id, f.index) for f in spool.scan()] == [(RUN_A, 2), (RUN_A, 10), (RUN_B, 0)]


def test_mtime_is_utc_with_microseconds(tmp_path: Path) -> None:
    spool = spool_with(tmp_path)
    path = write(spool, RUN_A, 0)
    os.utime(path, ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    (file,) = spool.scan()
    assert file.mtime == dt.datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=dt.UTC)


def test_usage_alarm_and_full(tmp_path: Path) -> None:
    spool = spool_with(tmp_path, max_bytes=1000)
    write(spool, RUN_A, 0, size=700)
    usage = spool.usage()
    assert (usage.bytes_used, usage.segments, usage.alarm, usage.full) == (700, 1, False, False)
    write(spool, RUN_A, 1, size=200)
    assert spool.usage().alarm and not spool.usage().full
    write(spool, RUN_A, 2, size=100)
    assert spool.usage().full and spool.usage().fraction == 1.0


def test_remove_ingested_refuses_a_size_mismatch(tmp_path: Path) -> None:
    spool = spool_with(tmp_path)
    path = write(spool, RUN_A, 0, size=376)
    (file,) = spool.scan()
    with pytest.raises(IntegrityError):
        spool.remove_ingested(file, stored_size=188)
    assert path.exists()
    path.write_bytes(b"\x47" * 564)  # grew after the scan
    with pytest.raises(IntegrityError):
        spool.remove_ingested(file, stored_size=376)
    assert path.exists()
    (file,) = spool.scan()
    spool.remove_ingested(file, stored_size=564)
    assert not path.exists()


def test_new_run_ids_are_unique_and_sortable(tmp_path: Path) -> None:
    spool = spool_with(tmp_path)
    moment = dt.datetime(2025, 1, 1, 12, 0, 0, 123999, tzinfo=dt.UTC)
    first = spool.new_run(moment)
    assert first.run_id == "20250101T120000123Z"
    first.pid_file.write_text("1\n", encoding="ascii")
    second = spool.new_run(moment)
    assert second.run_id == "20250101T120000124Z" and second.run_id > first.run_id
    assert "%06d" in second.segment_pattern.name


def test_forget_finished_runs_keeps_runs_with_segments_and_live_runs(tmp_path: Path) -> None:
    spool = spool_with(tmp_path)
    for run in (RUN_A, RUN_B):
        spool.run_paths(run).segment_list.write_text("", encoding="utf-8")
    write(spool, RUN_B, 0)
    spool.forget_finished_runs(live_runs=())
    assert not spool.run_paths(RUN_A).segment_list.exists()
    assert spool.run_paths(RUN_B).segment_list.exists()


def test_bad_limits_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        CameraSpool(tmp_path, "c", max_bytes=0)
    with pytest.raises(ConfigError):
        CameraSpool(tmp_path, "c", max_bytes=10, alarm_fraction=1.5)


def test_tidy_spool_prunes_remembered_live_runs_whose_files_are_gone(tmp_path: Path) -> None:
    spool = spool_with(tmp_path)
    write(spool, RUN_B, 0)  # still in the spool
    live = "20250101T000200000Z"
    gone = [f"20240101T0000{i:05d}Z" for i in range(SEEN_RUNS_KEPT)]
    cam = CameraIngest(spool, status=IngestStatus("c"))
    cam.live_runs = frozenset({live})
    cam.seen_runs = frozenset({*gone, RUN_B, live})
    tidy_spool(cam, threading.Lock())
    assert cam.seen_runs == {RUN_B, live}
    cam.seen_runs = frozenset({RUN_A, RUN_B})  # few enough: nothing is looked up or dropped
    tidy_spool(cam, threading.Lock())
    assert cam.seen_runs == {RUN_A, RUN_B}


def test_runs_under_a_writer_claim_carry_its_epoch_and_old_names_stay_readable(tmp_path: Path) -> None:
    """Issue 13.1: object keys contain the spool file name; with the claim's epoch in the run id,
    two claims that start a run at the same millisecond still name their files differently."""
    from archive.recorder.spool import SEGMENT_RE, CameraSpool

    spool = CameraSpool(tmp_path, "cam-1", max_bytes=10**9)
    moment = dt.datetime(2026, 12, 2, 16, 0, 0, 123000, tzinfo=dt.UTC)
    a = spool.new_run(moment, writer_epoch=7)
    b = CameraSpool(tmp_path / "other", "cam-1", max_bytes=10**9).new_run(moment, writer_epoch=8)
    assert a.run_id == "20261202T160000123Ze7" and b.run_id == "20261202T160000123Ze8"
    assert a.segment_path(3).name != b.segment_path(3).name
    for name, run in ((a.segment_path(3).name, a.run_id), ("20261202T160000123Z-000003.ts", "20261202T160000123Z")):
        match = SEGMENT_RE.match(name)
        assert match is not None and match["run"] == run and match["index"] == "000003"
    a.segment_path(0).write_bytes(b"x")
    (tmp_path / "cam-1" / "20250101T000000000Z-000000.ts").write_bytes(b"y")  # a run of an older version
    assert spool.run_ids() == ["20250101T000000000Z", "20261202T160000123Ze7"]
