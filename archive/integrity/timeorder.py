"""Time order of a log's entries (SPEC.md 8 step 8, rules (a) and (b); SPEC.md 9.1).

The writer dates each segment so that it never overlaps what the log already holds and never
ends after the wall time at which its media had arrived (SPEC.md 9.1). Two consequences can be
checked from the entries alone, and a verifier fails (does not merely note) a log that breaks
them, beyond the tolerance ``T``:

(a) **no overlap**: a ``segment`` or ``gap`` entry starts no earlier than the latest ``end``
    of the timeline entries before it in seq order;
(b) **no end in the future**: no timeline entry ends after the ``at`` of a ``clock`` or
    ``prune`` entry appended after it (a clock reading or a deletion recorded later cannot be
    earlier than media that had already arrived), nor after the time at which a trusted
    witness cosigned a checkpoint containing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from .encoding import format_time
from .entries import Clock, Entry, Gap, Prune, Segment
from .errors import TimeOrderError

__all__ = ["check_not_after", "check_time_order"]


def _us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def check_time_order(entries: Sequence[Entry], tolerance_us: int) -> tuple[str, ...]:
    """Rules (a) and (b) over ``entries`` in seq order; returns notes for overlaps of at most
    ``tolerance_us``.

    Raises:
        TimeOrderError: an entry starts more than ``tolerance_us`` before the end of an earlier
            timeline entry, or a timeline entry ends more than ``tolerance_us`` after the ``at``
            of a later clock or prune entry. The error's seq is the later entry.
    """
    notes: list[str] = []
    latest: tuple[datetime, int] | None = None  # (end, seq) of the latest-ending earlier timeline entry
    for e in entries:
        p = e.payload
        if isinstance(p, Segment | Gap):
            if latest is not None:
                overlap = _us(latest[0] - p.start)
                msg = f"seq {e.seq} starts {overlap} us before seq {latest[1]} ends (overlap"
                if overlap > tolerance_us:
                    raise TimeOrderError(f"{msg}; tolerance {tolerance_us} us)", log=e.log, seq=e.seq)
                if overlap > 0:
                    notes.append(f"{msg} within tolerance)")
            if latest is None or p.end > latest[0]:
                latest = (p.end, e.seq)
        elif isinstance(p, Clock | Prune) and latest is not None:
            late = _us(latest[0] - p.at)
            if late > tolerance_us:
                what = "clock entry was read" if isinstance(p, Clock) else "prune entry's deletion completed"
                raise TimeOrderError(
                    f"seq {latest[1]} ends {format_time(latest[0])}, {late} us after seq {e.seq} (appended later) "
                    f"{what} at {format_time(p.at)}: a time in the future (tolerance {tolerance_us} us)",
                    log=e.log,
                    seq=latest[1],
                )
    return tuple(notes)


def check_not_after(entries: Sequence[Entry], moment: datetime, what: str, tolerance_us: int) -> None:
    """Rule (b) against an outside time: no timeline entry ends more than ``tolerance_us`` after
    ``moment`` (e.g. "the checkpoint was cosigned" at the earliest trusted cosignature time).

    Raises:
        TimeOrderError: naming the entry that ends latest.
    """
    timeline = [e for e in entries if isinstance(e.payload, Segment | Gap)]
    if not timeline:
        return
    last = max(timeline, key=lambda e: (e.payload.end, e.seq))  # type: ignore[union-attr]
    end: datetime = last.payload.end  # type: ignore[union-attr]
    late = _us(end - moment)
    if late > tolerance_us:
        raise TimeOrderError(
            f"seq {last.seq} ends {format_time(end)}, {late} us after {what} at {format_time(moment)}: "
            f"a time in the future (tolerance {tolerance_us} us)",
            log=last.log,
            seq=last.seq,
        )
