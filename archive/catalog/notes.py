"""Where catalog changes record themselves: in the same transaction as the change (SPEC.md 7.6).

A :class:`ChangeNote` is given to each changing call of
:class:`~archive.identity.service.IdentityService` and
:class:`~archive.catalog.registry.RegistryRepository` by its caller (the API binds one to the
request's principal and the archive's audit trail). The service calls :meth:`ChangeNote.write`
inside the transaction that stores the change, so the change and its audit entry commit together
or not at all, and :meth:`ChangeNote.committed` after the commit, before it returns (the trail
signs and publishes its head, so the answer is sent only once the entry is covered).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import Connection

__all__ = ["ChangeNote"]


class ChangeNote(Protocol):
    """The audit entry of one change, written with it (module docstring)."""

    def write(self, conn: Connection, action: str, subject: str, detail: Mapping[str, Any]) -> None:
        """Append the entry inside ``conn``'s transaction. Raises CatalogConflictError (lost a race
        for the audit sequence: the whole change is retried), CatalogError / MalformedError (the
        transaction rolls back: nothing is stored)."""
        ...

    def committed(self) -> None:
        """After the commit, before the caller answers: cover the entry by a signed head. Raises
        ArchiveError (stored but not yet covered: the caller must fail, API 503)."""
        ...
