"""Appending custody events of exports (``archive-custody/1``, see
:mod:`archive.export.verifier.custody`) to the catalog, each with its copy in the archive's
hash-chained audit trail (action ``export.<event>``) appended in the SAME transaction: a custody
row is never stored without its audit entry, nor the entry without the row (SPEC.md 7.6). After
the commit the trail seals (:meth:`CustodyLog.committed`).

Appends of one export are serialized by the primary key (export id, seq): a lost race
raises the database's IntegrityError, and :meth:`CustodyLog.record` retries with the new tip.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine

from archive.audit.entry import AuditRecord
from archive.audit.service import AuditTrail
from archive.catalog.errors import catalog_errors
from archive.errors import CatalogConflictError, ConflictError
from archive.export import repo
from archive.export.model import Actor, ExportSettings
from archive.export.verifier.custody import ZERO, encode_event
from archive.integrity import format_time
from archive.model import utc_from_us

__all__ = ["CustodyLog"]

_RETRIES = 8


def _now_us() -> int:
    return time.time_ns() // 1000


class CustodyLog:
    """The custody events of every export. Thread- and process-safe."""

    def __init__(self, engine: Engine, settings: ExportSettings, audit: AuditTrail | None = None, *,
                 now_us: Callable[[], int] = _now_us) -> None:  # fmt: skip
        self._engine = engine
        self._settings = settings
        self._audit = audit
        self._now_us = now_us

    def append(self, conn: Connection, export_id: str, event: str, actor: Actor,
               detail: Mapping[str, Any]) -> bytes:  # fmt: skip
        """Append one event and its audit entry inside the caller's transaction; returns the
        event's bytes. The caller calls :meth:`committed` after the commit, before it answers.
        Raises the database's errors, CatalogConflictError (lost the audit sequence race: retry
        the transaction), CatalogError / MalformedError (the transaction must roll back)."""
        tip = repo.custody_tip(conn, export_id)
        seq, prev = (0, ZERO) if tip is None else (tip[0] + 1, tip[1])
        at = self._now_us()
        data = encode_event(
            export=export_id, seq=seq, prev=prev, event=event, at=format_time(utc_from_us(at)),
            local=self._settings.local_us(at), actor=actor.user, name=actor.name, role=actor.role,
            agency=actor.agency, owner=actor.owner, origin=actor.origin, detail=detail,
        )  # fmt: skip
        repo.insert_custody(conn, export_id, seq, event, at, data, hashlib.sha256(data).hexdigest())
        if self._audit is not None:
            self._audit.record_in(conn, AuditRecord(
                at_us=at, ip=actor.origin, action=f"export.{event}", method="EXPORT", path=f"/exports/{export_id}",
                status=200, actor=actor.user, agency=actor.agency, owner=actor.owner, role=actor.role, token=None,
                target={"export": export_id}, detail=dict(detail)))  # fmt: skip
        return data

    def committed(self) -> None:
        """After a transaction that appended events committed: cover their audit entries by a
        signed head (:meth:`AuditTrail.seal`). Raises like it (stored, not yet sealed)."""
        if self._audit is not None:
            self._audit.seal()

    def record(self, export_id: str, event: str, actor: Actor, detail: Mapping[str, Any],
               also: Callable[[Connection], None] | None = None) -> bytes:  # fmt: skip
        """Append one event and its audit entry in their own transaction (with ``also(conn)`` in
        the same one), then seal the trail. Returns the event's bytes.

        Raises:
            CatalogError: the database failed (nothing stored). ConflictError: lost the race too
            often. IntegrityError / StorageError / SecretError: stored, but the seal failed.
        """
        for _ in range(_RETRIES):
            try:
                with catalog_errors(f"cannot write the custody log of export {export_id}"):
                    with self._engine.begin() as conn:
                        if also is not None:
                            also(conn)
                        data = self.append(conn, export_id, event, actor, detail)
                    break
            except CatalogConflictError:
                continue
        else:
            raise ConflictError(f"custody log of export {export_id}: too many concurrent appends")
        self.committed()
        return data

    def lines(self, export_id: str) -> list[bytes]:
        """Every event's bytes, in order. Raises CatalogError."""
        with catalog_errors(f"cannot read the custody log of export {export_id}"), self._engine.connect() as conn:
            return repo.custody_lines(conn, export_id)
