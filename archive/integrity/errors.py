"""The exception tree of ``archive.integrity``.

This package is shipped alone inside evidence exports, so it defines its own root
:class:`IntegrityError` (derived from :class:`Exception` only) instead of importing
``archive.errors``. Every error names, where known, the log (origin) and the entry sequence
number it is about, and says what differs.

    IntegrityError            evidence does not verify
    ├── MalformedError        input does not follow SPEC.md (syntax, field values, sizes)
    │   └── NonCanonicalError an entry parses but is not in canonical encoding
    ├── ChainError            seq / prev / log / camera linkage between entries is broken
    ├── ProofError            a Merkle proof does not reproduce the expected root
    ├── SignatureError        a signature is missing, untrusted or invalid
    ├── CompletenessError     the entries do not cover the requested time range
    ├── TimeOrderError        timeline entries overlap, or one ends after a later recorded time
    └── MediaMismatchError    media bytes differ from what their segment entry records
"""

from __future__ import annotations

__all__ = [
    "ChainError",
    "CompletenessError",
    "IntegrityError",
    "MalformedError",
    "MediaMismatchError",
    "NonCanonicalError",
    "ProofError",
    "SignatureError",
    "TimeOrderError",
]


class IntegrityError(Exception):
    """Evidence does not verify; the message names what and where.

    ``log`` and ``seq`` (when given) are kept as attributes and prefixed to the message as
    ``log <origin> seq <n>: ...`` so that a report can point at the exact entry.
    """

    def __init__(self, message: str, *, log: str | None = None, seq: int | None = None) -> None:
        self.detail = message
        self.log = log
        self.seq = seq
        where = []
        if log is not None:
            where.append(f"log {log}")
        if seq is not None:
            where.append(f"seq {seq}")
        super().__init__(f"{' '.join(where)}: {message}" if where else message)

    def located(self, *, log: str | None = None, seq: int | None = None) -> IntegrityError:
        """Return a copy of this error (same class) with ``log``/``seq`` filled where unset."""
        return type(self)(
            self.detail,
            log=self.log if self.log is not None else log,
            seq=self.seq if self.seq is not None else seq,
        )


class MalformedError(IntegrityError):
    """The input does not follow SPEC.md: it does not parse, or a field has a bad value."""


class NonCanonicalError(MalformedError):
    """An entry parses but its bytes differ from the canonical encoding of its content."""


class ChainError(IntegrityError):
    """Consecutive entries do not link: wrong seq, wrong ``prev`` hash, wrong log or camera."""


class ProofError(IntegrityError):
    """A Merkle inclusion, consistency or range proof does not verify."""


class SignatureError(IntegrityError):
    """No trusted signature verifies, or a signature by a trusted key is invalid."""


class CompletenessError(IntegrityError):
    """Segments and gaps do not tile the requested time range (a hole beyond tolerance)."""


class TimeOrderError(IntegrityError):
    """Timeline entries overlap, or one ends after a time recorded or signed later (SPEC.md 8 step 8)."""


class MediaMismatchError(IntegrityError):
    """A media file's SHA-256 or size differs from its segment entry."""
