"""The one catalog error seam (archive.catalog.errors), on SQLite and PostgreSQL: each SQLAlchemy
error class maps to its archive error, ``raise ... from``, with the message ``"<what>: <detail>"``."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, insert, text
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from archive.catalog.db import make_engine
from archive.catalog.errors import catalog_errors
from archive.errors import CatalogConflictError, CatalogError, CatalogUnavailableError

_META = MetaData()
_T = Table("seam_probe", _META, Column("id", Integer, primary_key=True), Column("secret", Text))


@pytest.fixture
def engine(catalog_url):
    eng = make_engine(catalog_url)
    _META.create_all(eng)
    yield eng
    eng.dispose()


def test_constraint_is_a_conflict(engine):
    with engine.begin() as conn:
        conn.execute(insert(_T).values(id=1))
    with (pytest.raises(CatalogConflictError, match=r"^cannot store probe 1: ") as got,
          catalog_errors("cannot store probe 1"), engine.begin() as conn):
        conn.execute(insert(_T).values(id=1))
    assert isinstance(got.value, CatalogError)
    assert isinstance(got.value.__cause__, IntegrityError)


def test_a_bound_value_never_reaches_the_error_text(engine):
    """A statement's parameters (a token hash, an encrypted key) are not part of the message."""
    with engine.begin() as conn:
        conn.execute(insert(_T).values(id=7, secret="first"))
    with pytest.raises(CatalogConflictError) as got, catalog_errors("cannot store probe 7"), engine.begin() as conn:
        conn.execute(insert(_T).values(id=7, secret="S3CRET-bound-value"))
    assert "S3CRET" not in str(got.value) and "S3CRET" not in str(got.value.__cause__)


def test_locked_database_is_unavailable(engine, catalog_url):
    """A write waiting on another transaction's lock gives up: busy, not a plain failure."""
    if engine.dialect.name == "sqlite":
        waiter = create_engine(catalog_url, connect_args={"timeout": 0.05})
        hold, wait = "BEGIN IMMEDIATE", "INSERT INTO seam_probe (id) VALUES (2)"
    else:
        waiter = create_engine(catalog_url)
        hold, wait = "LOCK TABLE seam_probe IN ACCESS EXCLUSIVE MODE", "INSERT INTO seam_probe (id) VALUES (2)"
    holder = engine.raw_connection()
    try:
        cur = holder.cursor()
        if engine.dialect.name != "sqlite":
            cur.execute("BEGIN")
        cur.execute(hold)
        with (pytest.raises(CatalogUnavailableError, match=r"^cannot store probe 2: ") as got,
              catalog_errors("cannot store probe 2"), waiter.begin() as conn):
            if waiter.dialect.name != "sqlite":
                conn.execute(text("SET LOCAL lock_timeout = '50ms'"))
            conn.execute(text(wait))
        assert isinstance(got.value.__cause__, OperationalError)
    finally:
        holder.rollback()
        holder.close()
        waiter.dispose()


def test_unreachable_database_is_unavailable(catalog_url, tmp_path: Path):
    if catalog_url.startswith("sqlite"):
        url = f"sqlite:///file:{tmp_path / 'missing' / 'c.sqlite3'}?mode=ro&uri=true"
    else:
        url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    eng = create_engine(url)
    with (pytest.raises(CatalogUnavailableError, match=r"^cannot read probes: ") as got,
          catalog_errors("cannot read probes"), eng.connect() as conn):
        conn.execute(text("SELECT 1"))
    assert isinstance(got.value.__cause__, SQLAlchemyError)
    eng.dispose()


def test_make_engine_unreachable_is_unavailable():
    with pytest.raises(CatalogUnavailableError, match="catalog database unreachable"):
        make_engine("postgresql://nobody@127.0.0.1:1/none")


def test_other_errors_are_plain_catalog_errors(engine):
    with pytest.raises(CatalogError) as got, catalog_errors("cannot read probes", "class"), engine.connect() as conn:
        conn.execute(text("SELECT nothing FROM no_such_table"))
    assert type(got.value) is CatalogError
    assert re.fullmatch(r"cannot read probes: (OperationalError|ProgrammingError)", str(got.value))
    assert isinstance(got.value.__cause__, SQLAlchemyError)


def test_decorator_form_translates(engine):
    @catalog_errors("cannot count probes")
    def count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM no_such_table")).scalar_one())

    with pytest.raises(CatalogError, match=r"^cannot count probes: "):
        count()


def test_errors_in_a_thread_are_translated_too(engine):
    """The seam holds no state: concurrent blocks translate independently."""
    seen: list[type[BaseException]] = []

    def dup() -> None:
        try:
            with catalog_errors("dup"), engine.begin() as conn:
                conn.execute(insert(_T).values(id=7))
        except CatalogError as exc:
            seen.append(type(exc))

    with engine.begin() as conn:
        conn.execute(insert(_T).values(id=7))
    threads = [threading.Thread(target=dup) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [CatalogConflictError] * 3


def test_the_seam_is_the_only_translation():
    """Issue 12 item 5: no module but the seam catches SQLAlchemy errors."""
    root = Path(__file__).resolve().parents[2] / "archive"
    pattern = re.compile(r"except\s*\(?[^:\n]*"
                         r"(SQLAlchemyError|DbIntegrityError|OperationalError|sa\.exc\.|exc\.IntegrityError)")
    found = [f"{p.relative_to(root)}:{n}" for p in sorted(root.rglob("*.py")) if p != root / "catalog" / "errors.py"
             for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]  # fmt: skip
    assert found == []
