"""Verification reports: every failure names the camera, log, seq and object it is about."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Finding", "ReportBuilder", "VerifyReport"]


@dataclass(frozen=True)
class Finding:
    """One failed check: ``what`` differs, located by camera, log, seq and object."""

    what: str
    camera: str | None = None
    log: str | None = None
    seq: int | None = None
    object: str | None = None

    def __str__(self) -> str:
        where = []
        if self.camera is not None:
            where.append(f"camera {self.camera}")
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.object is not None:
            where.append(f"object {self.object}")
        if self.log is not None and self.camera is None:
            where.append(f"log {self.log}")
        return f"{' '.join(where)}: {self.what}" if where else self.what


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a verification: ``ok`` only when there is no failure."""

    subject: str
    failures: tuple[Finding, ...]
    notes: tuple[str, ...]
    checkpoint_size: int | None = None
    checkpoint_root: str | None = None
    entries_checked: int = 0
    segments_checked: int = 0
    bytes_hashed: int = 0
    checkpoints_checked: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every check held."""
        return not self.failures

    def lines(self) -> list[str]:
        """Human-readable report lines (failures first)."""
        out = [f"{'OK' if self.ok else 'FAILED'}: {self.subject}"]
        if self.checkpoint_size is not None:
            out.append(f"  signed checkpoint: size {self.checkpoint_size}, root {self.checkpoint_root}")
        out.append(
            f"  checked {self.entries_checked} entries, {self.checkpoints_checked} checkpoints, "
            f"{self.segments_checked} segments ({self.bytes_hashed} bytes re-hashed) in {self.seconds:.2f} s"
        )
        out.extend(f"  FAIL {f}" for f in self.failures)
        out.extend(f"  note {n}" for n in self.notes)
        return out


@dataclass
class ReportBuilder:
    """Mutable collector used while verifying; :meth:`build` freezes it."""

    subject: str
    camera: str | None = None
    log: str | None = None
    failures: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checkpoint_size: int | None = None
    checkpoint_root: str | None = None
    entries_checked: int = 0
    segments_checked: int = 0
    bytes_hashed: int = 0
    checkpoints_checked: int = 0
    started: float = field(default_factory=time.monotonic)

    def fail(self, what: str, *, seq: int | None = None, obj: str | None = None) -> None:
        """Record a failure located in this builder's camera/log."""
        self.failures.append(Finding(what, self.camera, self.log, seq, obj))

    def note(self, text: str) -> None:
        """Record a fact for the report that is not a failure."""
        self.notes.append(text)

    def build(self) -> VerifyReport:
        """The frozen report."""
        return VerifyReport(
            subject=self.subject, failures=tuple(self.failures), notes=tuple(self.notes),
            checkpoint_size=self.checkpoint_size, checkpoint_root=self.checkpoint_root,
            entries_checked=self.entries_checked, segments_checked=self.segments_checked,
            bytes_hashed=self.bytes_hashed, checkpoints_checked=self.checkpoints_checked,
            seconds=time.monotonic() - self.started,
        )  # fmt: skip


def merge(subject: str, reports: list[VerifyReport]) -> VerifyReport:
    """One report of several (e.g. every log)."""
    return VerifyReport(
        subject=subject,
        failures=tuple(f for r in reports for f in r.failures),
        notes=tuple(n for r in reports for n in r.notes),
        entries_checked=sum(r.entries_checked for r in reports),
        segments_checked=sum(r.segments_checked for r in reports),
        bytes_hashed=sum(r.bytes_hashed for r in reports),
        checkpoints_checked=sum(r.checkpoints_checked for r in reports),
        seconds=sum(r.seconds for r in reports),
    )
