"""Holds and retention record into the archive's one signed audit trail (issue 13 item 6).

:class:`TrailJournal` is the :class:`~archive.retention.audit.HoldJournal` the runtime gives the
hold and retention services: each event becomes an ``archive-audit/1`` entry of the trail the API
writes and auditors read (``/api/v1/audit/events``), by the actor's user, role, agency or owner
and token. An event appended with the service's transaction commits with the change itself
(``hold.create``, ``hold.release``, ``hold.expire``, policy changes); :meth:`committed` then
signs and publishes the head before the service answers (SPEC.md 7.6).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection

from archive.audit.entry import AuditRecord
from archive.audit.sealing import immediate
from archive.audit.service import AuditTrail
from archive.retention.audit import HoldActor

__all__ = ["TrailJournal"]

_OK = 200


def _now_us() -> int:
    return time.time_ns() // 1000


class TrailJournal:
    """The hold and retention events in the audit trail ``trail`` (module docstring)."""

    def __init__(self, trail: AuditTrail, now_us: Callable[[], int] = _now_us) -> None:
        self.trail = trail
        self._now_us = now_us

    def _record(self, actor: HoldActor, action: str, subject: str, detail: Mapping[str, Any] | None) -> AuditRecord:
        return AuditRecord(at_us=self._now_us(), ip=actor.ip, action=action, method=actor.method,
                           path=actor.path or subject, status=_OK, actor=actor.name, agency=actor.agency,
                           owner=actor.owner, role=actor.role_name, token=actor.token, target={"subject": subject},
                           detail=dict(detail or {}))  # fmt: skip

    def append(self, actor: HoldActor, action: str, subject: str, detail: Mapping[str, Any] | None = None,
               conn: Connection | None = None) -> int:  # fmt: skip
        """Record one event: inside ``conn``'s transaction (sealed by :meth:`committed`), or on
        its own (committed and sealed before this returns). Returns its seq.

        Raises CatalogError / ConflictError (nothing recorded; with ``conn`` the caller's
        transaction must roll back), IntegrityError / StorageError (recorded, not yet sealed).
        """
        record = self._record(actor, action, subject[:300], detail)
        if conn is not None:
            return self.trail.record_in(conn, record).seq
        with immediate():  # sealed before this returns, even inside an API request's seal scope
            return self.trail.record(record).seq

    def committed(self) -> None:
        """Seal what the committed transaction appended. Raises like :meth:`AuditTrail.seal`."""
        self.trail.seal()
