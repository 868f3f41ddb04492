"""Segment times from the media clock, bounded by arrival (SPEC.md 9.1).

A segment's media duration comes from the stream's own timestamps (the PTS span that
:mod:`archive.recorder.tsparse` reads from the stored bytes). Its wall-clock interval is that
media clock anchored to the recorder's (NTP-disciplined) wall clock, under two bounds that
make every time an upper bound a reader can rely on:

* **never after arrival**: a segment's ``end`` is not later than the wall time at which its
  file was finished (the file's mtime: ffmpeg closes a segment when the first packet of the
  next one arrives), since no media can have been captured after it reached the recorder;
* **never overlapping**: ``start`` is not earlier than the end of what the camera's log holds
  already (segment or gap), nor, for the first segment of an ffmpeg run, than the run's start.

While one ffmpeg run records continuously, ``start(n+1) == end(n)`` exactly and
``end = start + duration`` (the anchor holds). The anchor is set by the first segment of a run
(its end = its arrival) and re-established, with ``end = arrival``, when the anchored end would
lie after the arrival (media arriving faster than real time: a burst of buffered video, or a
camera clock running fast) or more than :data:`REANCHOR_S` before it (media clock running slow,
or the stream delayed). Either way ``(end - start) - duration`` of that segment is the
correction, negative for a burst ("compressed": the media was captured at or before ``end``,
its times are arrival bounds, not capture times), positive for a slow media clock. So every
segment's ``end`` lies in ``[arrival - REANCHOR_S, arrival]``.

Pure functions; the ingester (:mod:`archive.recorder.ingest`) applies them in recording order.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from archive.recorder.sink import SegmentRecord

#: An anchored end more than this before the file's arrival re-anchors the media clock (SPEC.md 9.1).
REANCHOR_S: Final = 1.0
#: The smallest interval a dated segment gets when its arrival is not after its floor (clock stepped back).
MIN_SPAN: Final = dt.timedelta(microseconds=1)
#: A segment compressed by more than this is logged as (part of) a burst.
BURST_LOG_S: Final = 0.5
_RUN_ID_FORMAT: Final = "%Y%m%dT%H%M%S%fZ"
_log = logging.getLogger(__name__)


class Dating(StrEnum):
    """How a segment's times were set (SPEC.md 9.1)."""

    HELD = "held"  # the anchor held: start = previous end, end = start + duration
    ANCHORED = "anchored"  # first of a run: end = arrival, start = end - duration
    COMPRESSED = "compressed"  # media arrived faster than real time (burst): end = arrival, span < duration
    REANCHORED = "reanchored"  # media clock behind the wall clock by more than REANCHOR_S: end = arrival
    CLOCK_BACK = "clock_back"  # the file arrived before the end of what is logged: the host clock went back


@dataclass(frozen=True)
class SegmentTimes:
    """The dated interval of one segment: ``[start, end)``; ``arrival_lag`` = arrival - end
    (seconds, in ``[0, REANCHOR_S]`` except for :attr:`Dating.CLOCK_BACK`); ``correction`` =
    ``(end - start) - duration`` in seconds (0 while the anchor holds)."""

    start: dt.datetime
    end: dt.datetime
    dating: Dating
    arrival_lag: float
    correction: float


def run_started(run_id: str) -> dt.datetime | None:
    """The UTC moment a spool run was named (``YYYYmmddTHHMMSSfffZ``, before its ffmpeg started),
    None for another name."""
    try:
        return dt.datetime.strptime(run_id, _RUN_ID_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _seconds(delta: dt.timedelta) -> float:
    return delta / dt.timedelta(seconds=1)


def date_segment(
    duration: float,
    arrival: dt.datetime,
    *,
    follows: dt.datetime | None,
    floor: dt.datetime | None,
    reanchor_s: float = REANCHOR_S,
) -> SegmentTimes:
    """The times of a segment of ``duration`` media seconds whose file was finished at ``arrival``.

    ``follows``: the end of the previous segment of the same ffmpeg run when this one continues
    it (the anchor to keep), else None (first of a run, or its predecessor is not known).
    ``floor``: nothing may start before it (the end of the camera's last logged segment or gap,
    and for a first segment the run's start). Never raises.
    """
    length = dt.timedelta(microseconds=round(duration * 1_000_000))
    if follows is not None:
        start = follows if floor is None else max(follows, floor)
        end = start + length
        if end > arrival:
            end, dating = arrival, Dating.COMPRESSED
        elif _seconds(arrival - end) > reanchor_s:
            end, dating = arrival, Dating.REANCHORED
        else:
            dating = Dating.HELD
    else:
        end, start, dating = arrival, arrival - length, Dating.ANCHORED
        if floor is not None and start < floor:
            start, dating = floor, Dating.COMPRESSED
    if end <= start:
        end, dating = start + MIN_SPAN, Dating.CLOCK_BACK
    return SegmentTimes(start, end, dating, round(_seconds(arrival - end), 6), round(_seconds(end - start - length), 6))


def date_record(
    record: SegmentRecord, prev: SegmentRecord | None, covered: dt.datetime | None, *, closed_by_next: bool = True
) -> SegmentRecord:
    """``record`` with its times set by :func:`date_segment` (SPEC.md 9.1): continuing ``prev``
    (the camera's last logged segment) when it is the previous file of the same run, never
    before ``covered`` (the end of the camera's last logged segment or gap) nor, for a run's
    first segment, before the run started. ``closed_by_next``: the file was finished because
    the next segment of its run began (its run is alive or its next file exists); the last file
    of a run was closed when the connection ended, later than its media arrived, so its finish
    bounds its end but never re-anchors the clock forward. A burst, a re-anchoring and a clock
    step back are logged (warning). Never raises."""
    continues = prev is not None and (prev.run_id, prev.run_index + 1) == (record.run_id, record.run_index)
    follows = prev.end if prev is not None and continues else None
    run_start = None if continues else run_started(record.run_id)
    if run_start is not None and run_start >= record.wall_end:  # named after its file was finished: no bound
        run_start = None
    bounds = [covered, prev.end if prev is not None else None, run_start]
    floor = max((b for b in bounds if b is not None), default=None)
    bound = REANCHOR_S if closed_by_next else float("inf")
    times = date_segment(record.duration, record.wall_end, follows=follows, floor=floor, reanchor_s=bound)
    span = _seconds(times.end - times.start)
    where = f"{record.camera_id} seq {record.seq} ({record.run_id}-{record.run_index:06d})"
    if times.dating is Dating.COMPRESSED and -times.correction > BURST_LOG_S:
        _log.warning("%s: burst: %.3f s of media arrived within %.3f s of wall time (%.1fx faster than real "
                     "time): buffered media, dated by its arrival (SPEC.md 9.1)", where, record.duration, span,
                     record.duration / span if span > 0 else float("inf"))  # fmt: skip
    elif times.dating is Dating.REANCHORED:
        _log.warning("%s: the media clock fell %.3f s behind the wall clock; re-anchored at the file's "
                     "arrival (SPEC.md 9.1)", where, times.correction)  # fmt: skip
    elif times.dating is Dating.CLOCK_BACK:
        _log.warning("%s: the file was finished at %s, not after the end of what is logged (%s): the host clock "
                     "went back", where, record.wall_end.isoformat(), times.start.isoformat())  # fmt: skip
    return replace(record, start=times.start, end=times.end, arrival_lag=times.arrival_lag, dating=times.dating.value)
