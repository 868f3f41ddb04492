"""Alembic environment: the engine is handed in by archive.catalog.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only run through archive.catalog.migrate
    raise RuntimeError("run migrations through 'archive db upgrade'")

with engine.begin() as connection:
    context.configure(connection=connection, render_as_batch=engine.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
