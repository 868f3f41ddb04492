"""What a camera's log covers, checked when an export is requested (not after its approval).

A camera's log covers the time from its first entry (segment or gap, SPEC.md 2.2/2.3) to its
last; a request for a range the log cannot cover (before its first entry, after its last one, in
the future, or a camera with no entry yet) is refused at once with the covered interval, so it never fails in the
background after approval with a legal hold left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Engine

from archive.errors import Problem, ValidationError
from archive.ledger.index import covered_interval

__all__ = ["Covered", "covered", "require_covered"]


@dataclass(frozen=True)
class Covered:
    """The interval ``[first_us, last_us]`` of a camera's log entries; None values: no entry yet."""

    camera_id: str
    first_us: int | None
    last_us: int | None


def covered(engine: Engine, camera_id: str) -> Covered:
    """The first start and last end over the camera's segments and gaps. Raises CatalogError."""
    first, last = covered_interval(engine, camera_id)
    return Covered(camera_id, first, last)


def require_covered(engine: Engine, cameras: Iterable[str], start_us: int, end_us: int, now_us: int,
                    when: Callable[[int], str]) -> None:  # fmt: skip
    """Refuse a range the log of one of ``cameras`` cannot cover: it starts before the camera's
    first entry or at or after the end of its last one (wholly inside an outage not yet logged),
    ends after ``now_us``, or the camera has no entry yet. ``when`` formats a time
    for the message (display zone and UTC).

    Raises:
        ValidationError: one problem per camera, naming the interval its log covers (HTTP 422, exit 2).
        CatalogError.
    """
    problems: list[Problem] = []
    if end_us > now_us:
        problems.append(Problem("end", f"the range ends in the future ({when(end_us)}); it can end now at the latest"))
    for camera_id in cameras:
        c = covered(engine, camera_id)
        if c.first_us is None or c.last_us is None:
            problems.append(Problem("cameras", f"camera {camera_id} has recorded nothing yet: there is nothing to "
                                               "export"))  # fmt: skip
        elif start_us < c.first_us:
            problems.append(Problem("start", f"camera {camera_id} is recorded from {when(c.first_us)} to "
                                             f"{when(c.last_us)}: the range starts before its first recording"))
        elif start_us >= c.last_us:
            problems.append(Problem("start", f"camera {camera_id} is recorded from {when(c.first_us)} to "
                                             f"{when(c.last_us)}: the range starts after its last log entry (an "
                                             "outage still going on is not yet logged; a range that begins "
                                             "before it is exported with it marked as ongoing)"))  # fmt: skip
    if problems:
        raise ValidationError(problems)
