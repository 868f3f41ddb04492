"""The dating rules of SPEC.md 9.1 (archive.recorder.media_clock), on chosen numbers."""

from __future__ import annotations

import datetime as dt

from archive.recorder.media_clock import REANCHOR_S, Dating, date_segment, run_started

T0 = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def s(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_first_of_a_run_ends_at_its_arrival_and_never_starts_before_the_floor() -> None:
    t = date_segment(4.0, s(10), follows=None, floor=s(0))
    assert (t.start, t.end, t.dating, t.arrival_lag, t.correction) == (s(6), s(10), Dating.ANCHORED, 0.0, 0.0)
    t = date_segment(4.0, s(0.3), follows=None, floor=s(0))  # 4 s of media within 0.3 s of the run start
    assert (t.start, t.end, t.dating) == (s(0), s(0.3), Dating.COMPRESSED) and t.correction == -3.7


def test_continuing_holds_the_anchor_exactly_within_the_arrival_bound() -> None:
    t = date_segment(4.0, s(14.02), follows=s(10), floor=s(10))
    assert (t.start, t.end, t.dating, t.arrival_lag, t.correction) == (s(10), s(14), Dating.HELD, 0.02, 0.0)


def test_a_burst_is_compressed_to_end_at_arrival() -> None:
    t = date_segment(4.0, s(10.33), follows=s(10), floor=s(10))
    assert (t.start, t.end, t.dating, t.arrival_lag) == (s(10), s(10.33), Dating.COMPRESSED, 0.0)
    assert t.correction == -3.67


def test_a_slow_media_clock_is_reanchored_beyond_the_bound() -> None:
    t = date_segment(4.0, s(14 + REANCHOR_S + 0.1), follows=s(10), floor=s(10))
    assert (t.end, t.dating, t.arrival_lag) == (s(15.1), Dating.REANCHORED, 0.0) and t.correction == 1.1


def test_a_clock_step_back_never_overlaps() -> None:
    t = date_segment(4.0, s(9), follows=s(10), floor=s(10))
    assert t.start == s(10) and t.end == s(10) + dt.timedelta(microseconds=1) and t.dating is Dating.CLOCK_BACK


def test_run_started() -> None:
    assert run_started("20250301T120000123Z") == s(0.123)
    assert run_started("not-a-run") is None
