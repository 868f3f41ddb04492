"""Pure interval arithmetic for coverage: merge, clip, subtract. Inputs sorted by start."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from archive.ledger.coverage import TOLERANCE_US  # one definition: the coverage pieces merge with it too
from archive.search.model import Interval

__all__ = ["TOLERANCE_US", "merge", "subtract"]


def merge(spans: Iterable[tuple[int, int]], lo: int, hi: int, tol: int = TOLERANCE_US) -> list[Interval]:
    """Clip ``spans`` (sorted by start) to ``[lo, hi)`` and merge those closer than ``tol``."""
    out: list[list[int]] = []
    for s, e in spans:
        s, e = max(s, lo), min(e, hi)
        if e <= s:
            continue
        if out and s <= out[-1][1] + tol:
            if e > out[-1][1]:
                out[-1][1] = e
        else:
            out.append([s, e])
    return [Interval(s, e) for s, e in out]


def subtract(lo: int, hi: int, taken: Sequence[Interval], tol: int = TOLERANCE_US) -> list[Interval]:
    """``[lo, hi)`` minus the union of ``taken`` (any order); pieces not longer than ``tol`` are dropped."""
    out: list[Interval] = []
    cursor = lo
    for iv in sorted(taken, key=lambda i: i.start_us):
        if iv.start_us > cursor and iv.start_us - cursor > tol:
            out.append(Interval(cursor, min(iv.start_us, hi)))
        cursor = max(cursor, iv.end_us)
        if cursor >= hi:
            break
    if hi - cursor > tol:
        out.append(Interval(cursor, hi))
    return [i for i in out if i.end_us > i.start_us]
