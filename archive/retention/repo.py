"""Catalog queries of retention: segment pages for the planner, segment rows for the executor,
per-camera retention state, runs. Segments are only *read* here; the ledger marks them pruned.

Every function raises :class:`~archive.errors.CatalogError` when the database fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Integer, and_, bindparam, false, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from archive.catalog.log_tables import LogStateRow, SegmentRow
from archive.errors import CatalogError
from archive.retention.planner import SegmentSource
from archive.retention.reconcile import CameraRetentionState
from archive.retention.tables import RUN, STATE

SEGMENT = SegmentRow.__table__  # type: ignore[attr-defined]
LOG_STATE = LogStateRow.__table__  # type: ignore[attr-defined]
PAGE = 5_000


@contextmanager
def _db(what: str) -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise CatalogError(f"{what}: {exc}") from exc


@dataclass(frozen=True)
class SegmentRowView:
    """An unpruned segment with its object version (for deleting and holding)."""

    seq: int
    start_us: int
    end_us: int
    size: int
    bucket: str
    object_key: str
    version_id: str


def segment_source(engine: Engine, page: int = PAGE, first_page: int = 1000) -> SegmentSource:
    """A :data:`~archive.retention.planner.SegmentSource` paging (keyset) through the covering
    partial index of unpruned segments ``(camera_id, end_us, seq, start_us, size)``. Pages start at
    ``first_page`` rows and double up to ``page``, so the many streams merged under storage pressure
    stay small. Rows are fetched through the DBAPI cursor (plain tuples): this is the planner's hot
    path over millions of rows, where SQLAlchemy row objects would double the cost."""
    stmt = (
        select(SEGMENT.c.seq, SEGMENT.c.start_us, SEGMENT.c.end_us, SEGMENT.c.size)
        .where(and_(
            SEGMENT.c.camera_id == bindparam("cam"), SEGMENT.c.pruned == false(),
            SEGMENT.c.end_us >= bindparam("from_end"), SEGMENT.c.end_us <= bindparam("max_end"),
            or_(SEGMENT.c.end_us > bindparam("from_end2"), SEGMENT.c.seq > bindparam("from_seq")),
        ))
        .order_by(SEGMENT.c.end_us, SEGMENT.c.seq)
        .limit(bindparam("lim", type_=Integer))
    )  # fmt: skip
    compiled = stmt.compile(dialect=engine.dialect)
    sql = compiled.string
    order = compiled.positiontup if compiled.positional else None

    defaults = dict(compiled.params)  # e.g. SQLite's "LIMIT ? OFFSET ?" adds an offset of 0

    def params(values: dict[str, Any]) -> Any:
        merged = {**defaults, **values}
        return tuple(merged[k] for k in order) if order is not None else merged

    def source(camera_id: str, after_end_us: int, max_end_us: int) -> Iterator[tuple[int, int, int, int]]:
        from_end, from_seq = after_end_us + 1, -1  # first page: end > after (every seq >= 0)
        size = min(first_page, page)
        while True:
            values = {"cam": camera_id, "from_end": from_end, "from_end2": from_end, "from_seq": from_seq,
                      "max_end": max_end_us, "lim": size}  # fmt: skip
            if from_seq == -1:
                values["from_end2"] = from_end - 1
            with _db(f"cannot read segments of {camera_id}"), engine.connect() as conn:
                cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                try:
                    cur.execute(sql, params(values))
                    rows: list[tuple[int, int, int, int]] = cur.fetchall()
                finally:
                    cur.close()
            yield from rows
            if len(rows) < size:
                return
            from_seq, from_end = rows[-1][0], rows[-1][2]
            size = min(size * 2, page)

    return source


def unpruned_between(conn: Connection, camera_id: str, lo_seq: int, hi_seq: int) -> list[SegmentRowView]:
    """Unpruned segments of a camera with ``lo_seq <= seq <= hi_seq``, by seq."""
    stmt = (
        select(SEGMENT.c.seq, SEGMENT.c.start_us, SEGMENT.c.end_us, SEGMENT.c.size, SEGMENT.c.bucket,
               SEGMENT.c.object_key, SEGMENT.c.version_id)
        .where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.seq >= lo_seq, SEGMENT.c.seq <= hi_seq,
                    SEGMENT.c.pruned == false()))
        .order_by(SEGMENT.c.seq)
    )  # fmt: skip
    with _db(f"cannot read segments of {camera_id}"):
        return [SegmentRowView(*r) for r in conn.execute(stmt).all()]


def unpruned_from_seq(engine: Engine, camera_id: str, from_seq: int, limit: int) -> list[SegmentRowView]:
    """Up to ``limit`` unpruned segments of a camera with ``seq >= from_seq``, by seq."""
    stmt = (
        select(SEGMENT.c.seq, SEGMENT.c.start_us, SEGMENT.c.end_us, SEGMENT.c.size, SEGMENT.c.bucket,
               SEGMENT.c.object_key, SEGMENT.c.version_id)
        .where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.seq >= from_seq, SEGMENT.c.pruned == false()))
        .order_by(SEGMENT.c.seq).limit(limit)
    )  # fmt: skip
    with _db(f"cannot read segments of {camera_id}"), engine.connect() as conn:
        return [SegmentRowView(*r) for r in conn.execute(stmt).all()]


def live_bytes(engine: Engine) -> int:
    """Total size of all unpruned segments."""
    with _db("cannot sum segment sizes"), engine.connect() as conn:
        total = select(func.coalesce(func.sum(SEGMENT.c.size), 0)).where(SEGMENT.c.pruned == false())
        return int(conn.execute(total).scalar_one())


def logged_cameras(engine: Engine) -> list[str]:
    """Cameras that have an evidence log (hence possibly segments)."""
    with _db("cannot list camera logs"), engine.connect() as conn:
        return sorted({str(r[0]) for r in conn.execute(select(LOG_STATE.c.camera_id).distinct())})


# -- retention state -------------------------------------------------------------------------
def _state(r: Any) -> CameraRetentionState:
    return CameraRetentionState(
        camera_id=r["camera_id"], owner_id=r["owner_id"], rule=r["rule"], keep_us=r["keep_us"],
        legacy_rule=r["legacy_rule"], legacy_keep_us=r["legacy_keep_us"], legacy_before_us=r["legacy_before_us"],
        bypass_before_us=r["bypass_before_us"], extend_from_seq=r["extend_from_seq"], updated_us=r["updated_us"],
    )  # fmt: skip


def load_states(engine: Engine) -> dict[str, CameraRetentionState]:
    """Every camera's applied retention state."""
    with _db("cannot read retention state"), engine.connect() as conn:
        return {r["camera_id"]: _state(r) for r in conn.execute(select(STATE)).mappings()}


