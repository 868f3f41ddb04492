"""The ledger: per-camera evidence logs with their catalog rows (the recorder's entry point).

Each ``append_*`` call appends exactly ONE log entry and, in the same database transaction,
its ``segment``/``gap`` row (or the pruned flags) and the camera's coverage pieces
(:mod:`archive.ledger.coverage`). Calls are thread-safe and idempotent for
segments (same camera, object key and version id) and gaps (same camera, interval and reason):
a repeated call returns the seq of the entry already logged. Checkpoints are signed by
:meth:`Ledger.checkpoint` (and periodically by :class:`~archive.ledger.checkpoints.Checkpointer`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Final

from sqlalchemy import Connection, Engine, Insert, and_, bindparam, func, insert, select, update

from archive.catalog.errors import catalog_errors
from archive.errors import ConfigError, ConflictError
from archive.integrity import Clock, Gap, GapReason, Prune
from archive.integrity.errors import MalformedError
from archive.ledger import coverage
from archive.ledger.appender import LogAppender, LogLocks
from archive.ledger.checkpoints import Checkpointer, CheckpointSigner
from archive.ledger.facts import AppendResult, CheckpointView, SegmentFacts, SegmentView
from archive.ledger.keyring import KeyRecord, KeyRing
from archive.ledger.repo import GAP, SEGMENT, LogStateRecord, all_states
from archive.ledger.settings import LedgerSettings, utc_now
from archive.ledger.writers import WriterClaims
from archive.model import us_from_utc, utc_from_us
from archive.redact import scrub
from archive.secretbox import SecretBox
from archive.storage.base import ObjectStore

# The segment append's statements, built once (see archive.ledger.repo: per-call building cost more
# CPU than running them).
_FIND_SEGMENT: Final = select(SEGMENT.c.seq, SEGMENT.c.sha256, SEGMENT.c.size).where(
    and_(SEGMENT.c.camera_id == bindparam("b_camera"), SEGMENT.c.object_key == bindparam("b_key"),
         SEGMENT.c.version_id == bindparam("b_version"))
)  # fmt: skip
_INSERT_SEGMENT: Final[Insert] = insert(SEGMENT)

__all__ = ["Ledger"]


def _reason(value: GapReason | str) -> GapReason:
    try:
        return GapReason(value)
    except ValueError as exc:
        allowed = ", ".join(r.value for r in GapReason)
        raise MalformedError(f"gap reason {value!r} is not one of {allowed}") from exc


class Ledger:
    """Per-camera evidence logs over the catalog and the log bucket. Thread-safe.

    Errors: CatalogError (database), StorageError (object store, checkpoints only),
    SecretError (signing key), IntegrityError (refusal to sign an inconsistent tree, invalid
    entry values as MalformedError), ConflictError (contradictory record).
    """

    def __init__(
        self,
        engine: Engine,
        store: ObjectStore,
        box: SecretBox,
        settings: LedgerSettings | None = None,
        *,
        now: Callable[[], datetime] = utc_now,
        claims: WriterClaims | None = None,
    ) -> None:
        self.settings = settings or LedgerSettings()
        self.engine = engine
        self.store = store
        self._now = now

        def now_us() -> int:
            return us_from_utc(now())

        #: the camera-log key ring; the audit log and export manifests have their own (SPEC.md 7.1)
        self.keys = KeyRing(engine, box, self.settings, now_us)
        self.audit_keys = KeyRing(engine, box, self.settings, now_us, purpose="audit")
        self.export_keys = KeyRing(engine, box, self.settings, now_us, purpose="export")
        self.locks = LogLocks()
        #: the writer claims this process holds (one writer per camera log); segments and gaps are
        #: appended only under one, every append and checkpoint checks the one it holds
        self.claims = claims or WriterClaims(engine)
        self.appender = LogAppender(engine, self.keys, self.settings, self.locks, now_us, self.claims)
        self.signer = CheckpointSigner(engine, store, self.keys, self.appender, self.settings, now)

    # -- naming --------------------------------------------------------------------------
    def log_id(self, camera_id: str) -> str:
        """The log id (origin) of a camera. Raises MalformedError for an unusable camera id."""
        return self.settings.origin(camera_id)

    # -- appends -------------------------------------------------------------------------
    def append_segment(self, camera_id: str, facts: SegmentFacts) -> AppendResult:
        """Log one stored segment and add its catalog row (one transaction).

        Idempotent on ``(camera_id, object_key, version_id)``.

        Raises:
            ConflictError: that object version is already logged with another hash or size.
            WriterClaimLostError: this process does not hold the camera's current writer claim
                (:attr:`claims`); nothing was written.
            MalformedError: a value the entry format rejects.
            CatalogError: the database failed; nothing was written.
        """
        payload = facts.payload(camera_id)
        bucket = facts.bucket or self.settings.media_bucket
        meta = json.dumps(dict(facts.meta), sort_keys=True) if facts.meta else None

        def dedupe(conn: Connection) -> int | None:
            row = conn.execute(
                _FIND_SEGMENT, {"b_camera": camera_id, "b_key": facts.object_key, "b_version": facts.version_id}
            ).first()
            if row is None:
                return None
            if (row[1], row[2]) != (facts.sha256, facts.size):
                raise ConflictError(
                    f"camera {camera_id}: object {facts.object_key} version {facts.version_id} is already "
                    f"logged at seq {row[0]} with sha256 {row[1]} size {row[2]}, not {facts.sha256} {facts.size}"
                )
            return int(row[0])

        start_us, end_us = us_from_utc(payload.start), us_from_utc(payload.end)

        def rows(conn: Connection, seq: int, now_us: int) -> None:
            m = facts.media
            conn.execute(
                _INSERT_SEGMENT,
                dict(
                    camera_id=camera_id, seq=seq, bucket=bucket, object_key=facts.object_key,
                    version_id=facts.version_id, sha256=facts.sha256, size=facts.size,
                    start_us=start_us, end_us=end_us,
                    duration_us=facts.duration_us, clock_offset_us=facts.clock_offset_us,
                    camera_start_us=None if payload.camera_start is None else us_from_utc(payload.camera_start),
                    container=m.container, codec=m.codec, width=m.width, height=m.height,
                    keyframe_start=m.keyframe_start, partial=m.partial, pruned=False, ingested_us=now_us, meta=meta,
                ),
            )  # fmt: skip
            coverage.on_segment(conn, camera_id, seq, start_us, end_us, facts.size)

        return self.appender.append(camera_id, payload, extra=rows, dedupe=dedupe, require_claim=True)

    def append_gap(
        self, camera_id: str, start: datetime, end: datetime, reason: GapReason | str, detail: str = ""
    ) -> AppendResult:
        """Log an interval ``[start, end)`` without media and add its ``gap`` row.

        Idempotent on ``(camera_id, start, end, reason)``. ``reason`` must be one of
        :class:`archive.integrity.GapReason` (SPEC.md 2.3). A ``detail`` holding a credential (URL
        password, a known camera password: :func:`archive.redact.scrub`) is logged scrubbed: an
        entry is kept for years under object lock and cannot be changed later (SPEC.md 2.3).

        Raises:
            MalformedError: unknown reason, ``end <= start``, naive times, detail too long.
            WriterClaimLostError: as :meth:`append_segment`.
            CatalogError: the database failed; nothing was written.
        """
        detail = scrub(detail) if isinstance(detail, str) else detail  # defence in depth: callers scrub too
        payload = Gap(camera=camera_id, start=start, end=end, reason=_reason(reason), detail=detail)
        start_us, end_us = us_from_utc(payload.start), us_from_utc(payload.end)

        def dedupe(conn: Connection) -> int | None:
            row = conn.execute(
                select(GAP.c.seq).where(
                    and_(GAP.c.camera_id == camera_id, GAP.c.start_us == start_us, GAP.c.end_us == end_us,
                         GAP.c.reason == payload.reason.value)
                )
            ).first()  # fmt: skip
            return None if row is None else int(row[0])

        def rows(conn: Connection, seq: int, now_us: int) -> None:
            conn.execute(
                insert(GAP).values(camera_id=camera_id, seq=seq, start_us=start_us, end_us=end_us,
                                   reason=payload.reason.value, detail=payload.detail)
            )  # fmt: skip

        return self.appender.append(camera_id, payload, extra=rows, dedupe=dedupe, require_claim=True)

    def append_prune(self, camera_id: str, from_seq: int, to_seq: int, rule: str,
                     at: datetime | None = None) -> AppendResult:  # fmt: skip
        """Log that retention deleted the media of the segments with seq in ``[from_seq, to_seq)``
        and mark their rows ``pruned`` (same transaction). The entries stay.

        Raises:
            MalformedError: ``to_seq`` not after ``from_seq`` or beyond the log.
            CatalogError: the database failed; nothing was written.
        """
        payload = Prune(from_seq=from_seq, to_seq=to_seq, rule=rule, at=at or self._now())

        def rows(conn: Connection, seq: int, now_us: int) -> None:
            conn.execute(
                update(SEGMENT)
                .where(and_(SEGMENT.c.camera_id == camera_id, SEGMENT.c.seq >= from_seq, SEGMENT.c.seq < to_seq))
                .values(pruned=True)
            )
            coverage.on_prune(conn, camera_id, from_seq, to_seq)

        return self.appender.append(camera_id, payload, extra=rows)

    def append_clock(self, camera_id: str, clock: Clock) -> AppendResult:
        """Log the host clock's synchronization state (SPEC.md 2.5) in the camera's log.

        Raises CatalogError (nothing written) or MalformedError.
        """
        return self.appender.append(camera_id, clock)

    def append_clock_all(self, clock: Clock) -> list[AppendResult]:
        """:meth:`append_clock` for every camera that has a log. Raises like it."""
        return [self.append_clock(s.camera_id, clock) for s in self.logs()]

    # -- keys and checkpoints ------------------------------------------------------------
    def checkpoint(self, camera_id: str) -> CheckpointView | None:
        """Sign and publish the camera's current tree head (see :class:`CheckpointSigner`).

        Returns the new (or unchanged latest) checkpoint, None for a camera without entries.

        Raises:
            IntegrityError: the stored log is not consistent with the last signed checkpoint
                (nothing is signed), or stored entries do not match the tree state.
            StorageError, CatalogError, SecretError: nothing was recorded as signed.
        """
        return self.signer.checkpoint(camera_id)

    def key_ring(self, purpose: str) -> KeyRing:
        """The key ring of ``purpose`` (``camera``, ``audit`` or ``export``). Raises ConfigError."""
        rings = {"camera": self.keys, "audit": self.audit_keys, "export": self.export_keys}
        if purpose not in rings:
            raise ConfigError(f"unknown key purpose {purpose!r} (one of {', '.join(rings)})")
        return rings[purpose]

    def rotate_keys(self, purpose: str = "camera") -> tuple[KeyRecord, KeyRecord]:
        """Retire the active key of ``purpose``, activate a new one. For ``camera``: append a
        ``key`` entry (signed by the old key) to every camera log and sign a checkpoint of each
        with both keys. The audit log trusts every key of its ring (old checkpoints stay valid);
        a package carries the export key that signed it.

        Returns ``(old, new)``. A log that fails here is caught up at its next checkpoint.

        Raises:
            NotFoundError: no key yet. ConfigError: unknown purpose. CatalogError, SecretError,
            StorageError.
        """
        old, new = self.key_ring(purpose).rotate()
        if purpose != "camera":
            return old, new
        for st in self.logs():
            self.appender.catch_up_key(st.camera_id)
            self.checkpoint(st.camera_id)
        return old, new

    def checkpointer(self, interval_s: float | None = None) -> Checkpointer:
        """A :class:`Checkpointer` for every log of this ledger (``start()`` it; ``stop()`` signs
        a last time). Default interval: ``settings.checkpoint_interval_s``."""
        return Checkpointer(self.engine, self.signer, interval_s or self.settings.checkpoint_interval_s)

    # -- queries -------------------------------------------------------------------------
    def logs(self, camera_id: str | None = None) -> list[LogStateRecord]:
        """Every log (or the camera's) with its writer state. Raises CatalogError."""
        with catalog_errors("cannot list logs"), self.engine.connect() as conn:
            states = all_states(conn, camera_id)
        prefix = self.settings.origin_prefix + "/camera/"
        return [s for s in states if s.log_id.startswith(prefix)]

    def size(self, camera_id: str) -> int:
        """Number of entries in the camera's log (0 if none). Raises CatalogError."""
        found = self.logs(camera_id)
        own = [s for s in found if s.log_id == self.log_id(camera_id)]
        return own[0].size if own else 0

    def last_gap_end(self, camera_id: str) -> datetime | None:
        """The latest end of the camera's logged gaps, or None. Raises CatalogError."""
        with catalog_errors(f"cannot read gaps of {camera_id}"), self.engine.connect() as conn:
            end_us = conn.execute(select(func.max(GAP.c.end_us)).where(GAP.c.camera_id == camera_id)).scalar()
        return None if end_us is None else utc_from_us(int(end_us))

    def last_segment(self, camera_id: str) -> SegmentView | None:
        """The camera's segment with the highest seq, or None. Raises CatalogError."""
        with catalog_errors(f"cannot read segments of {camera_id}"), self.engine.connect() as conn:
            row = conn.execute(
                select(SEGMENT).where(SEGMENT.c.camera_id == camera_id).order_by(SEGMENT.c.seq.desc()).limit(1)
            ).mappings().first()
        if row is None:
            return None
        return SegmentView(
            camera_id=row["camera_id"], seq=row["seq"], bucket=row["bucket"], object_key=row["object_key"],
            version_id=row["version_id"], sha256=row["sha256"], size=row["size"], start_us=row["start_us"],
            end_us=row["end_us"], duration_us=row["duration_us"], clock_offset_us=row["clock_offset_us"],
            container=row["container"], codec=row["codec"], width=row["width"], height=row["height"],
            keyframe_start=bool(row["keyframe_start"]), partial=bool(row["partial"]), pruned=bool(row["pruned"]),
            ingested_us=row["ingested_us"], meta=json.loads(row["meta"]) if row["meta"] else {},
        )  # fmt: skip
