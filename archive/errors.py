"""The one exception tree of the archive.

Every module raises one of these; adapters translate third-party exceptions at their seam
with ``raise ... from exc``. The CLI maps :class:`UserError` to exit code 2 and any other
:class:`ArchiveError` to exit code 1; the API (one mapper) maps them to HTTP statuses.

    ArchiveError
    ├── UserError                 bad input from a person: exit 2 / HTTP 400-422
    │   ├── ConfigError           malformed or unknown configuration key
    │   ├── ValidationError       a file or request with one or more located problems
    │   ├── NotFoundError         a named thing does not exist (HTTP 404)
    │   └── ConflictError         the request contradicts the current state (HTTP 409)
    │       ├── WriterHeldError       another live process holds the camera's writer claim
    │       └── WriterClaimLostError  an append under a claim that is no longer the current one
    ├── AccessError               authentication / authorization
    │   ├── UnauthenticatedError  (HTTP 401)
    │   └── ForbiddenError        (HTTP 403)
    ├── StorageError              the object store
    │   ├── StorageUnavailableError   cannot reach it / it answered 5xx
    │   ├── ObjectMissingError        key or version not there
    │   ├── ObjectLockedError         refused because of object lock or legal hold
    │   └── StorageDeniedError        refused for another reason (credentials, policy)
    ├── CatalogError              the relational catalog (translated in archive.catalog.errors)
    │   ├── CatalogConflictError      a constraint refused the write (another writer won)
    │   └── CatalogUnavailableError   the database is locked/busy or the connection is lost
    ├── SecretError               encryption key missing/corrupt, ciphertext not decryptable
    ├── ToolError                 an external program (ffmpeg, weed, gst) missing or failed
    └── WitnessError              a witness refused a checkpoint or could not be reached
        ├── WitnessSizeError      the witness holds another size (HTTP 409 with its size)
        └── WitnessStateLostError it holds less than it cosigned before: it lost its state

    IntegrityError                evidence does not verify: the root of archive.integrity.errors.
                                  integrity/ is shipped alone inside exports (stdlib + cryptography),
                                  so its tree cannot hang under ArchiveError; it is re-exported here
                                  and every seam catches ``ERRORS`` = (ArchiveError, IntegrityError).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archive.integrity.errors import IntegrityError


class ArchiveError(Exception):
    """Root of every error this package raises on purpose."""


class UserError(ArchiveError):
    """Bad input from a person; the message is a sentence meant for them."""


class ConfigError(UserError):
    """The configuration file or an ARCHIVE_* override is malformed or unknown."""


@dataclass(frozen=True)
class Problem:
    """One located problem in an input: ``where`` is e.g. ``cameras.yaml:12`` or a field path."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ValidationError(UserError):
    """An input with one or more located problems. Nothing was written."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid input")


class NotFoundError(UserError):
    """A named thing (camera, owner, object) does not exist."""


class ConflictError(UserError):
    """The request contradicts the current state."""


class WriterHeldError(ConflictError):
    """The camera's log has a live writer claim held by another process (one writer per camera)."""


class NodeRunningError(ConflictError):
    """A recorder node of that name is already live (another process heartbeats it)."""


class WriterClaimLostError(ConflictError):
    """An append or checkpoint under a writer claim (holder, epoch) that is not the camera's current
    claim, or without the claim the entry kind requires. Nothing was written."""


class AccessError(ArchiveError):
    """Authentication or authorization failed."""


class UnauthenticatedError(AccessError):
    """No valid credentials were presented."""


class ForbiddenError(AccessError):
    """Valid credentials, but this role may not do this."""


class TooManyAttemptsError(AccessError):
    """Too many failed authentications from one client address; retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StorageError(ArchiveError):
    """The object store failed or refused."""


class StorageUnavailableError(StorageError):
    """The object store could not be reached or answered with a server error."""


class ObjectMissingError(StorageError):
    """The bucket, key or version does not exist."""


class ObjectLockedError(StorageError):
    """The store refused because of object-lock retention or a legal hold."""


class StorageDeniedError(StorageError):
    """The store refused for another reason (credentials, policy)."""


class CatalogError(ArchiveError):
    """The catalog database failed (unreachable, migration missing, constraint)."""


class CatalogConflictError(CatalogError):
    """A catalog constraint refused the write (a unique key another writer inserted first)."""


class CatalogUnavailableError(CatalogError):
    """The catalog database is locked or busy, or the connection to it failed or was lost."""


class SecretError(ArchiveError):
    """An encryption key is missing or corrupt, or a ciphertext cannot be decrypted."""


class ToolError(ArchiveError):
    """An external program is missing or failed."""


class NotRunningError(ArchiveError):
    """The service a command reports on is not running (``archive status``: exit 1, not bad input)."""


class WitnessError(ArchiveError):
    """A witness (c2sp.org/tlog-witness) refused a checkpoint or could not be reached; ``status``
    is its HTTP status (None: no answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WitnessSizeError(WitnessError):
    """The witness holds ``size`` for the log, not the old size submitted (HTTP 409)."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message, 409)
        self.size = size


class WitnessStateLostError(WitnessError):
    """The witness answered a smaller size than the largest one whose cosignature by its key the
    archive holds: it lost (or rolled back) its state. Not resubmitted from that size."""


class TimestampAuthorityError(ArchiveError):
    """The RFC 3161 time-stamping authority (``[export] timestamp_url``) could not be reached,
    refused the request, or answered a token that does not check (an export build then fails)."""


ERRORS: tuple[type[Exception], ...] = (ArchiveError, IntegrityError)
"""Everything a seam (CLI, API) translates; anything else is a bug."""

__all__ = [
    "ERRORS",
    "AccessError",
    "ArchiveError",
    "CatalogConflictError",
    "CatalogError",
    "CatalogUnavailableError",
    "ConfigError",
    "ConflictError",
    "ForbiddenError",
    "IntegrityError",
    "NodeRunningError",
    "NotFoundError",
    "NotRunningError",
    "ObjectLockedError",
    "ObjectMissingError",
    "Problem",
    "SecretError",
    "StorageDeniedError",
    "StorageError",
    "StorageUnavailableError",
    "TimestampAuthorityError",
    "TooManyAttemptsError",
    "ToolError",
    "UnauthenticatedError",
    "UserError",
    "ValidationError",
    "WitnessError",
    "WitnessSizeError",
    "WitnessStateLostError",
    "WriterClaimLostError",
    "WriterHeldError",
]
