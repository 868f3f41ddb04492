"""C2SP signed notes with Ed25519 signatures (c2sp.org/signed-note; SPEC.md section 7.2).

A signed note is the text (ending in a newline), an empty line, then one or more lines
``— <key name> <base64(4-byte key id || signature)>``. The text is separated from the
signatures by the last empty line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .encoding import b64decode_strict, b64encode
from .errors import MalformedError, SignatureError
from .keys import ALG_ED25519, Signer, VerifierKey

__all__ = [
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "NoteSignature",
    "SignedNote",
    "check_note_text",
    "sign_note",
    "verify_note",
]

EM_DASH = "\u2014"
MAX_SIGNATURES = 100
"""Signature lines accepted per note (c2sp.org/signed-note: at least 16 MUST be accepted)."""
MAX_NOTE_BYTES = 1 << 20
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline (U+000A)


def check_note_text(text: str) -> str:
    """Return ``text`` if it can be the text of a signed note.

    Raises:
        MalformedError: empty, not ending in a newline, or containing an ASCII control
            character other than newline (c2sp.org/signed-note "Format").
    """
    if not text or not text.endswith("\n"):
        raise MalformedError("note text must be non-empty and end with a newline")
    bad = _CONTROL.search(text)
    if bad is not None:
        raise MalformedError(f"note text contains control character U+{ord(bad.group()):04X}")
    return text


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id and the signature bytes after the id.

    Raises (on construction):
        MalformedError: empty key name or one with a space or ``+``, key id not 4 bytes,
            empty signature.
    """

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        # Lenient on purpose: any name c2sp.org/signed-note allows (non-empty, no Unicode
        # space, no "+"), so that signatures by keys we do not know can be ignored, not fatal.
        if not self.name or "+" in self.name or any(ch.isspace() for ch in self.name):
            raise MalformedError(f"signature key name {self.name!r} is empty or has a space or '+'")
        if len(self.key_id) != 4 or not self.signature:
            raise MalformedError(f"signature by {self.name}: needs a 4-byte key id and a signature")

    def line(self) -> str:
        """``— <name> <base64(key id || signature)>`` followed by a newline."""
        return f"{EM_DASH} {self.name} {b64encode(self.key_id + self.signature)}\n"

    @classmethod
    def parse_line(cls, line: str) -> NoteSignature:
        """Parse one signature line without its newline.

        Raises:
            MalformedError: not ``— name base64``, or the base64 is shorter than 5 bytes.
        """
        if not line.startswith(EM_DASH + " "):
            raise MalformedError(f"signature line must start with '{EM_DASH} ': {line[:40]!r}")
        parts = line[2:].split(" ")
        if len(parts) != 2:
            raise MalformedError(f"signature line must be '{EM_DASH} name base64': {line[:40]!r}")
        raw = b64decode_strict(parts[1], f"signature by {parts[0]}")
        if len(raw) < 5:
            raise MalformedError(f"signature by {parts[0]}: too short")
        return cls(name=parts[0], key_id=raw[:4], signature=raw[4:])


@dataclass(frozen=True, slots=True)
class SignedNote:
    """Note text plus its signature lines, in order.

    Raises (on construction):
        MalformedError: bad text (see :func:`check_note_text`) or more than
            :data:`MAX_SIGNATURES` signatures.
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        check_note_text(self.text)
        object.__setattr__(self, "signatures", tuple(self.signatures))
        if len(self.signatures) > MAX_SIGNATURES:
            raise MalformedError(f"note has more than {MAX_SIGNATURES} signatures")

    def encode(self) -> str:
        """The note as text: text, empty line, signature lines."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def to_bytes(self) -> bytes:
        """:meth:`encode` as UTF-8."""
        return self.encode().encode("utf-8")

    def with_signature(self, signature: NoteSignature) -> SignedNote:
        """A copy with ``signature`` appended (e.g. a witness cosignature)."""
        return SignedNote(self.text, (*self.signatures, signature))

    @classmethod
    def parse(cls, note: str | bytes) -> SignedNote:
        """Parse a signed note. Does not verify anything: see :func:`verify_note`.

        Raises:
            MalformedError: not UTF-8, control characters, no empty line before the
                signatures, no signature, a malformed signature line, too large.
        """
        if isinstance(note, bytes):
            if len(note) > MAX_NOTE_BYTES:
                raise MalformedError(f"note larger than {MAX_NOTE_BYTES} bytes")
            try:
                note = note.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise MalformedError(f"note is not UTF-8: {exc}") from exc
        if len(note) > MAX_NOTE_BYTES:
            raise MalformedError(f"note larger than {MAX_NOTE_BYTES} characters")
        check_note_text(note)
        cut = note.rfind("\n\n")
        if cut < 0:
            raise MalformedError("note has no empty line before its signatures")
        text, block = note[: cut + 1], note[cut + 2 :]
        if not block:
            raise MalformedError("note has no signature")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise MalformedError(f"note has more than {MAX_SIGNATURES} signatures")
        return cls(text, tuple(NoteSignature.parse_line(line) for line in lines))


def sign_note(text: str, signers: Sequence[Signer]) -> SignedNote:
    """Sign ``text`` with each Ed25519 note key (type 0x01) in ``signers``.

    Raises:
        MalformedError: bad text, no signer, or a signer whose type is not 0x01.
    """
    check_note_text(text)
    if not signers:
        raise MalformedError("sign_note needs at least one signer")
    sigs = []
    for signer in signers:
        if signer.alg != ALG_ED25519:
            raise MalformedError(f"signer {signer.name} is not an Ed25519 note key (type 0x01)")
        sigs.append(NoteSignature(signer.name, signer.key_id, signer.sign(text.encode("utf-8"))))
    return SignedNote(text, tuple(sigs))


def verify_note(note: SignedNote, keys: Sequence[VerifierKey]) -> tuple[VerifierKey, ...]:
    """Verify ``note`` against trusted Ed25519 note keys; return the keys that signed it.

    Signatures whose (name, key id) matches no key in ``keys`` are ignored; a signature that
    matches a key must verify (c2sp.org/signed-note "Signatures"). Keys of type 0x04
    (cosigners) are not considered here.

    Raises:
        SignatureError: a signature by a trusted key is invalid, or no trusted key signed.
    """
    message = note.text.encode("utf-8")
    verified: list[VerifierKey] = []
    trusted = [k for k in keys if k.alg == ALG_ED25519]
    for sig in note.signatures:
        for key in trusted:
            if key.name == sig.name and key.key_id == sig.key_id:
                if not key.verify(message, sig.signature):
                    raise SignatureError(f"signature by {key.name} (key id {key.key_id.hex()}) does not verify")
                if key not in verified:
                    verified.append(key)
    if not verified:
        seen = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures)
        wanted = ", ".join(f"{k.name}+{k.key_id.hex()}" for k in trusted) or "none"
        raise SignatureError(f"no signature by a trusted key (signed by: {seen}; trusted: {wanted})")
    return tuple(verified)
