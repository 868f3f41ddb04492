"""Prove, against the live store, that object lock really protects what the archive writes.

:func:`probe_object_lock` writes two tiny objects under ``_probe/`` and tries what a bug or an
intruder would try: delete a GOVERNANCE-locked version without bypass, shorten its retention,
delete a version under legal hold. Each attempt must be refused. The result goes into health
reporting; the probe raises only when the store cannot be reached.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import NamedTuple

from archive.errors import ObjectLockedError, StorageError, StorageUnavailableError
from archive.storage.base import LockMode, ObjectStore, Retention

PROBE_PREFIX = "_probe/"
CLEANUP = "cleanup"
_SWEEP_AFTER = dt.timedelta(minutes=10)  # leftovers of earlier probes older than this are removed


class LockCheck(NamedTuple):
    """One check: what was tried, whether the store behaved as object lock demands, and why."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class LockProbeResult:
    """``ok`` is True when every check except the informational ``cleanup`` one passed."""

    ok: bool
    detail: str
    checks: tuple[LockCheck, ...]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Probe:
    """One run; every StorageError except StorageUnavailableError becomes a failed check."""

    def __init__(self, store: ObjectStore, bucket: str, retain_for: dt.timedelta) -> None:
        self.store, self.bucket = store, bucket
        self.checks: list[LockCheck] = []
        self.notes: list[str] = []
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        base = f"{PROBE_PREFIX}{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
        self.locked_key, self.hold_key = f"{base}-retention", f"{base}-hold"
        self.locked_version: str | None = None
        self.hold_version: str | None = None
        self.until = now + max(retain_for, dt.timedelta(seconds=5))

    def check(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append(LockCheck(name, passed, detail))

    def expect_refused(self, name: str, action: str, key: str, version: str, *, bypass: bool) -> None:
        try:
            self.store.delete_version(self.bucket, key, version, bypass_governance=bypass)
        except ObjectLockedError as exc:
            self.check(name, True, f"{action} refused: {exc}")
        except StorageUnavailableError:
            raise
        except StorageError as exc:
            self.check(name, False, f"{action} failed for another reason: {_describe(exc)}")
        else:
            self.check(name, False, f"{action} SUCCEEDED: the version was deleted")
            if key == self.locked_key:
                self.locked_version = None
            else:
                self.hold_version = None

    def retention_checks(self) -> None:
        """Object A under GOVERNANCE retention: delete and shortening refused, extension allowed."""
        key = self.locked_key
        put = self.store.put_bytes(
            self.bucket, key, b"archive object-lock probe\n", retention=Retention(LockMode.GOVERNANCE, self.until)
        )
        self.locked_version = version = put.version_id
        self.check("versioning", bool(version) and version != "null", f"put returned version {version!r}")
        got = self.store.stat(self.bucket, key, version).retention
        applied = (
            got is not None and got.mode is LockMode.GOVERNANCE and abs(got.until - self.until).total_seconds() < 2
        )
        self.check("retention_applied", applied, f"asked GOVERNANCE until {self.until.isoformat()}, store has {got}")
        self.expect_refused("delete_refused", "delete without bypass", key, version, bypass=False)
        if self.locked_version is None:
            return
        try:
            self.store.set_retention(
                self.bucket, key, version, Retention(LockMode.GOVERNANCE, self.until - dt.timedelta(seconds=2))
            )
        except ObjectLockedError as exc:
            self.check("shorten_refused", True, f"shortening refused: {exc}")
        except StorageUnavailableError:
            raise
        except StorageError as exc:
            self.check("shorten_refused", False, f"shortening failed for another reason: {_describe(exc)}")
        else:
            self.check("shorten_refused", False, "shortening the retention was ACCEPTED")
        longer = self.until + dt.timedelta(seconds=1)
        self.store.set_retention(self.bucket, key, version, Retention(LockMode.GOVERNANCE, longer))
        self.until = longer
        got = self.store.stat(self.bucket, key, version).retention
        extended = got is not None and abs(got.until - longer).total_seconds() < 1
        self.check("extend_allowed", extended, f"extended to {longer.isoformat()}, store has {got}")

    def legal_hold_checks(self) -> None:
        """Object B, put unlocked, then put under legal hold: its delete must be refused."""
        key = self.hold_key
        self.hold_version = version = self.store.put_bytes(self.bucket, key, b"archive legal-hold probe\n").version_id
        self.store.set_legal_hold(self.bucket, key, version, True)
        info = self.store.stat(self.bucket, key, version)
        self.check("legal_hold_applied", info.legal_hold, f"store reports legal hold {info.legal_hold}")
        # Without a retention, a refusal can only come from the hold; a bucket default retention
        # would also refuse, so then bypass it to isolate the hold.
        bypass = info.retention is not None
        action = "delete with governance bypass" if bypass else "delete"
        self.expect_refused("legal_hold_delete_refused", action, key, version, bypass=bypass)

    def clean(self) -> None:
        if self.hold_version is not None:
            try:
                self.store.set_legal_hold(self.bucket, self.hold_key, self.hold_version, False)
                self.store.delete_version(self.bucket, self.hold_key, self.hold_version, bypass_governance=True)
            except StorageUnavailableError:
                raise
            except StorageError as exc:
                self.notes.append(f"{self.hold_key} left: {_describe(exc)}")
        if self.locked_version is not None:
            try:
                self.store.delete_version(self.bucket, self.locked_key, self.locked_version, bypass_governance=True)
            except StorageUnavailableError:
                raise
            except StorageError as exc:
                self.notes.append(
                    f"governance bypass not permitted ({_describe(exc)}); {self.locked_key} stays until "
                    f"{self.until.isoformat()}, a later probe removes it"
                )
        cutoff = dt.datetime.now(dt.UTC) - _SWEEP_AFTER
        for info in list(self.store.list_versions(self.bucket, PROBE_PREFIX)):
            if info.last_modified is None or info.last_modified > cutoff:
                continue
            try:
                self.store.delete_version(self.bucket, info.key, info.version_id)
            except StorageUnavailableError:
                raise
            except StorageError:
                continue  # still locked: a later probe tries again


def _run(probe: _Probe, name: str, step: str) -> None:
    try:
        getattr(probe, step)()
    except StorageUnavailableError:
        raise
    except StorageError as exc:
        probe.check(name, False, f"probe step failed: {_describe(exc)}")


def probe_object_lock(
    store: ObjectStore, bucket: str, *, retain_for: dt.timedelta = dt.timedelta(seconds=30)
) -> LockProbeResult:
    """Test versioning, retention and legal hold on ``bucket`` for real; clean up what it can.

    Never raises for a failed check; raises :class:`StorageUnavailableError` when the store is
    down. A probe object it cannot delete (no governance bypass) expires after ``retain_for`` and
    is removed by a later probe.
    """
    probe = _Probe(store, bucket, retain_for)
    try:
        _run(probe, "retention", "retention_checks")
        _run(probe, "legal_hold", "legal_hold_checks")
    finally:
        try:
            probe.clean()
        except StorageUnavailableError:
            raise
        except StorageError as exc:
            probe.notes.append(f"cleanup failed: {_describe(exc)}")
    probe.check(CLEANUP, not probe.notes, "; ".join(probe.notes) or "probe objects deleted")
    failed = [c.name for c in probe.checks if not c.passed and c.name != CLEANUP]
    ok = not failed and len(probe.checks) > 1
    if ok:
        detail = f"object lock enforced on bucket {bucket}"
    else:
        detail = f"object lock NOT proven on bucket {bucket}: failed {', '.join(failed) or 'everything'}"
    return LockProbeResult(ok, detail, tuple(probe.checks))
