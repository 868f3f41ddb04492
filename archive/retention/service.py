"""The retention service: one run = policies -> reconcile -> holds -> usage -> plan -> delete ->
extend locks, under a database lease so only one runs at a time across processes.

:meth:`RetentionService.preview` does the same up to the plan without changing anything (for
``archive retention plan``); :meth:`RetentionService.run` executes it (the scheduler job and
``archive retention run``). Cameras that have a log but are not in the registry are never
deleted (reported as unmanaged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from archive.catalog.errors import catalog_errors
from archive.errors import ERRORS, CatalogConflictError, ConflictError, ForbiddenError
from archive.identity.model import Role
from archive.model import Camera, us_from_utc
from archive.retention.audit import SYSTEM, HoldActor, HoldJournal
from archive.retention.executor import ExecutionReport, Executor, PruneLog
from archive.retention.extend import ExtendReport, extend_locks
from archive.retention.holds import HoldService, SyncReport
from archive.retention.lock import JobLock
from archive.retention.planner import Plan, PressureInput, PressureLevel, Selection, plan
from archive.retention.policy import DAY_US, PolicySet, ResolvedRule
from archive.retention.reconcile import CameraRetentionState, PolicyChange, camera_rule, reconcile
from archive.retention.repo import finish_run, load_states, logged_cameras, save_state, segment_source, start_run
from archive.retention.settings import RetentionSettings
from archive.retention.upload import PolicyStore
from archive.retention.usage import Usage, UsageProbe
from archive.storage.base import LockMode, ObjectStore

log = logging.getLogger(__name__)

LOCK_NAME = "retention-executor"


@dataclass(frozen=True)
class Preview:
    """What a run would do now, computed without changing anything."""

    now_us: int
    policies: PolicySet
    plan: Plan
    changes: tuple[PolicyChange, ...]
    """Policy changes a run would apply (and audit) first."""
    pending_shortenings: tuple[str, ...]
    """Cameras whose older footage is kept longer until an admin confirms (``--confirm``)."""
    unmanaged: tuple[str, ...]
    usage: Usage | None
    usage_error: str | None = None


@dataclass(frozen=True)
class RunReport:
    """What a run did."""

    run_id: int
    preview: Preview
    holds: SyncReport
    execution: ExecutionReport
    extension: ExtendReport
    alarms: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """``ok``; ``partial`` (some deletes or lock changes failed, or it was stopped); ``failed``."""
        ex = self.execution
        if ex.aborted:
            return "failed" if ex.deleted == 0 and self.preview.plan.count else "partial"
        if ex.failed or self.extension.failed or not self.holds.ok:
            return "partial"
        return "ok"


class RetentionService:
    """Retention for the whole archive. Raises what its parts raise (see :meth:`run`)."""

    def __init__(
        self,
        *,
        engine: Engine,
        store: ObjectStore,
        ledger: PruneLog,
        cameras: Callable[[], Sequence[Camera]],
        policies: PolicyStore,
        holds: HoldService,
        audit: HoldJournal,
        usage: UsageProbe | None,
        settings: RetentionSettings,
        now: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.store = store
        self.ledger = ledger
        self.cameras = cameras
        self.policies = policies
        self.holds = holds
        self.audit = audit
        self.usage = usage
        self.settings = settings
        self.now = now
        self.executor = Executor(
            engine, store, ledger, holds=holds.spans_for, now=now, now_us=self.now_us,
            lock_mode=settings.lock_mode, workers=settings.delete_workers, batch_size=settings.batch_size,
        )  # fmt: skip

    def now_us(self) -> int:
        """The service clock in microseconds."""
        return us_from_utc(self.now())

    def job_lock(self) -> JobLock:
        """The lease that serializes runs across processes."""
        return JobLock(self.engine, LOCK_NAME, self.settings.lock_lease_seconds, now_us=self.now_us)

    # -- computing -------------------------------------------------------------------------
    def _resolved(self, policies: PolicySet, owner: str | None) -> dict[str, ResolvedRule]:
        cams = [c for c in self.cameras() if owner is None or c.owner_id == owner]
        return {c.id: policies.resolve(c.owner_id, c.id, c.tags) for c in cams}

    def _measure(self) -> tuple[Usage | None, str | None]:
        if self.usage is None:
            return None, None
        try:
            return self.usage(), None
        except ERRORS as exc:
            log.error("cannot measure storage usage: %s", exc)
            return None, str(exc)

    def _preview(self, owner: str | None, confirm: bool) -> tuple[Preview, Mapping[str, CameraRetentionState]]:
        policies = self.policies.load()
        now = self.now_us()
        resolved = self._resolved(policies, owner)
        stored = load_states(self.engine)
        rec = reconcile(resolved, stored, now, initial_keep_us=self.settings.default_keep_days * DAY_US,
                        initial_rule=f"storage.default_retention_days:{self.settings.default_keep_days}d",
                        confirm=confirm)  # fmt: skip
        states = {**{c: s for c, s in stored.items() if c in resolved}, **rec.states}
        usage, usage_error = self._measure()
        pressure = None
        if usage is not None:
            pressure = PressureInput(usage.used_bytes, usage.capacity_bytes, policies.city.pressure,
                                     early_allowed=self.settings.lock_mode is LockMode.GOVERNANCE)  # fmt: skip
        rules = {c: camera_rule(states[c], resolved[c]) for c in resolved}
        the_plan = plan(rules, segment_source(self.engine), self.holds.active_spans(), now, pressure)
        unmanaged = tuple(c for c in logged_cameras(self.engine) if c not in resolved and owner is None)
        pending = tuple(c for c, s in sorted(states.items()) if s.pending_shortening)
        return Preview(now, policies, the_plan, rec.changes, pending, unmanaged, usage, usage_error), rec.states

    def preview(self, *, owner: str | None = None) -> Preview:
        """What a run would do now; changes nothing.

        Raises ValidationError (policy files), CatalogError.
        """
        return self._preview(owner, confirm=False)[0]

    # -- running ---------------------------------------------------------------------------
    def _apply_changes(self, actor: HoldActor, states: Mapping[str, CameraRetentionState],
                       changes: Sequence[PolicyChange],
                       digest: str) -> None:  # fmt: skip
        for _ in range(5):
            try:
                with catalog_errors("cannot record policy changes"):
                    with self.engine.begin() as conn:
                        for st in states.values():
                            save_state(conn, st)
                        for ch in changes:
                            who = actor if ch.kind.value == "shortening_confirmed" else SYSTEM
                            self.audit.append(who, f"policy.{ch.kind.value}", f"camera {ch.camera_id}", {
                                "owner": ch.owner_id, "old_rule": ch.old_rule, "old_keep_days": ch.old_keep_us / DAY_US,
                                "new_rule": ch.new_rule, "new_keep_days": ch.new_keep_us / DAY_US,
                                "policies_digest": digest}, conn=conn)  # fmt: skip
                    self.audit.committed()  # the states and their records committed together: seal them
                    return
            except CatalogConflictError:
                continue
        raise ConflictError("cannot record policy changes: the audit kept changing")

    def run(self, *, actor: HoldActor = SYSTEM, confirm: bool = False, owner: str | None = None) -> RunReport:
        """One full run under the job lease (see the module docstring).

        Raises:
            ForbiddenError: ``confirm`` by someone who is not an admin.
            ConflictError: another run holds the lease.
            ValidationError: the policy files are invalid (nothing is deleted).
            CatalogError: the catalog failed. Store failures are reported, not raised.
        """
        if confirm and actor.role is not Role.ADMIN:
            raise ForbiddenError("only an admin may confirm shortening a retention period")
        lock = self.job_lock()
        with lock.held():
            run_id = start_run(self.engine, lock.holder, self.now_us())
            try:
                report = self._run(run_id, actor, confirm, owner, lock)
            except BaseException as exc:
                try:
                    finish_run(self.engine, run_id, "failed", {"error": str(exc)}, self.now_us())
                    self.audit.append(actor, "retention.run_failed", f"run {run_id}", {"error": str(exc)})
                except ERRORS as inner:  # the catalog is down too: the original error matters more
                    log.error("cannot record the failed retention run %d: %s", run_id, inner)
                raise
            finish_run(self.engine, run_id, report.status, summary(report), self.now_us())
            return report

    def _run(self, run_id: int, actor: HoldActor, confirm: bool, owner: str | None, lock: JobLock) -> RunReport:
        try:  # expire holds, put/lift S3 legal holds before anything is deleted
            holds = self.holds.sync()
        except ConflictError as exc:  # another process is syncing; catalog holds still block deletion
            holds = SyncReport(failed=(f"legal-hold sync skipped: {exc}",))
        preview, changed = self._preview(owner, confirm)
        self._apply_changes(actor, changed, preview.changes, preview.policies.digest)
        alarms = self._alarms(preview)
        execution = self.executor.execute(preview.plan, should_stop=lock.lost.is_set,
                                          announce=lambda sel: self._announce(actor, run_id, sel))  # fmt: skip
        extension = extend_locks(
            self.engine, self.store, load_states(self.engine), mode=self.settings.lock_mode, now_us=self.now_us,
            budget_s=self.settings.extend_budget_seconds, batch=self.settings.batch_size,
            workers=self.settings.delete_workers, should_stop=lock.lost.is_set,
        )  # fmt: skip
        report = RunReport(run_id, preview, holds, execution, extension, alarms)
        self._audit_run(actor, report)
        return report

    def _announce(self, actor: HoldActor, run_id: int, sel: Selection) -> None:
        """``retention.delete_planned``: recorded on its own (with the signed trail: sealed) before
        the executor deletes anything of ``sel``. Raises what the journal raises (nothing deleted)."""
        self.audit.append(actor, "retention.delete_planned", f"camera {sel.camera_id}", {
            "camera": sel.camera_id, "owner": sel.owner_id, "rule": sel.rule, "from_seq": min(sel.seqs),
            "to_seq": max(sel.seqs) + 1, "count": sel.count, "bytes": sel.bytes, "early": sel.early,
            "pressure": sel.pressure, "run": run_id})  # fmt: skip

    def _alarms(self, preview: Preview) -> tuple[str, ...]:
        out: list[str] = []
        p = preview.plan.pressure
        if preview.usage_error:
            out.append(f"storage usage unknown: {preview.usage_error}")
        if p is not None and p.level is not PressureLevel.OK:
            out.append(f"storage {p.used_bytes / p.capacity_bytes:.1%} full ({p.level.value})"
                       + (f"; {p.blocked}" if p.blocked else ""))  # fmt: skip
        if preview.pending_shortenings:
            out.append(f"{len(preview.pending_shortenings)} camera(s) keep older footage longer until an admin "
                       "confirms the shorter policy (archive retention run --confirm)")  # fmt: skip
        for a in out:
            log.warning("retention: %s", a)
        if p is not None and p.level is not PressureLevel.OK:
            self.audit.append(SYSTEM, "storage.alarm", "store", {
                "level": p.level.value, "used": p.used_bytes, "capacity": p.capacity_bytes, "need": p.need_bytes,
                "blocked": p.blocked})  # fmt: skip
        return tuple(out)

    def _audit_run(self, actor: HoldActor, report: RunReport) -> None:
        ex = report.execution
        for cam in ex.cameras:
            if cam.deleted or cam.failed:
                self.audit.append(actor, "retention.delete", f"camera {cam.camera_id}", {
                    "owner": cam.owner_id, "deleted": cam.deleted, "bytes": cam.bytes, "failed": cam.failed,
                    "held_skipped": cam.held_skipped, "prunes": [list(p) for p in cam.prunes]})  # fmt: skip
        if ex.failed:
            first = [f"{f.camera_id} seq {f.seq}: {f.kind}: {f.message}" for f in ex.failures[:20]]
            self.audit.append(actor, "retention.delete_failed", f"run {report.run_id}",
                              {"failed": ex.failed, "first": first})  # fmt: skip
        self.audit.append(actor, "retention.run", f"run {report.run_id}", summary(report))

    def sync_holds(self) -> SyncReport:
        """Expire holds and make the store's legal holds match (the frequent hold job).
        Raises ConflictError if another process keeps syncing, CatalogError."""
        return self.holds.sync()


def summary(report: RunReport) -> dict[str, Any]:
    """A JSON-able summary of a run (stored with the run and in the audit)."""
    ex, p = report.execution, report.preview.plan.pressure
    owners: dict[str, dict[str, int]] = {}
    for cam in ex.cameras:
        o = owners.setdefault(cam.owner_id, {"deleted": 0, "bytes": 0, "failed": 0, "held_skipped": 0})
        o["deleted"] += cam.deleted
        o["bytes"] += cam.bytes
        o["failed"] += cam.failed
        o["held_skipped"] += cam.held_skipped
    return {
        "status": report.status, "planned": report.preview.plan.count, "planned_bytes": report.preview.plan.bytes,
        "deleted": ex.deleted, "bytes": ex.bytes, "failed": ex.failed, "held_skipped": ex.held_skipped,
        "aborted": ex.aborted, "seconds": round(ex.seconds, 3), "owners": owners,
        "policy_changes": [{**asdict(c), "kind": c.kind.value} for c in report.preview.changes],
        "holds": {"on": report.holds.held_on, "off": report.holds.held_off, "expired": list(report.holds.expired),
                  "missing": len(report.holds.missing), "failed": len(report.holds.failed)},
        "extension": {"extended": report.extension.extended, "failed": len(report.extension.failed),
                      "pending": list(report.extension.pending)},
        "pressure": None if p is None else {
            "level": p.level.value, "used": p.used_bytes, "capacity": p.capacity_bytes, "need": p.need_bytes,
            "freed_early": p.freed_early_bytes, "blocked": p.blocked},
        "alarms": list(report.alarms),
    }  # fmt: skip
