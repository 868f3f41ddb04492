"""Extending object locks after a policy got longer: lengthening applies to existing footage.

For each camera with ``extend_from_seq`` set, its unpruned segments are walked in seq order and
each version's retention is set to ``start + keep`` (the camera's current rule; footage still
under a longer legacy rule already has that lock). Progress is saved per batch, so a run stops
within its time budget and the next run resumes. A refused change means the version already has
a longer or stronger lock (fine); an unreachable store stops the work until the next run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine

from archive.errors import ObjectLockedError, ObjectMissingError, StorageError, StorageUnavailableError
from archive.model import utc_from_us
from archive.retention.reconcile import CameraRetentionState
from archive.retention.repo import SegmentRowView, set_extend_progress, unpruned_from_seq
from archive.storage.base import LockMode, ObjectStore, Retention


@dataclass(frozen=True)
class ExtendReport:
    """Lock extension done in one run."""

    extended: int = 0
    unchanged: int = 0
    failed: tuple[str, ...] = ()
    done: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()


def extend_locks(
    engine: Engine,
    store: ObjectStore,
    states: Mapping[str, CameraRetentionState],
    *,
    mode: LockMode,
    now_us: Callable[[], int],
    budget_s: float,
    batch: int = 1000,
    workers: int = 16,
    should_stop: Callable[[], bool] = lambda: False,
) -> ExtendReport:
    """Extend locks of the cameras whose state asks for it. Raises CatalogError."""
    t0 = time.monotonic()
    extended = unchanged = 0
    failed: list[str] = []
    done: list[str] = []
    pending: list[str] = []

    def one(r: SegmentRowView, until_us: int) -> str | None:
        try:
            store.set_retention(r.bucket, r.object_key, r.version_id, Retention(mode, utc_from_us(until_us)))
        except (ObjectLockedError, ObjectMissingError):
            return "unchanged"
        except StorageUnavailableError as exc:
            return f"unavailable: {exc}"
        except StorageError as exc:
            return f"error: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="retention-extend") as pool:
        for cam, st in sorted(states.items()):
            if st.extend_from_seq is None:
                continue
            from_seq: int | None = st.extend_from_seq
            while from_seq is not None:
                if time.monotonic() - t0 > budget_s or should_stop():
                    pending.append(cam)
                    break
                rows = unpruned_from_seq(engine, cam, from_seq, batch)
                if not rows:
                    from_seq = None
                    break
                now = now_us()
                legacy_before = st.legacy_before_us if st.pending_shortening else None
                work = [(r, r.start_us + st.keep_us) for r in rows
                        if (legacy_before is None or r.start_us >= legacy_before) and r.start_us + st.keep_us > now]
                first_bad: int | None = None
                for (r, _), res in zip(work, pool.map(lambda w: one(*w), work), strict=True):
                    if res is None:
                        extended += 1
                    elif res == "unchanged":
                        unchanged += 1
                    else:
                        failed.append(f"{cam} seq {r.seq}: {res}")
                        first_bad = r.seq if first_bad is None else min(first_bad, r.seq)
                unchanged += len(rows) - len(work)
                if first_bad is not None:
                    set_extend_progress(engine, cam, first_bad, now_us())
                    pending.append(cam)
                    break
                from_seq = rows[-1].seq + 1
                set_extend_progress(engine, cam, from_seq, now_us())
            if from_seq is None:
                set_extend_progress(engine, cam, None, now_us())
                done.append(cam)
    return ExtendReport(extended, unchanged, tuple(failed), tuple(done), tuple(pending))
