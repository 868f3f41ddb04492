"""Witnesses: cosigning checkpoints (C2SP tlog-cosignature, SPEC.md 7.4) and storing cosignatures.

The witness side (:func:`witness_cosign`, :func:`witness_keygen`) is standalone: it needs only
the checkpoint note, the log's verifier key, the witness's private key and, to check that the
log did not fork, the previous checkpoint the witness cosigned plus a consistency proof
(:class:`ConsistencyProof`, produced by the archive with :func:`consistency_proof_for`).
The archive side stores the returned line (:func:`add_cosignature`) and appends it to the
checkpoint it serves.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from archive.catalog.errors import catalog_errors
from archive.errors import CatalogConflictError, ConflictError, NotFoundError
from archive.integrity import (
    ALG_COSIGNATURE_V1,
    VERSION,
    Checkpoint,
    Cosignature,
    IntegrityError,
    MalformedError,
    SignedNote,
    Signer,
    VerifierKey,
    canonical_json,
    consistency_proof,
    cosign,
    open_checkpoint,
    verify_consistency,
    verify_cosignatures,
)
from archive.integrity.encoding import check_hex, check_int, parse_canonical
from archive.integrity.errors import ProofError, SignatureError
from archive.integrity.note import NoteSignature
from archive.ledger import repo
from archive.ledger.service import Ledger

__all__ = ["ConsistencyProof", "add_cosignature", "consistency_proof_for", "witness_cosign", "witness_keygen"]


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 2.1.4 proof that the tree of ``new_size`` extends the tree of ``old_size``.

    JSON (canonical, SPEC.md 3): ``{"hashes":[hex...],"new_size":n,"old_size":m,"v":"archive-log/1"}``.
    """

    old_size: int
    new_size: int
    hashes: tuple[bytes, ...]

    def to_json(self) -> bytes:
        """Canonical JSON bytes."""
        return canonical_json({"v": VERSION, "old_size": self.old_size, "new_size": self.new_size,
                               "hashes": [h.hex() for h in self.hashes]})  # fmt: skip

    @classmethod
    def from_json(cls, data: bytes) -> ConsistencyProof:
        """Parse :meth:`to_json` output strictly. Raises MalformedError."""
        d: Mapping[str, Any] = parse_canonical(data)
        if set(d) != {"v", "old_size", "new_size", "hashes"} or d["v"] != VERSION or not isinstance(d["hashes"], list):
            raise MalformedError("consistency proof: expected fields v, old_size, new_size, hashes")
        old = check_int(d["old_size"], "consistency proof old_size", minimum=0)
        new = check_int(d["new_size"], "consistency proof new_size", minimum=0)
        return cls(old, new, tuple(check_hex(h, "consistency proof hash", nbytes=32) for h in d["hashes"]))


def witness_keygen(name: str) -> Signer:
    """A new witness key (Ed25519, type 0x04 cosignature/v1). Raises MalformedError for a bad name."""
    return Signer.generate(name, ALG_COSIGNATURE_V1)


def _log_key(key: VerifierKey, origin: str) -> VerifierKey:
    return key if key.name == origin else VerifierKey(origin, key.public_key, key.alg)


