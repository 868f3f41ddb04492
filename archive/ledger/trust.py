"""Which keys may sign a log's checkpoints, and when (SPEC.md 2.6, 7.1, 7.3).

Trust starts from a set of log keys: out of band (a file of verifier keys, as published by
``archive keys show``) or, by default, every key in the catalog's key ring with its retirement
time. The log's own ``key`` entries extend it: each rotation verified with the old key makes
the new key trusted. A checkpoint of size N must then carry a valid signature by the key *in
effect at N*: the new key of the last rotation with seq < N, or, before any rotation, the old
key of the first one. A log that never rotated accepts any trusted key that was not retired
before the checkpoint was stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from archive.integrity import Checkpoint, Entry, IntegrityError, VerifierKey, verify_checkpoint, verify_key_rotation
from archive.integrity.errors import SignatureError
from archive.ledger.keyring import KeyRecord
from archive.model import utc_from_us

__all__ = ["Rotation", "TrustSet", "keys_from_text"]


@dataclass(frozen=True)
class Rotation:
    """A verified key entry: at ``seq`` the log key changed from ``old_key_id`` to ``new``."""

    seq: int
    old_key_id: bytes
    new: VerifierKey


@dataclass
class TrustSet:
    """Trusted log keys of one origin, their retirement times and the log's rotations."""

    origin: str
    keys: list[VerifierKey]
    retired_us: dict[bytes, int] = field(default_factory=dict)
    rotations: list[Rotation] = field(default_factory=list)

    @classmethod
    def from_records(cls, origin: str, records: Iterable[KeyRecord]) -> TrustSet:
        """Every key ring key as a key of ``origin``, with retirement times."""
        trust = cls(origin, [])
        for rec in records:
            key = rec.log_key(origin)
            trust.keys.append(key)
            if rec.retired_us is not None:
                trust.retired_us[key.key_id] = rec.retired_us
        return trust

    @classmethod
    def from_keys(cls, origin: str, keys: Iterable[VerifierKey]) -> TrustSet:
        """Out-of-band keys: keys named ``origin`` as given; keys of type 0x01 under another
        name (e.g. the archive's key record name) are taken as the same key for ``origin``."""
        out: list[VerifierKey] = []
        for k in keys:
            key = k if k.name == origin else VerifierKey(origin, k.public_key, k.alg)
            if key not in out:
                out.append(key)
        return cls(origin, out)

    def key_by_id(self, key_id: bytes) -> VerifierKey | None:
        """The trusted key with this (per-log) key id."""
        return next((k for k in self.keys if k.key_id == key_id), None)

    def add_rotations(self, entries: Sequence[Entry]) -> list[str]:
        """Verify the log's key entries in seq order and trust each new key. Returns problems
        (``"seq N: ..."``) for rotations that do not verify; those are not applied."""
        problems: list[str] = []
        for entry in entries:
            rot = entry.payload
            old_id = getattr(rot, "old_key_id", b"")
            old = self.key_by_id(old_id)
            if old is None:
                problems.append(f"seq {entry.seq}: key rotation from key id {old_id.hex()}, which is not trusted")
                continue
            try:
                new = verify_key_rotation(entry, old)
            except IntegrityError as exc:
                problems.append(f"seq {entry.seq}: {exc.detail}")
                continue
            if self.rotations and self.rotations[-1].new.key_id != old_id:
                problems.append(
                    f"seq {entry.seq}: rotation from key {old_id.hex()}, but the key in effect was "
                    f"{self.rotations[-1].new.key_id.hex()}"
                )
            self.rotations.append(Rotation(entry.seq, old_id, new))
            if new not in self.keys:
                self.keys.append(new)
        return problems

    def in_effect(self, size: int) -> tuple[bytes, str] | None:
        """(key id, why) of the key that must sign a checkpoint of ``size``, or None when the
        log never rotated (any trusted, unretired key)."""
        if not self.rotations:
            return None
        before = [r for r in self.rotations if r.seq < size]
        if before:
            r = before[-1]
            return r.new.key_id, f"the key introduced by the key entry at seq {r.seq}"
        r = self.rotations[0]
        return r.old_key_id, f"the key retired by the key entry at seq {r.seq}"

    def check(self, note: str | bytes, stored_us: int | None) -> tuple[Checkpoint, tuple[VerifierKey, ...]]:
        """Verify a checkpoint note: signed by a trusted key of this origin, by the key in
        effect at its size, and not only by keys retired before ``stored_us``.

        Raises:
            MalformedError: the note does not parse.
            SignatureError: untrusted or invalid signature, or the wrong / a retired key.
        """
        cp, signers = verify_checkpoint(note, self.keys, origin=self.origin)
        ids = {k.key_id for k in signers}
        names = ", ".join(f"{k.name}+{k.key_id.hex()}" for k in signers)
        need = self.in_effect(cp.size)
        if need is not None:
            if need[0] not in ids:
                raise SignatureError(
                    f"checkpoint of size {cp.size} is signed by {names}, not by key id {need[0].hex()}, "
                    f"{need[1]} (signed with a rotated-out key?)",
                    log=self.origin,
                )
            return cp, signers
        if stored_us is not None:
            live = [k for k in signers if not (k.key_id in self.retired_us and self.retired_us[k.key_id] < stored_us)]
            if not live:
                retired = min(self.retired_us[k.key_id] for k in signers)
                raise SignatureError(
                    f"checkpoint of size {cp.size} stored at {utc_from_us(stored_us).isoformat()} is signed only "
                    f"by {names}, retired at {utc_from_us(retired).isoformat()}",
                    log=self.origin,
                )
        return cp, signers


def keys_from_text(text: str) -> list[VerifierKey]:
    """Parse verifier keys, one per line (blank lines and ``#`` comments ignored; a line may
    carry more words, the key is its last word, as printed by ``archive keys show``).

    Raises:
        MalformedError: a line that is not a verifier key.
    """
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(VerifierKey.parse(line.split()[-1]))
    return out
