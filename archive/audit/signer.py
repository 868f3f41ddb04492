"""Signing checkpoints of the audit log, and the periodic :class:`AuditCheckpointer`.

Before signing, :meth:`AuditSigner.checkpoint` proves from the catalog that the tree it signs
extends the last checkpoint ever signed (the larger of the catalog's record and the log
bucket's ``logs/<origin>/checkpoint.latest``): the new entries decode, chain from the last signed
entry and match their stored hashes; a consistency proof from the stored nodes links the old
root to the new one and a range proof rebuilds the new root from the new entries. Otherwise
it raises IntegrityError and signs nothing. Once a signer has proved or signed a head it keeps
that tree's right edge (its compact range, RFC 9162 2.1.1 subtrees): when the next seal starts
from that head, the edge is authenticated by rebuilding the signed root from it, and the new
entries appended to it must give the stored root (the same proof as the two above, without
reading a tree node). A signer that did not prove the head (another process signed it, or this
one just started) runs the proofs. The note is signed with the ledger's active key
under the audit origin (SPEC.md 7.1) and published - entries batch, numbered note, latest
pointer - under COMPLIANCE object lock, then recorded in ``audit_checkpoint``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, func, insert, select

from archive.audit.entry import decode
from archive.audit.journal import COMPACT_BYTES, AuditJournal, JournalLine
from archive.audit.log import load_state
from archive.audit.tables import CHECKPOINT, EVENT, NODE
from archive.catalog.errors import catalog_errors
from archive.errors import ERRORS, CatalogConflictError, ObjectMissingError
from archive.integrity import (
    Checkpoint,
    CompactRange,
    IntegrityError,
    TreeHashes,
    VerifierKey,
    consistency_proof,
    leaf_hash,
    open_checkpoint,
    range_proof,
    sign_note,
    verify_consistency,
    verify_range_proof,
)
from archive.integrity.errors import ChainError
from archive.ledger.keyring import KeyRing
from archive.ledger.settings import checkpoint_key, latest_checkpoint_key
from archive.ledger.settings import entries_key as ledger_entries_key
from archive.model import us_from_utc
from archive.periodic import Periodic
from archive.storage.base import LockMode, ObjectStore, Retention

__all__ = ["AuditCheckpointer", "AuditSigner", "SignedHead", "audit_keys", "entries_key", "latest_key", "note_key"]

log = logging.getLogger(__name__)
# Audit objects live under the audit log's own origin, like every camera log (SPEC 7.6):
# ``logs/<prefix>/audit/...``, so two archives (or two origins) sharing a log bucket never read
# or overwrite each other's head.


def latest_key(origin: str) -> str:
    """Object key whose newest version is the latest signed audit checkpoint of ``origin``."""
    return latest_checkpoint_key(origin)


def note_key(origin: str, size: int) -> str:
    """Object key of the signed audit checkpoint of ``size``."""
    return checkpoint_key(origin, size)


def entries_key(origin: str, start: int, end: int) -> str:
    """Object key of the JSON Lines batch of audit entries ``[start, end)``."""
    return ledger_entries_key(origin, start, end)


@dataclass(frozen=True)
class SignedHead:
    """A signed checkpoint of the audit log."""

    size: int
    root: bytes
    note: str
    signed_us: int | None


def audit_keys(keys: KeyRing, origin: str) -> list[VerifierKey]:
    """Every key of the ring (active and retired) as a key of the audit log."""
    return [k.log_key(origin) for k in keys.records()]


def tree_source(conn: Connection) -> TreeHashes:
    """Subtree hashes over the stored audit leaves and nodes."""

    def leaves(lo: int, hi: int) -> list[bytes]:
        rows = conn.execute(select(EVENT.c.leaf_hash).where((EVENT.c.seq >= lo) & (EVENT.c.seq < hi))
                            .order_by(EVENT.c.seq))  # fmt: skip
        return [bytes(r[0]) for r in rows]

    def node(level: int, idx: int) -> bytes | None:
        row = conn.execute(select(NODE.c.hash).where((NODE.c.level == level) & (NODE.c.idx == idx))).first()
        return None if row is None else bytes(row[0])

    return TreeHashes(leaves, node)


class AuditSigner:
    """Signs and publishes audit checkpoints. Thread-safe."""

    def __init__(self, engine: Engine, store: ObjectStore, keys: KeyRing, origin: str, *, log_bucket: str,
                 retention: timedelta, now: Callable[[], datetime]) -> None:  # fmt: skip
        self._engine, self._store, self._keys = engine, store, keys
        self.origin, self._bucket, self._retention, self._now = origin, log_bucket, retention, now
        self._lock = threading.Lock()
        self._proved: CompactRange | None = None  # the edge of the last head this signer proved or signed

    def latest(self) -> SignedHead | None:
        """The latest checkpoint recorded in the catalog (not re-verified). Raises CatalogError."""
        with catalog_errors("cannot read audit checkpoints"), self._engine.connect() as conn:
            cols = (CHECKPOINT.c.size, CHECKPOINT.c.root, CHECKPOINT.c.note, CHECKPOINT.c.signed_us)
            row = conn.execute(select(*cols).order_by(CHECKPOINT.c.size.desc()).limit(1)).first()
        return None if row is None else SignedHead(int(row[0]), bytes.fromhex(row[1]), str(row[2]), int(row[3]))

    def stored_size(self) -> int:
        """The number of entries in the catalog (one indexed lookup). Raises CatalogError."""
        with catalog_errors("cannot read the audit log"), self._engine.connect() as conn:
            top = conn.execute(select(func.max(EVENT.c.seq))).scalar()
        return 0 if top is None else int(top) + 1

    def checkpoint(self) -> SignedHead | None:
        """Sign the current tree head (None for an empty log; the latest one if nothing is new).

        Raises:
            IntegrityError: the stored log does not extend the last signed checkpoint.
            StorageError: publishing failed (nothing recorded). CatalogError, SecretError.
        """
        with self._lock:
            with catalog_errors("cannot read the audit log"), self._engine.connect() as conn:
                plan = self._plan(conn)
            if plan is None:
                return None
            size, root, prev, entries = plan
            if prev is not None and prev.size == size:
                return prev
            return self._sign(size, root, prev.size if prev else 0, entries)

    def _last_signed(self, conn: Connection) -> SignedHead | None:
        trusted = audit_keys(self._keys, self.origin)
        found: list[SignedHead] = []
        row = conn.execute(select(CHECKPOINT.c.note, CHECKPOINT.c.signed_us).order_by(CHECKPOINT.c.size.desc())
                           .limit(1)).first()  # fmt: skip
        if row is not None:
            cp = open_checkpoint(str(row[0]), trusted, origin=self.origin)
            found.append(SignedHead(cp.size, cp.root, str(row[0]), int(row[1])))
        try:
            text = self._store.get_bytes(self._bucket, latest_key(self.origin))
        except ObjectMissingError:
            text = None
        if text is not None:
            cp = open_checkpoint(text, trusted, origin=self.origin)
            found.append(SignedHead(cp.size, cp.root, text.decode(), None))
        if not found:
            return None
        found.sort(key=lambda h: h.size)
        if len(found) == 2 and found[0].size == found[1].size and found[0].root != found[1].root:
            raise IntegrityError(f"catalog and log bucket hold different audit roots for size {found[0].size}",
                                 log=self.origin)  # fmt: skip
        return found[-1]

    def _plan(self, conn: Connection) -> tuple[int, bytes, SignedHead | None, list[bytes]] | None:
        state = load_state(conn, self.origin)
        if state.size == 0:
            return None
        size, root = state.size, CompactRange(state.size, state.edge).root()
        prev = self._last_signed(conn)
        if prev is not None and prev.size > size:
            raise IntegrityError(f"an audit checkpoint of size {prev.size} was signed but the catalog holds {size} "
                                 "entries: refusing to sign", log=self.origin)  # fmt: skip
        if prev is not None and prev.size == size:
            if prev.root != root:
                raise IntegrityError(f"signed audit root of size {size} differs from the stored tree: refusing",
                                     log=self.origin)  # fmt: skip
            return size, root, prev, []
        old = prev.size if prev is not None else 0
        entries = self._new_entries(conn, old, size, state.last_hash)
        if self._extends_proved(prev, entries, size, root):
            return size, root, prev, entries
        src = tree_source(conn)
        try:
            if prev is not None and old > 0:
                verify_consistency(old, size, prev.root, root, consistency_proof(old, size, src))
            verify_range_proof(old, [leaf_hash(d) for d in entries], size, range_proof(old, size, size, src).hashes,
                               root)  # fmt: skip
        except IntegrityError as exc:
            raise IntegrityError(f"the stored audit tree of size {size} does not extend the signed one of size "
                                 f"{old}: {exc}; refusing to sign", log=self.origin) from exc  # fmt: skip
        self._proved = CompactRange(size, state.edge)  # its root is ``root``, just proved
        return size, root, prev, entries

    def _extends_proved(self, prev: SignedHead | None, entries: list[bytes], size: int, root: bytes) -> bool:
        """True when the kept edge is the signed head ``prev`` (its root rebuilds ``prev.root``) and
        ``entries`` appended to it give ``root`` of ``size``; False when no kept edge is of ``prev``.

        Raises:
            IntegrityError: the kept, authenticated edge plus the new entries do not give the stored
                root (the catalog's tree is not an extension of the signed one).
        """
        kept = self._proved
        if prev is None or kept is None or kept.size != prev.size or kept.root() != prev.root:
            return False
        grown = CompactRange(kept.size, kept.edge)
        for data in entries:
            grown.append(leaf_hash(data))
        if grown.size != size or grown.root() != root:
            raise IntegrityError(f"the stored audit tree of size {size} does not extend the signed one of size "
                                 f"{prev.size}: its new entries do not rebuild its root; refusing to sign",
                                 log=self.origin)  # fmt: skip
        self._proved = grown
        return True

    def _new_entries(self, conn: Connection, old: int, size: int, last_hash: bytes) -> list[bytes]:
        lo = max(old - 1, 0)
        rows = conn.execute(select(EVENT.c.seq, EVENT.c.data, EVENT.c.leaf_hash, EVENT.c.entry_hash)
                            .where((EVENT.c.seq >= lo) & (EVENT.c.seq < size)).order_by(EVENT.c.seq)).all()  # fmt: skip
        if [int(r[0]) for r in rows] != list(range(lo, size)):
            raise ChainError("audit entries are missing from the catalog: refusing to sign", log=self.origin)
        prev = hashlib.sha256(bytes(rows[0][1])).digest() if old > 0 else bytes(32)
        out = []
        for seq, data, leaf, ehash in rows[1:] if old > 0 else rows:
            entry = decode(bytes(data))
            if entry.seq != seq or entry.log != self.origin or entry.prev != prev:
                raise ChainError("audit entry does not chain", log=self.origin, seq=int(seq))
            prev = hashlib.sha256(bytes(data)).digest()
            if bytes(leaf) != leaf_hash(bytes(data)) or bytes(ehash) != prev:
                raise IntegrityError("stored audit leaf or entry hash is wrong", log=self.origin, seq=int(seq))
            out.append(bytes(data))
        if prev != last_hash:
            raise IntegrityError("audit writer state's last hash is not the last entry's", log=self.origin)
        return out

    def _sign(self, size: int, root: bytes, old: int, entries: list[bytes]) -> SignedHead:
        now = self._now()
        signer = self._keys.log_signer(self._keys.active().key_id, self.origin)
        note = sign_note(Checkpoint(self.origin, size, root).text(), [signer]).encode()
        lock = Retention(LockMode.COMPLIANCE, now + self._retention)
        body = b"".join(e + b"\n" for e in entries)
        batch = self._store.put_bytes(self._bucket, entries_key(self.origin, old, size), body,
                                      content_type="application/jsonl", retention=lock)  # fmt: skip
        put = self._store.put_bytes(self._bucket, note_key(self.origin, size), note.encode(),
                                    content_type="text/plain", retention=lock)  # fmt: skip
        self._store.put_bytes(self._bucket, latest_key(self.origin), note.encode(), content_type="text/plain",
                              retention=lock)  # fmt: skip
        signed_us = us_from_utc(now)
        try:
            with catalog_errors(f"audit checkpoint {size} published but not recorded"), self._engine.begin() as conn:
                conn.execute(insert(CHECKPOINT).values(
                    size=size, log_id=self.origin, root=root.hex(), note=note, signed_us=signed_us,
                    object_key=put.key, version_id=put.version_id, entries_key=batch.key,
                    entries_version_id=batch.version_id))  # fmt: skip
        except CatalogConflictError:
            log.warning("audit checkpoint of size %d was already recorded", size)
        log.info("signed audit checkpoint of %s at size %d", self.origin, size)
        return SignedHead(size, root, note, signed_us)


class AuditCheckpointer:
    """Signs the audit log every ``interval_s`` seconds (<= 60) and once more at :meth:`stop`.
    A failure is logged as an ERROR (an alarm) and retried at the next round; it never raises."""

    def __init__(self, signer: AuditSigner, interval_s: float, journal: AuditJournal | None = None,
                 rows: Callable[[int, int], Sequence[JournalLine]] | None = None) -> None:  # fmt: skip
        """``journal``: compacted after a head once larger than ``COMPACT_BYTES`` (the lines the
        head covers go, once checked against the catalog's ``rows``)."""
        self._signer, self._journal, self._rows = signer, journal, rows
        self._periodic = Periodic("audit-checkpointer", interval_s, self.run_once)
        self.last_error: str | None = None
        self._signed_size = -1  # a round with no new entry since this size reads one row and signs nothing

    def run_once(self) -> SignedHead | None:
        """One round; returns the head signed (or standing), None when empty or failed."""
        try:
            if self._signed_size >= 0 and self._signer.stored_size() == self._signed_size:
                return None
            head = self._signer.checkpoint()
        except ERRORS as exc:
            self.last_error = str(exc)
            log.error("audit checkpoint failed: %s", exc)
            return None
        self.last_error = None
        self._signed_size = head.size if head is not None else -1
        if head is not None and self._journal and self._rows and self._journal.bytes_used() > COMPACT_BYTES:
            try:
                self._journal.compact(head.size, self._rows)
            except ERRORS as exc:
                log.error("audit journal not compacted: %s", exc)
        return head

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        self._periodic.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread and sign once more (shutdown checkpoint)."""
        self._periodic.stop(timeout)
        self.run_once()
