"""Who may do what (roles x permissions) and who may see which cameras (owners x agencies).

Roles (every user belongs to an agency, or - role ``owner`` - to a camera owner):

- **admin** (e.g. the city's command-center IT): manages users, tokens, cameras and sharing;
  searches recordings (coverage and operations) but does **not** play back footage; creates and
  releases legal holds; reads the retention plan; runs verifications. Sees every camera.
- **investigator** (police and other agencies): searches and plays back the cameras shared with
  their agency; creates legal holds; requests and downloads exports.
- **legal** (legal staff of an agency): the same camera scope as their agency; searches and plays
  back (to review evidence); releases legal holds; reads the retention plan; runs verifications;
  requests and downloads exports for a case. Cannot create holds on their own.
- **owner** (a camera owner's staff): sees only their owner's cameras; searches and plays them
  back; decides which agencies see them (sharing); reads the retention plan and holds of their
  cameras; approves or refuses exports of their cameras.
- **auditor**: reads and verifies the audit trail (nobody else does); runs verifications; reads
  camera metadata, holds, retention plan and exports - never footage (no recordings search, no
  playback). Sees every camera's metadata.

admin and auditor also read the per-camera status (``/api/v1/health``, ``/api/v1/metrics``);
the open ``/health`` and ``/metrics`` name no camera.
Separation of duties (:mod:`archive.identity.duties`): a user created over the API is pending
until a second person confirms them and holds no permission but ``me.read`` until then; tokens
are created over the API only by their own user (``tokens.own``); new users are confirmed by
their owner's staff, their agency's members or a second administrator (``users.confirm``).

A permission the role lacks is HTTP 403. A camera outside the caller's scope is reported as
not found (HTTP 404), exactly like a camera that does not exist: no existence oracle.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from archive.errors import ForbiddenError
from archive.identity.model import Principal, Role


class Permission(enum.StrEnum):
    """One thing a request may do; routes declare exactly one."""

    ME = "me.read"
    CAMERAS_READ = "cameras.read"
    CAMERAS_WRITE = "cameras.write"
    OWNERS_READ = "owners.read"
    SHARING_WRITE = "sharing.write"
    RECORDINGS_READ = "recordings.read"
    PLAYBACK = "playback"
    HOLDS_READ = "holds.read"
    HOLDS_CREATE = "holds.create"
    HOLDS_RELEASE = "holds.release"
    RETENTION_READ = "retention.read"
    EXPORTS_READ = "exports.read"
    EXPORTS_REQUEST = "exports.request"
    EXPORTS_DECIDE = "exports.decide"
    EXPORTS_DOWNLOAD = "exports.download"
    VERIFY = "verify.run"
    AUDIT_READ = "audit.read"
    AUDIT_VERIFY = "audit.verify"
    USERS_READ = "users.read"
    USERS_WRITE = "users.write"
    STATUS_READ = "status.read"
    USERS_CONFIRM = "users.confirm"
    TOKENS_OWN = "tokens.own"


_A, _I, _L, _O, _U = Role.ADMIN, Role.INVESTIGATOR, Role.LEGAL, Role.OWNER, Role.AUDITOR
_EVERYONE = frozenset(Role)

ROLE_PERMISSIONS: Mapping[Permission, frozenset[Role]] = {
    Permission.ME: _EVERYONE,
    Permission.CAMERAS_READ: _EVERYONE,
    Permission.CAMERAS_WRITE: frozenset({_A}),
    Permission.OWNERS_READ: _EVERYONE,
    Permission.SHARING_WRITE: frozenset({_A, _O}),
    Permission.RECORDINGS_READ: frozenset({_A, _I, _L, _O}),
    Permission.PLAYBACK: frozenset({_I, _L, _O}),
    Permission.HOLDS_READ: _EVERYONE,
    Permission.HOLDS_CREATE: frozenset({_A, _I}),
    Permission.HOLDS_RELEASE: frozenset({_A, _L}),
    Permission.RETENTION_READ: frozenset({_A, _L, _O, _U}),
    Permission.EXPORTS_READ: _EVERYONE,
    Permission.EXPORTS_REQUEST: frozenset({_I, _L}),
    Permission.EXPORTS_DECIDE: frozenset({_A, _O}),
    Permission.EXPORTS_DOWNLOAD: frozenset({_I, _L}),
    Permission.VERIFY: frozenset({_A, _L, _U}),
    Permission.AUDIT_READ: frozenset({_U}),
    Permission.AUDIT_VERIFY: frozenset({_U}),
    Permission.USERS_READ: frozenset({_A}),
    Permission.USERS_WRITE: frozenset({_A}),
    Permission.STATUS_READ: frozenset({_A, _U}),
    Permission.USERS_CONFIRM: frozenset({_A, _I, _L, _O}),
    Permission.TOKENS_OWN: _EVERYONE,
}
"""The whole table: permission -> roles that hold it."""


def allowed(role: Role, permission: Permission) -> bool:
    """True when ``role`` holds ``permission``."""
    return role in ROLE_PERMISSIONS[permission]


def require(principal: Principal, permission: Permission) -> None:
    """Return None when allowed. Raises ForbiddenError naming the role and the permission, or
    saying that the user is pending confirmation (only ``me.read`` is allowed then)."""
    if not principal.confirmed and permission is not Permission.ME:
        raise ForbiddenError(f"user {principal.user_id} is pending: created over the API, they may do nothing "
                             f"until a second person confirms them (POST /api/v1/users/{principal.user_id}/confirm)")
    if not allowed(principal.role, permission):
        raise ForbiddenError(f"role {principal.role.value} may not {permission.value}")


@dataclass(frozen=True)
class CameraScope:
    """The camera owners whose cameras a principal sees; ``owner_ids`` None means every owner."""

    owner_ids: frozenset[str] | None

    @property
    def everything(self) -> bool:
        """True for the unrestricted scope."""
        return self.owner_ids is None

    def sees(self, owner_id: str) -> bool:
        """True when cameras of ``owner_id`` are visible."""
        return self.owner_ids is None or owner_id in self.owner_ids


def camera_scope(principal: Principal, sharing: Mapping[str, Iterable[str]]) -> CameraScope:
    """The cameras ``principal`` sees, given ``sharing`` = owner id -> agencies it shares with.

    admin and auditor: every camera; owner: its own owner's; investigator and legal: the owners
    that share with their agency.
    """
    if principal.role in (Role.ADMIN, Role.AUDITOR):
        return CameraScope(None)
    if principal.role is Role.OWNER:
        return CameraScope(frozenset({principal.owner_id}) if principal.owner_id else frozenset())
    agency = principal.agency
    return CameraScope(frozenset(o for o, agencies in sharing.items() if agency is not None and agency in agencies))
