"""SQL (Core) over the export tables. Functions take an open connection; the caller owns the
transaction. Every function lets :class:`sqlalchemy.exc.SQLAlchemyError` through."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from archive.export.model import ExportRecord, ExportStatus, OwnerApproval
from archive.export.tables import CAMERA, CUSTODY, DECISION, REQUEST
from archive.retention.policy import ExportApproval

__all__ = [
    "custody_lines",
    "custody_tip",
    "insert_custody",
    "insert_decision",
    "insert_request",
    "load",
    "load_all",
    "set_fields",
]


def insert_request(conn: Connection, row: dict[str, Any], cameras: Sequence[tuple[str, str, str]]) -> None:
    """Store a new export (``row``: export_request columns) and its ``(camera, owner, rule)`` rows."""
    conn.execute(insert(REQUEST).values(**row))
    conn.execute(insert(CAMERA), [{"export_id": row["id"], "camera_id": c, "owner_id": o, "rule": r}
                                  for c, o, r in cameras])  # fmt: skip


def set_fields(conn: Connection, export_id: str, *, expect: Sequence[ExportStatus] = (), **values: Any) -> bool:
    """Update columns of one export, only while its status is one of ``expect`` (if given).
    Returns False when no row matched (wrong state or unknown id)."""
    cond = REQUEST.c.id == export_id
    if expect:
        cond = and_(cond, REQUEST.c.status.in_([s.value for s in expect]))
    return conn.execute(update(REQUEST).where(cond).values(**values)).rowcount == 1


def insert_decision(conn: Connection, export_id: str, a: OwnerApproval) -> None:
    """Store one owner group's decision (the primary key refuses a second one)."""
    conn.execute(insert(DECISION).values(
        export_id=export_id, owner_id=a.owner_id, rule=a.rule.value, decision=a.decision, actor=a.actor,
        actor_name=a.actor_name, actor_role=a.actor_role, at_us=a.at_us, reason=a.reason, origin=a.origin))  # fmt: skip


def _records(conn: Connection, rows: Sequence[Any]) -> list[ExportRecord]:
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    cams: dict[str, list[tuple[str, str, str]]] = {}
    for c in conn.execute(select(CAMERA).where(CAMERA.c.export_id.in_(ids))).mappings():
        cams.setdefault(c["export_id"], []).append((c["camera_id"], c["owner_id"], c["rule"]))
    decided: dict[str, dict[str, Any]] = {}
    for row in conn.execute(select(DECISION).where(DECISION.c.export_id.in_(ids))).mappings():
        decided.setdefault(row["export_id"], {})[row["owner_id"]] = row
    out = []
    for r in rows:
        rules: dict[str, str] = {}
        for _cam, owner, rule in sorted(cams.get(r["id"], [])):
            rules.setdefault(owner, rule)
        approvals = []
        for owner, rule in sorted(rules.items()):
            d: Any = decided.get(r["id"], {}).get(owner)
            approvals.append(OwnerApproval(owner, ExportApproval(rule)) if d is None else OwnerApproval(
                owner, ExportApproval(rule), d["decision"], d["actor"], d["actor_name"], d["actor_role"],
                int(d["at_us"]), d["reason"], d["origin"]))  # fmt: skip
        fields = {k: r[k] for k in r if k not in ("updated_us", "status")}
        out.append(ExportRecord(status=ExportStatus(r["status"]),
                                cameras=tuple((c, o) for c, o, _ in cams.get(r["id"], [])),
                                approvals=tuple(approvals), **fields))  # fmt: skip
    return out


def load(conn: Connection, export_id: str) -> ExportRecord | None:
    """One export with its cameras and decisions, or None."""
    rows = conn.execute(select(REQUEST).where(REQUEST.c.id == export_id)).mappings().all()
    found = _records(conn, rows)
    return found[0] if found else None


def load_all(conn: Connection, *, status: Sequence[ExportStatus] = (), limit: int = 1000) -> list[ExportRecord]:
    """Exports, newest request first (optionally only in some states)."""
    stmt = select(REQUEST).order_by(REQUEST.c.requested_us.desc(), REQUEST.c.id).limit(limit)
    if status:
        stmt = stmt.where(REQUEST.c.status.in_([s.value for s in status]))
    return _records(conn, conn.execute(stmt).mappings().all())


def custody_tip(conn: Connection, export_id: str) -> tuple[int, str] | None:
    """``(seq, hash)`` of the export's last custody event, or None."""
    row = conn.execute(
        select(CUSTODY.c.seq, CUSTODY.c.hash).where(CUSTODY.c.export_id == export_id)
        .order_by(CUSTODY.c.seq.desc()).limit(1)
    ).first()  # fmt: skip
    return None if row is None else (int(row[0]), str(row[1]))


def insert_custody(conn: Connection, export_id: str, seq: int, event: str, at_us: int, data: bytes,
                   digest: str) -> None:  # fmt: skip
    """Append one custody event (the primary key refuses a seq twice)."""
    conn.execute(insert(CUSTODY).values(export_id=export_id, seq=seq, event=event, at_us=at_us, data=data,
                                        hash=digest))  # fmt: skip


def custody_lines(conn: Connection, export_id: str) -> list[bytes]:
    """Every custody event's bytes, by seq."""
    rows = conn.execute(select(CUSTODY.c.data).where(CUSTODY.c.export_id == export_id).order_by(CUSTODY.c.seq))
    return [bytes(r[0]) for r in rows]
