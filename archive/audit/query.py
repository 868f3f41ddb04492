"""Reading the audit trail back: filters on the indexed columns, keyset pages by seq.

What is returned is decoded from the stored entry bytes (the signed truth), not from the
filter columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, select, true

from archive.audit.entry import AuditRecord, decode
from archive.audit.tables import EVENT

__all__ = ["AuditEventView", "AuditFilter", "read_events"]


@dataclass(frozen=True)
class AuditFilter:
    """Which entries: each set field narrows; ``after_seq``/``before_seq`` page through."""

    actor: str | None = None
    action: str | None = None
    result: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    after_seq: int | None = None
    before_seq: int | None = None
    newest_first: bool = True
    limit: int = 100


@dataclass(frozen=True)
class AuditEventView:
    """One entry as read back: its seq, entry hash (hex) and decoded record."""

    seq: int
    entry_hash: str
    record: AuditRecord

    @property
    def target(self) -> Mapping[str, Any]:
        """The record's target."""
        return self.record.target


def read_events(conn: Connection, f: AuditFilter) -> list[AuditEventView]:
    """Entries matching ``f`` (at most ``f.limit``). Raises SQLAlchemyError, MalformedError."""
    cond: ColumnElement[bool] = true()
    if f.actor is not None:
        cond = and_(cond, EVENT.c.actor == f.actor)
    if f.action is not None:
        cond = and_(cond, EVENT.c.action == f.action)
    if f.result is not None:
        cond = and_(cond, EVENT.c.result == f.result)
    if f.since_us is not None:
        cond = and_(cond, EVENT.c.at_us >= f.since_us)
    if f.until_us is not None:
        cond = and_(cond, EVENT.c.at_us < f.until_us)
    if f.after_seq is not None:
        cond = and_(cond, EVENT.c.seq > f.after_seq)
    if f.before_seq is not None:
        cond = and_(cond, EVENT.c.seq < f.before_seq)
    order = EVENT.c.seq.desc() if f.newest_first else EVENT.c.seq.asc()
    rows = conn.execute(select(EVENT.c.seq, EVENT.c.data, EVENT.c.entry_hash).where(cond).order_by(order)
                        .limit(f.limit)).all()  # fmt: skip
    return [AuditEventView(int(r[0]), bytes(r[2]).hex(), decode(bytes(r[1])).record) for r in rows]
