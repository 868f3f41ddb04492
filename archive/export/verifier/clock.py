"""The clock entry before an exported range (EXPORT-SPEC.md 7.2), checked in step 6.

The archive exports a camera's entries from the latest ``clock`` entry logged before the first
segment or gap entry of the range, and names its seq in the camera section's ``clock_before``
(null: the log holds no clock entry before the range). A verifier requires a named one to be the
first exported entry and a clock entry, and reports the clock's state at the start of the range:
the last clock entry exported before the first segment or gap entry, or "unknown" when there is
none (also for a package of an earlier writer, without the member).

Needs only the standard library and the bundled ``integrity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .outcome import CheckBuilder
from .wording import duration

if TYPE_CHECKING or __name__.startswith("archive."):
    from archive import integrity as itg
else:  # inside a package: the copy of integrity/ beside this folder
    import integrity as itg

__all__ = ["ABSENT", "check_clock_before"]

ABSENT = -1
"""``clock_before`` when the camera section has no such member (a package of an earlier writer)."""


def check_clock_before(camera: str, stated: int | None, first: int, decoded: Sequence[itg.Entry],
                       chk: CheckBuilder) -> str:  # fmt: skip
    """Check ``clock_before`` (``stated``; :data:`ABSENT` when the member is missing) against the
    exported entries ``decoded`` (from seq ``first``) into ``chk``; return the fact for people."""
    if stated is not None and stated != ABSENT:
        head = decoded[0] if decoded else None
        if stated != first or head is None or head.seq != first or not isinstance(head.payload, itg.Clock):
            kind = head.kind if head is not None and head.seq == stated else "no exported"
            chk.fail(f"clock_before names seq {stated} ({kind} entry), but the exported entries start at seq {first}: "
                     "the latest clock entry before the range must be the first exported entry (EXPORT-SPEC.md "
                     "7.2)")  # fmt: skip
    timeline = [e.seq for e in decoded if isinstance(e.payload, (itg.Segment, itg.Gap))]
    before = [e for e in decoded if isinstance(e.payload, itg.Clock) and (not timeline or e.seq < timeline[0])]
    if not before:
        why = ("the package does not say whether the log holds one (made before this rule)" if stated == ABSENT
               else "the log holds no clock entry before the range")  # fmt: skip
        return f"{camera}: clock at the start of the range: unknown: {why}"
    c = before[-1].payload
    assert isinstance(c, itg.Clock)
    state = "synchronized" if c.synced else "NOT synchronized"
    extra = [f"source {c.source}"]
    if c.offset_us is not None:
        extra.append(f"offset {c.offset_us} microseconds from its reference")
    if c.max_error_us is not None:
        extra.append(f"error bound {duration(c.max_error_us)}")
    return (f"{camera}: clock at the start of the range: {state} (clock entry seq {before[-1].seq} at "
            f"{itg.format_time(c.at)}; {', '.join(extra)})")
