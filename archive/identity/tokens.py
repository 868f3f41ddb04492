"""The API token format: ``arc1_<id>_<secret>``, 256 random bits, stored only as SHA-256.

``id`` (16 hex digits) names the token in listings, the audit trail and revocation; the
secret part never leaves the moment of creation. A token that does not match the format is
rejected before any database lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "arc1"
_FORMAT = re.compile(r"^arc1_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class ParsedToken:
    """A token split into its public id and the whole string (for hashing)."""

    token_id: str
    whole: str

    def __repr__(self) -> str:
        return f"ParsedToken(token_id={self.token_id!r}, whole='***')"


def new_token() -> ParsedToken:
    """A fresh token: 64-bit id, 256-bit secret."""
    token_id = secrets.token_hex(8)
    return ParsedToken(token_id, f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}")


def parse_token(text: str) -> ParsedToken | None:
    """The token in ``text``, or None when it is not of the format."""
    m = _FORMAT.match(text)
    return None if m is None else ParsedToken(m.group(1), text)


def token_id_hint(text: str) -> str | None:
    """The id part of something that looks like a token (for the audit trail), else None."""
    m = re.match(r"^arc1_([0-9a-f]{16})_", text)
    return None if m is None else m.group(1)


def token_hash(whole: str) -> str:
    """Lowercase hex SHA-256 of the whole token string."""
    return hashlib.sha256(whole.encode("utf-8")).hexdigest()


def hash_matches(whole: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored hash."""
    return hmac.compare_digest(token_hash(whole), stored_hash)
