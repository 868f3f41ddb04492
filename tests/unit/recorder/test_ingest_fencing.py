"""Fencing and superseded spool files (issue 16 item 3), against an in-memory store and sink:
an append refused with WriterClaimLostError stops every later append of that camera and keeps its
files; spool files of an earlier claim whose time the log already holds are kept, never logged."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from archive.errors import WriterClaimLostError
from archive.recorder.ingest_state import run_epoch
from archive.recorder.sink import GapRecord, RecorderGapReason, SegmentRecord
from archive.recorder.spool import CameraSpool
from tests.fixtures.memory_sink import MemorySink

from .conftest import FakeStore
from .test_ingest import T0, add_segment, make

RUN_E1 = "20250301T120000000Ze1"
RUN_E2 = "20250301T120030000Ze2"


@dataclass
class TakenOverSink(MemorySink):
    """Accepts ``accept`` segments, then refuses every append as a superseded writer claim."""

    accept: int = 1
    refused: int = 0

    def record_segment(self, record: SegmentRecord) -> None:
        if len(self.segments) >= self.accept:
            self.refused += 1
            raise WriterClaimLostError("camera cam1: writer claim epoch 1 of n2@h:1:a is no longer current")
        super().record_segment(record)


def _s(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_refused_append_fences_the_camera_and_keeps_its_files(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    paths = [add_segment(spool, ts_template, RUN_E1, i, _s(2 * i)) for i in range(4)]
    sink = TakenOverSink()
    ingester = make(fake_store, sink, spool, clock=lambda: _s(60))
    ingester.drain(3)
    assert len(sink.segments) == 1 and sink.refused == 1  # one refusal, never retried
    assert "no longer current" in ingester.fenced()["cam1"]
    for _ in range(5):
        ingester.pass_once(rescan=True)
    assert sink.refused == 1 and sink.gaps == []
    assert not paths[0].exists() and all(p.exists() for p in paths[1:])  # unstored media is never deleted
    ingester.forget("cam1")
    ingester.stop()
    assert sink.gaps == []  # no trailing gap from a writer that lost the camera
    assert all(p.exists() for p in paths[1:])


def test_files_of_an_earlier_claim_inside_what_the_log_holds_are_kept_not_logged(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    assert (run_epoch(RUN_E1), run_epoch(RUN_E2), run_epoch("20250301T120000000Z")) == (1, 2, None)
    add_segment(spool, ts_template, RUN_E1, 0, _s(2))
    sink = MemorySink()
    first = make(fake_store, sink, spool)
    assert first.drain(30)
    first.stop()
    # another node took the camera over and logged its failover gap up to its first segment
    sink.record_gap(GapRecord("cam1", _s(2), _s(20), RecorderGapReason.FAILOVER, "node n2 stopped renewing"))
    old = [add_segment(spool, ts_template, RUN_E1, i, _s(2 + 2 * i)) for i in (1, 2, 3)]
    new = add_segment(spool, ts_template, RUN_E2, 0, _s(34))
    second = make(fake_store, sink, spool, clock=lambda: _s(40), epoch=2)
    assert second.drain(30)
    second.stop()
    assert [s.run_id for s in sink.segments] == [RUN_E1, RUN_E2]
    assert all(p.exists() for p in old) and not new.exists()
    assert all(s.start >= _s(20) for s in sink.segments[1:])  # nothing before the end of what was logged


def test_a_handover_pre_roll_is_logged_from_the_end_of_the_log_without_hole_or_overlap(
    fake_store: FakeStore, spool: CameraSpool, ts_template: Path
) -> None:
    """Make before break: the next node recorded a pre-roll (its run started at 4 s, under the epoch its
    claim then got) while the old node logged up to 10 s; of the pre-roll, the files that arrived by
    10 s are kept in the spool, never logged; the next one starts exactly at 10 s (SPEC.md 9.1)."""
    for i in range(5):
        add_segment(spool, ts_template, RUN_E1, i, _s(2 + 2 * i))
    sink = MemorySink()
    old = make(fake_store, sink, spool, clock=lambda: _s(10), epoch=1)
    assert old.drain(30)
    assert old.retire("cam1", 30, trailing_gap=False)  # a handover: the log ends at the last segment, no gap
    old.stop()
    assert sink.segments[-1].end <= _s(10) and sink.gaps == []
    logged_end = sink.segments[-1].end
    preroll = "20250301T120004000Ze2"
    early = [add_segment(spool, ts_template, preroll, i, _s(6 + 2 * i)) for i in range(3)]  # arrived 6, 8, 10 s
    late = [add_segment(spool, ts_template, preroll, i, _s(6 + 2 * i)) for i in (3, 4)]  # 12, 14 s
    new = make(fake_store, sink, spool, clock=lambda: _s(20), epoch=2, preroll=(preroll,))
    assert new.drain(30)
    new.stop()
    taken = [s for s in sink.segments if s.run_id == preroll]
    assert all(p.exists() for p in early) and not any(p.exists() for p in late)
    assert [s.run_index for s in taken] == [3, 4]
    assert taken[0].start == logged_end and taken[1].start == taken[0].end  # no hole, no overlap
    assert not [g for g in sink.gaps if g.start < taken[0].start]
