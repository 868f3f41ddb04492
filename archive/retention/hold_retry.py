"""Placing the same legal hold twice: a retry returns the hold already placed (issue 14).

A request to place a hold is a *retry* of an active hold when it names the same case id, the same
cameras (as a set), the same range, the same expiry and is placed for the same agency or camera
owner: :meth:`HoldService.place` then returns that hold (``existing`` true) and writes nothing
(the S3 legal holds are synced again, which a retry after a failed sync needs). Another active
hold of the same agency or owner under the same case id, but over other cameras, another range
or another expiry, is refused with ConflictError (HTTP 409, CLI exit 2): one case id names one
hold of its agency; release that hold first, or give the new one its own case id. Holds of other
agencies, released or expired holds, and the holds export requests place (``reuse=False``: each
export owns its hold; recognised afterwards by the reason they carry, ``evidence export <id>:``,
the mark :mod:`archive.export.hold_guard` reads too) are never matched. The check and the insert are
atomic: :func:`lock_case` serializes the creations of one case id (two identical requests at the
same instant place one hold).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text, update

from archive.errors import ConflictError
from archive.model import utc_from_us
from archive.retention.tables import HOLD

if TYPE_CHECKING:
    from archive.retention.holds import Hold, SyncReport

__all__ = ["HoldAsked", "Placement", "lock_case", "same_hold"]

_EXPORT_HOLD = re.compile(r"^evidence export [0-9a-f]{1,32}:")


@dataclass(frozen=True)
class HoldAsked:
    """What a create request asks for (after validation)."""

    case_id: str
    cameras: tuple[str, ...]
    start_us: int
    end_us: int
    expires_us: int | None
    agency: str | None
    owner_id: str | None


@dataclass(frozen=True)
class Placement:
    """The hold a create request resulted in: ``existing`` when it was already placed (a retry)."""

    hold: Hold
    report: SyncReport | None
    existing: bool


def _when(us: int | None) -> str:
    return "indefinite" if us is None else utc_from_us(us).isoformat()


def same_hold(asked: HoldAsked, active: Sequence[Hold]) -> Hold | None:
    """The active hold ``asked`` repeats, or None when the case id is free for its agency/owner.

    Raises:
        ConflictError: an active hold of the same agency or owner has the case id with other cameras,
            range or expiry (named in the message).
    """
    for h in active:
        if h.case_id != asked.case_id or (h.agency, h.owner_id) != (asked.agency, asked.owner_id):
            continue
        if _EXPORT_HOLD.match(h.reason):
            continue  # an export's own hold
        if (set(h.cameras), h.start_us, h.end_us, h.expires_us) == (set(asked.cameras), asked.start_us, asked.end_us,
                                                                     asked.expires_us):  # fmt: skip
            return h
        raise ConflictError(
            f"case {asked.case_id} already has active legal hold {h.id} on {', '.join(h.cameras)} from "
            f"{_when(h.start_us)} to {_when(h.end_us)} (expires: {_when(h.expires_us)}); this request differs from it: "
            f"release hold {h.id} first, or give the new hold its own case id")  # fmt: skip
    return None


def lock_case(conn: Connection, case_id: str) -> None:
    """Serialize hold creations of one case id until ``conn``'s transaction ends, so the check
    "is this hold already placed" and the insert are atomic (without it two identical requests
    at the same instant both saw no hold and both inserted one). PostgreSQL: a transaction-level
    advisory lock on the case id's hash (other case ids do not wait). SQLite: a write statement
    first, which takes the database's single write lock (the reads that follow see every commit)."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"legal_hold/" + case_id.encode()).digest()[:8], "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    else:
        conn.execute(update(HOLD).where(HOLD.c.id == -1).values(case_id=HOLD.c.case_id))
