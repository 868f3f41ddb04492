"""What a verification found: one :class:`Check` per check, facts for people, the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .steps import STEPS, step_of, step_title

__all__ = ["Check", "CheckBuilder", "Outcome"]


@dataclass(frozen=True)
class Check:
    """One check: ``failures`` empty means it held; ``details`` say what was checked."""

    name: str
    failures: tuple[str, ...]
    details: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failures

    @property
    def step(self) -> int:
        """The verifier step (EXPORT-SPEC.md 9) this check belongs to."""
        return step_of(self.name)


@dataclass
class CheckBuilder:
    """Collects the failures and details of one check while it runs."""

    name: str
    failures: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        """Record a failure."""
        self.failures.append(message)

    def note(self, message: str) -> None:
        """Record what was checked or found."""
        self.details.append(message)

    def build(self) -> Check:
        """The frozen check."""
        return Check(self.name, tuple(self.failures), tuple(self.details))


@dataclass(frozen=True)
class Outcome:
    """The result of verifying one package. ``valid`` only if every check held."""

    package: str
    checks: tuple[Check, ...]
    facts: tuple[str, ...]
    trust: str
    trusted: bool = False
    export_id: str | None = None
    case_id: str | None = None
    package_sha256: str | None = None
    bytes_hashed: int = 0
    seconds: float = 0.0

    @property
    def consistent(self) -> bool:
        """True when there was at least one check and none failed (whoever signed it)."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def valid(self) -> bool:
        """True when every check held AND the manifest is signed by an export key the person
        verifying gave (``--trust export=...``). A package signed only by keys it carries itself
        is never VALID (a forger writes those keys too), nor one vouched for only by ``--witness``
        keys (a witness cosigns the logs, not the manifest's case and custody)."""
        return self.consistent and self.trusted

    @property
    def failures(self) -> list[str]:
        """Every failure as ``check: message``."""
        return [f"{c.name}: {f}" for c in self.checks for f in c.failures]

    @property
    def failed_step(self) -> int | None:
        """The first step (EXPORT-SPEC.md 9) that failed: the lowest-numbered failing check, 8
        (trust) when every check held but no trust root was given, None when VALID."""
        bad = [c.step for c in self.checks if not c.ok]
        if bad:
            return min(bad)
        if not self.checks:
            return 1
        return None if self.trusted else max(STEPS)

    @property
    def status(self) -> str:
        """``VALID``, ``UNVERIFIED`` or ``INVALID``."""
        return "VALID" if self.valid else "UNVERIFIED" if self.consistent else "INVALID"

    def verdict(self) -> str:
        """``VALID``, ``UNVERIFIED`` (consistent, but no trust root given) or ``INVALID`` with the
        first failing step and a reason."""
        if self.valid:
            return "VALID: every check held"
        step = self.failed_step or max(STEPS)
        if self.consistent:
            return (f"UNVERIFIED at {step_title(step)}: internally consistent, but signed by a key you have not "
                    "trusted: give --trust export=FINGERPRINT and --trust camera=FINGERPRINT with the archive's "
                    "keys obtained from its operator (not from this package); a witness key (--witness) vouches "
                    "for the camera logs it cosigned, not for the manifest (case, custody), so it is not enough")
        bad = [c.name for c in self.checks if not c.ok]
        return f"INVALID at {step_title(step)}: {len(bad)} check(s) failed: {', '.join(bad)}"

    def lines(self) -> list[str]:
        """The human-readable report, verdict first and last."""
        out = [f"package: {self.package}"]
        if self.case_id or self.export_id:
            out.append(f"case {self.case_id or '?'}, export {self.export_id or '?'}")
        if self.package_sha256:
            out.append(f"package SHA-256: {self.package_sha256}")
        out.append(f"trust: {self.trust}")
        out.append(f"verdict: {self.verdict()}")
        for c in self.checks:
            out.append(f"[{'ok  ' if c.ok else 'FAIL'}] step {c.step}: {c.name}")
            out.extend(f"       FAILED: {f}" for f in c.failures)
            out.extend(f"       {d}" for d in c.details)
        if self.facts:
            out.append("facts (gaps, coverage, notes: reported, never hidden):")
            out.extend(f"  - {f}" for f in self.facts)
        rate = self.bytes_hashed / self.seconds / 1e6 if self.seconds > 0 else 0.0
        out.append(f"{self.bytes_hashed} bytes hashed in {self.seconds:.2f} s ({rate:.0f} MB/s)")
        out.append(f"VERDICT: {self.verdict()}")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "valid": self.valid, "consistent": self.consistent, "trusted": self.trusted, "verdict": self.verdict(),
            "status": self.status, "failed_step": self.failed_step,
            "package": self.package, "export_id": self.export_id,
            "case_id": self.case_id, "package_sha256": self.package_sha256, "trust": self.trust,
            "checks": [{"name": c.name, "step": c.step, "ok": c.ok, "failures": list(c.failures),
                        "details": list(c.details)} for c in self.checks],
            "facts": list(self.facts), "bytes_hashed": self.bytes_hashed, "seconds": round(self.seconds, 3),
        }  # fmt: skip