def witness_cosign(
    witness: Signer,
    checkpoint: str | bytes,
    log_key: VerifierKey,
    *,
    previous: str | bytes | None = None,
    proof: ConsistencyProof | None = None,
    timestamp: int | None = None,
) -> str:
    """Verify ``checkpoint`` with ``log_key`` and, given the ``previous`` checkpoint this
    witness cosigned, that it extends it (``proof``); return the cosignature line (with its
    newline) to append to the note.

    ``log_key`` may be named after the origin or after the archive's key record (the same
    public key is then used for the checkpoint's origin).

    Raises:
        MalformedError: bad note, key or proof; the witness key is not type 0x04.
        SignatureError: a checkpoint is not signed by ``log_key``.
        ProofError: the new checkpoint does not extend the previous one (or no proof given).
    """
    if witness.alg != ALG_COSIGNATURE_V1:
        raise MalformedError(f"witness key {witness.name} must be a cosignature/v1 (type 0x04) key")
    origin = SignedNote.parse(checkpoint).text.split("\n", 1)[0]
    key = _log_key(log_key, origin)
    cp = open_checkpoint(checkpoint, [key], origin=origin)
    if previous is not None:
        old = open_checkpoint(previous, [key], origin=origin)
        if cp.size < old.size:
            raise ProofError(f"checkpoint size {cp.size} is smaller than the previous one ({old.size})", log=origin)
        hashes: tuple[bytes, ...] = ()
        if 0 < old.size < cp.size:
            if proof is None:
                raise ProofError("a consistency proof is needed to cosign a larger checkpoint", log=origin)
            if (proof.old_size, proof.new_size) != (old.size, cp.size):
                raise ProofError(f"proof is for {proof.old_size} -> {proof.new_size}, not {old.size} -> {cp.size}",
                                 log=origin)  # fmt: skip
            hashes = proof.hashes
        try:
            verify_consistency(old.size, cp.size, old.root, cp.root, hashes)
        except ProofError as exc:
            raise exc.located(log=origin) from exc
    t = int(time.time()) if timestamp is None else timestamp
    return cosign(cp, witness, t).to_note_signature().line()


def consistency_proof_for(
    ledger: Ledger, camera_id: str, old_size: int, new_size: int | None = None
) -> ConsistencyProof:
    """A consistency proof between two sizes of a camera's log from the stored nodes
    (``new_size`` defaults to the latest recorded checkpoint).

    Raises:
        NotFoundError: no checkpoint yet. MalformedError: sizes out of order or beyond the log.
        CatalogError.
    """
    if new_size is None:
        latest = ledger.signer.latest(camera_id, cosigned=False)
        if latest is None:
            raise NotFoundError(f"camera {camera_id} has no signed checkpoint")
        new_size = latest.size
    origin = ledger.log_id(camera_id)
    with catalog_errors(f"cannot read log {origin}"), ledger.engine.connect() as conn:
        st = repo.load_state(conn, origin)
        if st is None or new_size > st.size:
            raise MalformedError(f"log {origin} has {st.size if st else 0} entries, not {new_size}")
        hashes = consistency_proof(old_size, new_size, repo.hash_source(conn, origin))
    return ConsistencyProof(old_size, new_size, hashes)


def add_cosignature(
    ledger: Ledger, camera_id: str, size: int, line: str, witness_key: VerifierKey | None = None
) -> Cosignature:
    """Store a witness cosignature line for the recorded checkpoint of ``size``.

    With ``witness_key`` the line must be by that key and verify over the checkpoint.

    Raises:
        NotFoundError: no recorded checkpoint of that size.
        MalformedError: the line is not a cosignature/v1 signature line.
        SignatureError: it does not verify with ``witness_key``.
        ConflictError: a different cosignature by that key is already stored.
        CatalogError.
    """
    view = ledger.signer.at(camera_id, size, cosigned=False)
    if view is None:
        raise NotFoundError(f"camera {camera_id} has no recorded checkpoint of size {size}")
    sig = NoteSignature.parse_line(line.strip())
    cosig = Cosignature.from_note_signature(sig)
    if witness_key is not None:
        if (witness_key.name, witness_key.key_id) != (sig.name, sig.key_id):
            raise SignatureError(f"the line is by {sig.name}+{sig.key_id.hex()}, not {witness_key.encode()}")
        text = Checkpoint.parse(SignedNote.parse(view.note).text).text()
        try:
            verify_cosignatures(SignedNote(text, (sig,)), [witness_key])
        except IntegrityError as exc:
            raise SignatureError(f"cosignature does not verify over checkpoint {size}: {exc}") from exc
    try:
        with catalog_errors("cannot store the cosignature"), ledger.engine.begin() as conn:
            conn.execute(
                insert(repo.COSIGNATURE).values(
                    log_id=view.log_id, size=size, name=sig.name, key_id=sig.key_id.hex(), timestamp=cosig.timestamp,
                    line=sig.line().rstrip("\n"), added_us=time.time_ns() // 1000,
                )
            )  # fmt: skip
    except CatalogConflictError as exc:
        raise ConflictError(f"a cosignature by {sig.name}+{sig.key_id.hex()} on size {size} is already stored") from exc
    return cosig
