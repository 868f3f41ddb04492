"""The evidence of camera C over ``[lo, hi)``, read from the ledger for an export.

The entries ``[L, R)`` of every segment and gap that overlaps the range (and whatever lies
between them), from the latest ``clock`` entry logged before the first of them when there is
one (EXPORT-SPEC.md 7.2: the clock's state at the start of the range travels with it), the
range proof of ``[L, R)`` in the signed tree of size ``N >= R``, the prune entries written
after the range that delete media in it (each with an inclusion proof), and the bucket of each
segment in the range. The caller (:mod:`archive.export.gather`) verifies it
exactly as a package's verifier will.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, and_, func, select, union_all

from archive.catalog.errors import catalog_errors
from archive.errors import ConflictError, NotFoundError
from archive.integrity import Entry, InclusionProof, IntegrityError, Prune, RangeProof, inclusion_proof, range_proof
from archive.ledger import repo
from archive.model import utc_from_us

__all__ = ["LoggedEvidence", "logged_evidence"]


@dataclass(frozen=True)
class LoggedEvidence:
    """What the ledger holds for one camera's range (module docstring); ``buckets``: seq -> bucket
    of the segments among the entries; ``clock_before``: the seq of the latest clock entry before
    the range's first segment or gap entry (the first exported entry), None when the log has none."""

    first: int
    end: int
    entries: tuple[bytes, ...]
    proof: RangeProof
    prunes: tuple[tuple[bytes, InclusionProof], ...]
    buckets: Mapping[int, str]
    clock_before: int | None = None


def _clock_before(conn: Connection, origin: str, first: int) -> int | None:
    e = repo.ENTRY
    row = conn.execute(select(func.max(e.c.seq)).where(and_(e.c.log_id == origin, e.c.kind == "clock",
                                                            e.c.seq < first))).one()  # fmt: skip
    return None if row[0] is None else int(row[0])


def _window(conn: Connection, camera_id: str, lo: int, hi: int) -> tuple[int, int] | None:
    parts = [select(t.c.seq).where(and_(t.c.camera_id == camera_id, t.c.end_us > lo, t.c.start_us < hi))
             for t in (repo.SEGMENT, repo.GAP)]  # fmt: skip
    u = union_all(*parts).subquery()
    row = conn.execute(select(func.min(u.c.seq), func.max(u.c.seq))).one()
    return None if row[0] is None else (int(row[0]), int(row[1]) + 1)


def _prunes_after(conn: Connection, origin: str, first: int, end: int, size: int) -> list[tuple[bytes, InclusionProof]]:
    out = []
    src = repo.hash_source(conn, origin)
    for rec in repo.entries_of_kind(conn, origin, "prune", hi=size):
        if rec.seq < end:
            continue  # inside the range: exported with the entries
        p = Entry.decode(rec.data).payload
        if isinstance(p, Prune) and p.from_seq < end and p.to_seq > first:
            out.append((rec.data, InclusionProof(rec.seq, size, inclusion_proof(rec.seq, size, src))))
    return out


def logged_evidence(engine: Engine, origin: str, camera_id: str, lo: int, hi: int,
                    signed_size: int | None, *, to_tree_end: bool = False) -> LoggedEvidence:  # fmt: skip
    """The evidence of ``camera_id`` (log ``origin``) over ``[lo, hi)`` in the tree of the latest
    signed checkpoint, of size ``signed_size`` (None: none signed yet). ``to_tree_end``: the
    entries run on to the end of that tree (an ongoing outage: they show that no segment or gap
    follows the last one, EXPORT-SPEC.md 4.1).

    Raises:
        NotFoundError: no segment or gap of the camera overlaps the range.
        ConflictError: the entries of the range are not all signed yet.
        IntegrityError: entries are missing from the catalog.
        CatalogError.
    """
    with catalog_errors(f"cannot read the log of camera {camera_id}"), engine.connect() as conn:
        win = _window(conn, camera_id, lo, hi)
        if win is None:
            raise NotFoundError(f"camera {camera_id} has no recording or gap entry between "
                                f"{utc_from_us(lo).isoformat()} and {utc_from_us(hi).isoformat()}")  # fmt: skip
        first, end = win
        clock = _clock_before(conn, origin, first)
        first = first if clock is None else clock
        if signed_size is None or signed_size < end:
            raise ConflictError(f"camera {camera_id}: entries up to seq {end - 1} are not signed yet")
        end = signed_size if to_tree_end else end
        rows = list(repo.iter_entries(conn, origin, first, end))
        if [r.seq for r in rows] != list(range(first, end)):
            raise IntegrityError("entries are missing from the catalog", log=origin)
        proof = range_proof(first, end, signed_size, repo.hash_source(conn, origin))
        prunes = _prunes_after(conn, origin, first, end, signed_size)
        seg = repo.SEGMENT
        buckets = {int(s): str(b) for s, b in conn.execute(select(seg.c.seq, seg.c.bucket).where(and_(
            seg.c.camera_id == camera_id, seg.c.seq >= first, seg.c.seq < end))).all()}  # fmt: skip
    return LoggedEvidence(first, end, tuple(r.data for r in rows), proof, tuple(prunes), buckets, clock)
