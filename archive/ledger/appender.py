"""Appending entries to the per-camera logs: one entry, one database transaction.

:class:`LogAppender` keeps a cache of writer states (one per log) so an append costs O(log N)
hashing and never rebuilds a tree, but the database is the truth: each append stores the
entry, the completed nodes and the new state with a compare-and-set on the stored size, and
on any mismatch (another process appended, or the catalog was restored from a backup) the
cached state is dropped and reloaded. Appends to one log are serialized by a per-log lock;
different logs append in parallel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from archive.catalog.errors import catalog_errors
from archive.errors import CatalogConflictError, CatalogError, ConflictError, WriterClaimLostError
from archive.integrity import LogWriter, Payload, WriterState, make_key_rotation
from archive.ledger.claims import WriterClaim, check_claim
from archive.ledger.facts import AppendResult
from archive.ledger.keyring import KeyRing
from archive.ledger.repo import LogStateRecord, StaleStateError, insert_append, load_state
from archive.ledger.settings import LedgerSettings, utc_now
from archive.ledger.writers import WriterClaims

__all__ = ["Dedupe", "ExtraRows", "LogAppender", "LogLocks"]

ExtraRows = Callable[[Connection, int, int], None]
"""``write(conn, seq, now_us)``: catalog rows stored in the same transaction as entry ``seq``."""

Dedupe = Callable[[Connection], "int | None"]
"""``find(conn)``: the seq of an identical, already logged record, or None."""

_RETRIES = 3


class LogLocks:
    """One re-entrant lock per log id, created on demand."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}

    @contextmanager
    def hold(self, log_id: str) -> Iterator[None]:
        """Hold the lock of ``log_id`` for the block."""
        with self._guard:
            lock = self._locks.setdefault(log_id, threading.RLock())
        with lock:
            yield


@dataclass(frozen=True)
class _Cached:
    state: WriterState
    key_id: str


