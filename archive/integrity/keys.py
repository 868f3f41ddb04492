"""Ed25519 keys in the C2SP signed-note formats: key ids, verifier keys, signer keys.

SPEC.md section 7. Formats (c2sp.org/signed-note):

- key id = SHA-256(name || 0x0A || type || public key)[:4], type 0x01 for note signatures
  (Ed25519, RFC 8032) and 0x04 for cosignature/v1 (c2sp.org/tlog-cosignature);
- verifier key = ``<name>+<8 hex digits of key id>+<base64(type || 32-byte public key)>``;
- signer key = ``PRIVATE+KEY+<name>+<8 hex digits>+<base64(type || 32-byte seed)>`` (the
  format of golang.org/x/mod/sumdb/note); keep it secret.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .encoding import b64decode_strict, b64encode
from .errors import MalformedError

__all__ = [
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "Signer",
    "VerifierKey",
    "check_key_name",
    "compute_key_id",
]

ALG_ED25519 = 0x01
"""Signature type of Ed25519 note signatures (c2sp.org/signed-note, "Signature types")."""

ALG_COSIGNATURE_V1 = 0x04
"""Signature type of timestamped Ed25519 witness cosignatures (c2sp.org/tlog-cosignature)."""

_ALGS = frozenset({ALG_ED25519, ALG_COSIGNATURE_V1})
_KEY_ID_HEX = re.compile("[0-9a-f]{8}")
MAX_NAME = 255


@functools.lru_cache(maxsize=1024)
def _name_problem(name: str) -> str | None:
    if not name:
        return "must not be empty"
    if len(name) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    for ch in name:
        if ch == "+" or ch.isspace() or not ch.isprintable():
            return f"{name!r} contains forbidden character U+{ord(ch):04X}"
    return None


def check_key_name(name: object, where: str = "key name") -> str:
    """Return ``name`` if it is a valid note key name (and origin): 1-255 characters, no
    Unicode space, no ``+``, no control or other non-printable character
    (c2sp.org/signed-note "Format"; stricter than it, which only bans spaces and ``+``).

    Raises:
        MalformedError: otherwise.
    """
    if not isinstance(name, str):
        raise MalformedError(f"{where}: must be a string, got {type(name).__name__}")
    problem = _name_problem(name)
    if problem is not None:
        raise MalformedError(f"{where}: {problem}")
    return name


def compute_key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || alg || public_key)[:4] (c2sp.org/signed-note, "Signatures")."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key).digest()[:4]


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A public key that verifies note signatures (``alg`` 0x01) or cosignatures (0x04).

    Raises (on construction):
        MalformedError: invalid name, unknown ``alg``, public key not 32 bytes.
    """

    name: str
    public_key: bytes
    alg: int = ALG_ED25519

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if self.alg not in _ALGS:
            raise MalformedError(f"key {self.name}: unsupported signature type 0x{self.alg:02x}")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise MalformedError(f"key {self.name}: an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> bytes:
        """The 4-byte key id."""
        return compute_key_id(self.name, self.alg, self.public_key)

    def encode(self) -> str:
        """The C2SP verifier-key string ``name+hex(keyid)+base64(alg||pubkey)``."""
        return f"{self.name}+{self.key_id.hex()}+{b64encode(bytes([self.alg]) + self.public_key)}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse a verifier-key string and check that its key id matches its contents.

        Raises:
            MalformedError: wrong shape, bad base64, unknown type, key id mismatch.
        """
        parts = text.split("+", 2)  # the base64 part may itself contain "+"
        if len(parts) != 3 or not _KEY_ID_HEX.fullmatch(parts[1]):
            raise MalformedError(f"verifier key {text!r}: expected name+8hex+base64")
        name, id_hex, material = parts
        raw = b64decode_strict(material, f"verifier key {name}")
        if len(raw) != 33:
            raise MalformedError(f"verifier key {name}: key material must be 1 + 32 bytes")
        key = cls(name=name, public_key=raw[1:], alg=raw[0])
        if key.key_id.hex() != id_hex:
            raise MalformedError(f"verifier key {name}: key id {id_hex} does not match the key ({key.key_id.hex()})")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if ``signature`` is a valid Ed25519 (RFC 8032) signature of ``message``."""
        if len(signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, eq=False)
class Signer:
    """An Ed25519 private key with a note key name and signature type (0x01 or 0x04).

    Raises (on construction):
        MalformedError: invalid name or unknown ``alg``.
    """

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)
    alg: int = ALG_ED25519

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if self.alg not in _ALGS:
            raise MalformedError(f"signer {self.name}: unsupported signature type 0x{self.alg:02x}")

    @classmethod
    def generate(cls, name: str, alg: int = ALG_ED25519) -> Signer:
        """A new random key (from the OS CSPRNG via ``cryptography``)."""
        return cls(name=name, private_key=Ed25519PrivateKey.generate(), alg=alg)

    @classmethod
    def from_seed(cls, name: str, seed: bytes, alg: int = ALG_ED25519) -> Signer:
        """The key whose RFC 8032 32-byte private key (seed) is ``seed``.

        Raises:
            MalformedError: seed is not 32 bytes.
        """
        if len(seed) != 32:
            raise MalformedError("an Ed25519 seed is 32 bytes")
        return cls(name=name, private_key=Ed25519PrivateKey.from_private_bytes(seed), alg=alg)

    def seed(self) -> bytes:
        """The 32-byte private seed (secret)."""
        return self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    @property
    def public_key(self) -> bytes:
        """The 32-byte public key."""
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def verifier_key(self) -> VerifierKey:
        """The matching public :class:`VerifierKey` (same name and type)."""
        return VerifierKey(name=self.name, public_key=self.public_key, alg=self.alg)

    @property
    def key_id(self) -> bytes:
        """The 4-byte key id."""
        return compute_key_id(self.name, self.alg, self.public_key)

    def with_alg(self, alg: int) -> Signer:
        """The same private key used for another signature type (distinct key id)."""
        return Signer(name=self.name, private_key=self.private_key, alg=alg)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (RFC 8032 section 5.1.6)."""
        return self.private_key.sign(message)

    def encode(self) -> str:
        """``PRIVATE+KEY+name+hex(keyid)+base64(alg||seed)``. Secret: store it like a password."""
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{b64encode(bytes([self.alg]) + self.seed())}"

    @classmethod
    def parse(cls, text: str) -> Signer:
        """Parse a signer-key string written by :meth:`encode`.

        Raises:
            MalformedError: wrong shape, bad base64, unknown type, key id mismatch.
        """
        parts = text.strip().split("+", 4)  # the base64 part may itself contain "+"
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _KEY_ID_HEX.fullmatch(parts[3]):
            raise MalformedError("signer key: expected PRIVATE+KEY+name+8hex+base64")
        name, id_hex = parts[2], parts[3]
        raw = b64decode_strict(parts[4], f"signer key {name}")
        if len(raw) != 33:
            raise MalformedError(f"signer key {name}: key material must be 1 + 32 bytes")
        signer = cls.from_seed(name, raw[1:], alg=raw[0])
        if signer.key_id.hex() != id_hex:
            raise MalformedError(f"signer key {name}: key id {id_hex} does not match the key")
        return signer
