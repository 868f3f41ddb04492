"""Response and request bodies (msgspec Structs): what the OpenAPI schema publishes.

Every time is given twice: ``start`` in UTC (``...Z``) and ``start_local`` in the display
zone (``+07:00`` for Asia/Jakarta); the zone's name is in each top-level answer.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "AuditEventOut", "AuditEventsOut", "AuditHeadOut", "AuditVerifyOut", "CameraOut", "CameraPatch", "CamerasOut",
    "CoverageOut", "ExportDecisionIn", "ExportIn", "ExportOut", "ExportsOut", "GapOut", "HealthOut", "HoldIn",
    "HoldOut", "HoldReleaseIn", "HoldsOut", "IntervalOut", "MeOut", "OwnerOut", "OwnersOut", "PackageCheckOut",
    "PackageMetaOut", "PackageVerifyOut", "PlaybackUrlOut",
    "RecordingsOut", "RetentionCameraOut", "RetentionPlanOut", "SegmentOut", "SharingIn", "SightingOut",
    "SightingsOut", "TokenIn", "TokenIssuedOut", "TokenOut", "TokensOut", "UserIn", "UserOut", "UsersOut",
    "VerifyOut",
]  # fmt: skip


class _In(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base of every request body: an unknown field is a 422 naming it, never silently ignored."""


class _Out(msgspec.Struct, kw_only=True, frozen=True):
    pass


class IntervalOut(_Out, kw_only=True, frozen=True):
    start: str
    start_local: str
    end: str
    end_local: str
    seconds: float


class GapOut(IntervalOut, kw_only=True, frozen=True):
    seq: int
    reason: str
    detail: str


class CameraOut(_Out, kw_only=True, frozen=True):
    id: str
    name: str
    owner: str
    latitude: float
    longitude: float
    location: str
    tags: list[str]
    enabled: bool
    distance_m: float | None = None


class CamerasOut(_Out, kw_only=True, frozen=True):
    items: list[CameraOut]
    count: int
    limit: int
    offset: int


class SegmentOut(IntervalOut, kw_only=True, frozen=True):
    camera: str
    seq: int
    duration_s: float
    size: int
    sha256: str
    container: str
    codec: str
    width: int | None
    height: int | None
    partial: bool
    pruned: bool


class CoverageOut(_Out, kw_only=True, frozen=True):
    camera: str
    covered: list[IntervalOut]
    pruned: list[IntervalOut]
    gaps: list[GapOut]
    unaccounted: list[IntervalOut]
    segments: int
    bytes: int


class RecordingsOut(_Out, kw_only=True, frozen=True):
    zone: str
    range: IntervalOut
    cameras: list[str]
    coverage: list[CoverageOut] | None
    segments: list[SegmentOut]
    next_cursor: str | None


class SightingOut(_Out, kw_only=True, frozen=True):
    camera: CameraOut
    coverage: CoverageOut


class SightingsOut(_Out, kw_only=True, frozen=True):
    zone: str
    latitude: float | None
    longitude: float | None
    radius_m: float | None
    bbox: list[float] | None
    """south, west, north, east of a box search (None for a circle; then latitude/longitude/radius_m)."""
    range: IntervalOut
    cameras: list[SightingOut]


class PlaybackUrlOut(IntervalOut, kw_only=True, frozen=True):
    camera: str
    seq: int
    url: str
    expires_at: str
    expires_at_local: str
    sha256: str
    size: int
    container: str
    codec: str


class MeOut(_Out, kw_only=True, frozen=True):
    user: str
    name: str
    role: str
    agency: str | None
    owner: str | None
    token: str
    permissions: list[str]
    cameras_visible: str
    confirmed: bool
    notices: list[str]


class OwnerOut(_Out, kw_only=True, frozen=True):
    id: str
    name: str
    kind: str
    agencies: list[str]


class OwnersOut(_Out, kw_only=True, frozen=True):
    items: list[OwnerOut]


class SharingIn(_In, kw_only=True, frozen=True):
    agencies: list[str]


class CameraPatch(_In, kw_only=True, frozen=True):
    name: str | None = None
    location: str | None = None
    tags: list[str] | None = None
    enabled: bool | None = None
    latitude: float | None = None
    longitude: float | None = None


class HoldIn(_In, kw_only=True, frozen=True):
    case_id: str
    reason: str
    cameras: list[str]
    start: str
    end: str
    expires: str | None = None


class HoldReleaseIn(_In, kw_only=True, frozen=True):
    reason: str


class HoldOut(_Out, kw_only=True, frozen=True):
    """``disclosure`` ``existence`` (owner staff, another's hold on their cameras): case, reason,
    agency and who placed or released it are null (archive/retention/hold_access.py)."""

    id: int
    disclosure: str
    case_id: str | None
    reason: str | None
    agency: str | None
    cameras: list[str]
    range: IntervalOut
    expires: str | None
    active: bool
    created_by: str | None
    created_role: str | None
    created_at: str
    released_by: str | None
    released_at: str | None
    release_reason: str | None


class HoldsOut(_Out, kw_only=True, frozen=True):
    zone: str
    items: list[HoldOut]


