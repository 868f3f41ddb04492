"""The auditor's check of the audit trail: every entry, every checkpoint, the published head.

:func:`verify_audit` reads the whole log in seq order and reports (never raises for) each
failure: a missing seq, bytes that are not a canonical ``archive-audit/1`` entry, a broken
``prev`` chain, stored leaf/entry hashes or filter columns that disagree with the bytes, a
checkpoint whose signature does not verify with the archive's keys or whose root differs from
the tree rebuilt from the entries, stored right-edge nodes that differ from the rebuilt tree, and a
published ``logs/<origin>/checkpoint.latest`` that is larger than the catalog's log (entries deleted
or catalog rolled back) or has another root.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from archive.audit.entry import decode
from archive.audit.journal import AuditJournal
from archive.audit.log import load_state
from archive.audit.signer import audit_keys, latest_key
from archive.audit.tables import CHECKPOINT, EVENT
from archive.catalog.errors import catalog_errors
from archive.errors import ERRORS, ObjectMissingError
from archive.integrity import CompactRange, IntegrityError, VerifierKey, WriterState, leaf_hash, open_checkpoint
from archive.ledger.keyring import KeyRing
from archive.storage.base import ObjectStore

__all__ = ["AuditReport", "verify_audit"]

_BATCH = 5000
_MAX_FAILURES = 200


@dataclass(frozen=True)
class AuditReport:
    """The outcome: ``ok`` only when there is no failure."""

    origin: str
    size: int
    entries_checked: int
    checkpoints_checked: int
    signed_size: int | None
    signed_root: str | None
    failures: tuple[str, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """True when every check held."""
        return not self.failures


class _Failures(list[str]):
    def add(self, text: str) -> None:
        if len(self) < _MAX_FAILURES:
            self.append(text)


def _columns_match(row: object, data: bytes) -> str | None:
    entry = decode(data)
    r, rec = row, entry.record
    got = (r.at_us, r.actor, r.agency, r.role, r.client_ip, r.action, r.result, r.status)  # type: ignore[attr-defined]
    want = (rec.at_us, rec.actor, rec.agency, rec.role, rec.ip[:64], rec.action[:64], rec.result.value, rec.status)
    return None if tuple(got) == want else f"filter columns {got} differ from the entry {want}"


def _checkpoints(conn: Connection, trusted: list[VerifierKey], origin: str, fails: _Failures) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for size, note in conn.execute(select(CHECKPOINT.c.size, CHECKPOINT.c.note).order_by(CHECKPOINT.c.size)):
        try:
            cp = open_checkpoint(str(note), trusted, origin=origin)
        except IntegrityError as exc:
            fails.add(f"checkpoint {size}: signature does not verify: {exc}")
            continue
        if cp.size != size:
            fails.add(f"checkpoint row {size} holds a note of size {cp.size}")
        out[cp.size] = cp.root
    return out


def _scan(conn: Connection, origin: str, roots: dict[int, bytes], fails: _Failures) -> tuple[CompactRange, bytes, int]:
    tree, prev, cursor, checked = CompactRange(), bytes(32), 0, 0
    while True:
        rows = conn.execute(select(EVENT).where(EVENT.c.seq >= cursor).order_by(EVENT.c.seq).limit(_BATCH)).all()
        for row in rows:
            seq, data = int(row.seq), bytes(row.data)
            if seq != tree.size:
                fails.add(f"seq {tree.size}: missing (next stored entry is {seq})")
                return tree, prev, checked
            try:
                entry = decode(data)
                if entry.log != origin or entry.seq != seq:
                    fails.add(f"seq {seq}: entry says log {entry.log!r} seq {entry.seq}")
                if entry.prev != prev:
                    fails.add(f"seq {seq}: prev {entry.prev.hex()} is not the hash of entry {seq - 1}")
                problem = _columns_match(row, data)
                if problem:
                    fails.add(f"seq {seq}: {problem}")
            except IntegrityError as exc:
                fails.add(f"seq {seq}: not a valid audit entry: {exc}")
            prev = hashlib.sha256(data).digest()
            leaf = leaf_hash(data)
            if bytes(row.leaf_hash) != leaf or bytes(row.entry_hash) != prev:
                fails.add(f"seq {seq}: stored leaf or entry hash does not match the bytes")
            tree.append(leaf)
            checked += 1
            want = roots.get(tree.size)
            if want is not None and want != tree.root():
                fails.add(f"checkpoint {tree.size}: signed root differs from the tree rebuilt from the entries")
        if len(rows) < _BATCH:
            return tree, prev, checked
        cursor = int(rows[-1].seq) + 1


def _check_journal(engine: Engine, journal: AuditJournal, size: int, fails: _Failures) -> None:
    try:
        lines = journal.read()
    except ERRORS as exc:
        fails.add(f"audit journal: {exc}")
        return
    beyond = [s for s, _ in lines if s >= size]
    if beyond:
        fails.add(f"the audit journal records entry seq {max(beyond)} but the catalog holds {size} entries "
                  "(entries deleted or catalog rolled back)")  # fmt: skip
    with catalog_errors("cannot read the audit log"), engine.connect() as conn:
        for lo in range(0, len(lines), _BATCH):
            part = {s: h for s, h in lines[lo : lo + _BATCH] if s < size}
            if not part:
                continue
            rows = conn.execute(select(EVENT.c.seq, EVENT.c.entry_hash).where(EVENT.c.seq.in_(list(part))))
            for seq, h in rows:
                if bytes(h) != part[int(seq)]:
                    fails.add(f"seq {seq}: the audit journal's hash differs from the catalog's entry (rewritten)")


def verify_audit(engine: Engine, store: ObjectStore | None, keys: KeyRing, origin: str, log_bucket: str, *,
                 journal: AuditJournal | None = None) -> AuditReport:  # fmt: skip
    """Verify the whole audit log (module docstring). ``store`` None skips the published head;
    ``journal`` None skips the journal (else every journal line must name a stored entry, same hash).

    Raises CatalogError when the catalog cannot be read (the report could not be made).
    """
    started, fails = time.monotonic(), _Failures()
    trusted = audit_keys(keys, origin)
    published = None
    if store is not None:
        try:
            published = open_checkpoint(store.get_bytes(log_bucket, latest_key(origin)), trusted, origin=origin)
        except ObjectMissingError:
            published = None
        except ERRORS as exc:
            fails.add(f"published head {latest_key(origin)}: {exc}")
    with catalog_errors("cannot read the audit log"), engine.connect() as conn:
        try:
            state: WriterState | None = load_state(conn, origin)
        except IntegrityError as exc:
            fails.add(f"writer state: {exc}")
            state = None
        roots = _checkpoints(conn, trusted, origin, fails)
        if published is not None:
            roots.setdefault(published.size, published.root)
            if roots[published.size] != published.root:
                fails.add(f"published head of size {published.size} has another root than the catalog's")
        tree, last, checked = _scan(conn, origin, roots, fails)
    if state is not None and (tree.size != state.size or last != state.last_hash or tree.edge != state.edge):
        fails.add(f"stored right-edge nodes (size {state.size}) differ from the log rebuilt from {tree.size} entries")
    if published is not None and published.size > tree.size:
        fails.add(f"a checkpoint of size {published.size} was published but the catalog holds {tree.size} entries "
                  "(entries deleted or catalog rolled back)")  # fmt: skip
    if journal is not None:
        _check_journal(engine, journal, tree.size, fails)
    signed = max(roots) if roots else None
    root = roots[signed].hex() if signed is not None else None
    return AuditReport(origin, tree.size, checked, len(roots), signed, root, tuple(fails),
                       round(time.monotonic() - started, 3))  # fmt: skip

