"""Segment times from the media clock, bounded by arrival (SPEC.md 9.1), against a bursting source.

The camera is the lite simulator with a burst at connect: it starts 24 s in the past and sends
that backlog 12 times faster than real time (as caching relays and NVRs do), then live. Real RTSP,
real ffmpeg, real SeaweedFS; the ingester's sink is in memory.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from pathlib import Path

import pytest

from archive.recorder.ffmpeg import RecordingSpec
from archive.sim.bulk import BulkCameraSet
from archive.sim.cameras import ClipCache
from archive.storage.base import ObjectStore
from tests.fixtures.memory_sink import MemorySink
from tests.integration.test_recorder import make_recorder, segments, wait_until

SEGMENT_SECONDS = 4
BURST_S = 24.0
BURST_SPEED = 12.0


def test_a_bursting_source_gives_no_overlap_no_time_before_the_start_or_after_arrival(
    sim_clip_cache: ClipCache, s3_store: ObjectStore, bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with BulkCameraSet(1, "h264", cache=sim_clip_cache, workdir=tmp_path / "sim", burst_s=BURST_S,
                       burst_speed=BURST_SPEED) as cams:  # fmt: skip
        spec = RecordingSpec.create("cam-burst", cams.urls[0], segment_seconds=SEGMENT_SECONDS)

        sink = MemorySink()
        recorder = make_recorder([spec], tmp_path / "spool", s3_store, bucket, sink)
        started = dt.datetime.now(dt.UTC)
        recorder.start()
        try:
            # 24 s of backlog (6 segments in ~2 s) and then at least 3 live segments.
            wait_until(lambda: len(segments(sink, "cam-burst")) >= 10, 90, "ten segments")
        finally:
            recorder.stop()
        stopped = dt.datetime.now(dt.UTC)
    recs = segments(sink, "cam-burst")
    media = sum(r.duration for r in recs)
    wall = (stopped - started).total_seconds()
    print(f"{len(recs)} segments, {media:.1f} s of media recorded in {wall:.1f} s of wall time")
    for r in recs:
        print(f"  seq {r.seq} {r.start.time()} .. {r.end.time()} dur {r.duration:.3f} "
              f"wall {(r.end - r.start).total_seconds():.3f} finished {r.wall_end.time()}")  # fmt: skip
    assert media > wall + BURST_S / 2, "the source did not burst"
    early = (started - recs[0].start).total_seconds()
    assert recs[0].start >= started, f"seq 0 starts {early:.3f} s before the recorder"
    for r in recs:
        assert r.start < r.end, r
        late = (r.end - r.wall_end).total_seconds()
        assert r.end <= r.wall_end, f"seq {r.seq} ends {late:.3f} s after its file was finished"
        assert r.end <= stopped
    for prev, nxt in itertools.pairwise(recs):
        step = (nxt.start - prev.end).total_seconds()
        assert nxt.start >= prev.end, f"seq {nxt.seq} starts {-step:.3f} s before seq {prev.seq} ends"
        if (prev.run_id, prev.run_index + 1) == (nxt.run_id, nxt.run_index):
            assert nxt.start == prev.end, f"seq {prev.seq} -> {nxt.seq}: {step} s step"
    # The burst is kept (its media is stored) and dated into less wall time than its media
    # lasts; it is logged. Live segments afterwards keep their media duration.
    squeezed = [r for r in recs if (r.end - r.start).total_seconds() < r.duration - 0.5]
    assert len(squeezed) >= 4, "the burst's segments are not marked as compressed"
    live = recs[-3:-1]
    for r in live:
        assert (r.end - r.start).total_seconds() == pytest.approx(r.duration, abs=0.3), r
    messages = [rec.getMessage() for rec in caplog.records if "cam-burst" in rec.getMessage()]
    assert any("faster than real time" in m for m in messages), messages