class LogAppender:
    """Appends entries to logs; thread-safe. See the module docstring."""

    def __init__(self, engine: Engine, keys: KeyRing, settings: LedgerSettings, locks: LogLocks,
                 now_us: Callable[[], int] | None = None, claims: WriterClaims | None = None) -> None:  # fmt: skip
        self._engine = engine
        self.claims = claims
        self._keys = keys
        self._settings = settings
        self.locks = locks
        self._now_us = now_us or (lambda: time.time_ns() // 1000)
        self._cache: dict[str, _Cached] = {}

    def forget(self, log_id: str | None = None) -> None:
        """Drop cached writer state (one log, or all): the next append reloads from the database."""
        if log_id is None:
            self._cache.clear()
        else:
            self._cache.pop(log_id, None)

    def _load(self, conn: Connection, log_id: str, new_log_key: str | None) -> _Cached:
        cached = self._cache.get(log_id)
        if cached is not None:
            return cached
        rec: LogStateRecord | None = load_state(conn, log_id)
        if rec is None:
            return _Cached(WriterState(log_id, 0, bytes(32), ()), new_log_key or self._keys.active().key_id)
        return _Cached(rec.state, rec.key_id)

    def append(
        self,
        camera_id: str,
        payload: Payload | Callable[[str, str], Payload],
        *,
        extra: ExtraRows | None = None,
        dedupe: Dedupe | None = None,
        key_id_after: str | None = None,
        require_claim: bool = False,
    ) -> AppendResult:
        """Append one entry to the camera's log and store ``extra`` rows with it, atomically.

        When this process holds the camera's writer claim (``claims``), the transaction first checks
        that it is still the camera's current claim (:func:`archive.ledger.claims.check_claim`) and
        refuses otherwise; ``require_claim`` refuses an append without one (segments and gaps:
        one writer per camera).

        ``payload`` may be a function of ``(origin, key_id in effect)`` (for key entries).
        When ``dedupe`` finds an identical record, nothing is written and its seq is returned
        with ``created=False``. ``key_id_after`` changes the log key in effect (rotation).

        Raises:
            MalformedError: the payload is invalid at this position.
            ConflictError: the log kept changing under us (another writer) after retries.
            WriterClaimLostError: the claim is no longer current, or ``require_claim`` and this
                process holds none; nothing was written.
            CatalogError: the database failed; nothing was written.
        """
        origin = self._settings.origin(camera_id)
        claim = None if self.claims is None else self.claims.held(camera_id)
        if claim is None and require_claim:
            raise WriterClaimLostError(
                f"camera {camera_id}: this process does not hold the camera's writer claim (one writer per camera: "
                f"claim it before recording); nothing was written"
            )
        last: BaseException | None = None
        with self.locks.hold(origin):
            for _attempt in range(_RETRIES):
                # the key a new log starts with, read (or created on first run) outside the transaction
                new_log_key = None if origin in self._cache else self._keys.active().key_id
                try:
                    with catalog_errors(f"append to log {origin} failed, nothing was written"):
                        return self._append_once(camera_id, origin, payload, extra, dedupe, key_id_after,
                                                 new_log_key, claim)  # fmt: skip
                except WriterClaimLostError:
                    self._cache.pop(origin, None)
                    raise
                except (StaleStateError, CatalogConflictError) as exc:
                    self._cache.pop(origin, None)  # someone else appended or the DB went back: reload
                    last = exc.__cause__ if isinstance(exc, CatalogConflictError) else exc
                except CatalogError:
                    self._cache.pop(origin, None)
                    raise
        raise ConflictError(
            f"append to log {origin} failed {_RETRIES} times, nothing was written (another writer, or a catalog "
            f"row already holds the next seq): {last}"
        ) from last

    def _append_once(
        self,
        camera_id: str,
        origin: str,
        payload: Payload | Callable[[str, str], Payload],
        extra: ExtraRows | None,
        dedupe: Dedupe | None,
        key_id_after: str | None,
        new_log_key: str | None,
        claim: WriterClaim | None,
    ) -> AppendResult:
        now = self._now_us()
        with self._engine.begin() as conn:
            if claim is not None:
                check_claim(conn, claim)  # first: on PostgreSQL it locks the claim row against a takeover
            if dedupe is not None:
                found = dedupe(conn)
                if found is not None:
                    return AppendResult(camera_id, origin, found, created=False)
            cached = self._load(conn, origin, new_log_key)
            writer = LogWriter(origin, cached.state)
            body = payload(origin, cached.key_id) if callable(payload) else payload
            appended = writer.append(body)
            state = writer.state()
            key_id = key_id_after or cached.key_id
            insert_append(conn, log_id=origin, camera_id=camera_id, appended=appended, state=state,
                          key_id=key_id, now_us=now, writer=claim)  # fmt: skip
            if extra is not None:
                extra(conn, appended.seq, now)
        self._cache[origin] = _Cached(state, key_id)
        return AppendResult(camera_id, origin, appended.seq, created=True)

    def key_in_effect(self, camera_id: str) -> str | None:
        """The master key id currently signing the camera's log (None: no log yet)."""
        origin = self._settings.origin(camera_id)
        with catalog_errors(f"cannot read log state of {origin}"), self._engine.connect() as conn:
            rec = load_state(conn, origin)
        return None if rec is None else rec.key_id

    def catch_up_key(self, camera_id: str) -> AppendResult | None:
        """If the log is still signed by a retired key, append the ``key`` entry (signed by that
        key) that hands over to the active key. Returns the append, or None if up to date.

        Raises:
            SecretError: the old private key cannot be decrypted.
            CatalogError, ConflictError: as :meth:`append`.
        """
        origin = self._settings.origin(camera_id)
        with self.locks.hold(origin):
            current = self.key_in_effect(camera_id)
            active = self._keys.active()
            if current is None or current == active.key_id:
                return None

            def rotation(origin: str, key_id: str) -> Payload:
                old = self._keys.log_signer(key_id, origin)
                return make_key_rotation(origin, old, active.log_key(origin), utc_now())

            return self.append(camera_id, rotation, key_id_after=active.key_id)
