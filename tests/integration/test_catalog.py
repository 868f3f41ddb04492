"""The catalog on SQLite and PostgreSQL: migrations from empty, up and down, schema = tables."""

from sqlalchemy import inspect

from archive.catalog.db import make_engine
from archive.catalog.migrate import current_revision, downgrade, head_revision, require_current, upgrade
from archive.catalog.tables import CameraRow, OwnerRow
from archive.errors import CatalogError


def test_migrations_from_empty_up_down_up(catalog_url):
    engine = make_engine(catalog_url)
    assert current_revision(engine) is None
    try:
        require_current(engine)
        raise AssertionError("an empty catalog must not pass require_current")
    except CatalogError as exc:
        assert "archive db upgrade" in str(exc)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    require_current(engine)
    names = set(inspect(engine).get_table_names())
    assert {"owner", "camera", "alembic_version"} <= names
    downgrade(engine, "base")
    assert "camera" not in set(inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_migrated_schema_matches_models(catalog_url):
    engine = make_engine(catalog_url)
    upgrade(engine)
    insp = inspect(engine)
    for model in (OwnerRow, CameraRow):
        table = model.__table__  # type: ignore[attr-defined]
        db_cols = {c["name"] for c in insp.get_columns(table.name)}
        assert db_cols == {c.name for c in table.columns}, table.name
    engine.dispose()


def test_sqlite_uses_wal(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_unreachable_database_is_a_catalog_error():
    try:
        make_engine("postgresql://nobody@127.0.0.1:1/none")
    except CatalogError as exc:
        assert "unreachable" in str(exc)
    else:
        raise AssertionError("expected CatalogError")
