"""The retention audit: policy changes, legal holds, deletions, storage alarms.

Append-only and hash-chained: each event stores ``prev_hash`` and ``hash = SHA-256(prev_hash ||
canonical JSON of the event)``, so editing or deleting a past event breaks :meth:`HoldLog.verify`.
Appends from several processes are serialized by the primary key on ``seq`` (a lost race is
retried with the new tip).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, insert, select

from archive.catalog.errors import catalog_errors
from archive.errors import CatalogConflictError, ConflictError
from archive.identity.model import Role
from archive.retention.tables import AUDIT

GENESIS = "0" * 64
_RETRIES = 5


SYSTEM_ROLE = "system"
"""What is recorded as the role of an actor without a user role (the archive itself)."""


@dataclass(frozen=True)
class HoldActor:
    """Who does something: a person in a user role, or the archive itself (``role`` None, e.g.
    the retention scheduler; recorded with the role ``system``); for the audit trail also their
    agency or owner, the token they used, and from where (``ip``, ``method``: ``CLI`` or the
    HTTP method, ``path``: the command or the request path)."""

    name: str
    role: Role | None
    agency: str | None = None
    owner: str | None = None
    token: str | None = None
    ip: str = "local"
    method: str = "CLI"
    path: str = ""

    @property
    def role_name(self) -> str:
        """The role as recorded: the user role's value, or ``system`` for the archive itself."""
        return SYSTEM_ROLE if self.role is None else self.role.value


class HoldJournal(Protocol):
    """Where holds and retention record what they do: :class:`HoldLog` (a service built without a
    runtime) or the archive's signed audit trail (the runtime's; ``archive.bootstrap.journal``)."""

    def append(self, actor: HoldActor, action: str, subject: str, detail: Mapping[str, Any] | None = None,
               conn: Connection | None = None) -> int:  # fmt: skip
        """Record one event (inside ``conn``'s transaction when given); returns its seq.
        Raises CatalogError / ConflictError (nothing recorded)."""
        ...

    def committed(self) -> None:
        """Called after a transaction that appended with ``conn`` committed, before the caller
        answers (the trail covers the entries by a signed head). Raises ArchiveError."""
        ...


SYSTEM = HoldActor("retention-scheduler", None)
"""The retention scheduler: not a user, so no user role."""


@dataclass(frozen=True)
class AuditEvent:
    """One stored audit event."""

    seq: int
    at_us: int
    actor: str
    role: str
    action: str
    subject: str
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str


def _hash(prev: str, at_us: int, actor: str, role: str, action: str, subject: str, detail: str) -> str:
    body = json.dumps([at_us, actor, role, action, subject, detail], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(bytes.fromhex(prev) + body.encode("utf-8")).hexdigest()


class HoldLog:
    """Appends and reads audit events. Thread- and process-safe."""

    def __init__(self, engine: Engine, now_us: Callable[[], int]) -> None:
        self._engine = engine
        self._now_us = now_us

    def append(self, actor: HoldActor, action: str, subject: str, detail: Mapping[str, Any] | None = None,
               conn: Connection | None = None) -> int:  # fmt: skip
        """Append one event; returns its seq. With ``conn``, inside the caller's transaction
        (then a lost race raises the database error for the caller's retry).

        Raises:
            CatalogError: the database failed. ConflictError: lost the race too often.
        """
        text = json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":"), default=str)
        if conn is not None:
            return self._append(conn, actor, action, subject[:300], text)
        for _ in range(_RETRIES):
            try:
                with catalog_errors("cannot write the retention audit"), self._engine.begin() as c:
                    return self._append(c, actor, action, subject[:300], text)
            except CatalogConflictError:
                continue
        raise ConflictError("retention audit: too many concurrent appends")

    def committed(self) -> None:
        """Nothing to do: this chain has no signed head."""

    def _append(self, conn: Connection, actor: HoldActor, action: str, subject: str, detail: str) -> int:
        tip = conn.execute(select(AUDIT.c.seq, AUDIT.c.hash).order_by(AUDIT.c.seq.desc()).limit(1)).first()
        seq, prev = (0, GENESIS) if tip is None else (int(tip[0]) + 1, str(tip[1]))
        at = self._now_us()
        digest = _hash(prev, at, actor.name, actor.role_name, action, subject, detail)
        conn.execute(insert(AUDIT).values(seq=seq, at_us=at, actor=actor.name, role=actor.role_name, action=action,
                                          subject=subject, detail=detail, prev_hash=prev, hash=digest))  # fmt: skip
        return seq

    def events(self, action_prefix: str = "", limit: int = 1000) -> list[AuditEvent]:
        """The newest events (optionally whose action starts with ``action_prefix``), oldest first."""
        stmt = select(AUDIT).order_by(AUDIT.c.seq.desc()).limit(limit)
        if action_prefix:
            stmt = stmt.where(AUDIT.c.action.startswith(action_prefix))
        with catalog_errors("cannot read the retention audit"), self._engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [AuditEvent(r["seq"], r["at_us"], r["actor"], r["role"], r["action"], r["subject"],
                           json.loads(r["detail"]), r["prev_hash"], r["hash"]) for r in reversed(rows)]  # fmt: skip

    def verify(self) -> list[str]:
        """Re-hash the whole chain; returns the problems found (empty: intact). Raises CatalogError."""
        problems: list[str] = []
        prev, expect = GENESIS, 0
        with catalog_errors("cannot read the retention audit"), self._engine.connect() as conn:
            for r in conn.execute(select(AUDIT).order_by(AUDIT.c.seq)).mappings():
                if r["seq"] != expect:
                    problems.append(f"audit seq {expect} is missing (next is {r['seq']})")
                if r["prev_hash"] != prev:
                    problems.append(f"audit seq {r['seq']}: prev_hash does not match the event before")
                digest = _hash(r["prev_hash"], r["at_us"], r["actor"], r["role"], r["action"], r["subject"],
                               r["detail"])
                if digest != r["hash"]:
                    problems.append(f"audit seq {r['seq']}: content does not match its hash")
                prev, expect = r["hash"], r["seq"] + 1
        return problems
