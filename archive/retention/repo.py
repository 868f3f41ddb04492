"""Catalog queries of retention: per-camera retention state and runs. Segment pages for the
planner and segment rows for the executor are the ledger's (:mod:`archive.ledger.segment_rows`,
re-exported here); the ledger marks them pruned.

Every function raises :class:`~archive.errors.CatalogError` when the database fails.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from archive.catalog.errors import catalog_errors as _db
from archive.ledger.segment_rows import (
    PAGE,
    SegmentRowView,
    live_bytes,
    logged_cameras,
    segment_source,
    unpruned_between,
    unpruned_from_seq,
)
from archive.retention.reconcile import CameraRetentionState
from archive.retention.tables import RUN, STATE

__all__ = [
    "PAGE", "SegmentRowView", "finish_run", "live_bytes", "load_states", "logged_cameras", "recent_runs",
    "save_state", "segment_source", "set_extend_progress", "start_run", "unpruned_between", "unpruned_from_seq",
]


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


