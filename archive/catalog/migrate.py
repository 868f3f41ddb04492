"""Alembic migrations run programmatically against an engine (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from archive.catalog.errors import catalog_errors
from archive.errors import CatalogError

_SCRIPTS = Path(__file__).resolve().parent / "migrations"


def _alembic_config(engine: Engine | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this code."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - packaging bug
        raise CatalogError("no migrations shipped")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database). Raises CatalogError."""
    with catalog_errors("cannot read the catalog's migration state"), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the catalog to ``revision``. Raises CatalogError."""
    with catalog_errors("catalog migration failed"):
        command.upgrade(_alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the catalog down to ``revision`` (``base`` empties it). Raises CatalogError."""
    with catalog_errors("catalog downgrade failed"):
        command.downgrade(_alembic_config(engine), revision)


def require_current(engine: Engine) -> None:
    """Return None when the catalog is at the shipped head; raise CatalogError otherwise."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise CatalogError(f"catalog is at migration {current or 'none'}, code needs {head}: run 'archive db upgrade'")
