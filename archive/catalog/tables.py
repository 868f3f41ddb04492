"""Catalog tables (sqlmodel). Times are integer microseconds since the Unix epoch, UTC.

Integers keep SQLite and PostgreSQL identical, sort correctly and avoid naive-datetime traps;
:mod:`archive.model` converts at the edge. The schema itself is owned by the Alembic
migrations in ``migrations/versions``; these classes must match them (a test checks).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel


class OwnerRow(SQLModel, table=True):
    """A camera owner."""

    __tablename__ = "owner"

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    agencies: str = Field(sa_column=Column(Text, nullable=False, default="[]"))
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_us: int = Field(sa_column=Column(BigInteger, nullable=False))


class CameraRow(SQLModel, table=True):
    """A registered camera; ``password_enc`` is AES-GCM ciphertext (see archive.secretbox)."""

    __tablename__ = "camera"
    __table_args__ = (
        Index("ix_camera_owner", "owner_id"),
        Index("ix_camera_latlon", "latitude", "longitude"),
    )

    id: str = Field(sa_column=Column(String(64), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    owner_id: str = Field(sa_column=Column(String(64), ForeignKey("owner.id"), nullable=False))
    stream_url: str = Field(sa_column=Column(Text, nullable=False))
    username: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    password_enc: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    latitude: float
    longitude: float
    location: str = Field(sa_column=Column(Text, nullable=False))
    tags: str = Field(sa_column=Column(Text, nullable=False, default="[]"))
    enabled: bool
    created_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_us: int = Field(sa_column=Column(BigInteger, nullable=False))
    removed_us: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
