"""Catalogs for benchmarks: a fresh SQLite file or a fresh PostgreSQL schema on the machine's
server (``tests.fixtures.catalog.PG_BASE``), with the server's default settings (synchronous
commit on, as in production), dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.fixtures.catalog import PG_BASE

__all__ = ["bench_catalog", "databases"]


def databases(choice: str) -> list[str]:
    """``--db`` (sqlite, postgres or both) as the list of catalogs to run on."""
    return ["sqlite", "postgres"] if choice == "both" else [choice]


@contextlib.contextmanager
def bench_catalog(db: str, tmp: Path, prefix: str) -> Iterator[tuple[str, str]]:
    """``(name, url)`` of a new catalog of kind ``db`` (``sqlite`` in ``tmp``, or a PostgreSQL schema)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    if db == "sqlite":
        yield name, f"sqlite:///{tmp / f'{name}.sqlite3'}"
        return
    admin = create_engine(PG_BASE)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        try:
            yield name, f"{PG_BASE}?options=-csearch_path%3D{name}"
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    finally:
        admin.dispose()
