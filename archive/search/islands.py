"""Coverage islands computed inside the database (window functions; SQLite >= 3.28, PostgreSQL).

Consecutive segments of one kind (media present, or pruned) whose start is within the
tolerance of the running maximum end before them form one island; the database returns only
the islands (start, end, kind, count, bytes), so a month of 10 s segments costs Python a
handful of rows instead of a quarter of a million. Same result as
:func:`archive.search.intervals.merge` on the rows (a test compares them).
"""

from __future__ import annotations

from sqlalchemy import Connection, case, func, select

from archive.search.intervals import TOLERANCE_US
from archive.search.tables import SEGMENT, overlap

__all__ = ["Island", "clipped", "islands"]

Island = tuple[int, int, bool, int, int]
"""``(start_us, end_us, pruned, segments, bytes)``, unclipped."""


def islands(conn: Connection, camera_id: str, lo: int, hi: int, tol: int = TOLERANCE_US) -> list[Island]:
    """The islands of the camera's segments overlapping ``[lo, hi)``, by start."""
    order = (SEGMENT.c.start_us, SEGMENT.c.seq)
    prev_end = func.max(SEGMENT.c.end_us).over(partition_by=SEGMENT.c.pruned, order_by=order, rows=(None, -1))
    base = (
        select(SEGMENT.c.start_us.label("s"), SEGMENT.c.end_us.label("e"), SEGMENT.c.pruned.label("p"),
               SEGMENT.c.size.label("z"), SEGMENT.c.seq.label("q"),
               case((SEGMENT.c.start_us > prev_end + tol, 1), else_=0).label("brk"))
        .where(overlap(camera_id, lo, hi))
        .subquery()
    )  # fmt: skip
    grp = func.sum(base.c.brk).over(partition_by=base.c.p, order_by=(base.c.s, base.c.q), rows=(None, 0))
    numbered = select(base.c.s, base.c.e, base.c.p, base.c.z, grp.label("g")).subquery()
    stmt = (
        select(func.min(numbered.c.s), func.max(numbered.c.e), numbered.c.p, func.count(), func.sum(numbered.c.z))
        .group_by(numbered.c.p, numbered.c.g)
        .order_by(func.min(numbered.c.s))
    )
    return [(int(r[0]), int(r[1]), bool(r[2]), int(r[3]), int(r[4] or 0)) for r in conn.execute(stmt).all()]


def clipped(found: list[Island], lo: int, hi: int, pruned: bool) -> list[tuple[int, int]]:
    """The islands of one kind clipped to ``[lo, hi)``."""
    out = []
    for s, e, p, _n, _z in found:
        if p is pruned:
            s, e = max(s, lo), min(e, hi)
            if e > s:
                out.append((s, e))
    return out
