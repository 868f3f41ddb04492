"""The executor: deletes what a plan selected, the store first, then the catalog and the log.

Per camera and rule, in seq order and batches of ``batch_size``:

1. read the batch's unpruned rows fresh, and the camera's holds fresh: a segment a hold now
   covers is skipped (the last check before deleting);
2. delete the object versions on a thread pool; a version counts as deleted only when the store
   confirmed it (a missing version counts: it is gone). GOVERNANCE retention is bypassed only
   for selections marked ``early`` (storage pressure, admin-confirmed shortening); legal holds
   and COMPLIANCE retention always refuse;
3. for each run of consecutive confirmed rows (no other unpruned segment between them), append
   one ``prune`` entry naming the rule to the camera's log; the ledger marks those rows pruned
   in the same transaction. Failed deletes are reported, never marked, and retried next run
   because they stay selected.

If the store is unreachable for a whole batch, the run stops (nothing else would succeed).

Before the first version of a selection is deleted, ``announce(selection)`` is called (the
service records ``retention.delete_planned`` in the audit trail and seals it there); if it
raises, the run stops with that error and nothing more is deleted (SPEC.md 7.6).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine

from archive.errors import ERRORS, ObjectLockedError, StorageError, StorageUnavailableError
from archive.retention.planner import CameraPlan, HoldSpan, Plan, Selection
from archive.retention.repo import SegmentRowView, unpruned_between
from archive.storage.base import LockMode, ObjectStore

log = logging.getLogger(__name__)
MAX_REPORTED_FAILURES = 200


class PruneLog(Protocol):
    """The part of :class:`archive.ledger.Ledger` the executor needs."""

    def append_prune(self, camera_id: str, from_seq: int, to_seq: int, rule: str,
                     at: datetime | None = None) -> object:  # fmt: skip
        """Log that the media of seqs ``[from_seq, to_seq)`` was deleted and mark them pruned."""


@dataclass(frozen=True)
class DeleteFailure:
    """A segment that was selected but is not deleted (it stays, and is retried next run)."""

    camera_id: str
    seq: int
    kind: str
    """``locked`` (legal hold / retention), ``unavailable``, ``error``, or ``catalog`` (deleted
    from the store but the prune entry failed: retried next run, then found gone)."""
    message: str


@dataclass(frozen=True)
class CameraResult:
    """What happened to one camera's selections."""

    camera_id: str
    owner_id: str
    deleted: int = 0
    bytes: int = 0
    held_skipped: int = 0
    failed: int = 0
    prunes: tuple[tuple[int, int, str], ...] = ()
    """``(from_seq, to_seq, rule)`` of every prune entry appended."""


@dataclass(frozen=True)
class ExecutionReport:
    """The result of executing a plan."""

    cameras: tuple[CameraResult, ...]
    failures: tuple[DeleteFailure, ...] = field(default=())
    """The first :data:`MAX_REPORTED_FAILURES` failures (``failed`` has the total)."""
    aborted: str | None = None
    seconds: float = 0.0

    @property
    def deleted(self) -> int:
        """Versions confirmed deleted and pruned."""
        return sum(c.deleted for c in self.cameras)

    @property
    def bytes(self) -> int:
        """Bytes deleted."""
        return sum(c.bytes for c in self.cameras)

    @property
    def failed(self) -> int:
        """Selected segments left in place because something failed."""
        return sum(c.failed for c in self.cameras)

    @property
    def held_skipped(self) -> int:
        """Selected segments skipped because a hold covered them at deletion time."""
        return sum(c.held_skipped for c in self.cameras)


class _AbortError(Exception):
    pass


