"""The export workflow: request (with an immediate legal hold), decisions by the owners' rules,
viewing, downloading and the custody log. Building is in :mod:`archive.export.building`.

A refused export releases the legal hold its request placed (and only that one: other holds
over the same cameras and range stay, and so do the S3 legal holds they need): audited in the
hold audit log (``hold.release``) and as the custody event ``hold_released``. If releasing
fails, the refusal stands and :meth:`ExportService.release_refused_holds` (run by the build
runner when idle) retries.

Implements :class:`archive.api.ports.ExportsPort`. Who sees an export: administrators and
auditors all; investigators and legal staff those requested by their agency; owner staff
those that include their owner's cameras. An export one may not see is reported as not found.
"""

from __future__ import annotations

import builtins
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from archive.catalog.errors import catalog_errors
from archive.catalog.registry import RegistryRepository
from archive.errors import (
    ERRORS,
    CatalogConflictError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Problem,
    ValidationError,
)
from archive.export import repo
from archive.export.approval import decidable, overall, rule_for, who_decides
from archive.export.coverage import require_covered
from archive.export.custody_log import CustodyLog
from archive.export.model import SYSTEM, Actor, ExportRecord, ExportSettings, ExportStatus, OwnerApproval
from archive.export.views import ExportFile, ExportRequest, ExportView
from archive.identity.model import Principal, Role
from archive.identity.policy import CameraScope, Permission, camera_scope, require
from archive.integrity import format_time
from archive.model import utc_from_us
from archive.retention.audit import HoldActor
from archive.retention.holds import CREATE_ROLES, RELEASE_ROLES, HoldService
from archive.retention.policy import ExportApproval, PolicySet

__all__ = ["ExportService"]

log = logging.getLogger(__name__)
_ROLES = {r.value: r for r in Role}
"""The user roles by their recorded names (an actor may also be ``system``, which is none of them)."""
POLICY_ACTOR = Actor("policy", "approval by the owner's policy file", "system", None, None, "archive")


def _now_us() -> int:
    return time.time_ns() // 1000


def _iso(us: int) -> str:
    return format_time(utc_from_us(us))


