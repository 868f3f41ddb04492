"""The deletion planner: a pure function ``plan(rules, segments, holds, now[, pressure]) -> Plan``.

No I/O: segments come from a :data:`SegmentSource` the caller provides (the catalog pages through
an index; tests pass lists), so planning 15M segments never materializes them. The contract:

- A segment is **held** if an active hold (not expired at ``now``) of its camera overlaps it
  (``seg.start < hold.end and seg.end > hold.start``). Held segments are never selected.
- A segment is **expired** when ``end + keep <= now``, ``keep`` being the camera rule's keep
  period, or the longer *legacy* keep for segments that started before an unconfirmed
  shortening (see :mod:`archive.retention.reconcile`). Every expired, unheld segment is selected.
- Under **storage pressure** (usage >= ``delete_at`` and early deletion allowed by the lock mode),
  the oldest (by end) unheld segments of cameras whose owner allows early deletion, and that are
  older than the owner's ``min_keep_days``, are added until the bytes freed bring usage down to
  ``delete_down_to``. Nothing else is ever selected.

Selections are grouped per camera and rule; ``early`` marks deletions that may precede the
object-lock retention set at upload (pressure, or an admin-confirmed shortening): only those
are deleted bypassing GOVERNANCE retention.
"""

from __future__ import annotations

import enum
import heapq
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from archive.retention.policy import PressureThresholds

_NEVER = -(2**62)
_FOREVER = 2**62


class Seg(NamedTuple):
    """An unpruned segment as the planner sees it."""

    seq: int
    start_us: int
    end_us: int
    size: int


SegLike = tuple[int, int, int, int]
"""A :class:`Seg` or any ``(seq, start_us, end_us, size)`` tuple (e.g. a database row)."""

SegmentSource = Callable[[str, int, int], Iterable[SegLike]]
"""``(camera_id, after_end_us, max_end_us)`` -> that camera's unpruned segments with
``after_end_us < end_us <= max_end_us``, in ascending ``end_us`` order (ties in any order)."""


@dataclass(frozen=True)
class CameraRule:
    """What the planner needs to know about one camera's retention."""

    camera_id: str
    owner_id: str
    rule: str
    keep_us: int
    legacy_rule: str | None = None
    legacy_keep_us: int | None = None
    """A longer keep for segments that started before ``legacy_before_us`` (unconfirmed shortening)."""
    legacy_before_us: int | None = None
    bypass_before_us: int | None = None
    """Segments that started before this may carry a longer lock than the rule (confirmed shortening)."""
    pressure_rule: str | None = None
    pressure_min_keep_us: int | None = None
    """None: never deleted early under storage pressure."""

    def _legacy(self, start_us: int) -> bool:
        return (
            self.legacy_keep_us is not None and self.legacy_before_us is not None
            and start_us < self.legacy_before_us and self.legacy_keep_us > self.keep_us
        )  # fmt: skip

    def keep_for(self, start_us: int) -> tuple[int, str]:
        """``(keep_us, rule name)`` for a segment that started at ``start_us``."""
        if self._legacy(start_us):
            return self.legacy_keep_us or 0, self.legacy_rule or self.rule
        return self.keep_us, self.rule

    def expiry_bound(self, now_us: int) -> int:
        """No segment ending after this can be expired at ``now_us``."""
        current = now_us - self.keep_us
        if self.legacy_keep_us is None or self.legacy_before_us is None or self.legacy_keep_us <= self.keep_us:
            return current
        # segments starting at/after legacy_before end after it: they only count once current reaches it
        return max(now_us - self.legacy_keep_us, current if current >= self.legacy_before_us else _NEVER)

    def surely_expired(self, now_us: int) -> int:
        """Every segment ending at or before this is expired at ``now_us`` (whatever its start)."""
        return now_us - max(self.keep_us, self.legacy_keep_us or 0)

    def is_early(self, seg: Seg) -> bool:
        """True if the segment's lock may outlast this rule (confirmed shortening)."""
        return self.bypass_before_us is not None and seg.start_us < self.bypass_before_us


@dataclass(frozen=True)
class HoldSpan:
    """One camera of a legal hold: ``[start_us, end_us)``, active until ``expires_us`` (None: indefinite)."""

    hold_id: int
    camera_id: str
    start_us: int
    end_us: int
    expires_us: int | None = None

    def active(self, now_us: int) -> bool:
        """Whether the hold is in force at ``now_us``."""
        return self.expires_us is None or self.expires_us > now_us

    def covers(self, start_us: int, end_us: int) -> bool:
        """Whether ``[start_us, end_us)`` overlaps the hold."""
        return start_us < self.end_us and end_us > self.start_us


class PressureLevel(enum.StrEnum):
    """Storage usage against the city thresholds."""

    OK = "ok"
    ALARM = "alarm"
    DELETE = "delete"