class RetentionCameraOut(_Out, kw_only=True, frozen=True):
    camera: str
    owner: str
    rules: list[str]
    count: int
    bytes: int
    oldest: str | None
    newest: str | None
    held_count: int
    held_bytes: int


class RetentionPlanOut(_Out, kw_only=True, frozen=True):
    zone: str
    at: str
    at_local: str
    count: int
    bytes: int
    cameras: list[RetentionCameraOut]


class ExportIn(_In, kw_only=True, frozen=True):
    case_id: str
    legal_basis: str
    reason: str
    cameras: list[str]
    start: str
    end: str


class ExportDecisionIn(_In, kw_only=True, frozen=True):
    approve: bool
    reason: str = ""


class ExportWithdrawIn(_In, kw_only=True, frozen=True):
    reason: str


class ExportOut(_Out, kw_only=True, frozen=True):
    id: str
    case_id: str
    status: str
    cameras: list[str]
    range: IntervalOut
    requested_by: str
    requested_agency: str | None
    created_at: str
    approvals: list[str]
    progress: float | None
    package_sha256: str | None
    package_size: int | None
    error: str | None = None


class ExportsOut(_Out, kw_only=True, frozen=True):
    zone: str
    items: list[ExportOut]


class VerifyOut(_Out, kw_only=True, frozen=True):
    ok: bool
    subject: str
    failures: list[str]
    notes: list[str]
    checkpoint_size: int | None
    checkpoint_root: str | None
    entries_checked: int
    segments_checked: int
    bytes_hashed: int
    seconds: float


class AuditEventOut(_Out, kw_only=True, frozen=True):
    seq: int
    entry_hash: str
    at: str
    at_local: str
    actor: str | None
    agency: str | None
    owner: str | None
    role: str | None
    token: str | None
    ip: str
    action: str
    method: str
    path: str
    target: dict[str, object]
    result: str
    status: int
    detail: dict[str, object]


class AuditEventsOut(_Out, kw_only=True, frozen=True):
    zone: str
    items: list[AuditEventOut]
    next_before_seq: int | None


class AuditVerifyOut(_Out, kw_only=True, frozen=True):
    ok: bool
    origin: str
    size: int
    entries_checked: int
    checkpoints_checked: int
    signed_size: int | None
    signed_root: str | None
    failures: list[str]
    seconds: float


class AuditHeadOut(_Out, kw_only=True, frozen=True):
    origin: str
    size: int
    signed_size: int | None
    signed_root: str | None
    signed_at: str | None
    note: str | None


class UserIn(_In, kw_only=True, frozen=True):
    id: str
    name: str
    role: str
    agency: str | None = None
    owner: str | None = None


class UserOut(_Out, kw_only=True, frozen=True):
    id: str
    name: str
    role: str
    agency: str | None
    owner: str | None
    created_at: str
    revoked_at: str | None
    active: bool
    created_by: str | None
    confirmed: bool
    confirmed_by: str | None
    confirmed_at: str | None


class UsersOut(_Out, kw_only=True, frozen=True):
    items: list[UserOut]


class TokenIn(_In, kw_only=True, frozen=True):
    days: int | None = None
    label: str = ""


class TokenOut(_Out, kw_only=True, frozen=True):
    id: str
    user: str
    label: str
    created_at: str
    expires_at: str
    revoked_at: str | None
    issued_by: str | None


class TokensOut(_Out, kw_only=True, frozen=True):
    items: list[TokenOut]


class TokenIssuedOut(_Out, kw_only=True, frozen=True):
    token: str
    id: str
    user: str
    expires_at: str
    note: str


class HealthCheckOut(_Out, kw_only=True, frozen=True):
    """``cameras`` (camera id -> state) only on the authenticated ``/api/v1/health``."""

    name: str
    ok: bool
    detail: str
    cameras: dict[str, str] | None = None


class HealthOut(_Out, kw_only=True, frozen=True):
    ok: bool
    checks: list[HealthCheckOut]


class PackageMetaOut(_Out, kw_only=True, frozen=True):
    """What to know before downloading: the hash first."""

    sha256: str
    size: int
    filename: str
    export_id: str
    case_id: str
    url: str


class PackageCheckOut(_Out, kw_only=True, frozen=True):
    name: str
    step: int
    """The verifier step (EXPORT-SPEC.md 9) this check belongs to."""
    ok: bool
    failures: list[str]
    details: list[str]


class PackageVerifyOut(_Out, kw_only=True, frozen=True):
    """The verifier's result for an uploaded package (``archive verify package`` in the API)."""

    valid: bool
    verdict: str
    status: str
    """``VALID``, ``UNVERIFIED`` or ``INVALID`` (EXPORT-SPEC.md 8)."""
    failed_step: int | None
    """The first failing verifier step (EXPORT-SPEC.md 9; 8 for UNVERIFIED), None when VALID."""
    export_id: str | None
    case_id: str | None
    package_sha256: str | None
    trust: str
    checks: list[PackageCheckOut]
    facts: list[str]
    recorded: bool

