"""Seal coalescing: callers that need "every entry up to size N covered" share one signed head.

:class:`SealGroup` is the group commit of sealing (SPEC.md 7.6 obligation 2). Each caller asks
for the log to be sealed through a size ``N`` (its own entry's ``seq + 1``, or the size it read
after its commit). The first caller to take the group's lock signs the head of *everything
committed so far* (one :meth:`AuditSigner.checkpoint`: entries batch, note, latest pointer); a
caller whose size is already covered by a head this process signed returns without signing or
touching the store. So N concurrent requests cost one head, not N.

**One request, one head.** :func:`deferring` opens a :class:`SealScope` for the current context
(the API's gate opens one around each request; ``contextvars`` follow the request into the worker
threads of sync handlers). While a scope is open, a seal asked for in it is only noted in the
scope; the gate closes the scope when the response starts and then records the request's own
entry and seals once, through that entry (which follows every entry the request committed), or,
with no entry of its own to record, seals what the scope noted. Nothing of the response is sent
before that seal returned: the guarantee "covered before the answer" is kept with one head.
Outside a scope (CLI, background jobs, a thread that did not inherit the context) every seal
signs at once, and so does every seal inside :func:`immediate` (an entry that must be covered
before something outside the catalog happens, e.g. ``retention.delete_planned`` before media is
deleted).

**With a journal** (:mod:`archive.audit.journal`, the runtime's trail): a seal outside
:func:`immediate` appends the entries' hashes to the local journal and fsyncs it instead of
signing; the checkpointer signs a head covering them within its interval. Inside
:func:`immediate` the seal signs at once, as without a journal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from archive.audit.journal import AuditJournal, JournalLine
from archive.audit.signer import AuditSigner, SignedHead

__all__ = ["SealGroup", "SealScope", "deferring", "immediate"]


@dataclass
class SealScope:
    """The seals a request asked for while it ran (:func:`deferring`); mutable, one per request."""

    open: bool = True
    pending: bool = False

    def close(self) -> bool:
        """Stop deferring (the response starts); True when a seal was asked for meanwhile."""
        self.open = False
        return self.pending


_SCOPE: ContextVar[SealScope | None] = ContextVar("archive_audit_seal_scope", default=None)
_IMMEDIATE: ContextVar[bool] = ContextVar("archive_audit_seal_immediate", default=False)


@contextmanager
def deferring() -> Iterator[SealScope]:
    """Defer the seals asked for in this context until the scope is closed (module docstring)."""
    scope = SealScope()
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        scope.open = False
        _SCOPE.reset(token)


@contextmanager
def immediate() -> Iterator[None]:
    """Seal at once inside this block, even inside a request's open scope (module docstring)."""
    token, now = _SCOPE.set(None), _IMMEDIATE.set(True)
    try:
        yield
    finally:
        _IMMEDIATE.reset(now)
        _SCOPE.reset(token)


class SealGroup:
    """Coalesces seals of one audit log (module docstring). Thread-safe.

    ``signer`` None: no store, nothing is ever signed (every call returns None; with a journal,
    entries are still journaled). ``journal`` and ``rows`` (the catalog's ``(seq, entry_hash)``
    of ``[lo, hi)``): seal by journaling, sign only inside :func:`immediate` (module docstring).
    """

    def __init__(self, signer: AuditSigner | None, journal: AuditJournal | None = None,
                 rows: Callable[[int, int], Sequence[JournalLine]] | None = None) -> None:  # fmt: skip
        self._signer = signer
        self._journal, self._rows = journal, rows
        self._journaled = 0
        self._lock = threading.Lock()
        self._head: SignedHead | None = None

    @property
    def sealed_size(self) -> int:
        """The size covered by the newest head this group signed or found (0: none yet)."""
        head = self._head
        return 0 if head is None else head.size

    def through(self, size: int) -> SignedHead | None:
        """Make sure entries ``[0, size)`` are covered by a published signed head before returning;
        in an open :class:`SealScope`, only note it (the scope's closer seals); with a journal
        (outside :func:`immediate`), journal them instead of signing. Returns the head that covers
        them (None when deferred, journaled, without a store, or for an empty log).

        Raises:
            IntegrityError: the stored log does not extend the last signed head (nothing signed).
            StorageError / CatalogError / SecretError: publishing, recording or journaling failed.
        """
        if self._signer is None and self._journal is None:
            return None
        scope = _SCOPE.get()
        if scope is not None and scope.open:
            scope.pending = True
            return None
        if self._journal is not None and self._rows is not None and not _IMMEDIATE.get():
            if self._journaled < size:
                self._journaled = max(self._journaled, self._journal.extend(size, self._rows))
            return None  # durable and deletion-evident in the journal; the checkpointer signs it
        if self._signer is None:
            return None
        head = self._head
        if head is not None and head.size >= size:
            return head  # a head already covers it: nothing to sign, nothing to put
        with self._lock:
            head = self._head
            if head is not None and head.size >= size:
                return head  # signed by the caller ahead of us, for us too
            new = self._signer.checkpoint()  # signs everything committed so far
            if new is not None and (self._head is None or new.size >= self._head.size):
                self._head = new
            return new
