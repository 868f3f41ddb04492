"""Policy changes against what was applied before (pure): lengthening applies to existing
footage, shortening only going forward unless an admin confirms.

Each camera has a stored :class:`CameraRetentionState` (the rule last applied). For a camera seen for the
first time, the previous keep period is the storage default (``[storage] default_retention_days``)
that set the object locks before policies existed. When the resolved rule differs:

- **longer** (or equal keep, other rule name): the new keep applies to all footage; the object
  locks of the camera's stored versions are extended (``extend_from_seq`` = 0 starts that job).
- **shorter, not confirmed**: the new keep applies to footage that starts from now on; older
  footage keeps the longer period (``legacy_*``). Repeated shortenings keep the longest legacy
  period for everything before the latest change (conservative).
- **shorter, confirmed by an admin** (or a pending shortening confirmed later): the legacy is
  dropped; segments that started before the change may carry a longer GOVERNANCE lock, so they
  are deleted bypassing it (``bypass_before_us``).

Every change is returned as a :class:`PolicyChange` to be audited.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace

from archive.retention.planner import CameraRule
from archive.retention.policy import ResolvedRule


class ChangeKind(enum.StrEnum):
    """How a camera's retention changed."""

    INITIAL = "initial"
    LENGTHENED = "lengthened"
    RENAMED = "renamed"
    SHORTENED_FORWARD = "shortened_forward"
    SHORTENING_CONFIRMED = "shortening_confirmed"


@dataclass(frozen=True)
class CameraRetentionState:
    """The retention rule last applied to a camera (one ``retention_camera_state`` row)."""

    camera_id: str
    owner_id: str
    rule: str
    keep_us: int
    legacy_rule: str | None = None
    legacy_keep_us: int | None = None
    legacy_before_us: int | None = None
    bypass_before_us: int | None = None
    extend_from_seq: int | None = None
    """Lock extension pending from this seq on (None: nothing pending)."""
    updated_us: int = 0

    @property
    def pending_shortening(self) -> bool:
        """Older footage is still kept longer than the current rule."""
        return self.legacy_keep_us is not None and self.legacy_keep_us > self.keep_us


@dataclass(frozen=True)
class PolicyChange:
    """One applied change, for the audit log."""

    camera_id: str
    owner_id: str
    kind: ChangeKind
    old_rule: str
    old_keep_us: int
    new_rule: str
    new_keep_us: int


@dataclass(frozen=True)
class Reconciled:
    """New states (only those that changed) and the changes to audit."""

    states: Mapping[str, CameraRetentionState]
    changes: tuple[PolicyChange, ...]


def _one(rule: ResolvedRule, old: CameraRetentionState, now_us: int,
         confirm: bool) -> tuple[CameraRetentionState, ChangeKind | None]:  # fmt: skip
    new_keep = rule.keep_us
    base = replace(old, owner_id=rule.owner_id, rule=rule.name, keep_us=new_keep, updated_us=now_us)
    if new_keep > old.keep_us:
        legacy_done = old.legacy_keep_us is None or new_keep >= old.legacy_keep_us
        if legacy_done:
            base = replace(base, legacy_rule=None, legacy_keep_us=None, legacy_before_us=None)
        return replace(base, extend_from_seq=0), ChangeKind.LENGTHENED
    if new_keep < old.keep_us or (confirm and old.pending_shortening):
        if confirm:
            before = now_us if new_keep < old.keep_us else (old.legacy_before_us or now_us)
            bypass = max(before, old.bypass_before_us or before)
            confirmed = replace(base, legacy_rule=None, legacy_keep_us=None, legacy_before_us=None,
                                bypass_before_us=bypass)
            return confirmed, ChangeKind.SHORTENING_CONFIRMED
        if old.legacy_keep_us is not None and old.legacy_keep_us > old.keep_us:
            legacy_keep, legacy_rule = old.legacy_keep_us, old.legacy_rule or old.rule
        else:
            legacy_keep, legacy_rule = old.keep_us, old.rule
        return (replace(base, legacy_rule=legacy_rule, legacy_keep_us=legacy_keep, legacy_before_us=now_us),
                ChangeKind.SHORTENED_FORWARD)  # fmt: skip
    if rule.name != old.rule or rule.owner_id != old.owner_id:
        return base, ChangeKind.RENAMED
    return old, None


def reconcile(
    resolved: Mapping[str, ResolvedRule],
    states: Mapping[str, CameraRetentionState],
    now_us: int,
    *,
    initial_keep_us: int,
    initial_rule: str,
    confirm: bool = False,
) -> Reconciled:
    """Compare each camera's resolved rule with its stored state (see the module docstring).

    ``initial_keep_us``/``initial_rule``: what locked footage before the camera had a state.
    ``confirm``: an admin confirmed shortenings (pending ones included). Pure; never raises.
    """
    out: dict[str, CameraRetentionState] = {}
    changes: list[PolicyChange] = []
    for cam in sorted(resolved):
        rule = resolved[cam]
        old = states.get(cam)
        first = old is None
        if old is None:
            old = CameraRetentionState(cam, rule.owner_id, initial_rule, initial_keep_us)
        new, kind = _one(rule, old, now_us, confirm)
        if first:
            kind = kind if kind is not None and kind is not ChangeKind.RENAMED else ChangeKind.INITIAL
            if kind is ChangeKind.LENGTHENED:
                new = replace(new, extend_from_seq=0)
        if kind is None:
            continue
        out[cam] = new
        changes.append(PolicyChange(cam, rule.owner_id, kind, old.rule, old.keep_us, new.rule, new.keep_us))
    return Reconciled(out, tuple(changes))


def camera_rule(state: CameraRetentionState, resolved: ResolvedRule) -> CameraRule:
    """The planner's view of a camera: the applied state plus the pressure rule of its policy."""
    return CameraRule(
        camera_id=state.camera_id, owner_id=state.owner_id, rule=state.rule, keep_us=state.keep_us,
        legacy_rule=state.legacy_rule, legacy_keep_us=state.legacy_keep_us, legacy_before_us=state.legacy_before_us,
        bypass_before_us=state.bypass_before_us, pressure_rule=resolved.pressure_name,
        pressure_min_keep_us=resolved.pressure_min_keep_us,
    )  # fmt: skip
