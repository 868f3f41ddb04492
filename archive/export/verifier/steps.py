"""The numbered verifier steps of ``archive-export/1`` (EXPORT-SPEC.md section 9).

Every check a verifier reports belongs to one step; steps run in this order, and a report
names the first step that failed, so two implementations can be compared on the same
package (the test vectors in ``archive/integrity/vectors/export/`` give the expected step).

Needs only the standard library.
"""

from __future__ import annotations

__all__ = ["STEPS", "step_of", "step_title"]

STEPS: dict[int, str] = {
    1: "members",
    2: "manifest signature",
    3: "manifest",
    4: "file list",
    5: "media files",
    6: "camera logs",
    7: "custody log",
    8: "trust",
}
"""Step number -> short title (EXPORT-SPEC.md 9.1 .. 9.8)."""

_BY_CHECK = {
    "package": 1,
    "manifest signature": 2,
    "keys file": 2,
    "signature lines": 2,
    "manifest": 3,
    "manifest rules": 3,
    "file hashes": 4,
    "media files": 5,
    "cameras": 6,
    "custody log": 7,
    "custody evidence": 7,
    "trust": 8,
}


def step_of(check_name: str) -> int:
    """The step a check (by its name) belongs to: ``camera <id>`` checks are step 6, a check
    of a witness policy is step 6 too (it is about the camera checkpoints); an unknown name
    counts as step 6 (camera-level), never as an earlier step."""
    if check_name in _BY_CHECK:
        return _BY_CHECK[check_name]
    return 6


def step_title(step: int) -> str:
    """``step N (<title>)`` for reports."""
    return f"step {step} ({STEPS.get(step, 'other')})"