@dataclass(frozen=True)
class PressureInput:
    """Measured usage, the city thresholds, and whether early deletion is possible at all
    (False under COMPLIANCE locks: retention cannot be bypassed)."""

    used_bytes: int
    capacity_bytes: int
    thresholds: PressureThresholds
    early_allowed: bool = True

    @property
    def fraction(self) -> float:
        """Used / capacity (1.0 for a zero capacity)."""
        return self.used_bytes / self.capacity_bytes if self.capacity_bytes > 0 else 1.0

    @property
    def level(self) -> PressureLevel:
        """ok, alarm or delete."""
        f = self.fraction
        if f >= self.thresholds.delete_at:
            return PressureLevel.DELETE
        return PressureLevel.ALARM if f >= self.thresholds.alarm_at else PressureLevel.OK


@dataclass(frozen=True)
class PressureOutcome:
    """What the planner did about storage pressure."""

    level: PressureLevel
    used_bytes: int
    capacity_bytes: int
    need_bytes: int
    """Bytes to free beyond the expired footage to reach ``delete_down_to`` (0 below ``delete_at``)."""
    freed_expired_bytes: int
    freed_early_bytes: int
    blocked: str | None = None

    @property
    def shortfall_bytes(self) -> int:
        """Bytes still missing after early deletion (nothing else was allowed)."""
        return max(0, self.need_bytes - self.freed_early_bytes)


@dataclass(frozen=True, eq=False)
class Selection:
    """Segments of one camera selected under one rule. ``seqs`` in end-time order (read-only)."""

    camera_id: str
    owner_id: str
    rule: str
    early: bool
    pressure: bool
    seqs: array[int] = field(repr=False)
    count: int
    bytes: int
    oldest_start_us: int
    newest_end_us: int


@dataclass(frozen=True)
class CameraPlan:
    """All selections of one camera, and the expired footage kept because it is held."""

    camera_id: str
    owner_id: str
    selections: tuple[Selection, ...]
    held_count: int = 0
    held_bytes: int = 0

    @property
    def count(self) -> int:
        """Segments selected."""
        return sum(s.count for s in self.selections)

    @property
    def bytes(self) -> int:
        """Bytes selected."""
        return sum(s.bytes for s in self.selections)


@dataclass(frozen=True)
class Plan:
    """The deletion plan at ``now_us`` (cameras in id order)."""

    now_us: int
    cameras: tuple[CameraPlan, ...]
    pressure: PressureOutcome | None = None

    @property
    def count(self) -> int:
        """Segments selected."""
        return sum(c.count for c in self.cameras)

    @property
    def bytes(self) -> int:
        """Bytes selected."""
        return sum(c.bytes for c in self.cameras)

    def selected(self) -> dict[str, set[int]]:
        """camera -> selected seqs (for tests and small plans)."""
        return {c.camera_id: {q for s in c.selections for q in s.seqs} for c in self.cameras}


class _Acc:
    """Mutable accumulator of one camera's selections while planning.

    A group is ``[count, bytes, oldest_start, newest_end, seqs]`` per ``(rule, early, pressure)``.
    """

    def __init__(self, rule: CameraRule) -> None:
        self.rule = rule
        self.groups: dict[tuple[str, bool, bool], list[Any]] = {}
        self.held_count = self.held_bytes = 0

    def group(self, name: str, early: bool, pressure: bool) -> list[Any]:
        key = (name, early, pressure)
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = [0, 0, _FOREVER, _NEVER, array("q")]
        return g

    @property
    def bytes(self) -> int:
        return sum(int(g[1]) for g in self.groups.values())

    def result(self) -> CameraPlan:
        sels = tuple(
            Selection(self.rule.camera_id, self.rule.owner_id, k[0], k[1], k[2], g[4], g[0], g[1], g[2], g[3])
            for k, g in sorted(self.groups.items(), key=lambda kv: (kv[0][2], kv[1][3])) if g[0]
        )  # fmt: skip
        return CameraPlan(self.rule.camera_id, self.rule.owner_id, sels, self.held_count, self.held_bytes)


def _broken(camera_id: str, seq: int) -> ValueError:
    return ValueError(f"segment source broke its contract for {camera_id} at seq {seq}")


def _held(spans: list[HoldSpan], start: int, end: int) -> bool:
    return any(start < h.end_us and end > h.start_us for h in spans)


