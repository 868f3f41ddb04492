"""Checkpoints (c2sp.org/tlog-checkpoint) and witness cosignatures
(c2sp.org/tlog-cosignature, cosignature/v1 over Ed25519); SPEC.md section 7.

Checkpoint text::

    <origin>\\n<decimal tree size>\\n<base64 root hash>\\n[<extension line>\\n ...]

signed as a C2SP signed note by the log key, whose name MUST equal the origin. A witness
cosignature is a note signature by a key of type 0x04 whose signature bytes are
``8-byte big-endian POSIX time || Ed25519 signature`` over
``"cosignature/v1\\ntime <time>\\n" || checkpoint text``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .encoding import MAX_SAFE_INT, b64decode_strict, b64encode
from .errors import MalformedError, SignatureError
from .keys import ALG_COSIGNATURE_V1, Signer, VerifierKey, check_key_name
from .note import NoteSignature, SignedNote, check_note_text, sign_note, verify_note

__all__ = [
    "Checkpoint",
    "Cosignature",
    "cosign",
    "cosignature_message",
    "open_checkpoint",
    "require_cosignatures",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_cosignatures",
]

_SIZE = re.compile("0|[1-9][0-9]*")
MAX_TIMESTAMP = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: origin (log id), tree size, root hash, optional extension lines.

    Raises (on construction):
        MalformedError: origin not a valid key name, size out of range, root not 32 bytes,
            an extension line empty or containing a newline or control character.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_key_name(self.origin, "checkpoint origin")
        if type(self.size) is not int or not 0 <= self.size <= MAX_SAFE_INT:
            raise MalformedError(f"checkpoint size {self.size!r} out of range")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise MalformedError("checkpoint root hash must be 32 bytes")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for ext in self.extensions:
            if not ext or "\n" in ext:
                raise MalformedError("checkpoint extension lines must be non-empty single lines")
            check_note_text(ext + "\n")

    def text(self) -> str:
        """The checkpoint note text (c2sp.org/tlog-checkpoint "Note text"), final newline included."""
        lines = [self.origin, str(self.size), b64encode(self.root), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text (not a signed note; see :func:`open_checkpoint`).

        Raises:
            MalformedError: fewer than three lines, an empty line, size with leading zeros
                or not decimal, root not base64 of 32 bytes.
        """
        check_note_text(text)
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise MalformedError("checkpoint: need origin, size and root hash lines, none empty")
        origin, size_s, root_s, *ext = lines
        if not _SIZE.fullmatch(size_s) or len(size_s) > 16:
            raise MalformedError(f"checkpoint size {size_s!r} is not a decimal without leading zeros")
        root = b64decode_strict(root_s, "checkpoint root hash")
        return cls(origin, int(size_s), root, tuple(ext))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> SignedNote:
    """Sign a checkpoint with the log key (Ed25519 note signature, type 0x01).

    The caller must never sign two checkpoints of one origin that are inconsistent
    (c2sp.org/tlog-checkpoint "Signatures").

    Raises:
        MalformedError: the signer's name differs from the origin, or it is not type 0x01.
    """
    if signer.name != checkpoint.origin:
        raise MalformedError(f"log key name {signer.name!r} must equal the origin {checkpoint.origin!r}")
    return sign_note(checkpoint.text(), [signer])


def verify_checkpoint(
    note: SignedNote | str | bytes, log_keys: Sequence[VerifierKey], *, origin: str | None = None
) -> tuple[Checkpoint, tuple[VerifierKey, ...]]:
    """Verify a signed checkpoint with the trusted log keys; return it and the keys that
    signed it. Only keys whose name equals the checkpoint's origin line count as log keys.

    Raises:
        MalformedError: the note or checkpoint text is malformed.
        SignatureError: no trusted key for the origin, an invalid signature by a trusted key,
            no valid signature, or the origin is not ``origin`` (when given).
    """
    signed = note if isinstance(note, SignedNote) else SignedNote.parse(note)
    first = signed.text.split("\n", 1)[0]
    if origin is not None and first != origin:
        raise SignatureError(f"checkpoint is for log {first!r}, expected {origin!r}")
    keys = [k for k in log_keys if k.name == first]
    if not keys:
        raise SignatureError(f"no trusted key for log {first!r}", log=first)
    try:
        signers = verify_note(signed, keys)
    except SignatureError as exc:
        raise exc.located(log=first) from exc
    return Checkpoint.parse(signed.text), signers