class Executor:
    """Executes plans. One at a time per process (the service holds the job lock)."""

    def __init__(
        self,
        engine: Engine,
        store: ObjectStore,
        prune_log: PruneLog,
        *,
        holds: Callable[[str], Sequence[HoldSpan]],
        now: Callable[[], datetime],
        now_us: Callable[[], int],
        lock_mode: LockMode = LockMode.GOVERNANCE,
        workers: int = 16,
        batch_size: int = 1000,
    ) -> None:
        self._engine = engine
        self._store = store
        self._log = prune_log
        self._holds = holds
        self._now = now
        self._now_us = now_us
        self._lock_mode = lock_mode
        self._workers = workers
        self._batch = batch_size

    def execute(self, plan: Plan, should_stop: Callable[[], bool] = lambda: False,
                announce: Callable[[Selection], None] | None = None) -> ExecutionReport:  # fmt: skip
        """Delete everything ``plan`` selected (see the module docstring), each selection only
        after ``announce`` returned for it. Never raises for a failed delete (reported instead);
        raises CatalogError if the catalog cannot be read, and what ``announce`` raises (nothing
        of that selection or after it is deleted)."""
        t0 = time.perf_counter()
        results: list[CameraResult] = []
        failures: list[DeleteFailure] = []
        aborted = None
        with ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="retention-delete") as pool:
            for cam in plan.cameras:
                if aborted is not None:
                    break
                try:
                    results.append(self._camera(cam, pool, failures, should_stop, announce))
                except _AbortError as exc:
                    aborted = str(exc)
                    results.append(exc.args[1] if len(exc.args) > 1 else CameraResult(cam.camera_id, cam.owner_id))
        return ExecutionReport(tuple(results), tuple(failures), aborted, time.perf_counter() - t0)

    def _camera(self, cam: CameraPlan, pool: ThreadPoolExecutor, failures: list[DeleteFailure],
                should_stop: Callable[[], bool],
                announce: Callable[[Selection], None] | None) -> CameraResult:  # fmt: skip
        acc = _CamAcc(cam.camera_id, cam.owner_id)
        for sel in cam.selections:
            if announce is not None and sel.count:
                announce(sel)  # recorded (and sealed) before anything of it is deleted; raises: stop
            seqs = sorted(sel.seqs)
            for i in range(0, len(seqs), self._batch):
                for piece in _pieces(seqs[i : i + self._batch]):
                    if should_stop():
                        raise _AbortError("stopped: the job lock was lost or a stop was requested", acc.result())
                    self._batch_run(sel, piece, pool, acc, failures)
        return acc.result()

    def _batch_run(self, sel: Selection, chunk: list[int], pool: ThreadPoolExecutor, acc: _CamAcc,
                   failures: list[DeleteFailure]) -> None:  # fmt: skip
        cam = sel.camera_id
        with self._engine.connect() as conn:
            rows = unpruned_between(conn, cam, chunk[0], chunk[-1])
        spans = [s for s in self._holds(cam) if s.active(self._now_us())]
        wanted = set(chunk)
        targets: list[SegmentRowView] = []
        for r in rows:
            if r.seq not in wanted:
                continue
            if any(s.covers(r.start_us, r.end_us) for s in spans):
                acc.held_skipped += 1
            else:
                targets.append(r)
        bypass = sel.early and self._lock_mode is LockMode.GOVERNANCE
        outcome: dict[int, DeleteFailure | None] = {}
        for r, fail in pool.map(lambda r: (r, self._delete(cam, r, bypass)), targets):
            outcome[r.seq] = fail
            if fail is not None:
                acc.failed += 1
                if len(failures) < MAX_REPORTED_FAILURES:
                    failures.append(fail)
        if targets and all(f is not None and f.kind == "unavailable" for f in outcome.values()):
            raise _AbortError(f"object store unavailable: {next(iter(outcome.values()))}", acc.result())
        self._prune(sel, rows, outcome, acc, failures)

    def _delete(self, cam: str, r: SegmentRowView, bypass: bool) -> DeleteFailure | None:
        try:
            self._store.delete_version(r.bucket, r.object_key, r.version_id, bypass_governance=bypass)
        except ObjectLockedError as exc:
            return DeleteFailure(cam, r.seq, "locked", str(exc))
        except StorageUnavailableError as exc:
            return DeleteFailure(cam, r.seq, "unavailable", str(exc))
        except StorageError as exc:
            return DeleteFailure(cam, r.seq, "error", str(exc))
        return None

    def _prune(self, sel: Selection, rows: list[SegmentRowView], outcome: dict[int, DeleteFailure | None],
               acc: _CamAcc, failures: list[DeleteFailure]) -> None:  # fmt: skip
        runs: list[list[SegmentRowView]] = [[]]
        for r in rows:
            if r.seq in outcome and outcome[r.seq] is None:
                runs[-1].append(r)
            elif runs[-1]:
                runs.append([])  # anything else unpruned in between ends the run
        for run in (r for r in runs if r):
            first, last = run[0].seq, run[-1].seq
            try:
                self._log.append_prune(sel.camera_id, first, last + 1, sel.rule, at=self._now())
            except ERRORS as exc:
                log.error("prune entry for %s seqs %d..%d failed: %s", sel.camera_id, first, last, exc)
                acc.failed += len(run)
                room = max(0, MAX_REPORTED_FAILURES - len(failures))
                failures.extend(DeleteFailure(sel.camera_id, x.seq, "catalog", str(exc)) for x in run[:room])
                continue
            acc.deleted += len(run)
            acc.bytes += sum(x.size for x in run)
            acc.prunes.append((first, last + 1, sel.rule))


def _pieces(seqs: list[int], spread: int = 8) -> list[list[int]]:
    """Split sorted seqs at their largest gaps until each piece spans at most ``spread`` times its
    length, so reading a piece's seq range (to find what lies between) stays proportional."""
    done: list[list[int]] = []
    todo = [seqs]
    while todo:
        part = todo.pop()
        if len(part) <= 1 or part[-1] - part[0] + 1 <= spread * len(part):
            done.append(part)
            continue
        cut = max(range(1, len(part)), key=lambda i: part[i] - part[i - 1])
        todo += [part[cut:], part[:cut]]
    return done


class _CamAcc:
    def __init__(self, camera_id: str, owner_id: str) -> None:
        self.camera_id, self.owner_id = camera_id, owner_id
        self.deleted = self.bytes = self.held_skipped = self.failed = 0
        self.prunes: list[tuple[int, int, str]] = []

    def result(self) -> CameraResult:
        return CameraResult(self.camera_id, self.owner_id, self.deleted, self.bytes, self.held_skipped, self.failed,
                            tuple(self.prunes))  # fmt: skip
