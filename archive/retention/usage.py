"""How full the archive is: its own stored bytes (the catalog's segment sizes) against the
configured ``[storage] capacity_bytes``.

Never a filesystem: the store's disk may hold other people's files (or other buckets), and those
must not make the archive delete evidence early (issue 13 item 8). With no capacity configured
there is no storage pressure, so no early deletion. The old filesystem setting
(``[retention] usage_path``) is refused by the configuration loader. An S3 endpoint's own quota
figures are not read (S3 has no standard call for them): set ``capacity_bytes`` to the quota.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from archive.retention.repo import live_bytes


@dataclass(frozen=True)
class Usage:
    """Bytes used of a capacity, and how that was measured."""

    used_bytes: int
    capacity_bytes: int
    source: str

    @property
    def fraction(self) -> float:
        """Used / capacity."""
        return self.used_bytes / self.capacity_bytes if self.capacity_bytes else 1.0


UsageProbe = Callable[[], Usage]


def catalog_usage(engine: Engine, capacity_bytes: int) -> UsageProbe:
    """Bytes of all unpruned segments against the configured capacity.
    The probe raises CatalogError."""

    def probe() -> Usage:
        return Usage(live_bytes(engine), capacity_bytes, "archive's stored segment bytes / [storage] capacity_bytes")

    return probe


def usage_probe(capacity_bytes: int, engine: Engine) -> UsageProbe | None:
    """The catalog's bytes against ``capacity_bytes``; None (no pressure) when it is 0. Raises nothing."""
    return catalog_usage(engine, capacity_bytes) if capacity_bytes > 0 else None