def open_checkpoint(
    note: SignedNote | str | bytes, log_keys: Sequence[VerifierKey], *, origin: str | None = None
) -> Checkpoint:
    """:func:`verify_checkpoint`, returning only the checkpoint. Raises the same errors."""
    return verify_checkpoint(note, log_keys, origin=origin)[0]


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """``"cosignature/v1\\ntime <timestamp>\\n" || checkpoint text`` (c2sp.org/tlog-cosignature
    "Ed25519 signed message")."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A witness cosignature: who, when (POSIX seconds) and the 64-byte Ed25519 signature.

    Raises (on construction):
        MalformedError: bad name, key id not 4 bytes, timestamp out of range, signature not
            64 bytes.
    """

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name, "cosigner name")
        if len(self.key_id) != 4 or len(self.signature) != 64:
            raise MalformedError(f"cosignature by {self.name}: needs 4-byte key id and 64-byte signature")
        if type(self.timestamp) is not int or not 0 <= self.timestamp <= MAX_TIMESTAMP:
            raise MalformedError(f"cosignature by {self.name}: timestamp out of range")

    def to_note_signature(self) -> NoteSignature:
        """As a note signature line: ``key id || timestamp (u64 BE) || signature``."""
        return NoteSignature(self.name, self.key_id, self.timestamp.to_bytes(8, "big") + self.signature)

    @classmethod
    def from_note_signature(cls, sig: NoteSignature) -> Cosignature:
        """Split a note signature into timestamp and signature.

        Raises:
            MalformedError: the signature is not 8 + 64 bytes.
        """
        if len(sig.signature) != 72:
            raise MalformedError(f"cosignature by {sig.name}: expected 8 + 64 bytes after the key id")
        return cls(sig.name, sig.key_id, int.from_bytes(sig.signature[:8], "big"), sig.signature[8:])


def cosign(checkpoint: Checkpoint | SignedNote, cosigner: Signer, timestamp: int) -> Cosignature:
    """Cosign a checkpoint as a witness at POSIX time ``timestamp``.

    This is only the signature primitive: a witness must first check that the checkpoint
    is consistent with the largest one it has seen for the origin (RFC 9162 2.1.4).

    Raises:
        MalformedError: the cosigner key is not type 0x04, or the timestamp is out of range.
    """
    if cosigner.alg != ALG_COSIGNATURE_V1:
        raise MalformedError(f"cosigner {cosigner.name} must be a type 0x04 (cosignature/v1) key")
    text = checkpoint.text() if isinstance(checkpoint, Checkpoint) else checkpoint.text
    if type(timestamp) is not int or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise MalformedError("cosignature timestamp out of range")
    sig = cosigner.sign(cosignature_message(text, timestamp))
    return Cosignature(cosigner.name, cosigner.key_id, timestamp, sig)


def verify_cosignatures(note: SignedNote, witness_keys: Sequence[VerifierKey]) -> tuple[Cosignature, ...]:
    """Return the valid cosignatures on ``note`` by the trusted witness keys (type 0x04),
    one per key. Unknown signatures are ignored.

    Raises:
        SignatureError: a signature line matching a trusted witness key's name and id is
            malformed or does not verify.
    """
    found: dict[bytes, Cosignature] = {}
    keys = [k for k in witness_keys if k.alg == ALG_COSIGNATURE_V1]
    for sig in note.signatures:
        for key in keys:
            if key.name != sig.name or key.key_id != sig.key_id:
                continue
            try:
                cosig = Cosignature.from_note_signature(sig)
            except MalformedError as exc:
                raise SignatureError(f"cosignature by {key.name}: {exc.detail}") from exc
            if not key.verify(cosignature_message(note.text, cosig.timestamp), cosig.signature):
                raise SignatureError(f"cosignature by {key.name} (key id {key.key_id.hex()}) does not verify")
            found.setdefault(key.public_key, cosig)
    return tuple(found.values())


def require_cosignatures(note: SignedNote, witness_keys: Sequence[VerifierKey], quorum: int) -> tuple[Cosignature, ...]:
    """Like :func:`verify_cosignatures`, and require at least ``quorum`` distinct witnesses.

    Raises:
        SignatureError: an invalid cosignature by a trusted witness, or fewer than ``quorum``.
    """
    found = verify_cosignatures(note, witness_keys)
    if len(found) < quorum:
        names = ", ".join(c.name for c in found) or "none"
        raise SignatureError(f"{len(found)} valid witness cosignatures ({names}), {quorum} required")
    return found