class ExportService:
    """Requests, decisions, views, downloads and custody of exports. Thread-safe.

    ``on_approved(export_id)`` is called after an export became approved (e.g. to queue its
    build). Every method raises CatalogError when the catalog fails.
    """

    def __init__(self, *, engine: Engine, registry: RegistryRepository, holds: HoldService, custody: CustodyLog,
                 policies: Callable[[], PolicySet | None], settings: ExportSettings,
                 on_approved: Callable[[str], None] | None = None,
                 now_us: Callable[[], int] = _now_us) -> None:  # fmt: skip
        self._engine = engine
        self._registry = registry
        self.engine = engine
        self.registry = registry
        self._holds = holds
        self.custody = custody
        self._policies = policies
        self.settings = settings
        self.on_approved = on_approved
        self._now_us = now_us

    # -- reading -------------------------------------------------------------------------
    def record(self, export_id: str) -> ExportRecord:
        """One export (no access check). Raises NotFoundError."""
        with catalog_errors(f"cannot read export {export_id[:40]!r}"), self._engine.connect() as conn:
            rec = repo.load(conn, export_id)
        if rec is None:
            raise NotFoundError(f"export {export_id[:40]!r} not found")
        return rec

    def records(self, status: Sequence[ExportStatus] = ()) -> list[ExportRecord]:
        """Every export (no access check), newest first."""
        with catalog_errors("cannot list exports"), self._engine.connect() as conn:
            return repo.load_all(conn, status=status)

    @staticmethod
    def sees(who: Principal, rec: ExportRecord) -> bool:
        """True when ``who`` may see ``rec`` (module docstring)."""
        if who.role in (Role.ADMIN, Role.AUDITOR):
            return True
        if who.role is Role.OWNER:
            return who.owner_id is not None and who.owner_id in rec.owner_ids
        return who.agency is not None and who.agency == rec.requested_agency

    def visible(self, who: Principal, export_id: str) -> ExportRecord:
        """The export if ``who`` may see it. Raises NotFoundError (also when not allowed)."""
        rec = self.record(export_id)
        if not self.sees(who, rec):
            raise NotFoundError(f"export {export_id[:40]!r} not found")
        return rec

    def list(self, who: Principal, scope: CameraScope) -> list[ExportView]:
        """Exports ``who`` may see, newest first."""
        require(who, Permission.EXPORTS_READ)
        return [r.view(who.only_owner) for r in self.records() if self.sees(who, r)]

    def get(self, who: Principal, scope: CameraScope, export_id: str) -> ExportView:
        """One export. Raises NotFoundError."""
        require(who, Permission.EXPORTS_READ)
        return self.visible(who, export_id).view(who.only_owner)

    def custody_lines(self, who: Principal, export_id: str) -> builtins.list[bytes]:
        """The whole custody log (package events and later). Raises NotFoundError; ForbiddenError to
        owner staff when it also covers other owners' cameras (it names them; signed lines stay whole)."""
        require(who, Permission.EXPORTS_READ)
        rec = self.visible(who, export_id)
        if who.only_owner is not None and rec.owner_ids - {who.owner_id}:
            raise ForbiddenError(f"the custody log of export {export_id} names cameras of other owners: owner staff "
                                 "do not read it (an auditor or the requesting agency can give it)")  # fmt: skip
        return self.custody.lines(export_id)

    # -- requesting ------------------------------------------------------------------------
    def _validate(self, req: ExportRequest, scope: CameraScope) -> dict[str, str]:
        problems: list[Problem] = []
        cams = list(dict.fromkeys(c.strip() for c in req.cameras if c.strip()))
        if not 1 <= len(req.case_id.strip()) <= 128:
            problems.append(Problem("case_id", "give a case number of 1 to 128 characters"))
        if not req.legal_basis.strip() or len(req.legal_basis) > 2000:
            problems.append(Problem("legal_basis", "give the legal basis (at most 2000 characters)"))
        if not req.reason.strip() or len(req.reason) > 2000:
            problems.append(Problem("reason", "give a reason (at most 2000 characters)"))
        if not 1 <= len(cams) <= self.settings.max_cameras:
            problems.append(Problem("cameras", f"name 1 to {self.settings.max_cameras} cameras"))
        if req.end_us <= req.start_us:
            problems.append(Problem("end", "the range must end after it starts"))
        elif req.end_us - req.start_us > self.settings.max_range_us:
            problems.append(Problem("end", f"one export may span at most {self.settings.max_range_us / 3.6e9:g} hours"))
        if req.start_us >= self._now_us():
            problems.append(Problem("start", "the range must start in the past"))
        if problems:
            raise ValidationError(problems)
        known = {c.id: c.owner_id for c in self._registry.cameras()}
        missing = [c for c in cams if c not in known or not scope.sees(known[c])]
        if missing:
            raise NotFoundError(f"camera(s) not found: {', '.join(repr(m[:64]) for m in missing[:5])}")
        require_covered(self._engine, cams, req.start_us, req.end_us, self._now_us(), self._when)
        return {c: known[c] for c in cams}

    def _when(self, us: int) -> str:
        """A time in the display zone and in UTC, for messages."""
        return f"{self.settings.local_us(us)} = {_iso(us)}"

    @staticmethod
    def _hold_actor(user: str, role_name: str, allowed: frozenset[Role]) -> HoldActor:
        """``user`` in ``role_name`` if that role may act on holds itself; otherwise (another role,
        or the export service itself, role ``system``) the export service on their behalf."""
        role = _ROLES.get(role_name)
        if role is not None and role in allowed:
            return HoldActor(user, role)
        return HoldActor(f"export-service on behalf of {user} ({role_name})", Role.ADMIN)

    def request(self, who: Principal, scope: CameraScope, req: ExportRequest, *, origin: str = "api") -> ExportView:
        """Create a request: validate, place the legal hold on cameras x range at once, store the
        export with its approval groups (``policy`` groups are approved now) and custody events.

        Raises:
            ForbiddenError: the role may not request exports (investigator, legal may).
            ValidationError: bad case, legal basis, reason, cameras or range.
            NotFoundError: a camera that does not exist or that ``who`` does not see.
        """
        require(who, Permission.EXPORTS_REQUEST)
        cams = self._validate(req, scope)
        kinds = {o.id: o.kind for o in self._registry.owners()}
        policies = self._policies()
        rules = {o: rule_for(o, kinds.get(o), policies) for o in sorted(set(cams.values()))}
        export_id = uuid.uuid4().hex[:16]
        case_id = req.case_id.strip()
        hold, _sync = self._holds.create(self._hold_actor(who.user_id, who.role.value, CREATE_ROLES), case_id=case_id,
                                         reason=f"evidence export {export_id}: {req.reason.strip()}",
                                         cameras=list(cams), start_us=req.start_us, end_us=req.end_us,
                                         agency=who.agency, owner_id=who.owner_id, reuse=False)  # fmt: skip
        actor, now = Actor.of(who, origin), self._now_us()
        auto = [OwnerApproval(o, r, "approved", POLICY_ACTOR.user, POLICY_ACTOR.name, POLICY_ACTOR.role, now,
                              f"{o}'s policy: export_approval = policy", "archive")
                for o, r in rules.items() if r is ExportApproval.POLICY]  # fmt: skip
        status = overall([*auto, *(OwnerApproval(o, r) for o, r in rules.items() if r is not ExportApproval.POLICY)])
        detail: dict[str, Any] = {
            "case": case_id,
            "legal_basis": req.legal_basis.strip(),
            "reason": req.reason.strip(),
            "cameras": list(cams),
            "start": _iso(req.start_us),
            "end": _iso(req.end_us),
            "legal_hold": hold.id,
            "approval_rules": {o: r.value for o, r in rules.items()},
        }
        events: list[tuple[str, Actor, dict[str, Any]]] = [("requested", actor, detail)]
        events += [("approved", POLICY_ACTOR, {"owner": a.owner_id, "rule": a.rule.value, "reason": a.reason})
                   for a in auto]  # fmt: skip
        failed = f"cannot store the export request (legal hold {hold.id} stays in force)"
        with catalog_errors(failed), self._engine.begin() as conn:
            repo.insert_request(conn, {
                "id": export_id, "case_id": case_id, "legal_basis": req.legal_basis.strip(),
                "reason": req.reason.strip(), "start_us": req.start_us, "end_us": req.end_us,
                "status": status.value, "requested_by": who.user_id, "requested_name": who.name,
                "requested_role": who.role.value, "requested_agency": who.agency, "requested_us": now,
                "hold_id": hold.id, "progress_done": 0, "progress_total": 0, "updated_us": now,
            }, [(c, o, rules[o].value) for c, o in cams.items()])  # fmt: skip
            for a in auto:
                repo.insert_decision(conn, export_id, a)
            for event, by, d in events:
                self.custody.append(conn, export_id, event, by, d)
        self.custody.committed()
        if status is ExportStatus.APPROVED and self.on_approved is not None:
            self.on_approved(export_id)
        return self.record(export_id).view(who.only_owner)

    # -- deciding --------------------------------------------------------------------------
    def decide(self, who: Principal, scope: CameraScope, export_id: str, approve: bool, reason: str, *,
               origin: str = "api") -> ExportView:  # fmt: skip
        """Approve or refuse every pending owner group of the export that ``who`` may decide.

        Raises:
            ForbiddenError: the role may not decide, or none of the pending groups is theirs.
            NotFoundError: unknown or not visible. ConflictError: not awaiting decisions.
            ValidationError: a refusal without a reason.
        """
        require(who, Permission.EXPORTS_DECIDE)
        rec = self.visible(who, export_id)
        if rec.status is not ExportStatus.REQUESTED:
            raise ConflictError(f"export {export_id} is {rec.status.value}, not awaiting decisions")
        mine = decidable(who, rec.approvals)
        if not mine:
            waiting = "; ".join(who_decides(a) for a in rec.approvals if a.pending)
            raise ForbiddenError(f"export {export_id} awaits a decision by {waiting}, not by {who.user_id}")
        if not approve and not reason.strip():
            raise ValidationError([Problem("reason", "a refusal needs a reason")])
        decision = "approved" if approve else "refused"
        actor, now = Actor.of(who, origin), self._now_us()
        made = [OwnerApproval(a.owner_id, a.rule, decision, who.user_id, who.name, who.role.value, now,
                              reason.strip(), origin) for a in mine]  # fmt: skip
        others = [a for a in rec.approvals if a.owner_id not in {m.owner_id for m in made}]
        status = overall([*others, *made])
        detail = {"owners": [m.owner_id for m in made], "rules": sorted({m.rule.value for m in made}),
                  "reason": reason.strip(), "status": status.value}  # fmt: skip

        def write(conn: Any) -> None:
            for m in made:
                repo.insert_decision(conn, export_id, m)
            if not repo.set_fields(conn, export_id, expect=[ExportStatus.REQUESTED], status=status.value,
                                   updated_us=now):  # fmt: skip
                raise ConflictError(f"export {export_id} was decided concurrently")

        try:
            self.custody.record(export_id, decision, actor, detail, also=write)
        except (CatalogConflictError, ConflictError) as exc:
            raise ConflictError(f"export {export_id} was decided concurrently: {exc}") from exc
        if status is ExportStatus.APPROVED and self.on_approved is not None:
            self.on_approved(export_id)
        if status is ExportStatus.REFUSED:
            try:
                self.release_hold(export_id, actor, f"export {export_id} refused by {who.user_id}: {reason.strip()}")
            except ERRORS as exc:  # the refusal stands; release_refused_holds retries
                log.error("export %s refused, but its legal hold %s was not released: %s", export_id, rec.hold_id, exc)
        return self.record(export_id).view(who.only_owner)

    # -- withdrawing -------------------------------------------------------------------------
    WITHDRAWABLE = (ExportStatus.REQUESTED, ExportStatus.APPROVED, ExportStatus.FAILED)

    def withdraw(self, who: Principal, export_id: str, reason: str, *, origin: str = "api") -> ExportView:
        """The requesting agency withdraws its request (requested, approved or failed, not while
        building or once built): status ``withdrawn``, custody event ``withdrawn``, and the legal
        hold the request placed is released (:meth:`release_hold`; a failed release is retried by
        :meth:`release_refused_holds`).

        Raises:
            ForbiddenError: the role may not request exports, or ``who`` is not of the requesting agency.
            NotFoundError: unknown or not visible. ConflictError: not withdrawable now.
            ValidationError: no reason.
        """
        require(who, Permission.EXPORTS_REQUEST)
        rec = self.visible(who, export_id)
        if who.agency is None or who.agency != rec.requested_agency:
            raise ForbiddenError(f"only the requesting agency ({rec.requested_agency}) withdraws export {export_id}")
        if rec.status not in self.WITHDRAWABLE:
            raise ConflictError(f"export {export_id} is {rec.status.value}: only a requested, approved or failed "
                                "export is withdrawn")  # fmt: skip
        if not reason.strip():
            raise ValidationError([Problem("reason", "a withdrawal needs a reason")])
        actor, now = Actor.of(who, origin), self._now_us()

        def write(conn: Any) -> None:
            if not repo.set_fields(conn, export_id, expect=list(self.WITHDRAWABLE),
                                   status=ExportStatus.WITHDRAWN.value, updated_us=now):  # fmt: skip
                raise ConflictError(f"export {export_id} changed concurrently; look again")

        self.custody.record(export_id, "withdrawn", actor, {"reason": reason.strip(), "was": rec.status.value},
                            also=write)  # fmt: skip
        try:
            self.release_hold(export_id, actor, f"export {export_id} withdrawn by {who.user_id}: {reason.strip()}")
        except ERRORS as exc:  # the withdrawal stands; release_refused_holds retries
            log.error("export %s withdrawn, but its legal hold %s was not released: %s", export_id, rec.hold_id, exc)
        return self.record(export_id).view(who.only_owner)

    # -- releasing the hold of a refused export --------------------------------------------
    def release_hold(self, export_id: str, actor: Actor, reason: str) -> bool:
        """Release the legal hold the request of refused export ``export_id`` placed; returns
        False when there is nothing to release (no hold, or it is no longer active). Holds not
        placed by this export are never released (checked on the hold's recorded reason).

        Raises:
            ConflictError: the export is not refused, or the hold was not placed by it.
            NotFoundError: unknown export or hold. CatalogError.
        """
        rec = self.record(export_id)
        if rec.status not in (ExportStatus.REFUSED, ExportStatus.WITHDRAWN):
            raise ConflictError(f"export {export_id} is {rec.status.value}: only a refused export's (or a withdrawn "
                                "one's) hold is released")  # fmt: skip
        if rec.hold_id is None:
            return False
        hold = self._holds.get(rec.hold_id)
        if not hold.reason.startswith(f"evidence export {export_id}:"):
            raise ConflictError(f"legal hold {hold.id} was not placed by export {export_id}; it is not released")
        if not hold.active(self._now_us()):
            return False
        who = self._hold_actor(actor.user, actor.role, RELEASE_ROLES)
        released, sync = self._holds.release(who, hold.id, reason)
        detail: dict[str, Any] = {"legal_hold": hold.id, "case": hold.case_id, "cameras": list(hold.cameras),
                                  "reason": reason, "released_by": who.name}  # fmt: skip
        if sync is not None:
            detail |= {"store_holds_lifted": sync.held_off, "store_failures": len(sync.failed)}
        self.custody.record(export_id, "hold_released", actor, detail)
        return released.released_us is not None

    def release_refused_holds(self) -> builtins.list[str]:
        """Release the holds refused exports still keep (a release that failed at refusal time).
        Returns the export ids whose hold was released now. Raises CatalogError."""
        done = []
        active = {h.id for h in self._holds.list_holds()}
        for rec in self.records([ExportStatus.REFUSED, ExportStatus.WITHDRAWN]):
            if rec.hold_id not in active:
                continue
            try:
                if self.release_hold(rec.id, SYSTEM, f"export {rec.id} was {rec.status.value}"):
                    done.append(rec.id)
            except ERRORS as exc:
                log.error("export %s: cannot release its legal hold %s: %s", rec.id, rec.hold_id, exc)
        return done

    # -- downloading -----------------------------------------------------------------------
    def package_file(self, who: Principal, export_id: str) -> ExportFile:
        """The built package, without recording a download. A package is downloaded only while
        every camera of the export is still shared with the caller's agency (sharing is read
        now, not at request time): withdrawing sharing stops further downloads, though copies
        already downloaded cannot be recalled.

        Raises NotFoundError, ForbiddenError (only investigator and legal download; a camera
        no longer shared with the caller's agency), ConflictError (not built)."""
        require(who, Permission.EXPORTS_DOWNLOAD)
        rec = self.visible(who, export_id)
        scope = camera_scope(who, {o.id: o.agencies for o in self._registry.owners()})
        withdrawn = sorted(o for o in rec.owner_ids if not scope.sees(o))
        if withdrawn:
            raise ForbiddenError(f"export {export_id} covers cameras no longer shared with agency {who.agency}: "
                                 "further downloads of its package are refused (copies already downloaded "
                                 "cannot be recalled)")  # fmt: skip
        if rec.status is not ExportStatus.BUILT or not rec.package_path or not rec.package_sha256:
            raise ConflictError(f"export {export_id} is {rec.status.value}: there is no package to download yet")
        path = Path(rec.package_path)
        if not path.is_file():
            raise ConflictError(f"the package file of export {export_id} is missing from {path.parent}")
        return ExportFile(path, path.name, rec.package_sha256, int(rec.package_size or 0))

    def record_download(self, who: Principal, export_id: str, *, origin: str, first: int, last: int,
                        total: int) -> None:  # fmt: skip
        """Append a ``downloaded`` custody event for bytes ``first..last`` of ``total``."""
        rec = self.record(export_id)
        self.custody.record(export_id, "downloaded", Actor.of(who, origin), {
            "sha256": rec.package_sha256, "bytes": f"{first}-{last}/{total}", "complete": first == 0 and
            last == total - 1})  # fmt: skip

    def package(self, who: Principal, scope: CameraScope, export_id: str, *, origin: str = "api") -> ExportFile:
        """The package for a whole-file download; records the ``downloaded`` event."""
        f = self.package_file(who, export_id)
        self.record_download(who, export_id, origin=origin, first=0, last=f.size - 1, total=f.size)
        return f

    def record_verification(self, actor: Actor, export_id: str, detail: dict[str, Any]) -> None:
        """Append a ``verified`` custody event (who verified the package, with what result)."""
        self.record(export_id)
        self.custody.record(export_id, "verified", actor, detail)

    def operator(self, who: Principal | None, origin: str) -> Actor:
        """The actor a build runs as: the person who started it, else the system."""
        return SYSTEM if who is None else Actor.of(who, origin)
