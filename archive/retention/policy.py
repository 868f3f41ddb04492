"""Retention policies as frozen values: the city-wide file and one file per camera owner.

Built only by :mod:`archive.retention.policy_load` (which validates); everything here is pure.
A camera's rule is resolved as: a camera override of its owner, else the longest-keeping tag
override matching one of its tags, else the owner's ``keep_days``; owners without a file get
the city's ``default_keep_days``. Each resolved rule has a stable *name* naming the policy file
and rule id (e.g. ``dishub.toml#override.atcs:45d``): it goes into every ``prune`` entry.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DAY_US = 86_400 * 1_000_000
CITY_FILE = "_city.toml"


class ExportApproval(enum.StrEnum):
    """Who must approve an export of an owner's footage (used by the export issue)."""

    OWNER = "owner"
    """The owner's own staff must approve (private owners)."""
    ADMIN = "admin"
    """A command-center administrator approves."""
    POLICY = "policy"
    """Approved by policy: an authorized investigator's request suffices."""


@dataclass(frozen=True)
class PressureThresholds:
    """City-wide storage-pressure thresholds, as fractions of the capacity.

    ``alarm_at``: raise an alarm. ``delete_at``: start deleting unheld footage early (only where
    owners allow it), down to ``delete_down_to``.
    """

    alarm_at: float
    delete_at: float
    delete_down_to: float


@dataclass(frozen=True)
class CityPolicy:
    """The city-wide file: floor and ceiling no owner may cross, the default, the thresholds."""

    floor_days: int
    ceiling_days: int
    default_keep_days: int
    pressure: PressureThresholds
    source: str = CITY_FILE


@dataclass(frozen=True)
class Override:
    """A per-camera or per-tag keep period inside an owner's file."""

    id: str
    keep_days: int
    cameras: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OwnerPressure:
    """What an owner allows when storage is nearly full: early deletion, never below ``min_keep_days``."""

    delete_early: bool = False
    min_keep_days: int | None = None


@dataclass(frozen=True)
class OwnerPolicy:
    """One owner's file."""

    owner: str
    keep_days: int
    export_approval: ExportApproval
    pressure: OwnerPressure = OwnerPressure()
    overrides: tuple[Override, ...] = ()
    source: str = ""
    """The file name (e.g. ``dishub.toml``)."""


@dataclass(frozen=True)
class ResolvedRule:
    """The rule that applies to one camera."""

    owner_id: str
    name: str
    keep_days: int
    pressure_name: str | None = None
    pressure_min_keep_days: int | None = None
    """None: this camera's footage is never deleted early."""

    @property
    def keep_us(self) -> int:
        """The keep period in microseconds."""
        return self.keep_days * DAY_US

    @property
    def pressure_min_keep_us(self) -> int | None:
        """The early-deletion floor in microseconds (None: never early)."""
        return None if self.pressure_min_keep_days is None else self.pressure_min_keep_days * DAY_US


@dataclass(frozen=True)
class PolicySet:
    """All policies of a ``retention_policies/`` directory, validated."""

    city: CityPolicy
    owners: Mapping[str, OwnerPolicy] = field(default_factory=lambda: MappingProxyType({}))
    directory: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "owners", MappingProxyType(dict(self.owners)))

    @property
    def digest(self) -> str:
        """SHA-256 over the effective content (changes whenever a rule does)."""
        return hashlib.sha256(repr((self.city, sorted(self.owners.items()))).encode()).hexdigest()

    def export_approval(self, owner_id: str) -> ExportApproval:
        """Who approves exports of ``owner_id``'s footage (owners without a file: ``admin``)."""
        pol = self.owners.get(owner_id)
        return pol.export_approval if pol else ExportApproval.ADMIN

    def resolve(self, owner_id: str, camera_id: str, tags: tuple[str, ...] | frozenset[str] = ()) -> ResolvedRule:
        """The rule of one camera (see the module docstring). Never raises."""
        pol = self.owners.get(owner_id)
        if pol is None:
            days = self.city.default_keep_days
            return ResolvedRule(owner_id, f"{self.city.source}#default_keep_days:{days}d", days)
        name, days = f"{pol.source}#keep_days:{pol.keep_days}d", pol.keep_days
        by_camera = [o for o in pol.overrides if camera_id in o.cameras]
        by_tag = [o for o in pol.overrides if not o.cameras and o.tags & set(tags)]
        chosen = by_camera[0] if by_camera else max(by_tag, key=lambda o: (o.keep_days, o.id), default=None)
        if chosen is not None:
            name, days = f"{pol.source}#override.{chosen.id}:{chosen.keep_days}d", chosen.keep_days
        p_name = p_days = None
        if pol.pressure.delete_early and pol.pressure.min_keep_days is not None:
            p_days = min(pol.pressure.min_keep_days, days)
            p_name = f"{pol.source}#storage_pressure.min_keep_days:{p_days}d"
        return ResolvedRule(owner_id, name, days, p_name, p_days)
