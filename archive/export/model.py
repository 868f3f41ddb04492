"""Frozen values of the export workflow: states, who acts, an export as stored, settings.

State machine (one row in ``export_request``)::

    requested --(every owner group approved)--> approved --build--> building --> built
        |                                                     ^          |
        +--(any owner group refused)--> refused               +-- failed <+   (a failed build may be retried)

An export needs one decision per camera owner of its cameras, by the rule of that owner's
policy file (``export_approval``): ``owner`` (that owner's staff), ``admin`` (an administrator)
or ``policy`` (approved by the rule itself when requested).
"""

from __future__ import annotations

import enum
import getpass
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from archive.errors import ConfigError
from archive.export.timestamping import TimestampClient
from archive.export.views import ExportView
from archive.identity.model import Principal
from archive.integrity import ALG_COSIGNATURE_V1, DEFAULT_TOLERANCE_US, VerifierKey, format_time
from archive.model import utc_from_us
from archive.retention.policy import ExportApproval

__all__ = ["SYSTEM", "Actor", "ExportRecord", "ExportSettings", "ExportStatus", "OwnerApproval", "cli_origin"]


class ExportStatus(enum.StrEnum):
    """Where an export is in its workflow."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    BUILDING = "building"
    BUILT = "built"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"


def cli_origin() -> str:
    """``cli:<os user>@<host>``: where a command-line action came from."""
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


@dataclass(frozen=True)
class Actor:
    """Who does something to an export, and from where (client IP or ``cli:user@host``)."""

    user: str
    name: str
    role: str
    agency: str | None
    owner: str | None
    origin: str

    @classmethod
    def of(cls, who: Principal, origin: str) -> Actor:
        """The actor of an authenticated principal."""
        return cls(who.user_id, who.name, who.role.value, who.agency, who.owner_id, origin)


SYSTEM = Actor("system", "archive export service", "system", None, None, "archive")


@dataclass(frozen=True)
class OwnerApproval:
    """The decision one camera owner's group of cameras needs, and (once made) the decision."""

    owner_id: str
    rule: ExportApproval
    decision: str | None = None
    actor: str | None = None
    actor_name: str | None = None
    actor_role: str | None = None
    at_us: int | None = None
    reason: str = ""
    origin: str | None = None

    @property
    def pending(self) -> bool:
        """No decision yet."""
        return self.decision is None


@dataclass(frozen=True)
class ExportRecord:
    """One export as stored: the request, its cameras and decisions, build state, package."""

    id: str
    case_id: str
    legal_basis: str
    reason: str
    start_us: int
    end_us: int
    status: ExportStatus
    requested_by: str
    requested_name: str
    requested_role: str
    requested_agency: str | None
    requested_us: int
    cameras: tuple[tuple[str, str], ...]
    """``(camera id, owner id)`` in request order."""
    approvals: tuple[OwnerApproval, ...]
    hold_id: int | None = None
    operator: str | None = None
    progress_done: int = 0
    progress_total: int = 0
    build_started_us: int | None = None
    build_finished_us: int | None = None
    error: str | None = None
    package_name: str | None = None
    package_path: str | None = None
    package_sha256: str | None = None
    package_size: int | None = None
    manifest_sha256: str | None = None

    @property
    def camera_ids(self) -> tuple[str, ...]:
        """The cameras, in request order."""
        return tuple(c for c, _ in self.cameras)

    @property
    def owner_ids(self) -> frozenset[str]:
        """The owners of the cameras."""
        return frozenset(o for _, o in self.cameras)

    @property
    def progress(self) -> float | None:
        """Build progress 0..1 (None before a build started)."""
        if self.status is ExportStatus.BUILT:
            return 1.0
        if self.build_started_us is None:
            return None
        return min(1.0, self.progress_done / self.progress_total) if self.progress_total else 0.0

    def view(self, owner: str | None = None) -> ExportView:
        """The API's view of this export; for ``owner``'s staff only that owner's cameras and
        approvals (another owner's camera ids are not theirs to know)."""
        approvals = tuple(
            f"{a.owner_id}: {a.decision or 'pending'} ({a.rule.value}"
            + (f", by {a.actor} at {format_time(utc_from_us(a.at_us))}" if a.actor and a.at_us else "") + ")"
            for a in self.approvals if owner is None or a.owner_id == owner
        )
        cameras = tuple(c for c, o in self.cameras if owner is None or o == owner)
        hidden = len(self.cameras) - len(cameras)
        notes = tuple(x for x in (self.error and f"build failed: {self.error}",
                                  self.hold_id is not None and f"legal hold {self.hold_id}",
                                  hidden and f"{hidden} camera(s) of other owners not shown") if x)  # fmt: skip
        return ExportView(self.id, self.case_id, self.status.value, cameras, self.start_us, self.end_us,
                          self.requested_by, self.requested_agency, self.requested_us, approvals, self.progress,
                          self.package_sha256, self.package_size, notes,
                          error=self.error if self.status is ExportStatus.FAILED else None)  # fmt: skip