def _expire(rule: CameraRule, segs: Iterable[SegLike], spans: list[HoldSpan] | None, now_us: int, bound: int,
            acc: _Acc) -> None:  # fmt: skip
    """The expiry pass over one camera (the hot loop: kept flat and positional on purpose)."""
    keep, cam = rule.keep_us, rule.camera_id
    lkeep = rule.legacy_keep_us or 0
    legacy = rule.legacy_before_us is not None and lkeep > keep
    lbefore = rule.legacy_before_us if legacy and rule.legacy_before_us is not None else _NEVER
    bypass = rule.bypass_before_us if rule.bypass_before_us is not None else _NEVER
    lo, hi = (min(h.start_us for h in spans), max(h.end_us for h in spans)) if spans else (_FOREVER, _NEVER)
    main = acc.group(rule.rule, False, False)
    other: dict[tuple[bool, bool], list[Any]] = {}
    last = _NEVER
    for seq, start, end, size in segs:
        if end < last or end > bound:
            raise _broken(cam, seq)
        last = end
        old = start < lbefore
        if end + (lkeep if old else keep) > now_us:
            continue
        if start < hi and end > lo and spans and _held(spans, start, end):
            acc.held_count += 1
            acc.held_bytes += size
            continue
        early = start < bypass
        if old or early:
            g = other.get((old, early))
            if g is None:
                name = (rule.legacy_rule or rule.rule) if old else rule.rule
                g = other[(old, early)] = acc.group(name, early, False)
        else:
            g = main
        g[0] += 1
        g[1] += size
        if start < g[2]:
            g[2] = start
        g[3] = end
        g[4].append(seq)


def plan(
    rules: Mapping[str, CameraRule],
    source: SegmentSource,
    holds: Iterable[HoldSpan],
    now_us: int,
    pressure: PressureInput | None = None,
) -> Plan:
    """Select what retention deletes at ``now_us`` (see the module docstring).

    Raises:
        ValueError: ``source`` returned segments out of end order or beyond the asked bound.
    """
    spans: dict[str, list[HoldSpan]] = {}
    for h in holds:
        if h.active(now_us):
            spans.setdefault(h.camera_id, []).append(h)
    accs: dict[str, _Acc] = {}
    for cam in sorted(rules):
        rule = rules[cam]
        accs[cam] = _Acc(rule)
        bound = rule.expiry_bound(now_us)
        _expire(rule, source(cam, _NEVER, bound), spans.get(cam), now_us, bound, accs[cam])
    outcome = None
    if pressure is not None:
        outcome = _pressure(rules, source, spans, now_us, pressure, accs)
    return Plan(now_us, tuple(accs[c].result() for c in sorted(accs)), outcome)


def _eligible(rule: CameraRule, index: int, source: SegmentSource, spans: list[HoldSpan] | None,
              now_us: int, min_keep: int) -> Iterator[tuple[int, int, int, int, int]]:  # fmt: skip
    """``(end, camera index, seq, start, size)`` of segments pressure may delete, oldest first."""
    bound, after = now_us - min_keep, rule.surely_expired(now_us)  # at/below `after`: expired (or held)
    cam = rule.camera_id
    last = after
    for seq, start, end, size in source(cam, after, bound):
        if end < last or end > bound or end <= after:
            raise _broken(cam, seq)
        last = end
        keep, _ = rule.keep_for(start)
        if end + keep <= now_us or (spans and _held(spans, start, end)):
            continue  # already selected as expired, or held
        yield end, index, seq, start, size


def _pressure(
    rules: Mapping[str, CameraRule],
    source: SegmentSource,
    spans: Mapping[str, list[HoldSpan]],
    now_us: int,
    p: PressureInput,
    accs: Mapping[str, _Acc],
) -> PressureOutcome:
    """Add the oldest eligible segments until usage reaches ``delete_down_to``."""
    freed = sum(a.bytes for a in accs.values())
    level = p.level
    need = 0
    if level is PressureLevel.DELETE:
        need = max(0, p.used_bytes - int(p.thresholds.delete_down_to * p.capacity_bytes) - freed)
    base = PressureOutcome(level, p.used_bytes, p.capacity_bytes, need, freed, 0)
    if need <= 0:
        return base
    if not p.early_allowed:
        why = "COMPLIANCE object lock: footage cannot be deleted before its retention date"
        return PressureOutcome(level, p.used_bytes, p.capacity_bytes, need, freed, 0, why)
    cams = [cam for cam in sorted(rules) if rules[cam].pressure_min_keep_us is not None]
    streams = [_eligible(rules[cam], i, source, spans.get(cam), now_us, rules[cam].pressure_min_keep_us or 0)
               for i, cam in enumerate(cams)]  # fmt: skip
    groups = [accs[cam].group(rules[cam].pressure_rule or rules[cam].rule, True, True) for cam in cams]
    got = 0
    for end, i, seq, start, size in heapq.merge(*streams):
        if got >= need:
            break
        g = groups[i]
        g[0] += 1
        g[1] += size
        if start < g[2]:
            g[2] = start
        g[3] = end
        g[4].append(seq)
        got += size
    blocked = None if got >= need else "not enough footage may be deleted early under the owners' policies"
    return PressureOutcome(level, p.used_bytes, p.capacity_bytes, need, freed, got, blocked)
