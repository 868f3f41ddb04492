"""Signing keys, one ring per purpose: generated on first use, private half stored only as
SecretBox ciphertext.

Three purposes (SPEC.md 7.1), each its own Ed25519 key with its own record name and rotation:

- ``camera``: record name ``settings.signing_key_name`` (the name the one key of older archives
  had, so their camera logs keep verifying unchanged); signs every camera log.
- ``audit``: record name ``<signing_key_name>/audit``; signs the audit log.
- ``export``: record name ``<signing_key_name>/export``; signs export manifests (under the
  name ``<origin_prefix>/export``).

SPEC.md 7.1 requires a log key's name to equal the log's origin, so a camera log signs with
its ring's private key under its own origin as name (a distinct key id per log);
:meth:`KeyRecord.log_key` gives that per-log verifier key, which is what verifiers must trust.
Rotation (:meth:`KeyRing.rotate`) makes a new key active and retires the old one in one
transaction; for camera logs the ledger then appends a ``key`` entry (signed by the old key) to
every log. :meth:`KeyRing.adopt` copies another ring's keys (the migration of an audit log that
was signed by the single key of an older archive).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from archive.catalog.errors import catalog_errors
from archive.errors import CatalogConflictError, ConfigError, NotFoundError, SecretError
from archive.integrity import Signer, VerifierKey
from archive.integrity.errors import MalformedError
from archive.ledger.repo import SIGNING_KEY
from archive.ledger.settings import LedgerSettings
from archive.secretbox import SecretBox

__all__ = ["PURPOSES", "KeyRecord", "KeyRing", "key_record_name"]

#: the purposes a key signs for, each its own ring (module docstring)
PURPOSES = ("camera", "audit", "export")


def key_record_name(settings: LedgerSettings, purpose: str) -> str:
    """The record name of the ``purpose`` ring. Raises ConfigError for an unknown purpose."""
    if purpose not in PURPOSES:
        raise ConfigError(f"unknown key purpose {purpose!r} (one of {', '.join(PURPOSES)})")
    base = settings.signing_key_name
    return base if purpose == "camera" else f"{base}/{purpose}"


@dataclass(frozen=True)
class KeyRecord:
    """Public facts of one signing key (never the private half)."""

    name: str
    key_id: str
    verifier_key: str
    created_us: int
    retired_us: int | None
    active: bool

    @property
    def public(self) -> VerifierKey:
        """The parsed verifier key (name = record name)."""
        return VerifierKey.parse(self.verifier_key)

    def log_key(self, origin: str) -> VerifierKey:
        """The verifier key this key signs the log ``origin`` with (name = origin)."""
        return VerifierKey(origin, self.public.public_key)

    def retired_before(self, when_us: int) -> bool:
        """True when the key was retired before ``when_us``."""
        return self.retired_us is not None and self.retired_us < when_us


def _context(name: str, key_id: str) -> str:
    return f"signing-key:{name}:{key_id}"


class KeyRing:
    """The archive's signing keys of one purpose (``camera``, ``audit`` or ``export``) in the
    catalog. Thread-safe.

    Construction raises ConfigError for an unknown purpose. Every method raises CatalogError
    when the database fails and SecretError when a private key cannot be decrypted (wrong key file).
    """

    def __init__(self, engine: Engine, box: SecretBox, settings: LedgerSettings,
                 now_us: Callable[[], int] | None = None, *, purpose: str = "camera") -> None:  # fmt: skip
        self._engine = engine
        self._box = box
        self.purpose = purpose
        self._name = key_record_name(settings, purpose)
        self._now_us = now_us or (lambda: time.time_ns() // 1000)
        self._lock = threading.Lock()
        self._signers: dict[str, Signer] = {}

    @property
    def name(self) -> str:
        """The key record name."""
        return self._name

    def records(self) -> list[KeyRecord]:
        """Every key of this name, oldest first."""
        with catalog_errors("cannot read signing keys"), self._engine.connect() as conn:
            rows = conn.execute(
                select(SIGNING_KEY).where(SIGNING_KEY.c.name == self._name).order_by(
                    SIGNING_KEY.c.created_us, SIGNING_KEY.c.key_id
                )
            ).mappings().all()
        return [
            KeyRecord(r["name"], r["key_id"], r["verifier_key"], r["created_us"], r["retired_us"], bool(r["active"]))
            for r in rows
        ]

    def active(self) -> KeyRecord:
        """The active key, generated (and stored encrypted) on first use."""
        with self._lock:
            act = [k for k in self.records() if k.active]
            if act:
                return act[0]
            self._create(retire=())
            return next(k for k in self.records() if k.active)

    def record(self, key_id: str) -> KeyRecord:
        """One key by id. Raises NotFoundError."""
        for k in self.records():
            if k.key_id == key_id:
                return k
        raise NotFoundError(f"signing key {self._name}+{key_id} is not in the catalog")

    def signer(self, key_id: str) -> Signer:
        """The private key ``key_id`` (record name), decrypted once and cached.

        Raises:
            NotFoundError: no such key. SecretError: it does not decrypt or is corrupt.
        """
        with self._lock:
            cached = self._signers.get(key_id)
            if cached is not None:
                return cached
            with catalog_errors("cannot read signing key"), self._engine.connect() as conn:
                row = conn.execute(
                    select(SIGNING_KEY.c.private_enc).where(
                        (SIGNING_KEY.c.name == self._name) & (SIGNING_KEY.c.key_id == key_id)
                    )
                ).first()
            if row is None:
                raise NotFoundError(f"signing key {self._name}+{key_id} is not in the catalog")
            try:
                signer = Signer.parse(self._box.decrypt(str(row[0]), _context(self._name, key_id)))
            except MalformedError as exc:
                raise SecretError(f"signing key {self._name}+{key_id} is corrupt: {exc}") from exc
            if signer.key_id.hex() != key_id or signer.name != self._name:
                raise SecretError(f"signing key {self._name}+{key_id} does not match its record")
            self._signers[key_id] = signer
            return signer

    def log_signer(self, key_id: str, origin: str) -> Signer:
        """The signer of log ``origin`` for key ``key_id`` (same private key, name = origin)."""
        return Signer(origin, self.signer(key_id).private_key)

    def rotate(self) -> tuple[KeyRecord, KeyRecord]:
        """Make a new key active and retire the active one, in one transaction.

        Returns ``(old, new)``. The caller appends the ``key`` entries to the logs.
        """
        with self._lock:
            act = [k for k in self.records() if k.active]
            if not act:
                raise NotFoundError("no active signing key to rotate (none was ever created)")
            new_id = self._create(retire=tuple(k.key_id for k in act))
        return act[0], self.record(new_id)

    def adopt(self, source: KeyRing) -> bool:
        """Copy every key of ``source`` (active and retired, same private halves, renamed to this
        ring's record name) into this ring, if it has no key yet. Returns True when it copied.

        The migration of a purpose that an older archive signed with its single key: what that
        key signed keeps verifying, and one :meth:`rotate` of this ring separates the purposes.
        """
        with self._lock:
            if self.records():
                return False
            now = self._now_us()
            try:
                with catalog_errors("cannot copy signing keys"), self._engine.begin() as conn:
                    for rec in source.records():
                        signer = Signer(self._name, source.signer(rec.key_id).private_key)
                        key_id = signer.key_id.hex()
                        conn.execute(
                            insert(SIGNING_KEY).values(
                                name=self._name, key_id=key_id, verifier_key=signer.verifier_key.encode(),
                                private_enc=self._box.encrypt(signer.encode(), _context(self._name, key_id)),
                                created_us=min(rec.created_us, now), retired_us=rec.retired_us, active=rec.active,
                            )
                        )  # fmt: skip
            except CatalogConflictError:
                return False  # another process copied them first
        return True

    def _create(self, retire: tuple[str, ...]) -> str:
        signer = Signer.generate(self._name)
        key_id = signer.key_id.hex()
        now = self._now_us()
        with catalog_errors("cannot store a new signing key"), self._engine.begin() as conn:
            for old in retire:
                conn.execute(
                    update(SIGNING_KEY)
                    .where((SIGNING_KEY.c.name == self._name) & (SIGNING_KEY.c.key_id == old))
                    .values(active=False, retired_us=now)
                )
            conn.execute(
                insert(SIGNING_KEY).values(
                    name=self._name, key_id=key_id, verifier_key=signer.verifier_key.encode(),
                    private_enc=self._box.encrypt(signer.encode(), _context(self._name, key_id)),
                    created_us=now, retired_us=None, active=True,
                )
            )  # fmt: skip
        self._signers[key_id] = signer
        self._dedupe_active()
        return key_id

    def _dedupe_active(self) -> None:
        """Two processes creating the first key at once: keep the oldest active one."""
        act = [k for k in self.records() if k.active]
        if len(act) <= 1:
            return
        with catalog_errors("cannot fix duplicate active signing keys"), self._engine.begin() as conn:
            for k in act[1:]:
                conn.execute(
                    update(SIGNING_KEY)
                    .where((SIGNING_KEY.c.name == self._name) & (SIGNING_KEY.c.key_id == k.key_id))
                    .values(active=False, retired_us=k.created_us)
                )
