"""Coverage islands computed inside the database (window functions; SQLite >= 3.28, PostgreSQL).

Consecutive segments of one kind (media present, or pruned) whose start is within the
tolerance of the running maximum end before them form one island; the database returns only
the islands (start, end, kind, count, bytes), so a month of 10 s segments costs Python a
handful of rows instead of a quarter of a million. Same result as
:func:`archive.search.intervals.merge` on the rows (a test compares them).
"""

from __future__ import annotations

from sqlalchemy import Connection

from archive.ledger import index
from archive.ledger.index import Island
from archive.search.intervals import TOLERANCE_US

__all__ = ["Island", "clipped", "islands"]


def islands(conn: Connection, camera_id: str, lo: int, hi: int, tol: int = TOLERANCE_US) -> list[Island]:
    """The islands of the camera's segments overlapping ``[lo, hi)``, by start (the ledger's
    index computes them: :func:`archive.ledger.index.islands`)."""
    return index.islands(conn, camera_id, lo, hi, tol)


def clipped(found: list[Island], lo: int, hi: int, pruned: bool) -> list[tuple[int, int]]:
    """The islands of one kind clipped to ``[lo, hi)``."""
    out = []
    for s, e, p, _n, _z in found:
        if p is pruned:
            s, e = max(s, lo), min(e, hi)
            if e > s:
                out.append((s, e))
    return out
