"""The audit trail facade the API uses: record, read, verify, checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from archive.audit.entry import AuditRecord
from archive.audit.journal import AuditJournal, JournalLine
from archive.audit.log import AuditAppend, AuditLog, GroupCommit
from archive.audit.query import AuditEventView, AuditFilter, read_events
from archive.audit.sealing import SealGroup
from archive.audit.signer import AuditCheckpointer, AuditSigner, SignedHead
from archive.audit.tables import CHECKPOINT, EVENT
from archive.audit.verify import AuditReport, verify_audit
from archive.catalog.errors import catalog_errors
from archive.errors import CatalogError
from archive.integrity.errors import MalformedError
from archive.integrity.keys import check_key_name
from archive.ledger.keyring import KeyRing
from archive.storage.base import ObjectStore

__all__ = ["AuditTrail", "audit_origin"]


def audit_origin(origin_prefix: str) -> str:
    """``<origin_prefix>/audit``. Raises MalformedError for an unusable prefix."""
    return check_key_name(f"{origin_prefix}/audit", "audit log origin")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AuditTrail:
    """The API's audit trail over the catalog, the log bucket and the ledger's key ring.

    ``store`` may be None (no checkpoints: tests and tools without a store); then
    :meth:`checkpoint` raises CatalogError and :meth:`verify` skips the published head.
    """

    def __init__(self, engine: Engine, keys: KeyRing, store: ObjectStore | None, *, origin_prefix: str,
                 log_bucket: str, retention: timedelta = timedelta(days=3650),
                 now: Callable[[], datetime] = _utc_now, legacy_keys: KeyRing | None = None,
                 journal: Path | None = None) -> None:  # fmt: skip
        """``keys``: the audit key ring. ``legacy_keys``: the camera ring, whose keys signed the
        audit log of an archive made before separate keys: when the audit ring is empty and the
        audit log already has a signed checkpoint, they are copied into it (:meth:`KeyRing.adopt`,
        SPEC.md 2.6) so old checkpoints keep verifying. Raises CatalogError, SecretError."""
        self._engine, self._keys, self._store, self._bucket = engine, keys, store, log_bucket
        self.origin = audit_origin(origin_prefix)
        self.log = AuditLog(engine, self.origin)
        if legacy_keys is not None and legacy_keys.name != keys.name and not keys.records():
            with catalog_errors("cannot read audit checkpoints"), engine.connect() as conn:
                signed = conn.execute(select(CHECKPOINT.c.size).limit(1)).first() is not None
            if signed:
                keys.adopt(legacy_keys)
        self.signer = (AuditSigner(engine, store, keys, self.origin, log_bucket=log_bucket, retention=retention,
                                   now=now) if store is not None else None)  # fmt: skip
        self.journal = AuditJournal(journal) if journal is not None else None
        self.seals = SealGroup(self.signer, self.journal, self._hashes)
        self._writer = GroupCommit(self.log, after_commit=self.seals.through)

    def _hashes(self, lo: int, hi: int) -> list[JournalLine]:
        with catalog_errors("cannot read the audit log"), self._engine.connect() as conn:
            rows = conn.execute(select(EVENT.c.seq, EVENT.c.entry_hash).where((EVENT.c.seq >= lo) & (EVENT.c.seq < hi))
                                .order_by(EVENT.c.seq)).all()  # fmt: skip
        return [(int(r[0]), bytes(r[1])) for r in rows]

    def record(self, record: AuditRecord) -> AuditAppend:
        """Append one record and :meth:`seal` it (group commit: one transaction per batch of
        concurrent callers, one signed head shared by every caller waiting for one,
        :mod:`archive.audit.sealing`). Raises CatalogError / ConflictError (nothing was
        written), IntegrityError / StorageError / SecretError (written but not yet covered by a
        published head): the caller must fail closed."""
        return self._writer.append(record)

    def record_unsealed(self, record: AuditRecord) -> AuditAppend:
        """Append one record in its own transaction without signing a head or journaling it: it is
        covered by the next journal append (which writes every entry after the journal's last
        line) or the next signed head (the service's checkpointer, or the next sealed record). For operator
        commands that do not otherwise reach the object store. Raises CatalogError, ConflictError."""
        return self.log.append(record)

    def record_in(self, conn: Connection, record: AuditRecord) -> AuditAppend:
        """Append one record inside the caller's transaction ``conn`` (it commits with the
        action's change, or not at all). The caller calls :meth:`seal` after its commit and before
        it answers. Raises CatalogConflictError (lost a race for the sequence: the caller retries
        its whole transaction), CatalogError (the caller's transaction must roll back), MalformedError."""
        with catalog_errors("audit append failed, nothing was written"):
            return self.log.append_in(conn, [record])[0]

    def seal(self) -> SignedHead | None:
        """Cover every committed entry by a signed head published under COMPLIANCE lock in the
        log bucket (SPEC.md 7.6): from then on deleting any of them from the catalog is detected
        by :meth:`verify`. Concurrent callers share one head, a caller already covered signs
        nothing, and inside an open :class:`~archive.audit.sealing.SealScope` (an API request)
        the seal is left to the scope's closer (:mod:`archive.audit.sealing`). No-op without a
        store (None). With a journal, journals instead (module :mod:`archive.audit.journal`).
        Raises like :meth:`checkpoint`; StorageError when the journal cannot be written."""
        if self.signer is None and self.journal is None:
            return None
        return self.seals.through(self.log.size())

    def events(self, f: AuditFilter) -> list[AuditEventView]:
        """Entries matching ``f``. Raises CatalogError; IntegrityError for an undecodable entry."""
        with catalog_errors("cannot read the audit trail"), self._engine.connect() as conn:
            return read_events(conn, f)

    def verify(self) -> AuditReport:
        """Verify the whole trail (see :func:`archive.audit.verify.verify_audit`). Raises CatalogError."""
        return verify_audit(self._engine, self._store, self._keys, self.origin, self._bucket, journal=self.journal)

    def checkpoint(self) -> SignedHead | None:
        """Sign the current head now. Raises CatalogError without a store, IntegrityError,
        StorageError, SecretError (see :meth:`AuditSigner.checkpoint`)."""
        if self.signer is None:
            raise CatalogError("the audit trail has no object store: it cannot publish checkpoints")
        return self.signer.checkpoint()

    def latest(self) -> SignedHead | None:
        """The latest recorded checkpoint, or None. Raises CatalogError."""
        if self.signer is None:
            return None
        return self.signer.latest()

    def checkpointer(self, interval_s: float) -> AuditCheckpointer:
        """A periodic checkpointer (not started). Raises CatalogError without a store, MalformedError
        for an interval outside 0.05..60 s."""
        if self.signer is None:
            raise CatalogError("the audit trail has no object store: it cannot publish checkpoints")
        if not 0.05 <= interval_s <= 60:
            raise MalformedError("audit checkpoint interval must be between 0.05 and 60 seconds")
        return AuditCheckpointer(self.signer, interval_s, self.journal, self._hashes)

    def size(self) -> int:
        """Number of entries. Raises CatalogError."""
        return self.log.size()