@dataclass(frozen=True)
class ExportSettings:
    """How exports are built and where packages go.

    ``exports_dir``: packages and build scratch space (``<data_dir>/exports`` by default).
    ``zone``: time zone shown beside UTC (custody events, report). ``tolerance_us``: holes
    between recordings tolerated by the completeness check (SPEC.md 8.8). ``working_copy``:
    make the derived MP4 per camera. ``max_range_us``: longest range one request may ask for.
    ``witness_keys``: the witnesses' keys (type 0x04); packages keep the checkpoint cosignatures
    these verify, and bundle the keys. ``witness_quorum``: how many of them must have cosigned
    each camera's checkpoint (``[export] witness_policy``; 0: none). ``timestamps``: the RFC 3161
    time-stamping authority whose token over each camera's checkpoint every package carries
    (``[export] timestamp_url``, EXPORT-SPEC.md 7.6; None: no token).

    Raises (on construction): ConfigError for an unknown zone or values out of range.
    """

    exports_dir: Path
    zone_name: str = "Asia/Jakarta"
    tolerance_us: int = DEFAULT_TOLERANCE_US
    working_copy: bool = True
    ffmpeg: str | None = None
    max_range_us: int = 7 * 86_400_000_000
    max_cameras: int = 64
    witness_keys: tuple[VerifierKey, ...] = ()
    witness_quorum: int = 0
    timestamps: TimestampClient | None = None

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.zone_name)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"export time zone {self.zone_name!r} is unknown") from exc
        if self.tolerance_us < 0 or self.max_range_us <= 0 or self.max_cameras < 1:
            raise ConfigError("export settings: tolerance, range and camera limits must be positive")
        if not 0 <= self.witness_quorum <= len({k.public_key for k in self.witness_keys}):
            raise ConfigError(f"export witness policy: {self.witness_quorum} cosignatures needed, but only "
                              f"{len(self.witness_keys)} witness keys are known")  # fmt: skip
        for k in self.witness_keys:
            if k.alg != ALG_COSIGNATURE_V1:
                raise ConfigError(f"witness key {k.name}: not a witness (cosignature/v1, type 0x04) key")

    @property
    def zone(self) -> ZoneInfo:
        """The display zone."""
        return ZoneInfo(self.zone_name)

    def local(self, when: datetime) -> str:
        """``2025-03-14 16:26:50.000000 WIB (UTC+07:00, Asia/Jakarta)``."""
        t = when.astimezone(self.zone)
        off = t.strftime("%z")
        return f"{t:%Y-%m-%d %H:%M:%S.%f} {t.tzname()} (UTC{off[:3]}:{off[3:]}, {self.zone_name})"

    def local_us(self, us: int) -> str:
        """:meth:`local` of microseconds since the epoch."""
        return self.local(utc_from_us(us))
