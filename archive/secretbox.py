"""Encryption at rest for camera credentials: the only adapter over ``cryptography`` outside integrity/.

AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce per value; the camera id is the
associated data, so a ciphertext copied onto another camera's row does not decrypt. The key
lives in a file outside the database (mode 0600), created on first use.
Stored form: ``v1:`` + urlsafe-base64(nonce || ciphertext || tag).
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive.errors import SecretError

_PREFIX = "v1:"
_KEY_BYTES = 32
_NONCE_BYTES = 12


class SecretBox:
    """Encrypts and decrypts short secrets bound to a context string."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise SecretError("credential key must be 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(key='***')"

    @classmethod
    def from_key_file(cls, path: Path, *, create: bool = True) -> SecretBox:
        """Load the key file, creating it (0600, parent 0700) when missing and ``create`` is set.

        Raises SecretError if the file is missing (and not created), unreadable or malformed.
        """
        if not path.exists():
            if not create:
                raise SecretError(f"credential key file {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = secrets.token_bytes(_KEY_BYTES)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(base64.urlsafe_b64encode(key).decode("ascii") + "\n")
            return cls(key)
        try:
            key = base64.urlsafe_b64decode(path.read_text(encoding="ascii").strip())
        except (OSError, ValueError) as exc:
            raise SecretError(f"credential key file {path} is unreadable or not base64") from exc
        return cls(key)

    def encrypt(self, plaintext: str, context: str) -> str:
        """Encrypt ``plaintext`` bound to ``context`` (e.g. the camera id)."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        ct = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return _PREFIX + base64.urlsafe_b64encode(nonce + ct).decode("ascii")

    def decrypt(self, token: str, context: str) -> str:
        """Decrypt a value made by :meth:`encrypt` with the same context.

        Raises SecretError when the token is malformed, the key is wrong or the context differs.
        """
        if not token.startswith(_PREFIX):
            raise SecretError("encrypted value has an unknown format")
        try:
            blob = base64.urlsafe_b64decode(token[len(_PREFIX):])
            pt = self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context.encode("utf-8"))
        except (ValueError, InvalidTag) as exc:
            raise SecretError(f"cannot decrypt the stored secret of {context!r} with this key") from exc
        return pt.decode("utf-8")
