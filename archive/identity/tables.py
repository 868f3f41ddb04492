"""Identity tables (SQLAlchemy Core; created by migration 0004, extended by 0012 and 0014, which they must match).

Times are integer microseconds since the Unix epoch, UTC, as everywhere in the catalog.
Token secrets are never stored: ``api_token.token_hash`` is the SHA-256 of the whole token.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table
from sqlmodel import SQLModel

from archive.catalog import tables as _catalog_tables  # noqa: F401  (owner table, for the foreign key)

__all__ = ["AGENCY", "TOKEN", "USER"]

_META = SQLModel.metadata

AGENCY = Table(
    "agency",
    _META,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_us", BigInteger, nullable=False),
)

USER = Table(
    "api_user",
    _META,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("agency_id", String(64), ForeignKey("agency.id"), nullable=True),
    Column("owner_id", String(64), ForeignKey("owner.id"), nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("disabled_us", BigInteger, nullable=True),
    Column("created_by", String(64), nullable=True),  # the admin who created the user over the API
    Column("confirmed_by", String(64), nullable=True),
    Column("confirmed_us", BigInteger, nullable=True),  # NULL: pending confirmation (may do nothing)
    Column("language", String(8), nullable=True),  # the pages' language (0014); NULL: the default
)

TOKEN = Table(
    "api_token",
    _META,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(64), ForeignKey("api_user.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(200), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger, nullable=True),
    Column("issued_by", String(64), nullable=True),  # the user themself, or the server operator
    Index("ix_api_token_user", "user_id"),
)
