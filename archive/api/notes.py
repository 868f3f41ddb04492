"""The audit entry of a change made by a request, written in the change's own transaction.

:func:`note_of` binds the request's principal, client address, method and path to the archive's
audit trail as an :class:`~archive.catalog.notes.ChangeNote`: the identity service appends
the entry (``user.add``, ``token.revoke``, ...) inside the transaction that stores the change and
asks for a seal after the commit (SPEC.md 7.6, obligations 1 and 2). Inside the request's seal
scope (:mod:`archive.audit.sealing`) that seal is deferred to the response start, where the gate
records the request itself (``users.add``, ...) and one signed head covers both entries before a
byte of the response is sent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request
from sqlalchemy import Connection

from archive.api.context import context_of, principal_of
from archive.audit.entry import AuditRecord
from archive.audit.service import AuditTrail
from archive.identity.model import Principal

__all__ = ["RequestNote", "note_of"]

_OK = 200


@dataclass(frozen=True)
class RequestNote:
    """A :class:`~archive.catalog.notes.ChangeNote` for one request (module docstring)."""

    trail: AuditTrail
    who: Principal
    ip: str
    method: str
    path: str

    def write(self, conn: Connection, action: str, subject: str, detail: Mapping[str, Any]) -> None:
        """Append the entry inside ``conn``'s transaction. Raises like :meth:`AuditTrail.record_in`."""
        who = self.who
        self.trail.record_in(conn, AuditRecord(
            at_us=time.time_ns() // 1000, ip=self.ip, action=action, method=self.method, path=self.path, status=_OK,
            actor=who.user_id, agency=who.agency, owner=who.owner_id, role=who.role.value, token=who.token_id,
            target={"subject": subject}, detail=dict(detail)))  # fmt: skip

    def committed(self) -> None:
        """Seal what the committed transaction appended (in a request: deferred to the gate, module
        docstring). Raises like :meth:`AuditTrail.seal`."""
        self.trail.seal()


def note_of(request: Request[Any, Any, Any], trail: AuditTrail) -> RequestNote:
    """The change note of ``request`` (authenticated) into ``trail``."""
    return RequestNote(trail, principal_of(request), context_of(request).client_ip, request.method,
                       request.url.path)  # fmt: skip
