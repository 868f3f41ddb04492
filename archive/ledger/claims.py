"""Writer claims: at most one writer per camera log, decided by the catalog (SQL over ``writer_claim``).

A claim is ``(camera_id, holder, epoch)``. ``holder`` names a process (host, pid, random);
``epoch`` grows by one at every change of holder and is never reused (the row is never deleted).
Times are the DATABASE clock in microseconds, so the hosts' clocks do not matter.

- :func:`take_claim`: a camera without a row gets epoch 1; the same holder renews its claim; a
  claim that expired (its holder stopped renewing, or released it) is taken over with epoch + 1
  by a compare-and-set on the old epoch; a live claim of another holder is refused.
- :func:`renew_claim`: extends the expiry while ``(holder, epoch)`` is still the row; an expired
  claim that nobody took over is simply renewed (the holder continues).
- :func:`check_claim`: run inside an append's transaction; refuses unless ``(holder, epoch)`` is
  the current row. On PostgreSQL the row is read ``FOR SHARE``, so a takeover (an UPDATE of that
  row) waits until the append committed or rolled back; on SQLite there is one writer at a time
  and a transaction that read an older snapshot cannot write (SQLITE_BUSY_SNAPSHOT).

Expiry alone never refuses an append: only a takeover does (fencing by epoch). Functions take an
open connection (the caller owns the transaction) and let SQLAlchemyError through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Select, Table, and_, bindparam, insert, literal_column, select, tuple_, update
from sqlmodel import SQLModel

from archive.errors import WriterClaimLostError, WriterHeldError
from archive.ledger import tables  # noqa: F401  (registers the tables in SQLModel.metadata)

__all__ = [
    "CLAIM",
    "ClaimRecord",
    "WriterClaim",
    "all_claims",
    "check_claim",
    "current_claim",
    "db_now_us",
    "release_claim",
    "renew_claim",
    "take_claim",
]

CLAIM: Final[Table] = SQLModel.metadata.tables["writer_claim"]
_RENEW_BATCH: Final = 500  # claims renewed by one statement

_NOW_SQL: Final = {
    "sqlite": "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
}

_CHECK: Final[Select[Any]] = select(CLAIM.c.holder, CLAIM.c.epoch).where(
    CLAIM.c.camera_id == bindparam("b_camera")
)


@dataclass(frozen=True)
class WriterClaim:
    """The right of ``holder`` to append to ``camera_id``'s log while ``epoch`` is current."""

    camera_id: str
    holder: str
    epoch: int


@dataclass(frozen=True)
class ClaimRecord:
    """A ``writer_claim`` row, with the database clock at the moment it was read."""

    claim: WriterClaim
    claimed_us: int
    renewed_us: int
    expires_us: int
    read_at_us: int

    @property
    def live(self) -> bool:
        """True while the claim has not expired (by the database clock)."""
        return self.expires_us > self.read_at_us

    @property
    def released(self) -> bool:
        """True when its holder gave it back (:func:`release_claim`) rather than stopped renewing it."""
        return self.expires_us <= self.renewed_us

    def describe(self) -> str:
        """``holder <h> (epoch <e>, expires in <n> s)`` for messages."""
        left = (self.expires_us - self.read_at_us) / 1e6
        state = f"expires in {left:.1f} s" if left > 0 else f"expired {-left:.1f} s ago"
        return f"holder {self.claim.holder} (epoch {self.claim.epoch}, {state})"


def db_now_us(conn: Connection) -> int:
    """The database's clock, microseconds since the Unix epoch."""
    expr = _NOW_SQL.get(conn.dialect.name)
    if expr is None:  # pragma: no cover - only SQLite and PostgreSQL are supported catalogs
        raise NotImplementedError(f"no database clock for {conn.dialect.name}")
    return int(conn.execute(select(literal_column(expr))).scalar_one())


def current_claim(conn: Connection, camera_id: str) -> ClaimRecord | None:
    """The camera's claim row, or None if nobody ever claimed it."""
    now = db_now_us(conn)
    row = conn.execute(select(CLAIM).where(CLAIM.c.camera_id == camera_id)).mappings().first()
    if row is None:
        return None
    return ClaimRecord(WriterClaim(camera_id, str(row["holder"]), int(row["epoch"])), int(row["claimed_us"]),
                       int(row["renewed_us"]), int(row["expires_us"]), now)  # fmt: skip


def all_claims(conn: Connection) -> list[ClaimRecord]:
    """Every camera's claim row (for the nodes' view of who holds what)."""
    now = db_now_us(conn)
    return [ClaimRecord(WriterClaim(str(r["camera_id"]), str(r["holder"]), int(r["epoch"])), int(r["claimed_us"]),
                        int(r["renewed_us"]), int(r["expires_us"]), now)
            for r in conn.execute(select(CLAIM).order_by(CLAIM.c.camera_id)).mappings()]  # fmt: skip


