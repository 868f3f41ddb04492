"""Legal holds: cameras x time range for a case, until released (or an optional expiry).

A hold blocks deletion twice: in the catalog (the planner never selects a segment an active hold
overlaps, and the executor re-checks just before deleting) **and** in the store, as an S3 legal
hold on every covered object version. :meth:`HoldService.sync` makes the store match the active
holds: it turns the legal hold on for covered versions (also ones recorded after the hold was
created, when the range reaches into the future) and off for versions no active hold covers any
more; ``legal_hold_object`` remembers what this service turned on. Creating and releasing are
audited in the same transaction as the change; only some roles may do either.

A hold belongs to the agency (or camera owner) that placed it; who may see and release it is
decided by :mod:`archive.retention.hold_access`. *Release guards* (given by the composition
root) may refuse a release: the export service's refuses the hold of an export still in its
workflow, which only the export's refusal releases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, select, update

from archive.catalog.errors import catalog_errors
from archive.errors import (
    CatalogConflictError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ObjectMissingError,
    StorageError,
    UserError,
)
from archive.identity.model import Role
from archive.ledger.segment_rows import unpruned_overlapping
from archive.model import utc_from_us
from archive.retention.audit import SYSTEM_ROLE, HoldActor, HoldJournal
from archive.retention.hold_retry import HoldAsked, Placement, lock_case, same_hold
from archive.retention.lock import JobLock
from archive.retention.planner import HoldSpan
from archive.retention.tables import HOLD, HOLD_CAMERA, HOLD_OBJECT
from archive.storage.base import ObjectStore

log = logging.getLogger(__name__)

CREATE_ROLES = frozenset({Role.ADMIN, Role.INVESTIGATOR})
RELEASE_ROLES = frozenset({Role.ADMIN, Role.LEGAL})
_RETRIES = 5
SYNC_LOCK = "legal-hold-sync"

ReleaseGuard = Callable[["Hold"], None]
"""Called before a release; refuses it by raising (ConflictError, ForbiddenError)."""


@dataclass(frozen=True)
class Hold:
    """One legal hold as stored."""

    id: int
    case_id: str
    reason: str
    cameras: tuple[str, ...]
    start_us: int
    end_us: int
    expires_us: int | None
    created_by: str
    created_role: str
    created_us: int
    released_by: str | None = None
    released_role: str | None = None
    released_us: int | None = None
    release_reason: str | None = None
    agency: str | None = None
    """The agency that placed the hold (None: an owner placed it, or it predates migration 0010)."""
    owner_id: str | None = None
    """The camera owner that placed the hold."""

    def active(self, now_us: int) -> bool:
        """Not released and not expired at ``now_us``."""
        return self.released_us is None and (self.expires_us is None or self.expires_us > now_us)

    def spans(self) -> list[HoldSpan]:
        """The planner's view: one span per camera."""
        return [HoldSpan(self.id, c, self.start_us, self.end_us, self.expires_us) for c in self.cameras]


