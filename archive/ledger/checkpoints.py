"""Signing checkpoints (SPEC.md 7.3, 9) and the periodic :class:`Checkpointer`.

Before it signs, :meth:`CheckpointSigner.checkpoint` proves from the database that the tree it
is about to sign extends the last checkpoint ever signed for the log, whichever is larger of
the catalog's record and the log bucket's ``checkpoint.latest`` (a catalog restored from an
old backup does not hide a newer signed checkpoint): the new entries decode, are canonical and
chain from the last signed entry, their stored leaf hashes are right, a consistency proof from
the stored nodes links the old signed root to the new root, and a range proof rebuilds the new
root from the new entries. Anything else raises :class:`IntegrityError` and nothing is signed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from archive.catalog.errors import catalog_errors
from archive.errors import ERRORS, CatalogConflictError, CatalogError
from archive.integrity import (
    ZERO_HASH,
    Checkpoint,
    CompactRange,
    IntegrityError,
    KeyRotation,
    Signer,
    VerifierKey,
    consistency_proof,
    leaf_hash,
    open_checkpoint,
    range_proof,
    sign_note,
    verify_consistency,
    verify_entries,
    verify_range_proof,
)
from archive.integrity.errors import ChainError
from archive.ledger import repo
from archive.ledger.appender import LogAppender
from archive.ledger.claims import check_claim
from archive.ledger.facts import CheckpointView
from archive.ledger.keyring import KeyRing
from archive.ledger.published import publish_checkpoint, read_latest_note
from archive.ledger.settings import LedgerSettings, checkpoint_key
from archive.model import us_from_utc
from archive.periodic import Periodic
from archive.storage.base import ObjectStore

__all__ = ["CheckpointSigner", "Checkpointer", "RoundResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Signed:
    size: int
    root: bytes
    note: str
    record: repo.CheckpointRecord | None


@dataclass(frozen=True)
class _Plan:
    size: int
    root: bytes
    previous: _Signed | None
    entries: tuple[bytes, ...]
    signers: tuple[Signer, ...]


def _view(rec: repo.CheckpointRecord, cosignatures: Sequence[str] = ()) -> CheckpointView:
    note = rec.note + "".join(line + "\n" for line in cosignatures)
    return CheckpointView(rec.log_id, rec.size, rec.root, note, rec.signed_us, rec.object_key, rec.version_id,
                          len(cosignatures))  # fmt: skip


class CheckpointSigner:
    """Signs and publishes checkpoints of the camera logs. Thread-safe (per-log locks)."""

    def __init__(self, engine: Engine, store: ObjectStore, keys: KeyRing, appender: LogAppender,
                 settings: LedgerSettings, now: Callable[[], datetime]) -> None:  # fmt: skip
        self._engine = engine
        self._store = store
        self._keys = keys
        self._appender = appender
        self._settings = settings
        self._now = now

    def trusted_keys(self, origin: str) -> list[VerifierKey]:
        """Every key of the key ring (active and retired) as a log key of ``origin``."""
        return [k.log_key(origin) for k in self._keys.records()]

    def latest(self, camera_id: str, *, cosigned: bool = True) -> CheckpointView | None:
        """The latest checkpoint recorded in the catalog (with witness cosignature lines
        appended when ``cosigned``), or None. Raises CatalogError."""
        origin = self._settings.origin(camera_id)
        with catalog_errors(f"cannot read checkpoints of {origin}"), self._engine.connect() as conn:
            rec = repo.latest_checkpoint(conn, origin)
            lines = repo.cosignature_lines(conn, origin, rec.size) if rec and cosigned else []
        return None if rec is None else _view(rec, lines)

    def at(self, camera_id: str, size: int, *, cosigned: bool = True) -> CheckpointView | None:
        """The recorded checkpoint of ``size`` (cosignatures appended), or None. Raises CatalogError."""
        origin = self._settings.origin(camera_id)
        with catalog_errors(f"cannot read checkpoints of {origin}"), self._engine.connect() as conn:
            rec = repo.checkpoint_at(conn, origin, size)
            lines = repo.cosignature_lines(conn, origin, size) if rec and cosigned else []
        return None if rec is None else _view(rec, lines)

    def checkpoint(self, camera_id: str) -> CheckpointView | None:
        """Sign the camera log's current tree head and publish it (see the module docstring).

        Returns the new checkpoint, the latest one when nothing was appended since, or None
        when the log is empty.

        Raises:
            IntegrityError: the stored log does not extend the last signed checkpoint, or its
                entries, leaf hashes, nodes or state disagree; nothing is signed.
            StorageError: publishing failed; nothing is recorded as signed.
            CatalogError, SecretError.
        """
        origin = self._settings.origin(camera_id)
        with self._appender.locks.hold(origin):
            self._appender.catch_up_key(camera_id)
            with catalog_errors(f"cannot read log {origin}"), self._engine.connect() as conn:
                plan = self._plan(conn, camera_id, origin)
            if plan is None:
                return None
            if not plan.signers:  # nothing new: the latest checkpoint stands
                assert plan.previous is not None
                return self._unchanged(camera_id, origin, plan.previous)
            return self._sign_and_publish(camera_id, origin, plan)

    # -- planning: everything is checked before anything is signed --------------------------
    def _plan(self, conn: Connection, camera_id: str, origin: str) -> _Plan | None:
        st = repo.load_state(conn, origin)
        if st is None:
            return None
        size = st.size
        root = CompactRange(size, st.state.edge).root()
        prev = self._last_signed(conn, camera_id, origin)
        if prev is not None and prev.size > size:
            raise IntegrityError(
                f"a checkpoint of size {prev.size} was signed, but the catalog holds only {size} entries "
                "(catalog restored from an older backup, or entries deleted): refusing to sign",
                log=origin,
            )
        if prev is not None and prev.size == size:
            if prev.root != root:
                raise IntegrityError(
                    f"the signed checkpoint of size {size} has root {prev.root.hex()}, the stored tree "
                    f"{root.hex()}: refusing to sign",
                    log=origin,
                )
            return _Plan(size, root, prev, (), ())
        old = prev.size if prev is not None else 0
        entries = self._check_new_entries(conn, origin, st, old, size)
        src = repo.hash_source(conn, origin)
        try:
            if prev is not None and old > 0:
                verify_consistency(old, size, prev.root, root, consistency_proof(old, size, src))
            leaves = [leaf_hash(d) for d in entries]
            verify_range_proof(old, leaves, size, range_proof(old, size, size, src).hashes, root)
        except IntegrityError as exc:
            raise IntegrityError(
                f"the stored tree of size {size} does not extend the signed checkpoint of size {old}: "
                f"{exc}; refusing to sign",
                log=origin,
            ) from exc
        return _Plan(size, root, prev, tuple(entries), self._signers(origin, st.key_id, entries, old))

    def _check_new_entries(self, conn: Connection, origin: str, st: repo.LogStateRecord, old: int,
                           size: int) -> list[bytes]:  # fmt: skip
        rows = list(repo.iter_entries(conn, origin, old, size))
        if [r.seq for r in rows] != list(range(old, size)):
            have = {r.seq for r in rows}
            missing = next(s for s in range(old, size) if s not in have)
            raise ChainError(f"entry {missing} is missing from the catalog: refusing to sign", log=origin, seq=missing)
        prev_hash = ZERO_HASH
        if old > 0:
            before = list(repo.iter_entries(conn, origin, old - 1, old))
            if not before:
                raise ChainError("the last signed entry is missing from the catalog", log=origin, seq=old - 1)
            prev_hash = hashlib.sha256(before[0].data).digest()
        data = [r.data for r in rows]
        verify_entries(data, origin=origin, start=old, prev=prev_hash)
        for r in rows:
            if r.leaf_hash != leaf_hash(r.data) or r.entry_hash != hashlib.sha256(r.data).digest():
                raise IntegrityError("stored leaf or entry hash does not match the entry bytes", log=origin, seq=r.seq)
        if data and hashlib.sha256(data[-1]).digest() != st.state.last_hash:
            raise IntegrityError("writer state's last hash is not the hash of the last entry", log=origin)
        return data

    def _signers(self, origin: str, key_id: str, entries: Sequence[bytes], old: int) -> tuple[Signer, ...]:
        """The key in effect, plus the old key of a rotation inside the new entries (SPEC.md 2.6)."""
        signers = [self._keys.log_signer(key_id, origin)]
        by_log_id = {k.log_key(origin).key_id: k.key_id for k in self._keys.records()}
        for entry in verify_entries(entries, origin=origin, start=old, prev=None):
            if isinstance(entry.payload, KeyRotation):
                master = by_log_id.get(entry.payload.old_key_id)
                if master is not None and master != key_id:
                    signers.append(self._keys.log_signer(master, origin))
        return tuple(signers)

    def _last_signed(self, conn: Connection, camera_id: str, origin: str) -> _Signed | None:
        trusted = self.trusted_keys(origin)
        found: list[_Signed] = []
        rec = repo.latest_checkpoint(conn, origin)
        if rec is not None:
            cp = open_checkpoint(rec.note, trusted, origin=origin)
            if cp.size != rec.size:
                raise IntegrityError(f"catalog checkpoint row of size {rec.size} holds a note of size {cp.size}",
                                     log=origin)  # fmt: skip
            found.append(_Signed(cp.size, cp.root, rec.note, rec))
        pointer = read_latest_note(self._store, self._settings.log_bucket, origin)
        if pointer is not None:
            try:
                cp = open_checkpoint(pointer.text, trusted, origin=origin)
            except IntegrityError as exc:
                raise IntegrityError(
                    f"the latest checkpoint in the log bucket ({pointer.key}) does not verify with the archive's "
                    f"keys: {exc}; refusing to sign",
                    log=origin,
                ) from exc
            found.append(_Signed(cp.size, cp.root, pointer.text.decode(), None))
        if not found:
            return None
        found.sort(key=lambda s: s.size)
        if len(found) == 2 and found[0].size == found[1].size and found[0].root != found[1].root:
            raise IntegrityError(f"catalog and log bucket hold different signed roots for size {found[0].size}",
                                 log=origin)  # fmt: skip
        best = found[-1]
        if best.record is None and rec is not None and rec.size == best.size:
            return _Signed(best.size, best.root, rec.note, rec)
        return best

    # -- signing and recording -------------------------------------------------------------
    def _sign_and_publish(self, camera_id: str, origin: str, plan: _Plan) -> CheckpointView:
        now = self._now()
        note = sign_note(Checkpoint(origin, plan.size, plan.root).text(), list(plan.signers))
        old = plan.previous.size if plan.previous is not None else 0
        pub = publish_checkpoint(
            self._store, self._settings.log_bucket, origin, size=plan.size, note=note.to_bytes(),
            first_seq=old, entries=list(plan.entries), now=now, retention=self._settings.log_retention,
        )  # fmt: skip
        rec = repo.CheckpointRecord(
            origin, plan.size, plan.root.hex(), note.encode(), us_from_utc(now), pub.note.key, pub.note.version_id,
            pub.entries.key if pub.entries else None, pub.entries.version_id if pub.entries else None,
        )  # fmt: skip
        self._record(rec, camera_id)
        log.info("signed checkpoint of %s at size %d", origin, plan.size)
        return _view(rec)

    def _record(self, rec: repo.CheckpointRecord, camera_id: str | None = None) -> None:
        """Store the checkpoint row; under this process's writer claim of the camera, if it holds one,
        checked in the same transaction (WriterClaimLostError: not recorded; the next holder's
        checkpoint repairs it from the log bucket)."""
        claims = self._appender.claims
        claim = None if claims is None or camera_id is None else claims.held(camera_id)
        failed = f"checkpoint of {rec.log_id} at {rec.size} published but not recorded"
        try:
            with catalog_errors(failed), self._engine.begin() as conn:
                if claim is not None:
                    check_claim(conn, claim)
                repo.insert_checkpoint(conn, rec)
        except CatalogConflictError:
            log.warning("checkpoint %s size %d was already recorded", rec.log_id, rec.size)

    def _unchanged(self, camera_id: str, origin: str, prev: _Signed) -> CheckpointView:
        if prev.record is not None:
            return _view(prev.record)
        # Published (log bucket) but not in the catalog: a crash after publishing. Repair.
        info = self._store.stat(self._settings.log_bucket, checkpoint_key(origin, prev.size))
        rec = repo.CheckpointRecord(origin, prev.size, prev.root.hex(), prev.note,
                                    us_from_utc(info.last_modified or self._now()), info.key, info.version_id,
                                    None, None)  # fmt: skip
        self._record(rec)
        log.warning("recorded checkpoint %s size %d found only in the log bucket", origin, prev.size)
        return _view(rec)


@dataclass(frozen=True)
class RoundResult:
    """One checkpointing round: cameras signed, and cameras that failed with why."""

    signed: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]


class Checkpointer:
    """Signs every log with new entries every ``interval_s`` (<= 60 s) and once more at stop;
    then hands the signed cameras to ``after_round`` (the witnesses, :mod:`.witnessing`).

    ``run_once`` never raises for one log's failure: it logs it (ERROR; a refusal to sign an
    inconsistent log is an alarm) and goes on with the others.
    """

    def __init__(self, engine: Engine, signer: CheckpointSigner, interval_s: float,
                 after_round: Callable[[Sequence[str]], object] | None = None,
                 others: Callable[[], Collection[str]] | None = None) -> None:  # fmt: skip
        """``after_round(signed camera ids)``: e.g. the witness submission (must not raise);
        ``others()``: cameras another live writer holds (a node leaves their logs to their holder;
        raises CatalogError)."""
        self._engine = engine
        self._others = others
        self._signer = signer
        self._after_round = after_round
        self._periodic = Periodic("ledger-checkpointer", interval_s, self.run_once)
        self.last_round: RoundResult | None = None

    def run_once(self) -> RoundResult:
        """Checkpoint every log with entries newer than its last recorded checkpoint."""
        try:
            with catalog_errors("catalog"), self._engine.connect() as conn:
                pending = repo.pending_logs(conn)
            others = set(self._others()) if self._others is not None else set()
        except CatalogError as exc:
            log.error("checkpointer: cannot list logs: %s", exc.__cause__)
            self.last_round = RoundResult((), (("*", str(exc)),))
            return self.last_round
        signed: list[str] = []
        failed: list[tuple[str, str]] = []
        for _log_id, camera_id, _size, _signed in pending:
            if camera_id in others:
                continue
            try:
                self._signer.checkpoint(camera_id)
                signed.append(camera_id)
            except ERRORS as exc:
                log.error("checkpointer: camera %s not signed: %s", camera_id, exc)
                failed.append((camera_id, str(exc)))
        self.last_round = RoundResult(tuple(signed), tuple(failed))
        if self._after_round is not None:
            self._after_round(signed)
        return self.last_round

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        self._periodic.start()

    def stop(self, timeout: float = 30.0) -> RoundResult:
        """Stop the thread and sign a last time (shutdown checkpoint, SPEC.md 7.3)."""
        self._periodic.stop(timeout)
        return self.run_once()