def save_state(conn: Connection, st: CameraRetentionState) -> None:
    """Insert or replace one camera's state (inside the caller's transaction)."""
    values = {
        "owner_id": st.owner_id, "rule": st.rule, "keep_us": st.keep_us, "legacy_rule": st.legacy_rule,
        "legacy_keep_us": st.legacy_keep_us, "legacy_before_us": st.legacy_before_us,
        "bypass_before_us": st.bypass_before_us, "extend_from_seq": st.extend_from_seq, "updated_us": st.updated_us,
    }  # fmt: skip
    with _db(f"cannot save retention state of {st.camera_id}"):
        done = conn.execute(update(STATE).where(STATE.c.camera_id == st.camera_id).values(**values))
        if done.rowcount == 0:
            conn.execute(insert(STATE).values(camera_id=st.camera_id, **values))


def set_extend_progress(engine: Engine, camera_id: str, from_seq: int | None, now_us: int) -> None:
    """Record lock-extension progress (None: done)."""
    with _db(f"cannot save extension progress of {camera_id}"), engine.begin() as conn:
        conn.execute(update(STATE).where(STATE.c.camera_id == camera_id)
                     .values(extend_from_seq=from_seq, updated_us=now_us))  # fmt: skip


# -- runs --------------------------------------------------------------------------------------
def start_run(engine: Engine, holder: str, now_us: int) -> int:
    """Record a run as started; returns its id."""
    with _db("cannot record retention run"), engine.begin() as conn:
        res = conn.execute(insert(RUN).values(started_us=now_us, holder=holder, status="running"))
        pk = res.inserted_primary_key
        return int(pk[0]) if pk is not None else 0


def finish_run(engine: Engine, run_id: int, status: str, summary: Mapping[str, Any], now_us: int) -> None:
    """Record how a run ended."""
    with _db("cannot record retention run"), engine.begin() as conn:
        conn.execute(update(RUN).where(RUN.c.id == run_id).values(
            finished_us=now_us, status=status, summary=json.dumps(summary, sort_keys=True, default=str)))  # fmt: skip


def recent_runs(engine: Engine, limit: int = 10) -> list[dict[str, Any]]:
    """The newest runs, newest first (summary decoded)."""
    with _db("cannot read retention runs"), engine.connect() as conn:
        rows = conn.execute(select(RUN).order_by(RUN.c.id.desc()).limit(limit)).mappings().all()
    return [{**dict(r), "summary": json.loads(r["summary"]) if r["summary"] else None} for r in rows]


