"""THE one mapping from exceptions to HTTP: status + JSON body that says what is wrong.

=============================================  ======  ======================
exception                                      status  ``error``
=============================================  ======  ======================
ValidationError (located problems)             422     ``invalid``
NotFoundError                                  404     ``not_found``
ConflictError                                  409     ``conflict``
other UserError (incl. ConfigError)            400     ``bad_request``
UnauthenticatedError                           401     ``unauthenticated``
ForbiddenError                                 403     ``forbidden``
TooManyAttemptsError (failed-login limit)      429     ``too_many_requests``
IntegrityError (evidence does not verify)      409     ``integrity``
ObjectMissingError                             404     ``object_missing``
ObjectLockedError                              409     ``locked``
StorageUnavailableError / other StorageError   503     ``storage_unavailable``
CatalogError                                   503     ``catalog_unavailable``
SecretError / ToolError / other ArchiveError   500     ``internal``
Litestar validation (bad parameter or body)   422     ``invalid`` (``problems[]``)
other Litestar HTTP errors                     as is   by status
anything else (a bug)                          500     ``internal`` (no detail)
=============================================  ======  ======================

Bodies never carry a stack trace; a 500 carries only a reference to the server log line.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.exceptions import ValidationException as LitestarValidation

from archive.errors import (
    ArchiveError,
    CatalogError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ObjectLockedError,
    ObjectMissingError,
    StorageError,
    TooManyAttemptsError,
    UnauthenticatedError,
    UserError,
    ValidationError,
)
from archive.integrity.errors import IntegrityError
from archive.redact import scrub_tree

from .context import context_of

__all__ = ["ERROR_CODES", "handle_exception", "problem"]

log = logging.getLogger(__name__)
_QUOTED = re.compile(r"'([^']{1,200})'")

_TABLE: tuple[tuple[type[BaseException], int, str], ...] = (
    (ValidationError, 422, "invalid"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (UserError, 400, "bad_request"),
    (UnauthenticatedError, 401, "unauthenticated"),
    (ForbiddenError, 403, "forbidden"),
    (TooManyAttemptsError, 429, "too_many_requests"),
    (IntegrityError, 409, "integrity"),
    (ObjectMissingError, 404, "object_missing"),
    (ObjectLockedError, 409, "locked"),
    (StorageError, 503, "storage_unavailable"),
    (CatalogError, 503, "catalog_unavailable"),
    (ArchiveError, 500, "internal"),
)
ERROR_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
               422: "invalid", 429: "too_many_requests"}  # fmt: skip


def problem(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Status and JSON body for ``exc`` (see the module table)."""
    for cls, status, code in _TABLE:
        if isinstance(exc, cls):
            body: dict[str, Any] = {"status": status, "error": code, "message": str(exc) or code}
            if isinstance(exc, ValidationError):
                body["problems"] = [{"where": p.where, "message": p.message} for p in exc.problems]
            if status >= 500 and code == "internal":
                ref = uuid.uuid4().hex[:12]
                log.error("internal error %s: %s", ref, exc, exc_info=exc)
                body["message"] = f"internal error (reference {ref})"
            return status, body
    if isinstance(exc, LitestarValidation):  # a parameter or body the schema refuses: 422 like ours
        extra = exc.extra if isinstance(exc.extra, list) else []
        problems = [{"where": str(e.get("key") or e.get("source") or "request"), "message": str(e.get("message", ""))}
                    for e in extra if isinstance(e, dict)]  # fmt: skip
        if not problems:  # e.g. "Missing required query parameter 'start' for path /api/v1/...": drop the URL
            said = str(exc.detail).split(" for path ", 1)[0].split(" for GET ", 1)[0]
            named = _QUOTED.search(said)
            problems = [{"where": named.group(1) if named else "request", "message": said}]
        message = "; ".join(f"{p['where']}: {p['message']}" for p in problems)  # never the URL echoed back
        return 422, {"status": 422, "error": "invalid", "message": message, "problems": problems}
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        status = exc.status_code
        body = {"status": status, "error": ERROR_CODES.get(status, "http_error"), "message": str(exc.detail)}
        return status, body
    ref = uuid.uuid4().hex[:12]
    log.error("unexpected error %s", ref, exc_info=exc)
    return 500, {"status": 500, "error": "internal", "message": f"internal error (reference {ref})"}


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Litestar exception handler for every exception (registered on the app)."""
    status, raw = problem(exc)
    body: dict[str, Any] = scrub_tree(raw)  # type: ignore[assignment]  # a message may quote a URL
    context_of(request).error = str(body["message"])[:500]
    headers = {"WWW-Authenticate": 'Bearer realm="archive"'} if status == 401 else None
    if isinstance(exc, TooManyAttemptsError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return Response(body, status_code=status, headers=headers, media_type="application/json")