@dataclass(frozen=True)
class SyncReport:
    """What a sync changed in the store."""

    held_on: int = 0
    held_off: int = 0
    expired: tuple[int, ...] = ()
    missing: tuple[str, ...] = ()
    """Covered versions the store no longer has (deleted before the hold reached them)."""
    failed: tuple[str, ...] = field(default=())
    """Changes the store refused or could not do; retried at the next sync."""

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing was missing."""
        return not self.failed and not self.missing


@dataclass(frozen=True)
class _Version:
    seq: int
    bucket: str
    key: str
    version_id: str


class HoldService:
    """Create, list, release and enforce legal holds. Thread-safe."""

    def __init__(self, engine: Engine, store: ObjectStore, audit: HoldJournal, *, now_us: Callable[[], int],
                 known_camera: Callable[[str], bool] | None = None, workers: int = 8,
                 lock_wait_s: float = 60.0, release_guards: Sequence[ReleaseGuard] = ()) -> None:  # fmt: skip
        self._engine = engine
        self._lock_wait_s = lock_wait_s
        self._store = store
        self.audit = audit  # the journal, shared with the retention service (one trail per process)
        self._now_us = now_us
        self._known = known_camera
        self._workers = workers
        self._release_guards = tuple(release_guards)

    # -- reading ---------------------------------------------------------------------------
    def list_holds(self, *, include_inactive: bool = False, camera_id: str | None = None) -> list[Hold]:
        """Holds by id (active only unless ``include_inactive``), optionally of one camera."""
        now = self._now_us()
        with catalog_errors("cannot read legal holds"), self._engine.connect() as conn:
            holds = self._load(conn, camera_id=camera_id)
        return [h for h in holds if include_inactive or h.active(now)]

    def get(self, hold_id: int) -> Hold:
        """One hold. Raises NotFoundError."""
        with catalog_errors(f"cannot read legal hold {hold_id}"), self._engine.connect() as conn:
            found = self._load(conn, hold_id=hold_id)
        if not found:
            raise NotFoundError(f"legal hold {hold_id} not found")
        return found[0]

    def active_spans(self) -> list[HoldSpan]:
        """Spans of every unreleased hold (the planner applies expiry at its ``now``)."""
        with catalog_errors("cannot read legal holds"), self._engine.connect() as conn:
            holds = self._load(conn, unreleased=True)
        return [s for h in holds for s in h.spans()]

    def spans_for(self, camera_id: str) -> list[HoldSpan]:
        """Spans of the unreleased holds of one camera (read fresh: the executor's last check)."""
        with catalog_errors(f"cannot read legal holds of {camera_id}"), self._engine.connect() as conn:
            holds = self._load(conn, camera_id=camera_id, unreleased=True)
        return [s for h in holds for s in h.spans() if s.camera_id == camera_id]

    def _load(self, conn: Connection, *, hold_id: int | None = None, camera_id: str | None = None,
              unreleased: bool = False, case_id: str | None = None) -> list[Hold]:  # fmt: skip
        stmt = select(HOLD).order_by(HOLD.c.id)
        if case_id is not None:
            stmt = stmt.where(HOLD.c.case_id == case_id)
        if hold_id is not None:
            stmt = stmt.where(HOLD.c.id == hold_id)
        if unreleased:
            stmt = stmt.where(HOLD.c.released_us.is_(None))
        if camera_id is not None:
            stmt = stmt.where(HOLD.c.id.in_(select(HOLD_CAMERA.c.hold_id).where(HOLD_CAMERA.c.camera_id == camera_id)))
        rows = conn.execute(stmt).mappings().all()
        cams: dict[int, list[str]] = {}
        ids = [r["id"] for r in rows]
        if ids:
            q = select(HOLD_CAMERA).where(HOLD_CAMERA.c.hold_id.in_(ids)).order_by(HOLD_CAMERA.c.camera_id)
            for c in conn.execute(q).mappings():
                cams.setdefault(c["hold_id"], []).append(c["camera_id"])
        return [Hold(cameras=tuple(cams.get(r["id"], [])), **dict(r)) for r in rows]

    # -- changing --------------------------------------------------------------------------
    def _tx(self, what: str, fn: Callable[[Connection], int]) -> int:
        for _ in range(_RETRIES):
            try:
                with catalog_errors(what):
                    with self._engine.begin() as conn:
                        done = fn(conn)
                    self.audit.committed()  # the change and its record committed together: seal, then answer
                    return done
            except CatalogConflictError:
                continue  # lost an audit-sequence race: retry the whole change
        raise ConflictError(f"{what}: too many concurrent changes, try again")

    def create(self, actor: HoldActor, *, case_id: str, reason: str, cameras: Sequence[str], start_us: int, end_us: int,
               expires_us: int | None = None, apply: bool = True, agency: str | None = None,
               owner_id: str | None = None, reuse: bool = True) -> tuple[Hold, SyncReport | None]:  # fmt: skip
        """:meth:`place`, returning the hold and the sync report."""
        done = self.place(actor, case_id=case_id, reason=reason, cameras=cameras, start_us=start_us, end_us=end_us,
                          expires_us=expires_us, apply=apply, agency=agency, owner_id=owner_id,
                          reuse=reuse)  # fmt: skip
        return done.hold, done.report

    def place(self, actor: HoldActor, *, case_id: str, reason: str, cameras: Sequence[str], start_us: int, end_us: int,
              expires_us: int | None = None, apply: bool = True, agency: str | None = None,
              owner_id: str | None = None, reuse: bool = True) -> Placement:  # fmt: skip
        """Create a hold (catalog + audit, one transaction), then put the S3 legal hold on every
        covered version (``apply``). ``agency`` (or ``owner_id``): whom the hold belongs to
        (:mod:`archive.retention.hold_access`). With ``reuse``, a retry of an active hold returns
        it (``existing``) and writes nothing (:mod:`archive.retention.hold_retry`).

        Raises:
            ForbiddenError: the role may not create holds (only admin, investigator).
            UserError / NotFoundError: bad case, reason, range, expiry, or an unknown camera.
            ConflictError: (``reuse``) another active hold of the agency/owner has this case id.
            CatalogError: nothing was written. StorageError is not raised: see the report.
        """
        if actor.role not in CREATE_ROLES:
            raise ForbiddenError(f"role {actor.role_name} may not create legal holds (admin, investigator may)")
        now = self._now_us()
        cams = tuple(dict.fromkeys(c.strip() for c in cameras if c.strip()))
        case_id, reason = case_id.strip(), reason.strip()
        if not case_id or len(case_id) > 128:
            raise UserError("a legal hold needs a case id of 1 to 128 characters")
        if not reason:
            raise UserError("a legal hold needs a reason")
        if not cams:
            raise UserError("a legal hold needs at least one camera")
        if end_us <= start_us:
            raise UserError("a legal hold's range must end after it starts")
        if expires_us is not None and expires_us <= now:
            raise UserError("a legal hold's expiry must be in the future (omit it for an indefinite hold)")
        unknown = [c for c in cams if self._known is not None and not self._known(c)]
        if unknown:
            raise NotFoundError(f"unknown camera(s): {', '.join(unknown)}")

        asked = HoldAsked(case_id, cams, start_us, end_us, expires_us, agency, owner_id)
        found: list[Hold] = []

        def write(conn: Connection) -> int:
            found.clear()
            lock_case(conn, case_id) if reuse else None  # identical requests at once: the 2nd waits, finds the 1st
            same = same_hold(asked, [h for h in self._load(conn, case_id=case_id, unreleased=True)
                                     if h.active(now)]) if reuse else None  # fmt: skip
            if same is not None:
                found.append(same)
                return same.id  # a retry: nothing written
            res = conn.execute(insert(HOLD).values(
                case_id=case_id, reason=reason, start_us=start_us, end_us=end_us, expires_us=expires_us,
                created_by=actor.name, created_role=actor.role_name, created_us=now, agency=agency,
                owner_id=owner_id))  # fmt: skip
            pk = res.inserted_primary_key
            hid = int(pk[0]) if pk is not None else 0
            conn.execute(insert(HOLD_CAMERA), [{"hold_id": hid, "camera_id": c} for c in cams])
            self.audit.append(actor, "hold.create", f"hold {hid} case {case_id}", {
                "cameras": list(cams), "start": _iso(start_us), "end": _iso(end_us),
                "expires": _iso(expires_us) if expires_us is not None else "indefinite", "reason": reason,
                "agency": agency, "owner": owner_id}, conn=conn)
            return hid

        hold = self.get(self._tx("cannot create the legal hold", write))
        return Placement(hold, self.sync(hold.cameras) if apply else None, existing=bool(found))

    def release(self, actor: HoldActor, hold_id: int, reason: str, *,
                apply: bool = True) -> tuple[Hold, SyncReport | None]:  # fmt: skip
        """Release a hold (catalog + audit, one transaction), then lift the S3 legal hold from
        versions no other active hold covers (``apply``).

        Raises:
            ForbiddenError: the role may not release holds (only admin, legal), or a release guard refused.
            NotFoundError: no such hold. ConflictError: already released or expired, or a
                release guard refused (e.g. the hold of an export still in its workflow).
            UserError: no reason given. CatalogError.
        """
        if actor.role not in RELEASE_ROLES:
            raise ForbiddenError(f"role {actor.role_name} may not release legal holds (admin, legal may)")
        if not reason.strip():
            raise UserError("releasing a legal hold needs a reason")
        hold = self.get(hold_id)
        now = self._now_us()
        if not hold.active(now):
            raise ConflictError(f"legal hold {hold_id} is not active (released or expired)")
        for guard in self._release_guards:
            guard(hold)

        def write(conn: Connection) -> int:
            done = conn.execute(update(HOLD).where(and_(HOLD.c.id == hold_id, HOLD.c.released_us.is_(None))).values(
                released_by=actor.name, released_role=actor.role_name, released_us=now, release_reason=reason.strip()))
            if done.rowcount != 1:
                raise ConflictError(f"legal hold {hold_id} was released concurrently")
            self.audit.append(actor, "hold.release", f"hold {hold_id} case {hold.case_id}",
                               {"cameras": list(hold.cameras), "reason": reason.strip()}, conn=conn)  # fmt: skip
            return hold_id

        self._tx("cannot release the legal hold", write)
        return self.get(hold_id), (self.sync(hold.cameras) if apply else None)

    def expire(self) -> list[int]:
        """Mark holds whose expiry passed as released by the system (audited). Returns their ids."""
        now = self._now_us()
        due = [h for h in self.list_holds(include_inactive=True) if h.released_us is None and not h.active(now)]
        for h in due:
            def write(conn: Connection, h: Hold = h) -> int:
                conn.execute(update(HOLD).where(and_(HOLD.c.id == h.id, HOLD.c.released_us.is_(None))).values(
                    released_by="system", released_role=SYSTEM_ROLE, released_us=now,
                    release_reason="expired"))
                self.audit.append(HoldActor("system", None), "hold.expire", f"hold {h.id} case {h.case_id}",
                                   {"cameras": list(h.cameras), "expires": _iso(h.expires_us or now)}, conn=conn)
                return h.id
            self._tx("cannot expire a legal hold", write)
        return [h.id for h in due]

    # -- enforcing in the store ------------------------------------------------------------
    def sync(self, cameras: Iterable[str] | None = None) -> SyncReport:
        """Expire due holds, then make the S3 legal holds of ``cameras`` (default: every camera
        with a hold or a held version) match the active holds. Syncs are serialized across
        processes by the ``legal-hold-sync`` lease (waiting up to ``lock_wait_s``).

        Raises:
            ConflictError: another sync kept the lease too long. CatalogError.
        """
        lock = JobLock(self._engine, SYNC_LOCK, 300, now_us=self._now_us)
        with lock.held(wait_s=self._lock_wait_s):  # renewed while a large hold is being applied
            return self._sync(cameras)

    def _sync(self, cameras: Iterable[str] | None) -> SyncReport:
        expired = tuple(self.expire())
        now = self._now_us()
        holds = [h for h in self.list_holds() if h.active(now)]
        with catalog_errors("cannot read held objects"), self._engine.connect() as conn:
            held_cams = {str(r[0]) for r in conn.execute(select(HOLD_OBJECT.c.camera_id).distinct())}
        targets = sorted(set(cameras) if cameras is not None else held_cams | {c for h in holds for c in h.cameras})
        on = off = 0
        missing: list[str] = []
        failed: list[str] = []
        with ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="legal-hold") as pool:
            for cam in targets:
                spans = [s for h in holds for s in h.spans() if s.camera_id == cam]
                n_on, n_off, miss, fail = self._sync_camera(cam, spans, pool)
                on, off = on + n_on, off + n_off
                missing += miss
                failed += fail
        if missing or failed:
            log.error("legal hold sync: %d missing, %d failed", len(missing), len(failed))
        return SyncReport(on, off, expired, tuple(missing), tuple(failed))

    def _sync_camera(self, cam: str, spans: list[HoldSpan],
                     pool: ThreadPoolExecutor) -> tuple[int, int, list[str], list[str]]:  # fmt: skip
        with catalog_errors(f"cannot read held versions of {cam}"), self._engine.connect() as conn:
            desired = {r.seq: _Version(r.seq, r.bucket, r.object_key, r.version_id)
                       for r in unpruned_overlapping(conn, cam, [(s.start_us, s.end_us) for s in spans])}
            q2 = select(HOLD_OBJECT.c.seq, HOLD_OBJECT.c.bucket, HOLD_OBJECT.c.object_key,
                        HOLD_OBJECT.c.version_id).where(HOLD_OBJECT.c.camera_id == cam)  # fmt: skip
            current = {int(r[0]): _Version(int(r[0]), r[1], r[2], r[3]) for r in conn.execute(q2)}
        to_on = [v for s, v in desired.items() if s not in current]
        to_off = [v for s, v in current.items() if s not in desired]

        def change(v: _Version, on: bool) -> tuple[_Version, str | None]:
            try:
                self._store.set_legal_hold(v.bucket, v.key, v.version_id, on)
            except ObjectMissingError:
                return v, ("missing" if on else None)  # lifting the hold of a deleted version: done
            except StorageError as exc:
                return v, f"error: {exc}"
            return v, None

        done_on: list[_Version] = []
        done_off: list[_Version] = []
        missing: list[str] = []
        failed: list[str] = []
        for v, err in pool.map(lambda v: change(v, True), to_on):
            if err is None:
                done_on.append(v)
            elif err == "missing":
                missing.append(f"{cam} seq {v.seq}: {v.bucket}/{v.key} version {v.version_id} is gone")
            else:
                failed.append(f"{cam} seq {v.seq}: legal hold on: {err}")
        for v, err in pool.map(lambda v: change(v, False), to_off):
            if err is None:
                done_off.append(v)
            else:
                failed.append(f"{cam} seq {v.seq}: legal hold off: {err}")
        self._record(cam, done_on, done_off)
        return len(done_on), len(done_off), missing, failed

    def _record(self, cam: str, on: list[_Version], off: list[_Version]) -> None:
        if not on and not off:
            return
        now = self._now_us()
        rows: list[dict[str, Any]] = [{"camera_id": cam, "seq": v.seq, "bucket": v.bucket, "object_key": v.key,
                                       "version_id": v.version_id, "applied_us": now} for v in on]  # fmt: skip
        with catalog_errors(f"cannot record held versions of {cam}"), self._engine.begin() as conn:
            if rows:
                conn.execute(insert(HOLD_OBJECT), rows)
            for i in range(0, len(off), 500):
                seqs = [v.seq for v in off[i:i + 500]]
                gone = and_(HOLD_OBJECT.c.camera_id == cam, HOLD_OBJECT.c.seq.in_(seqs))
                conn.execute(delete(HOLD_OBJECT).where(gone))


def _iso(us: int) -> str:
    return utc_from_us(us).isoformat().replace("+00:00", "Z")