def take_claim(conn: Connection, camera_id: str, holder: str, ttl_us: int) -> WriterClaim:
    """Claim the camera's log for ``holder`` (see the module docstring).

    Raises:
        WriterHeldError: another holder's claim is live (the message names it), or another
            holder took the expired claim over at the same moment.
        sqlalchemy.exc.IntegrityError: another holder inserted the first row at the same moment
            (the caller retries in a new transaction, which then sees that row).
    """
    rec = current_claim(conn, camera_id)
    now = db_now_us(conn)
    if rec is None:
        conn.execute(insert(CLAIM).values(camera_id=camera_id, holder=holder, epoch=1, claimed_us=now,
                                          renewed_us=now, expires_us=now + ttl_us))  # fmt: skip
        return WriterClaim(camera_id, holder, 1)
    if rec.claim.holder == holder:
        renew_claim(conn, rec.claim, ttl_us)
        return rec.claim
    if rec.live:
        raise WriterHeldError(f"camera {camera_id} is already recorded by {rec.describe()}: one writer per camera")
    epoch = rec.claim.epoch + 1
    done = conn.execute(
        update(CLAIM)
        .where(and_(CLAIM.c.camera_id == camera_id, CLAIM.c.epoch == rec.claim.epoch, CLAIM.c.expires_us <= now))
        .values(holder=holder, epoch=epoch, claimed_us=now, renewed_us=now, expires_us=now + ttl_us)
    )
    if done.rowcount != 1:
        raise WriterHeldError(f"camera {camera_id} was claimed by another process at the same moment")
    return WriterClaim(camera_id, holder, epoch)


def renew_claim(conn: Connection, claim: WriterClaim, ttl_us: int) -> None:
    """Extend the claim's expiry to now + ``ttl_us`` (database clock).

    Raises:
        WriterClaimLostError: ``(holder, epoch)`` is no longer the camera's claim.
    """
    now = db_now_us(conn)
    done = conn.execute(
        update(CLAIM)
        .where(and_(CLAIM.c.camera_id == claim.camera_id, CLAIM.c.holder == claim.holder,
                    CLAIM.c.epoch == claim.epoch))
        .values(renewed_us=now, expires_us=now + ttl_us)
    )  # fmt: skip
    if done.rowcount != 1:
        raise WriterClaimLostError(_lost(conn, claim))


def renew_claims(conn: Connection, claims: list[WriterClaim], ttl_us: int) -> dict[str, str]:
    """Extend every claim of ``claims`` (one holder's) to now + ``ttl_us`` in one statement; returns,
    for each claim that is no longer current (another holder or a later epoch has the camera), why
    (the text :class:`WriterClaimLostError` would carry). Raises what the database raises."""
    if not claims:
        return {}
    now = db_now_us(conn)
    renewed: set[str] = set()
    for i in range(0, len(claims), _RENEW_BATCH):
        part = claims[i : i + _RENEW_BATCH]
        done = conn.execute(
            update(CLAIM)
            .where(and_(tuple_(CLAIM.c.camera_id, CLAIM.c.holder, CLAIM.c.epoch).in_(
                [(c.camera_id, c.holder, c.epoch) for c in part])))
            .values(renewed_us=now, expires_us=now + ttl_us)
            .returning(CLAIM.c.camera_id)
        )  # fmt: skip
        renewed |= {str(r[0]) for r in done}
    return {c.camera_id: _lost(conn, c) for c in claims if c.camera_id not in renewed}


def release_claim(conn: Connection, claim: WriterClaim) -> bool:
    """Let the claim expire now, so another holder may take over at once; the row (and its epoch)
    stays, with ``renewed_us = expires_us`` (:attr:`ClaimRecord.released`). Returns False if the
    claim was no longer current (nothing changed)."""
    now = db_now_us(conn)
    done = conn.execute(
        update(CLAIM)
        .where(and_(CLAIM.c.camera_id == claim.camera_id, CLAIM.c.holder == claim.holder,
                    CLAIM.c.epoch == claim.epoch))
        .values(renewed_us=now, expires_us=now)
    )  # fmt: skip
    return bool(done.rowcount == 1)


def check_claim(conn: Connection, claim: WriterClaim) -> None:
    """Inside an append's (or checkpoint's) transaction: refuse unless ``claim`` is current.

    Raises:
        WriterClaimLostError: another holder (or a later epoch) has the camera's claim.
    """
    stmt = _CHECK.with_for_update(read=True) if conn.dialect.name == "postgresql" else _CHECK
    row = conn.execute(stmt, {"b_camera": claim.camera_id}).first()
    if row is None or (str(row[0]), int(row[1])) != (claim.holder, claim.epoch):
        raise WriterClaimLostError(_lost(conn, claim))


def _lost(conn: Connection, claim: WriterClaim) -> str:
    rec = current_claim(conn, claim.camera_id)
    now_held = "nobody" if rec is None else rec.describe()
    return (f"camera {claim.camera_id}: writer claim epoch {claim.epoch} of {claim.holder} is no longer current "
            f"(now {now_held}); nothing was written")  # fmt: skip
