"""Engine creation for the catalog: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text

from archive.catalog.errors import catalog_errors
from archive.errors import CatalogError


def normalize_url(url: str) -> str:
    """Use the psycopg 3 driver for ``postgresql://`` URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://"):]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    """Create an engine and check it answers. Raises CatalogError if it does not."""
    url = normalize_url(url)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    try:
        with catalog_errors("cannot use catalog URL", "class"):
            engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)  # no bound value in an error text
    except (ImportError, ValueError) as exc:
        raise CatalogError(f"cannot use catalog URL: {exc.__class__.__name__}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    with catalog_errors(f"catalog database unreachable ({engine.dialect.name})", "reason"), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return engine
