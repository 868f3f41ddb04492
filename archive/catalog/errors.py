"""The one seam where SQLAlchemy errors become the archive's error tree (like the storage
adapter's): every catalog read or write runs inside :func:`catalog_errors`.

    sqlalchemy.exc.IntegrityError                      -> CatalogConflictError (a constraint: another
                                                          writer won; callers may retry)
    OperationalError "database is locked"/"busy"/
    "unable to open database" (SQLite),
    a lost or refused connection (DisconnectionError,
    InterfaceError, connection_invalidated, psycopg
    OperationalError)                                  -> CatalogUnavailableError
    any other SQLAlchemyError                          -> CatalogError

All three are :class:`~archive.errors.CatalogError` (HTTP 503, exit 1) and always carry the
SQLAlchemy error as ``__cause__`` (``raise ... from``). The message is ``"<what>: <detail>"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from sqlalchemy import exc as sa_exc

from archive.errors import CatalogConflictError, CatalogError, CatalogUnavailableError

__all__ = ["Detail", "catalog_error", "catalog_errors"]

Detail = Literal["full", "reason", "class"]
"""What follows ``what`` in the message: the error text (``full``), the driver's own error
text without SQLAlchemy's decoration (``reason``), or only the error's class name (``class``,
where the text could hold a query parameter)."""

_BUSY = ("database is locked", "database is busy", "database table is locked", "unable to open database")


def _unavailable(exc: sa_exc.SQLAlchemyError) -> bool:
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.InterfaceError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError):
        text = str(exc.orig if exc.orig is not None else exc).lower()
        return any(b in text for b in _BUSY) or exc.orig.__class__.__module__.startswith("psycopg")
    return False


def catalog_error(exc: sa_exc.SQLAlchemyError, what: str, detail: Detail = "full") -> CatalogError:
    """The archive error for ``exc`` (module docstring), with the message ``"<what>: <detail>"``;
    the caller raises it ``from exc``."""
    if detail == "class":
        text = exc.__class__.__name__
    elif detail == "reason":
        text = str(getattr(exc, "orig", None) or exc)
    else:
        text = str(exc)
    message = f"{what}: {text}"
    if isinstance(exc, sa_exc.IntegrityError):
        return CatalogConflictError(message)
    if _unavailable(exc):
        return CatalogUnavailableError(message)
    return CatalogError(message)


@contextmanager
def catalog_errors(what: str, detail: Detail = "full") -> Iterator[None]:
    """Run the block (or, as a decorator, the function) translating any SQLAlchemy error with
    :func:`catalog_error`.

    Raises:
        CatalogConflictError, CatalogUnavailableError, CatalogError: from a SQLAlchemy error.
    """
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise catalog_error(exc, what, detail) from exc
